//! Browser Web Worker entry point (built by trunk); see [`ai_art::worker`].

#[cfg(target_arch = "wasm32")]
fn main() {
    ai_art::worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the `worker` binary runs in the browser: build it with trunk (see README.md)");
    std::process::exit(2);
}
