//! Starting a device: Burn's wgpu runtime (WebGPU in the browser), or its CPU backend.

use burn::tensor::wgpu::{WgpuSetup, wgpu};
use burn::tensor::{Device, Tensor};
use std::sync::{Arc, OnceLock};

use super::{DeviceInfo, GpuLimits, GpuMemory, Preference};

impl GpuLimits {
    fn from_wgpu(l: &burn::tensor::wgpu::wgpu::Limits) -> Self {
        Self {
            max_buffer_size: l.max_buffer_size,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
        }
    }
}

impl DeviceInfo {
    fn cpu(fallback_reason: Option<String>) -> Self {
        Self {
            backend: "CPU".into(),
            adapter: "burn-flex (pure Rust)".into(),
            details: String::new(),
            is_gpu: false,
            limits: None,
            fallback_reason,
        }
    }
}

/// A started device and what it is.
#[derive(Clone, Debug)]
pub struct Compute {
    pub device: Device,
    pub info: DeviceInfo,
    /// How many devices were started before this one in this process (0 for the first): a
    /// model built on an earlier one is gone with it.
    pub generation: u32,
    /// The wgpu handles behind a GPU device.
    gpu: Option<Gpu>,
}

/// What a replacement GPU device is requested from, what a test destroys, why the device
/// was lost, once it is, and why it ran out of memory, once it did.
#[derive(Clone, Debug)]
struct Gpu {
    instance: wgpu::Instance,
    device: wgpu::Device,
    lost: Arc<OnceLock<String>>,
    exhausted: Arc<OnceLock<String>>,
}

/// The device's uncaptured errors, in the browser (installed in place of Burn's handler, which
/// panics on every error: in the worker a panic is a crash). Running out of memory is a fact
/// about the device, not a bug: it is kept for [`Compute::out_of_memory`], and the job's read
/// is then not to be trusted (the buffer it needed was never made). Once the device is lost or
/// out of memory, the errors that follow are consequences; any other error is a bug, and
/// panics as under Burn's handler.
fn on_uncaptured_error(lost: &OnceLock<String>, exhausted: &OnceLock<String>, error: wgpu::Error) {
    match error {
        wgpu::Error::OutOfMemory { source } => {
            log::error!("the GPU device ran out of memory: {source}");
            // wgpu's web backend drops the browser's message for a placeholder.
            let reason = match source.to_string() {
                s if s == "<WebGPU Error>" => "the browser reported a GPUOutOfMemoryError".to_string(),
                s => s,
            };
            let _ = exhausted.set(reason);
        }
        other if lost.get().is_some() || exhausted.get().is_some() => {
            log::debug!("error on a lost or exhausted GPU device: {other}");
        }
        other => panic!("wgpu error: {other}"),
    }
}

impl Compute {
    /// The CPU backend; always available.
    pub fn cpu(fallback_reason: Option<String>) -> Self {
        Self { device: Device::flex(), info: DeviceInfo::cpu(fallback_reason), generation: 0, gpu: None }
    }

    /// Why the device was lost, if it was (a driver reset, a GPU that went away, a browser
    /// that reclaimed it). Asked after a failure, to tell a lost device from a failed step. In
    /// the browser the device's `lost` promise says so (waited for up to half a second: it can
    /// settle after the failed read); natively, reading one value back fails with Burn's
    /// "device poisoned" error.
    pub async fn loss(&self) -> Option<String> {
        let gpu = self.gpu.as_ref()?;
        // The browser may resolve `lost` after the failed read that led here: wait for it a little.
        #[cfg(target_arch = "wasm32")]
        for _ in 0..50 {
            if gpu.lost.get().is_some() {
                break;
            }
            crate::js::sleep(10).await;
        }
        if let Some(reason) = gpu.lost.get() {
            return Some(reason.clone());
        }
        match Tensor::<1>::zeros([1], &self.device).into_data_async().await {
            Err(e) if e.is_device_poisoned() => Some(e.reason().to_string()),
            _ => None,
        }
    }

    /// Why the GPU device ran out of memory, once it has: in the browser, a buffer it could
    /// not make (WebGPU's out-of-memory error). What ran on it since may have read back
    /// garbage, and a page of Burn's memory pool may be a buffer that does not exist, so the
    /// job fails and the device is replaced. (Natively Burn's own handler panics instead.)
    pub fn out_of_memory(&self) -> Option<String> {
        self.gpu.as_ref()?.exhausted.get().cloned()
    }

