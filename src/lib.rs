//! # ai-art
//!
//! The library behind the AI-art studio. One crate, three front ends:
//!
//! * the browser UI (`src/bin/app.rs`, module [`app`]): a thin Yew single-page app;
//! * the browser Web Worker (`src/bin/worker.rs`, module [`worker`]): every tensor
//!   operation runs there, on WebGPU or on the CPU fallback;
//! * the native CLI `ai-art` (`src/bin/ai-art.rs`, module [`cli`]).
//!
//! The numerical code is backend-agnostic: it takes a Burn [`Device`](burn::tensor::Device)
//! and runs the same on WebGPU, on native wgpu (Vulkan, Metal, ...) and on the
//! pure-Rust CPU backend (`burn-flex`).
//!
//! Layout:
//! * [`device`]: choosing and starting a compute device (GPU first, CPU fallback) and
//!   describing it to the user;
//! * [`imaging`]: decoding and encoding images, and moving them to and from tensors;
//! * [`protocol`]: the messages between the UI thread and the worker;
//! * [`kernels`]: our hand-written WGSL kernels (`shaders/`) wired into Burn;
//! * [`models`]: the networks (VGG19, ResNet and U-Net generators, PatchGAN);
//! * [`techniques`]: neural style transfer, Pix2Pix, CycleGAN;
//! * [`weights`]: reading checkpoints (PyTorch, safetensors) safely.
//!
//! The `compute` feature (on by default) is Burn and everything that runs on it. The browser
//! UI is built without it (index.html): it links only what the UI and the protocol name
//! (the settings, summaries and device description of each technique, which live in files
//! of their own, `settings.rs`), so the page loads a small wasm and the worker a large one.

/// The items that need Burn, i.e. the `compute` feature: each one is compiled only with it.
/// Used where a module's declarations are mostly of that kind.
macro_rules! compute {
    ($($item:item)*) => { $( #[cfg(feature = "compute")] $item )* };
}

pub mod device;
pub mod models;
pub mod protocol;
pub mod techniques;

compute! {
    pub mod imaging;
    pub mod kernels;
    pub mod weights;
}

#[cfg(all(feature = "compute", not(target_arch = "wasm32")))]
pub mod cli;

/// Shared by the unit tests of several modules.
#[cfg(all(test, feature = "compute", not(target_arch = "wasm32")))]
pub(crate) mod test_support {
    use burn::tensor::Device;
    use std::sync::OnceLock;

    /// The wgpu device (lavapipe on machines without a GPU; the test command installs it),
    /// started once per test binary: Burn's wgpu runtime starts only once per process.
    pub fn gpu() -> Device {
        static GPU: OnceLock<Device> = OnceLock::new();
        GPU.get_or_init(|| {
            pollster::block_on(crate::device::start(crate::device::Preference::Gpu))
                .expect("a wgpu adapter is required (scripts/setup-tools.sh installs lavapipe)")
                .device
        })
        .clone()
    }

    /// Held by every test that seeds a backend's random generator and depends on what it
    /// draws next (initial weights, dropout masks): the generator is global to the backend
    /// and tests run on parallel threads, so another test's draws would change the values.
    pub fn seeded_rng() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(all(feature = "compute", target_arch = "wasm32"))]
pub mod worker;
