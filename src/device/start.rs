//! Starting a device: Burn's wgpu runtime (WebGPU in the browser), or its CPU backend.

use burn::tensor::Device;

use super::{DeviceInfo, GpuLimits, Preference};

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
}

impl Compute {
    /// The CPU backend; always available.
    pub fn cpu(fallback_reason: Option<String>) -> Self {
        Self { device: Device::flex(), info: DeviceInfo::cpu(fallback_reason) }
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
    #[cfg(target_arch = "wasm32")]
    let browser = browser::probe_adapter().await.map_err(DeviceError::NoGpu)?;

    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| DeviceError::NoGpu(format!("wgpu could not start: {e}")))?;
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
    Ok(Compute {
        device,
        info: DeviceInfo { backend, adapter, details, is_gpu: true, limits: Some(limits), fallback_reason: None },
    })
}

/// Browser-side checks done before handing control to wgpu, so that a missing
/// WebGPU gives a clear reason instead of a panic deep inside the runtime.
#[cfg(target_arch = "wasm32")]
mod browser {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

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

    #[test]
    fn cpu_preference_never_touches_the_gpu() {
        let c = pollster::block_on(start(Preference::Cpu)).expect("cpu always starts");
        assert!(!c.info.is_gpu);
        assert_eq!(c.info.backend, "CPU");
        assert!(c.info.limits.is_none());
        assert!(c.info.fallback_reason.is_none());
    }
}