    /// Reports an out-of-memory error as the browser would, for the tests of what follows (a
    /// real one needs the GPU's memory filled): in the browser an uncaptured-error event
    /// carrying a `GPUOutOfMemoryError` is dispatched on the device itself, so it takes the
    /// path a real one takes; natively it goes to the handler the browser's device gets.
    /// False on the CPU.
    pub fn simulate_out_of_memory(&self) -> bool {
        let Some(gpu) = &self.gpu else { return false };
        #[cfg(target_arch = "wasm32")]
        return match browser::dispatch_out_of_memory(&gpu.device) {
            Ok(()) => true,
            Err(e) => {
                log::error!("could not dispatch an out-of-memory error: {e:?}");
                false
            }
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            #[derive(Debug, thiserror::Error)]
            #[error("simulated: no memory left for a buffer")]
            struct Simulated;
            on_uncaptured_error(&gpu.lost, &gpu.exhausted, wgpu::Error::OutOfMemory { source: Box::new(Simulated) });
            true
        }
    }

    /// What Burn's runtime holds on the GPU now; `None` on the CPU.
    pub fn memory(&self) -> Option<GpuMemory> {
        self.gpu.as_ref()?;
        match self.device.clone().without_autodiff().as_dispatch() {
            burn::backend::DispatchDevice::Cube(cube) => {
                let usage = cube.client().memory_report(cubecl_runtime::memory_management::MemoryScope::Device).usage();
                Some(GpuMemory { in_use: usage.bytes_in_use, reserved: usage.bytes_reserved, allocations: usage.number_allocs })
            }
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Destroys the GPU device, as a driver reset would lose it: for the tests of what
    /// follows a loss. False on the CPU, which cannot be lost.
    pub fn destroy(&self) -> bool {
        let Some(gpu) = &self.gpu else { return false };
        gpu.device.destroy();
        // Natively wgpu reports the loss when the device is next maintained, as a driver's
        // would be; the browser reports it by itself.
        #[cfg(not(target_arch = "wasm32"))]
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        true
    }

    /// A new device to replace this lost one: a new GPU device from the same wgpu instance,
    /// registered with Burn as a runtime of its own (the lost one cannot be reinitialised),
    /// or the CPU when none can be had, saying why.
    pub async fn replacement(&self) -> Compute {
        let Some(gpu) = &self.gpu else {
            // The CPU is never lost; nothing to replace.
            return self.clone();
        };
        match restart_gpu(&gpu.instance, None).await {
            Ok(c) => Compute { generation: self.generation + 1, ..c },
            Err(DeviceError::NoGpu(why)) => self.on_cpu(format!("the GPU was lost and no new device could be started: {why}")),
        }
    }

    /// The CPU backend to replace this device, saying `why`.
    pub fn on_cpu(&self, why: String) -> Compute {
        Compute { generation: self.generation + 1, ..Compute::cpu(Some(why)) }
    }
}

/// Why a GPU could not be started.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no GPU available: {0}")]
    NoGpu(String),
}

/// Starts a device following `pref`. With [`Preference::Auto`] it never fails:
/// the CPU backend stands in, and [`DeviceInfo::fallback_reason`] says why.
pub async fn start(pref: Preference) -> Result<Compute, DeviceError> {
    match pref {
        Preference::Cpu => Ok(Compute::cpu(None)),
        Preference::Gpu => start_gpu().await,
        Preference::Auto => match start_gpu().await {
            Ok(c) => Ok(c),
            Err(DeviceError::NoGpu(why)) => Ok(Compute::cpu(Some(why))),
        },
    }
}

/// Starts Burn's wgpu runtime asynchronously (the only way that works in a
/// browser) and describes the adapter it picked.
async fn start_gpu() -> Result<Compute, DeviceError> {
    let probe = probe().await?;

    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| DeviceError::NoGpu(format!("wgpu could not start: {e}")))?;
    Ok(describe(device, setup, probe))
}

/// A new adapter and device from `instance`, requested as Burn's runtime requests its own
/// (every feature and limit the adapter offers, or `limits`), and registered with Burn.
async fn restart_gpu(instance: &wgpu::Instance, limits: Option<wgpu::Limits>) -> Result<Compute, DeviceError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| DeviceError::NoGpu(format!("{what}: {e}"));
    let probe = probe().await?;
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() })
        .await
        .map_err(|e| fail("no adapter", &e))?;
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("ai-art replacement device"),
            required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: limits.unwrap_or_else(|| adapter.limits()),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            // SAFETY: the token Burn's runtime passes when it requests its own device (its
            // kernels may use experimental features the adapter offers); the replacement must
            // be that same device.
            experimental_features: unsafe { wgpu::ExperimentalFeatures::enabled() },
            ..Default::default()
        })
        .await
        .map_err(|e| fail("the adapter refused a device", &e))?;
    let backend = adapter.get_info().backend;
    let setup = WgpuSetup { instance: instance.clone(), adapter, device, queue, backend };
    let burn_device = Device::wgpu_options()
        .setup(setup.clone())
        .init()
        .map_err(|e| fail("Burn could not use the new device", &e))?;
    Ok(describe(burn_device, setup, probe))
}

