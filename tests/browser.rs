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

/// Every test starts here, as the app's entry points do (src/worker/ctors.rs): the library
/// references `__wasm_call_ctors`, so wasm-ld no longer runs the static constructors before
/// each export, and cubecl's `inventory` registrations must be made once, by hand.
fn static_constructors() {
    ai_art::worker::ctors::run_static_constructors();
}

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

/// The model catalog the image-to-image sections offer: it parses, names are unique, and every
/// download is over HTTPS (a page served over HTTPS may not fetch http URLs).
#[wasm_bindgen_test]
fn catalog_parses_with_unique_names_and_https_urls() {
    use ai_art::app::catalog;
    use ai_art::protocol::Slot;
    for slot in [Slot::Pix2Pix, Slot::CycleGan] {
        let models = catalog::models(slot);
        assert!(models.len() >= 5, "{slot:?}: {} models", models.len());
        let mut names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), models.len(), "{slot:?}: a name appears twice");
        for m in models {
            let url = catalog::url(slot, &m.name);
            assert!(url.starts_with("https://") && url.ends_with(&format!("/{}.pth", m.name)), "{url}");
            assert!(catalog::find(slot, &m.name).is_some_and(|found| found.description == m.description));
        }
    }
    assert!(catalog::find(Slot::CycleGan, "no_such_model").is_none());
}

/// The sample gallery built into the app parses, and the start view's demos find theirs.
#[wasm_bindgen_test]
fn sample_gallery_parses_and_has_both_kinds() {
    use ai_art::app::samples::{self, SampleKind};
    assert!(samples::of(SampleKind::Content).count() >= 2 && samples::of(SampleKind::Style).count() >= 2);
    for file in ["cat.jpg", "coffee.jpg", "swirls.jpg"] {
        let sample = samples::find(file).unwrap_or_else(|| panic!("{file} is not in samples.json"));
        assert_eq!(sample.url(), format!("samples/{file}"));
    }
    assert!(samples::find("missing.jpg").is_none());
}

#[wasm_bindgen_test]
async fn webgpu_device_starts_and_reports_the_adapter() {
    static_constructors();
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
    static_constructors();
    let device = gpu().await.device;
    // [2,3] x [3,2]: values chosen so every output differs.
    let a = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2., 3., 4., 5., 6.], [2, 3]), &device);
    let b = Tensor::<2>::from_data(TensorData::new(vec![7f32, 8., 9., 10., 11., 12.], [3, 2]), &device);
    let c = a.matmul(b).mul_scalar(0.5).add_scalar(1.0); // matmul plus elementwise kernels
    let got = c.into_data_async().await.expect("async read").try_into_vec::<f32>().unwrap();
    let want = [58f32, 64., 139., 154.].map(|v| v * 0.5 + 1.0);
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * w, "got {got:?}, want {want:?}");
    }
}

fn test_image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, ((x * y) % 256) as u8]))
}

#[wasm_bindgen_test]
async fn image_roundtrip_on_webgpu_is_exact() {
    static_constructors();
    let device = gpu().await.device;
    let img = test_image(45, 29);
    let out = imaging::roundtrip(&img, &device).await.expect("round trip");
    assert_eq!(out, img);
}

#[wasm_bindgen_test]
async fn normalisation_on_webgpu_matches_the_cpu_backend() {
    static_constructors();
    let device = gpu().await.device;
    let img = test_image(16, 9);
    let gpu_vals = read(imaging::imagenet_normalize(imaging::to_tensor(&img, &device))).await;
    let cpu_vals = read(imaging::imagenet_normalize(imaging::to_tensor(&img, &Device::flex()))).await;
    for (i, (g, c)) in gpu_vals.iter().zip(&cpu_vals).enumerate() {
        assert!((g - c).abs() <= 1e-6, "element {i}: webgpu {g} vs cpu {c}");
    }
}

#[wasm_bindgen_test]
async fn cpu_fallback_backend_works_in_the_browser() {
    static_constructors();
    let c = device::start(Preference::Cpu).await.unwrap();
    assert!(!c.info.is_gpu);
    let img = test_image(8, 5);
    assert_eq!(imaging::roundtrip(&img, &c.device).await.unwrap(), img);
}

