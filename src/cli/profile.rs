//! `ai-art bench profile nst|pix2pix|cyclegan --size N`: where one step's GPU time goes,
//! per kernel family, so every speed change can be checked against the breakdown.
//!
//! The workload is the benchmark's (`bench nst`: a style-transfer step with a full-width
//! VGG19 on `N x 3N/4`; `bench train`: an iteration of the papers' networks on `N x N`).
//! After warm-up steps (pipeline compilation), one step runs under a cubecl launch observer
//! that asks for each kernel's device timestamps without waiting for them (so the kernels
//! still run back to back), and the measurements are read once the step is over. Our own
//! kernels are named by the label they launch under (`conv.forward`, `gram.forward`, ...;
//! they are all `SourceKernel`s to cubecl); Burn's by their kernel type, module path and
//! generics stripped (`DirectConv2dKernel`, ...).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use cubecl_runtime::logging::{Duration, LaunchObservation, LaunchObserver, ProfileDuration, TimingMethod, TimingRequest};

use crate::kernels::launch_label;

/// What one family of kernels cost in the profiled step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Family {
    pub launches: usize,
    pub ms: f64,
}

/// The profile of one step.
#[derive(Clone, Debug)]
pub struct Profile {
    pub workload: String,
    /// Kernel family -> launches and summed device time.
    pub families: BTreeMap<String, Family>,
    /// Launches whose time could not be read.
    pub unmeasured: usize,
    /// Wall time of the profiled step, including host work and the final read-back.
    pub wall_ms: f64,
    /// How the times were taken (device timestamps, or host time around each kernel).
    pub method: String,
}

impl Profile {
    pub fn total_ms(&self) -> f64 {
        self.families.values().map(|f| f.ms).sum()
    }

    /// A Markdown table, largest share first.
    pub fn table(&self) -> String {
        let total = self.total_ms();
        let mut rows: Vec<_> = self.families.iter().collect();
        rows.sort_by(|a, b| b.1.ms.total_cmp(&a.1.ms));
        let mut out = format!(
            "{}: {:.1} ms of GPU time in {} launches ({}), step wall time {:.1} ms\n\n| kernel family | launches | GPU ms | share |\n|---|---:|---:|---:|\n",
            self.workload,
            total,
            self.families.values().map(|f| f.launches).sum::<usize>(),
            self.method,
            self.wall_ms
        );
        for (name, f) in rows {
            let share = if total > 0.0 { 100.0 * f.ms / total } else { 0.0 };
            out.push_str(&format!("| {name} | {} | {:.2} | {share:.1}% |\n", f.launches, f.ms));
        }
        if self.unmeasured > 0 {
            out.push_str(&format!("\n{} launches could not be timed.\n", self.unmeasured));
        }
        out
    }
}

/// `burn_cubecl::kernel::conv::DirectConv2dKernel<f32, ...>` -> `DirectConv2dKernel`.
pub fn family_of(kernel: &str) -> String {
    let head = kernel.split('<').next().unwrap_or(kernel);
    head.rsplit("::").next().unwrap_or(head).to_string()
}

/// Collects the launches of one step: label at launch, measurement right after. cubecl's
/// observer is process-wide and calls it on the launching thread, so launches from other
/// threads (parallel tests) are ignored.
struct Collector {
    thread: std::thread::ThreadId,
    last_label: Mutex<Option<String>>,
    deferred: Mutex<Vec<(String, ProfileDuration)>>,
    timed: Mutex<Vec<(String, Duration, TimingMethod)>>,
}

impl Collector {
    fn new() -> Self {
        Collector {
            thread: std::thread::current().id(),
            last_label: Mutex::default(),
            deferred: Mutex::default(),
            timed: Mutex::default(),
        }
    }

    fn ours(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    fn take_label(&self, kernel: &'static str) -> String {
        let label = self.last_label.lock().unwrap_or_else(|e| e.into_inner()).take();
        label.unwrap_or_else(|| family_of(kernel))
    }
}

impl LaunchObserver for Collector {
    fn launched(&self, kernel: &'static str) {
        if !self.ours() {
            return;
        }
        let label = launch_label().map(str::to_string).unwrap_or_else(|| family_of(kernel));
        *self.last_label.lock().unwrap_or_else(|e| e.into_inner()) = Some(label);
    }

    fn timing(&self) -> TimingRequest {
        TimingRequest::Deferred
    }

    fn profiled(&self, kernel: &'static str, profile: ProfileDuration) {
        if !self.ours() {
            return;
        }
        let label = self.take_label(kernel);
        self.deferred.lock().unwrap_or_else(|e| e.into_inner()).push((label, profile));
    }