/// What the browser says of its adapter, asked before wgpu starts (natively, nothing).
#[cfg(target_arch = "wasm32")]
type Probe = browser::AdapterProbe;
#[cfg(not(target_arch = "wasm32"))]
type Probe = ();

async fn probe() -> Result<Probe, DeviceError> {
    #[cfg(target_arch = "wasm32")]
    return browser::probe_adapter().await.map_err(DeviceError::NoGpu);
    #[cfg(not(target_arch = "wasm32"))]
    Ok(())
}

/// A started GPU device, described for the user.
#[cfg_attr(not(target_arch = "wasm32"), allow(clippy::let_unit_value, unused_variables))]
fn describe(device: Device, setup: WgpuSetup, browser: Probe) -> Compute {
    let info = setup.adapter.get_info();
    let limits = GpuLimits::from_wgpu(&setup.adapter.limits());

    #[cfg(target_arch = "wasm32")]
    let (adapter, details) = {
        // Browsers may hide the description (privacy); vendor and architecture
        // are usually there ("google", "swiftshader").
        let vendor_arch = [browser.vendor.as_str(), browser.architecture.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name = [browser.description.as_str(), info.name.as_str(), vendor_arch.as_str()]
            .into_iter()
            .find(|s| !s.trim().is_empty())
            .unwrap_or("unnamed WebGPU adapter")
            .to_string();
        let details = if name == vendor_arch { String::new() } else { vendor_arch.clone() };
        (name, details)
    };
    #[cfg(not(target_arch = "wasm32"))]
    let (adapter, details) = {
        let details = [format!("{:?}", info.device_type), info.driver.clone(), info.driver_info.clone()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        (info.name.clone(), details)
    };

    let backend = match info.backend {
        burn::tensor::wgpu::wgpu::Backend::BrowserWebGpu => "WebGPU".to_string(),
        other => format!("{other:?}"),
    };
    // In the browser a callback on `GPUDevice.lost` adds to Burn's own (which marks the
    // runtime poisoned); natively it would replace Burn's, so there `loss` reads back instead.
    let lost = Arc::new(OnceLock::new());
    let exhausted = Arc::new(OnceLock::new());
    #[cfg(target_arch = "wasm32")]
    {
        let on_lost = lost.clone();
        setup.device.set_device_lost_callback(move |kind, message| {
            let _ = on_lost.set(format!("{kind:?}: {message}"));
        });
        let (lost, exhausted) = (lost.clone(), exhausted.clone());
        setup.device.on_uncaptured_error(Arc::new(move |error| on_uncaptured_error(&lost, &exhausted, error)));
    }
    Compute {
        device,
        info: DeviceInfo { backend, adapter, details, is_gpu: true, limits: Some(limits), fallback_reason: None },
        generation: 0,
        gpu: Some(Gpu { instance: setup.instance, device: setup.device, lost, exhausted }),
    }
}

/// Browser-side checks done before handing control to wgpu, so that a missing
/// WebGPU gives a clear reason instead of a panic deep inside the runtime.
#[cfg(target_arch = "wasm32")]
mod browser {
    use super::wgpu;
    use js_sys::{Array, Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// Dispatches `uncapturederror` with a `GPUOutOfMemoryError` on `device`'s `GPUDevice`:
    /// the event the browser fires for a buffer it could not make.
    pub fn dispatch_out_of_memory(device: &wgpu::Device) -> Result<(), JsValue> {
        let target: &JsValue = device.as_webgpu().ok_or("not a WebGPU device")?.as_ref();
        let global = js_sys::global();
        let class = |name: &str| Reflect::get(&global, &JsValue::from_str(name))?.dyn_into::<Function>();
        let error = Reflect::construct(&class("GPUOutOfMemoryError")?, &Array::of1(&"simulated by the diagnostics".into()))?;
        let init = js_sys::Object::new();
        Reflect::set(&init, &"error".into(), &error)?;
        let event = Reflect::construct(&class("GPUUncapturedErrorEvent")?, &Array::of2(&"uncapturederror".into(), &init))?;
        get(target, "dispatchEvent").dyn_into::<Function>()?.call1(target, &event)?;
        Ok(())
    }

    pub struct AdapterProbe {
        pub vendor: String,
        pub architecture: String,
        pub description: String,
    }

    fn get(obj: &JsValue, key: &str) -> JsValue {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    /// `navigator.gpu.requestAdapter()`, in a window or in a worker.
    pub async fn probe_adapter() -> Result<AdapterProbe, String> {
        let global = js_sys::global();
        let navigator = get(&global, "navigator");
        let gpu = get(&navigator, "gpu");
        if gpu.is_undefined() || gpu.is_null() {
            return Err("this browser does not expose WebGPU (navigator.gpu is missing)".into());
        }
        let request = get(&gpu, "requestAdapter")
            .dyn_into::<Function>()
            .map_err(|_| "navigator.gpu.requestAdapter is not a function".to_string())?;
        let promise = request
            .call0(&gpu)
            .map_err(|e| format!("requestAdapter failed: {e:?}"))?
            .dyn_into::<Promise>()
            .map_err(|_| "requestAdapter did not return a promise".to_string())?;
        let adapter = JsFuture::from(promise).await.map_err(|e| format!("requestAdapter failed: {e:?}"))?;
        if adapter.is_null() || adapter.is_undefined() {
            return Err("WebGPU is present but no adapter is available (GPU blocked, disabled or unsupported)".into());
        }
        let info = get(&adapter, "info");
        let text = |k: &str| get(&info, k).as_string().unwrap_or_default();
        Ok(AdapterProbe { vendor: text("vendor"), architecture: text("architecture"), description: text("description") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_parses_cli_spellings() {
        assert_eq!("wgpu".parse::<Preference>(), Ok(Preference::Gpu));
        assert_eq!("CPU".parse::<Preference>(), Ok(Preference::Cpu));
        assert_eq!("auto".parse::<Preference>(), Ok(Preference::Auto));
        assert!("cuda".parse::<Preference>().is_err());
    }

    /// A replacement is a device of its own, registered with Burn beside the first one (which
    /// cannot be started twice), and it computes. That a destroyed device is seen as lost is
    /// checked in the browser (`tests/browser.rs`): natively wgpu does not report it to Burn.
    #[test]
    fn a_replacement_device_is_a_new_runtime_that_computes() {
        let first = pollster::block_on(restart_gpu(&wgpu::Instance::default(), None)).expect("a wgpu adapter (lavapipe)");
        let next = pollster::block_on(first.replacement());
        assert!(next.info.is_gpu, "{:?}", next.info.fallback_reason);
        assert_eq!(next.generation, first.generation + 1);
        assert_ne!(next.device, first.device);
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &next.device) * 2.0;
        let values = pollster::block_on(t.into_data_async()).expect("read back").try_to_vec::<f32>().expect("f32");
        assert_eq!(values, [2.0, 4.0, 6.0]);
        assert_eq!(pollster::block_on(next.loss()), None);
    }

    /// An allocation past what the device allows fails the read that needs it with an error
    /// [`crate::device::is_out_of_memory`] recognises, and the device goes on computing:
    /// checked with a device requested with buffers of at most 16 MiB (Burn's pool pages for
    /// small tensors are 8 MiB) and a 32 MiB tensor.
    #[test]
    fn a_tensor_larger_than_the_device_allows_fails_its_read_and_the_device_goes_on() {
        const LIMIT: u64 = 16 << 20;
        let instance = wgpu::Instance::default();
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())).expect("a wgpu adapter (lavapipe)");
        let limits = wgpu::Limits { max_buffer_size: LIMIT, max_storage_buffer_binding_size: LIMIT, ..adapter.limits() };
        let small = pollster::block_on(restart_gpu(&instance, Some(limits))).expect("a device with small buffers");
        let too_large = Tensor::<1>::ones([(2 * LIMIT / 4) as usize], &small.device) * 2.0;
        let err = pollster::block_on(too_large.sum().into_data_async()).expect_err("32 MiB on a device of 16 MiB buffers");
        assert!(crate::device::is_out_of_memory(&err.to_string()), "not recognised as out of memory: {err}");
        assert!(!err.is_device_poisoned(), "{err}");
        let fits = Tensor::<1>::ones([(LIMIT / 8) as usize], &small.device).sum();
        let sum = pollster::block_on(fits.into_data_async()).expect("the device still computes").try_to_vec::<f32>().expect("f32");
        assert_eq!(sum, [(LIMIT / 8) as f32]);
        assert_eq!(small.out_of_memory(), None, "no uncaptured error: Burn refused the allocation itself");
    }

    #[test]
    fn the_cpu_is_never_lost() {
        let cpu = Compute::cpu(None);
        assert!(!cpu.destroy());
        assert_eq!(pollster::block_on(cpu.loss()), None);
    }

    #[test]
    fn cpu_preference_never_touches_the_gpu() {
        let c = pollster::block_on(start(Preference::Cpu)).expect("cpu always starts");
        assert!(!c.info.is_gpu);
        assert_eq!(c.info.backend, "CPU");
        assert!(c.info.limits.is_none());
        assert!(c.info.fallback_reason.is_none());
    }
}
