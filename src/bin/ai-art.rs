//! Native CLI entry point; see [`ai_art::cli`].

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    ai_art::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
