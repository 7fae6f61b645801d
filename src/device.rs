//! Choosing and starting the compute device.
//!
//! The studio prefers the GPU (WebGPU in the browser, wgpu's native API on the
//! desktop) and falls back to Burn's pure-Rust CPU backend (`burn-flex`) when no
//! adapter can be had, saying why. Everything downstream takes a Burn `Device` and does
//! not care which one it got.
//!
//! This file holds what the user is told and asks for ([`Preference`], [`DeviceInfo`]),
//! which the UI shows without linking Burn; starting a device (`start`) needs the
//! `compute` feature.

use serde::{Deserialize, Serialize};

#[cfg(feature = "compute")]
mod start;
#[cfg(feature = "compute")]
pub use start::{Compute, DeviceError, start};

/// Whether a failure's message says the device had no memory for what was asked: Burn's
/// runtime refusing an allocation larger than the device allows ("can't allocate buffer of
/// size"), or finding no memory left for it ("out of device memory").
pub fn is_out_of_memory(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["can't allocate", "out of device memory", "out of memory"].iter().any(|m| message.contains(m))
}

/// Which device the caller wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preference {
    /// The GPU when there is one, else the CPU (with the reason recorded).
    #[default]
    Auto,
    /// The GPU or an error: no silent fallback.
    Gpu,
    /// The CPU backend, without touching the GPU.
    Cpu,
}

impl std::str::FromStr for Preference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "gpu" | "wgpu" | "webgpu" => Ok(Self::Gpu),
            "cpu" | "flex" => Ok(Self::Cpu),
            other => Err(format!("unknown backend '{other}' (expected auto, wgpu or cpu)")),
        }
    }
}

/// The limits of a GPU adapter that decide how large an image or a network fits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuLimits {
    /// Largest single buffer, in bytes.
    pub max_buffer_size: u64,
    /// Largest storage buffer one kernel may bind, in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// Most workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Most invocations in one workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroup shared memory, in bytes.
    pub max_compute_workgroup_storage_size: u32,
}

/// What Burn's runtime holds on a GPU device, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuMemory {
    /// In the tensors alive now.
    pub in_use: u64,
    /// Reserved from the device: the pools' pages, used or free.
    pub reserved: u64,
    /// Tensors alive now.
    pub allocations: u64,
}

/// What the user is told about the device their work runs on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The API: "WebGPU", "Vulkan", "Metal", ... or "CPU".
    pub backend: String,
    /// Adapter name as the driver reports it (may be empty in browsers that hide it).
    pub adapter: String,
    /// Extra adapter description: vendor, architecture, driver.
    pub details: String,
    /// True when a GPU API runs the work (even a software one such as SwiftShader).
    pub is_gpu: bool,
    /// The adapter's limits, on the GPU.
    pub limits: Option<GpuLimits>,
    /// Why the GPU was not used, when it was wanted and the CPU runs instead.
    pub fallback_reason: Option<String>,
}

impl DeviceInfo {
    /// One line for logs and the CLI.
    pub fn summary(&self) -> String {
        let mut s = format!("{} on {}", self.adapter, self.backend);
        if !self.details.is_empty() {
            s.push_str(&format!(" ({})", self.details));
        }
        s
    }
}