// ------------------------------------------------------------------ WGSL kernels on WebGPU

#[path = "common/reference64.rs"]
mod reference64;
#[path = "common/kernel_cases.rs"]
mod kernel_cases;
use ai_art::kernels;
use ai_art::kernels::{kernel_launches, uses_wgsl};

async fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async().await.expect("async read").try_into_vec::<f32>().unwrap()
}

/// A device of its own (the shared one is not touched), destroyed as a driver reset would
/// lose it: the browser reports the loss (GPUDevice.lost), Burn's reads fail with it, and a
/// replacement device computes.
#[wasm_bindgen_test]
async fn a_lost_webgpu_device_is_noticed_and_replaced() {
    static_constructors();
    let own = gpu().await.replacement().await;
    assert!(own.info.is_gpu, "{:?}", own.info.fallback_reason);
    let double = |c: &Compute| Tensor::<1>::from_floats([1.0, 2.0, 3.0], &c.device) * 2.0;
    assert_eq!(read(double(&own)).await, [2.0, 4.0, 6.0]);
    assert_eq!(own.loss().await, None, "a working device is not lost");
    // Tensors alive on the device when it is lost, some of them just written: dropped only
    // once the replacement works.
    let alive: Vec<_> = (0..8).map(|k| Tensor::<2>::from_data(TensorData::new(vec![k as f32; 4096], [64, 64]), &own.device)).collect();
    let pending = alive[0].clone().matmul(alive[1].clone()) + Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 4096], [64, 64]), &own.device);
    assert!(own.destroy());
    // The browser resolves `lost` asynchronously.
    let mut loss = None;
    for _ in 0..100 {
        loss = own.loss().await;
        if loss.is_some() {
            break;
        }
        let tick = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window().expect("a window").set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 10).expect("setTimeout");
        });
        wasm_bindgen_futures::JsFuture::from(tick).await.expect("a timer");
    }
    let loss = loss.expect("the destroyed device is reported lost");
    assert!(loss.to_lowercase().contains("destroy"), "{loss}");
    assert!(double(&own).into_data_async().await.is_err(), "reads on a lost device fail");
    let next = own.replacement().await;
    assert!(next.info.is_gpu, "{:?}", next.info.fallback_reason);
    assert_eq!(next.generation, own.generation + 1);
    assert_eq!(read(double(&next)).await, [2.0, 4.0, 6.0]);
    drop(alive);
    assert!(pending.into_data_async().await.is_err());
    let big = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 1 << 16], [256, 256]), &next.device);
    assert_eq!(read(big.clone().matmul(big).sum()).await, [256.0 * 0.25 * 65536.0]);
    // The shared device was never lost.
    assert_eq!(read(double(&gpu().await)).await, [2.0, 4.0, 6.0]);
}

/// An out-of-memory error as the browser reports it (an `uncapturederror` event carrying a
/// `GPUOutOfMemoryError`, dispatched here on a device of its own: a real one needs the GPU's
/// memory filled) goes through wgpu to our handler, which keeps it for the job to see instead
/// of panicking as Burn's handler would (in the worker a panic is a crash). The device is not
/// lost, and its replacement computes.
#[wasm_bindgen_test]
async fn an_out_of_memory_error_is_kept_for_the_job_not_a_panic() {
    static_constructors();
    let own = gpu().await.replacement().await;
    assert!(own.info.is_gpu, "{:?}", own.info.fallback_reason);
    assert_eq!(own.out_of_memory(), None);
    assert!(own.simulate_out_of_memory(), "the event was dispatched");
    let reason = own.out_of_memory().expect("the error reached the device's handler");
    assert!(reason.contains("GPUOutOfMemoryError"), "{reason}");
    assert_eq!(own.loss().await, None, "out of memory is not lost");
    let next = own.replacement().await;
    assert_eq!(next.out_of_memory(), None);
    assert_eq!(read(Tensor::<1>::from_floats([1.0, 2.0], &next.device) * 3.0).await, [3.0, 6.0]);
    assert_eq!(gpu().await.out_of_memory(), None, "the shared device is untouched");
}

