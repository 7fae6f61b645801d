//! Tests that run inside headless Chromium (wasm-bindgen-test), on WebGPU
//! provided by SwiftShader. Run with `cargo test --target wasm32-unknown-unknown`
//! (scripts/test.sh does).
#![cfg(target_arch = "wasm32")]

use ai_art::device::{self, Compute, Preference};
use ai_art::imaging;
use burn::tensor::{Device, Tensor, TensorData};
use std::cell::RefCell;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    // Burn's wgpu runtime can be started once per page; the tests share it.
    static GPU: RefCell<Option<Compute>> = const { RefCell::new(None) };
}

async fn gpu() -> Compute {
    if let Some(c) = GPU.with(|g| g.borrow().clone()) {
        return c;
    }
    let c = device::start(Preference::Gpu).await.expect("WebGPU must start in the test browser (SwiftShader flags in webdriver.json)");
    GPU.with(|g| *g.borrow_mut() = Some(c.clone()));
    c
}

#[wasm_bindgen_test]
async fn webgpu_device_starts_and_reports_the_adapter() {
    let c = gpu().await;
    assert!(c.info.is_gpu);
    assert_eq!(c.info.backend, "WebGPU");
    let limits = c.info.limits.expect("a GPU reports its limits");
    assert!(limits.max_storage_buffer_binding_size >= 128 << 20, "{limits:?}");
    assert!(limits.max_buffer_size >= limits.max_storage_buffer_binding_size, "{limits:?}");
    assert!(c.info.fallback_reason.is_none());
}

#[wasm_bindgen_test]
async fn matmul_on_webgpu_reads_back_asynchronously() {
    let device = gpu().await.device;
    // [2,3] x [3,2]: values chosen so every output differs.
    let a = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2., 3., 4., 5., 6.], [2, 3]), &device);
    let b = Tensor::<2>::from_data(TensorData::new(vec![7f32, 8., 9., 10., 11., 12.], [3, 2]), &device);
    let c = a.matmul(b).exp().log(); // a few kernels, including elementwise ones
    let got = c.into_data_async().await.expect("async read").try_into_vec::<f32>().unwrap();
    let want = [58f32, 64., 139., 154.];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * w, "got {got:?}, want {want:?}");
    }
}

fn test_image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, ((x * y) % 256) as u8]))
}

#[wasm_bindgen_test]
async fn image_roundtrip_on_webgpu_is_exact() {
    let device = gpu().await.device;
    let img = test_image(45, 29);
    let out = imaging::roundtrip(&img, &device).await.expect("round trip");
    assert_eq!(out, img);
}

#[wasm_bindgen_test]
async fn normalisation_on_webgpu_matches_the_cpu_backend() {
    let device = gpu().await.device;
    let img = test_image(16, 9);
    let read = |d: Device| async move {
        let t = imaging::imagenet_normalize(imaging::to_tensor(&img, &d));
        t.into_data_async().await.unwrap().try_into_vec::<f32>().unwrap()
    };
    let gpu_vals = read(device).await;
    let cpu_vals = read(Device::flex()).await;
    for (i, (g, c)) in gpu_vals.iter().zip(&cpu_vals).enumerate() {
        assert!((g - c).abs() <= 1e-6, "element {i}: webgpu {g} vs cpu {c}");
    }
}

#[wasm_bindgen_test]
async fn cpu_fallback_backend_works_in_the_browser() {
    let c = device::start(Preference::Cpu).await.unwrap();
    assert!(!c.info.is_gpu);
    let img = test_image(8, 5);
    assert_eq!(imaging::roundtrip(&img, &c.device).await.unwrap(), img);
}
