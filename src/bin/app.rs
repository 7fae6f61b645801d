//! Browser UI entry point (built by trunk); see [`ai_art::app`].

#[cfg(target_arch = "wasm32")]
fn main() {
    ai_art::app::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the `app` binary is the browser UI: build it with trunk (see README.md)");
    std::process::exit(2);
}