#[wasm_bindgen_test]
async fn webgpu_device_runs_our_wgsl() {
    static_constructors();
    let device = gpu().await.device;
    assert!(uses_wgsl(&device));
    assert!(uses_wgsl(&device.autodiff()));
    assert!(!uses_wgsl(&Device::flex()));
}

/// The native kernel tests' bodies (tests/common/kernel_cases.rs) on WebGPU: Tint compiles
/// the same WGSL that naga compiles natively, with the same shapes and tolerances.
#[wasm_bindgen_test]
async fn gram_forward_and_backward_on_webgpu_match_f64() {
    static_constructors();
    kernel_cases::check_gram(&gpu().await.device).await;
}

#[wasm_bindgen_test]
async fn convolutions_forward_and_all_gradients_on_webgpu_match_f64() {
    static_constructors();
    kernel_cases::check_conv(&gpu().await.device).await;
}

#[wasm_bindgen_test]
async fn instance_norm_forward_and_gradients_on_webgpu_match_f64() {
    static_constructors();
    kernel_cases::check_instance_norm(&gpu().await.device).await;
}

// ------------------------------------------------------- networks on WebGPU vs PyTorch -----
//
// The reduced-width fixtures of src/models/tests.rs (scripts/reference/make_network_fixtures.py),
// embedded in the test wasm: a CycleGAN ResNet generator with instance norm (our WGSL kernel)
// and a non-square U-Net with batch norm in eval, both read from torch zip checkpoints and
// checked against PyTorch's output within the manifest's tolerance (1e-4 max abs).

async fn generator_matches_pytorch(weights: &[u8], io: &[u8], arch_contains: &str) {
    use ai_art::models::{ArchChoice, NormChoice, load_generator};
    let device = gpu().await.device;
    let ckpt = ai_art::weights::load_state_dict(weights).expect("checkpoint loads");
    let (generator, arch) = load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, &device).expect("builds");
    assert!(arch.describe().contains(arch_contains), "{}", arch.describe());
    let io = ai_art::weights::load_checkpoint(io).expect("io").tensors;
    let (input, want) = (&io["input"], &io["output"]);
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(input.as_f32().unwrap().to_vec(), shape), &device);
    let before = kernel_launches();
    let y = generator.forward(x);
    assert_eq!(y.dims().to_vec(), want.shape);
    let got = read(y).await;
    let diff = got.iter().zip(want.as_f32().unwrap()).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
    assert!(diff <= 1e-4, "{arch_contains}: max |webgpu - torch| = {diff:e}");
    if arch_contains.contains("instance") {
        assert!(kernel_launches().instance_norm_forward > before.instance_norm_forward, "our WGSL instance norm must run");
    }
}

#[wasm_bindgen_test]
async fn resnet_generator_on_webgpu_matches_pytorch() {
    static_constructors();
    generator_matches_pytorch(
        include_bytes!("fixtures/networks/resnet6_instance.pth"),
        include_bytes!("fixtures/networks/resnet6_instance.io.safetensors"),
        "resnet_6blocks, ngf 4, instance norm",
    )
    .await;
}

#[wasm_bindgen_test]
async fn unet_generator_with_batch_norm_on_webgpu_matches_pytorch() {
    static_constructors();
    generator_matches_pytorch(
        include_bytes!("fixtures/networks/unet128_batch_nonsquare.pth"),
        include_bytes!("fixtures/networks/unet128_batch_nonsquare.io.safetensors"),
        "unet_128",
    )
    .await;
}

/// pytorch/examples' fast style network, from a legacy-format checkpoint with InstanceNorm
/// running statistics (as its published models are).
#[wasm_bindgen_test]
async fn fast_style_network_on_webgpu_matches_pytorch() {
    static_constructors();
    generator_matches_pytorch(
        include_bytes!("fixtures/networks/fast_style_small.pth"),
        include_bytes!("fixtures/networks/fast_style_legacy.io.safetensors"),
        "fast style network (Johnson et al., pytorch/examples' TransformerNet), widths 4/8/16",
    )
    .await;
}