    /// Only when cubecl's own profiling logger also reads the measurements.
    fn timed(&self, kernel: &'static str, duration: Duration, method: TimingMethod) {
        if !self.ours() {
            return;
        }
        let label = self.take_label(kernel);
        self.timed.lock().unwrap_or_else(|e| e.into_inner()).push((label, duration, method));
    }
}

/// Runs `step` once under the observer and sums the device time per family.
pub fn profile_step(workload: String, device: &Device, step: impl FnOnce() -> Result<(), String>) -> Result<Profile, String> {
    let collector = Arc::new(Collector::new());
    let start = Instant::now();
    {
        let _watching = LaunchObservation::new(collector.clone());
        step()?;
        device.sync().map_err(|e| format!("device sync failed: {e:?}"))?;
    }
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut unmeasured = 0;
    let mut methods = Vec::new();
    let deferred = std::mem::take(&mut *collector.deferred.lock().unwrap_or_else(|e| e.into_inner()));
    for (label, profile) in deferred {
        let method = profile.timing_method();
        match pollster::block_on(profile.resolve()) {
            Some(ticks) => {
                let f = families.entry(label).or_default();
                f.launches += 1;
                f.ms += ticks.duration().as_secs_f64() * 1e3;
                methods.push(method);
            }
            None => unmeasured += 1,
        }
    }
    for (label, duration, method) in std::mem::take(&mut *collector.timed.lock().unwrap_or_else(|e| e.into_inner())) {
        let f = families.entry(label).or_default();
        f.launches += 1;
        f.ms += duration.as_secs_f64() * 1e3;
        methods.push(method);
    }
    let method = if methods.is_empty() {
        "no launch timed".to_string()
    } else if methods.iter().all(|m| matches!(m, TimingMethod::Device)) {
        "device timestamps".to_string()
    } else {
        "host time around each kernel for some launches: the device gave no timestamps".to_string()
    };
    Ok(Profile { workload, families, unmeasured, wall_ms, method })
}

/// The workloads `bench profile` knows.
pub const WORKLOADS: [&str; 3] = ["nst", "pix2pix", "cyclegan"];

/// Profiles one step of `workload` at `size` (batch `batch` for training) after `warmup`
/// unprofiled steps.
pub fn run(device: &Device, workload: &str, size: usize, batch: usize, warmup: usize) -> Result<Profile, String> {
    let device = device.clone().autodiff();
    match workload {
        "nst" => {
            use crate::models::Builder;
            use crate::models::vgg::{Pooling, Vgg19, WIDTHS};
            use crate::techniques::style_transfer::{NstConfig, NstRun};
            let config = NstConfig::default();
            let h = size * 3 / 4;
            let mut b = Builder::init(&device, 0.02);
            let vgg = Vgg19::build(WIDTHS, config.deepest(), Pooling::Max, &mut b).map_err(|e| e.to_string())?;
            let content = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
            let style = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
            let mut run = NstRun::new(vgg, content.clone(), &[(style, 1.0)], content, config).map_err(|e| e.to_string())?;
            for _ in 0..warmup {
                pollster::block_on(run.step()).map_err(|e| e.to_string())?;
            }
            profile_step(format!("style-transfer step {size}x{h}"), &device, || pollster::block_on(run.step()).map(drop).map_err(|e| e.to_string()))
        }
        "pix2pix" | "cyclegan" => {
            use crate::techniques::training::session::{Model, Session};
            let model = workload.parse::<Model>().map_err(|e| e.to_string())?;
            let size32 = u32::try_from(size).map_err(|_| format!("size {size} is too large"))?;
            let mut session = Session::for_benchmark(model, size32, batch, &device).map_err(|e| e.to_string())?;
            session.set_max_iterations(Some(warmup + 1));
            for _ in 0..warmup {
                pollster::block_on(session.step()).map_err(|e| e.to_string())?;
            }
            profile_step(format!("{} iteration {size} px, batch {batch}", model.id()), &device, || pollster::block_on(session.step()).map(drop).map_err(|e| e.to_string()))
        }
        other => Err(format!("unknown workload `{other}`: use {}", WORKLOADS.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_drop_paths_and_generics() {
        assert_eq!(family_of("burn_cubecl::kernel::conv::direct::DirectConv2dKernel<f32, u32>"), "DirectConv2dKernel");
        assert_eq!(family_of("matmul_naive"), "matmul_naive");
    }

    /// A profile of a small training-like step on wgpu: our kernels are named by their labels,
    /// Burn's by their type, every launch is timed, and the families add up to the total.
    #[test]
    fn a_step_profiles_our_kernels_by_name() {
        use crate::kernels::{ConvGeometry, conv2d, gram};
        let device = crate::test_support::gpu().autodiff();
        let x = Tensor::<4>::random([2, 3, 12, 10], Distribution::Default, &device).require_grad();
        let w = Tensor::<4>::random([8, 3, 3, 3], Distribution::Default, &device).require_grad();
        let step = || {
            let y = conv2d(x.clone(), w.clone(), None, ConvGeometry::new(1, 1));
            let g = gram(y.reshape([2, 8, 120]), 1e-2);
            let _ = g.sum().backward();
            Ok(())
        };
        step().expect("warm-up");
        let p = profile_step("test".into(), &device, step).expect("profile");
        for ours in ["conv.forward", "conv.transposed", "conv.weight_grad", "gram.forward", "gram.backward"] {
            let f = p.families.get(ours).unwrap_or_else(|| panic!("{ours} missing from {:?}", p.families.keys()));
            assert!(f.launches > 0 && f.ms > 0.0, "{ours}: {f:?}");
        }
        // Burn's own kernels (the sum, the bias gradient's reduction, ...) appear by type name.
        assert!(p.families.keys().any(|k| !k.contains('.') && !k.contains("::")), "{:?}", p.families.keys());
        assert_eq!(p.unmeasured, 0);
        let total: f64 = p.families.values().map(|f| f.ms).sum();
        assert!((p.total_ms() - total).abs() < 1e-9 && total > 0.0);
        assert!(p.table().contains("| conv.forward |"), "{}", p.table());
    }
}
