//! Running the module's static constructors once, at start-up.
//!
//! cubecl registers things with `inventory`, i.e. with static constructors. wasm-ld links a
//! binary that never calls `__wasm_call_ctors` itself as a "command": it wraps *every*
//! exported function (`*.command_export`) in a call to `__wasm_call_ctors`. In a browser the
//! module is called into constantly (each `JsValue` handed to Rust allocates an externref
//! slot through an export, every callback is an export), so every such call re-ran all
//! the constructors: profiling the page during a style transfer showed most of the main
//! thread's time in `__wasm_call_ctors` and `inventory::submit`. Calling it ourselves from
//! the entry point makes wasm-ld treat the module as a reactor: no wrappers, the
//! constructors run exactly once, here. (See the `inventory` crate's documentation,
//! "WebAssembly and constructors".)

use std::sync::atomic::{AtomicBool, Ordering};

unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// Runs the static constructors; only the first call does anything. Call it first thing
/// in the entry point.
pub fn run_static_constructors() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::SeqCst) {
        // SAFETY: the constructors are the module's own (cubecl's `inventory`
        // registrations); they run once, before anything reads what they register.
        unsafe { __wasm_call_ctors() };
    }
}