// ------------------------------------------------------ style transfer on WebGPU vs PyTorch -----

/// 10 Adam steps of the PyTorch fixture (tests/fixtures/nst, run A) on WebGPU: every loss
/// within 1%, every read asynchronous (the optimisation loop cannot block in a browser), and
/// our WGSL Gram kernel forward and backward in the loop.
#[wasm_bindgen_test]
async fn style_transfer_steps_on_webgpu_match_pytorch() {
    static_constructors();
    use ai_art::models::{load_vgg19, vgg::Pooling};
    use ai_art::techniques::style_transfer::{NstConfig, NstRun, Optimizer, StyleWeights};
    let device = gpu().await.device.autodiff();
    let spec: serde_json::Value = serde_json::from_slice(include_bytes!("fixtures/nst/nst_adam.json")).unwrap();
    let run = &spec["runs"]["run_a"];
    let layer = |v: &serde_json::Value| v.as_str().unwrap().parse().unwrap();
    let config = NstConfig {
        content_layer: layer(&spec["content_layer"]),
        style_layers: spec["style_layers"].as_array().unwrap().iter().map(layer).collect(),
        style_weights: StyleWeights::Equal,
        content_weight: run["alpha"].as_f64().unwrap(),
        style_weight: run["beta"].as_f64().unwrap(),
        tv_weight: run["gamma"].as_f64().unwrap(),
        optimizer: Optimizer::Adam { lr: spec["optimizer"]["lr"].as_f64().unwrap() },
    };
    let ckpt = ai_art::weights::load_state_dict(include_bytes!("fixtures/networks/vgg19_small.pth")).unwrap();
    let vgg = load_vgg19(ckpt, config.deepest(), Pooling::Max, &device).unwrap();
    let content = imaging::to_tensor(&imaging::decode(include_bytes!("fixtures/nst/content.png")).unwrap(), &device);
    let style = imaging::to_tensor(&imaging::decode(include_bytes!("fixtures/nst/style.png")).unwrap(), &device);
    let mut nst = NstRun::new(vgg, content.clone(), &[(style, 1.0)], content, config).unwrap();
    let before = kernel_launches();
    for (i, want) in run["steps"].as_array().unwrap().iter().take(10).enumerate() {
        let got = nst.step().await.expect("a step on WebGPU");
        for (name, g) in [("content", got.content), ("style", got.style), ("tv", got.tv), ("total", got.total)] {
            let w = want[name].as_f64().unwrap();
            assert!((g - w).abs() <= 0.01 * w.abs() + 1e-6, "step {i} {name}: webgpu {g} vs torch {w}");
        }
    }
    let after = kernel_launches();
    assert!(after.gram_forward > before.gram_forward && after.gram_backward > before.gram_backward, "our WGSL Gram must run");
}

