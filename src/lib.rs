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

pub mod device;
pub mod imaging;
pub mod kernels;
pub mod models;
pub mod protocol;
pub mod techniques;
pub mod weights;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod worker;