/// The "octaves" case of the Deep Dream fixture (tests/fixtures/deep_dream: three octaves of
/// two steps on `relu3_2`'s channels 1 and 3, the shifts given) taken step by step on WebGPU
/// as the worker takes it: every step's image within 1e-3 of PyTorch's (the native test holds
/// 1e-4; SwiftShader's arithmetic differs), each step's objective read back asynchronously.
#[wasm_bindgen_test]
async fn deep_dream_octaves_on_webgpu_match_pytorch() {
    static_constructors();
    use ai_art::models::{load_vgg19, vgg::Pooling};
    use ai_art::techniques::deep_dream::{Dream, DreamSettings};
    let device = gpu().await.device;
    let meta: serde_json::Value = serde_json::from_slice(include_bytes!("fixtures/deep_dream/deep_dream.json")).unwrap();
    let images = ai_art::weights::load_checkpoint(include_bytes!("fixtures/deep_dream/deep_dream.safetensors")).unwrap().tensors;
    let case = &meta["cases"]["octaves"];
    let settings = DreamSettings {
        layer: case["layer"].as_str().unwrap().parse().unwrap(),
        channels: case["channels"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect(),
        octaves: case["octaves"].as_u64().unwrap() as usize,
        octave_scale: case["octave_scale"].as_f64().unwrap(),
        steps: case["steps"].as_u64().unwrap() as usize,
        lr: case["lr"].as_f64().unwrap(),
        jitter: 0,
        seed: 0,
    };
    let shifts: Vec<[i64; 2]> = case["shifts"].as_array().unwrap().iter().map(|s| [s[0].as_i64().unwrap(), s[1].as_i64().unwrap()]).collect();
    let ckpt = ai_art::weights::load_state_dict(include_bytes!("fixtures/networks/vgg19_small.pth")).unwrap();
    let vgg = load_vgg19(ckpt, settings.layer, Pooling::Max, &device.clone().autodiff()).unwrap();
    let dream = Dream::new(vgg, settings).unwrap();
    let entry = |name: &str| &images[name];
    let input = entry("input");
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let mut run = dream.begin_shifted(Tensor::from_data(TensorData::new(input.as_f32().unwrap().to_vec(), shape), &device), shifts);
    let mut k = 0;
    while !run.finished() {
        let objective = read(run.step().expect("a step on WebGPU")).await;
        assert!(objective.len() == 1 && objective[0] > 0.0, "step {}: objective {objective:?}", k + 1);
        k += 1;
        let want = entry(&format!("octaves.{k}"));
        assert_eq!(run.image().dims().to_vec(), want.shape, "step {k}: size");
        let got = read(run.image().clone()).await;
        let diff = got.iter().zip(want.as_f32().unwrap()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-3, "step {k}: max |webgpu - PyTorch| = {diff:e}");
    }
    assert_eq!(k, 6);
}

// ------------------------------------------------------------ training on WebGPU vs PyTorch -----

/// Two Pix2Pix iterations on WebGPU from the PyTorch fixture (tests/fixtures/training): the
/// losses match, and after the first iteration every live weight matches PyTorch's (the
/// instance norms' WGSL backward is in the loop). The tolerances are those of the native test
/// loosened tenfold for SwiftShader's arithmetic.
#[wasm_bindgen_test]
async fn pix2pix_training_iterations_on_webgpu_match_pytorch() {
    static_constructors();
    use ai_art::models::detect::{Architecture, detect};
    use ai_art::models::patchgan::PatchGan;
    use ai_art::models::{Builder, Generator, export, layout_of};
    use ai_art::techniques::training::{Gan, Pix2PixTrainer};
    use ai_art::weights::{Checkpoint, load_checkpoint};
    let device = gpu().await.device.autodiff();
    let spec: serde_json::Value = serde_json::from_slice(include_bytes!("fixtures/training/pix2pix.json")).unwrap();
    let init = load_checkpoint(include_bytes!("fixtures/training/pix2pix_init.safetensors")).unwrap();
    let part = |prefix: &str| -> Checkpoint {
        let mut c = init.clone();
        c.tensors.retain(|k, _| k.starts_with(&format!("{prefix}.")));
        assert!(c.strip_prefix(&format!("{prefix}.")));
        c
    };
    let mut g_ckpt = part("G");
    let Architecture::Unet(gc) = detect(&g_ckpt).unwrap() else { panic!("U-Net expected") };
    let mut b = Builder::from_checkpoint(&mut g_ckpt, &device);
    let g = ai_art::models::unet::UnetGenerator::build(&gc, &mut b).unwrap();
    b.finish().unwrap();
    let mut d_ckpt = part("D");
    let d_arch = detect(&d_ckpt).unwrap();
    let Architecture::PatchGan(dc) = &d_arch else { panic!("PatchGAN expected") };
    let mut b = Builder::from_checkpoint(&mut d_ckpt, &device);
    let d = PatchGan::build(dc, &mut b).unwrap();
    b.finish().unwrap();
    let g_layout = layout_of(&Architecture::Unet(gc)).unwrap();
    let mut trainer = Pix2PixTrainer::new(Generator::Unet(g), d, 100.0);
    let batch = load_checkpoint(include_bytes!("fixtures/training/pix2pix_batch.safetensors")).unwrap().tensors;
    let t = |k: &str| {
        let e = &batch[k];
        let shape: [usize; 4] = e.shape.clone().try_into().unwrap();
        Tensor::<4>::from_data(TensorData::new(e.as_f32().unwrap().to_vec(), shape), &device)
    };
    let before = kernel_launches();
    for it in 0..2 {
        let losses = trainer.step(t("real_A"), t("real_B"), 2e-4).read().await.expect("losses on WebGPU");
        for (name, got) in Pix2PixTrainer::LOSS_NAMES.iter().zip(&losses) {
            let want = spec["losses"][it][*name].as_f64().unwrap();
            assert!((got - want).abs() <= 1e-3 * want.abs() + 1e-5, "iteration {} {name}: webgpu {got} vs torch {want}", it + 1);
        }
        if it == 0 {
            let after = load_checkpoint(include_bytes!("fixtures/training/pix2pix_after1.safetensors")).unwrap().tensors;
            let dead: Vec<String> = spec["dead_biases"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
            let mut worst = 0f32;
            for (name, _, values) in export(&trainer.generator, &g_layout).await.unwrap() {
                let key = format!("G.{name}");
                if dead.contains(&key) {
                    continue;
                }
                let want = after[&key].as_f32().unwrap();
                worst = values.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
            }
            assert!(worst <= 1e-5, "generator weights after one iteration: max |webgpu - torch| = {worst:e}");
        }
    }
    let after = kernel_launches();
    assert!(after.instance_norm_backward > before.instance_norm_backward, "the WGSL instance-norm backward must run");
    // Every convolution of the U-Net and the PatchGAN, and their gradients, ran in our WGSL.
    assert!(after.conv_forward > before.conv_forward, "the WGSL convolution must run");
    assert!(after.conv_transposed > before.conv_transposed, "the WGSL transposed convolution must run");
    assert!(after.conv_weight_grad > before.conv_weight_grad, "the WGSL weight gradient must run");
}

/// A CycleGAN run on WebGPU saved after two iterations (every moment and pool image read
/// asynchronously: a synchronous read would panic here) and resumed from the bytes: the
/// next iteration matches the uninterrupted run's.
#[wasm_bindgen_test]
async fn training_state_saves_and_resumes_on_webgpu() {
    static_constructors();
    use ai_art::weights::load_checkpoint;
    use ai_art::techniques::data::TrainData;
    use ai_art::techniques::training::session::{Model, Session, TrainSpec, generator_from_state};
    let compute = gpu().await;
    let device = compute.device.clone().autodiff();
    let img = |k: u32| image::RgbImage::from_fn(20, 20, |x, y| image::Rgb([(x * 9 + k * 40) as u8, (y * 11) as u8, ((x * y + k) % 251) as u8]));
    let data = || TrainData::Unpaired((0..3).map(img).collect(), (5..7).map(img).collect());
    let spec = TrainSpec {
        size: 16,
        batch_size: 2,
        epochs: 1,
        epochs_decay: 1,
        ngf: 4,
        ndf: 4,
        n_layers_d: 2,
        pool_size: 2,
        netg: ai_art::models::ArchChoice::Resnet { n_blocks: 1 },
        ..TrainSpec::new(Model::CycleGan)
    };
    let mut straight = Session::new(spec.clone(), data(), vec![], &device, "w").unwrap();
    let mut first = Session::new(spec, data(), vec![], &device, "w").unwrap();
    for _ in 0..2 {
        straight.step().await.unwrap();
        first.step().await.unwrap();
    }
    let state = first.save_state().await.unwrap();
    let mut resumed = Session::resume(&state, data(), &device).unwrap();
    let want = straight.step().await.unwrap();
    let got = resumed.step().await.unwrap();
    assert_eq!(got.iteration, 3);
    for (g, w) in got.losses.iter().zip(&want.losses) {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{:?} vs {:?}", got.losses, want.losses);
    }
    let g_a = load_checkpoint(&generator_from_state(&state, "G_A").unwrap()).unwrap();
    assert!(g_a.get("model.1.weight").is_some());
}
