//! Parity with PyTorch and checkpoint handling.
//!
//! Fixtures (`tests/fixtures/networks/`) come from `scripts/reference/make_network_fixtures.py`:
//! reduced-width networks in the official layouts with deterministic random weights, run by
//! PyTorch in eval mode; `manifest.json` lists each case with its configuration and the
//! tolerance (max absolute difference, f32). `full_layouts.json` holds the key -> shape maps
//! of the full-width official networks, for detection and loading without weights.

use super::detect::{Architecture, detect};
use super::fast_style::FastStyleConfig;
use super::patchgan::{PatchGan, PatchGanConfig};
use super::resnet::ResnetConfig;
use super::unet::{UnetConfig, UnetGenerator};
use super::vgg::{Pooling, Vgg19, VggLayer};
use super::*;
use crate::weights::{Checkpoint, CheckpointFormat, TensorEntry, TensorValues, load_checkpoint, load_state_dict};
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/networks")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Value {
    serde_json::from_slice(&read("manifest.json")).expect("manifest.json")
}

fn case(name: &str) -> Value {
    manifest()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in manifest.json"))
        .clone()
}

/// The tensors of a fixture's io file, by name.
fn io(case: &Value) -> BTreeMap<String, TensorEntry> {
    let file = case["io"].as_str().expect("io");
    load_checkpoint(&read(file)).expect("io safetensors").tensors
}

fn to_tensor(t: &TensorEntry, device: &Device) -> Tensor<4> {
    let values = t.as_f32().expect("f32").to_vec();
    let shape: [usize; 4] = t.shape.clone().try_into().expect("4-D");
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn values(t: Tensor<4>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    (shape, t.into_data().try_into_vec::<f32>().expect("f32"))
}

/// Max |got - want| over all values, after checking the shapes agree.
fn max_abs_diff(what: &str, got: Tensor<4>, want: &TensorEntry) -> f64 {
    let (shape, got) = values(got);
    assert_eq!(shape, want.shape, "{what}: shape");
    let want = want.as_f32().expect("f32");
    got.iter().zip(want).map(|(g, w)| (*g as f64 - *w as f64).abs()).fold(0.0, f64::max)
}

fn norm_of(cfg: &Value) -> NormKind {
    match cfg["norm"].as_str() {
        Some("batch") => NormKind::Batch,
        Some("instance") => NormKind::Instance { affine: cfg["affine"].as_bool().unwrap_or(false) },
        other => panic!("norm {other:?}"),
    }
}

fn usize_of(cfg: &Value, key: &str) -> usize {
    cfg[key].as_u64().unwrap_or_else(|| panic!("config {key}")) as usize
}

/// What the manifest says the case's network is, as our configuration.
fn expected_architecture(case: &Value) -> Architecture {
    let cfg = &case["config"];
    match case["network"].as_str() {
        Some("resnet") => Architecture::Resnet(ResnetConfig {
            input_nc: usize_of(cfg, "input_nc"),
            output_nc: usize_of(cfg, "output_nc"),
            ngf: usize_of(cfg, "ngf"),
            n_blocks: usize_of(cfg, "n_blocks"),
            norm: norm_of(cfg),
            use_dropout: cfg["use_dropout"].as_bool().unwrap_or(false),
            block_name: cfg["block_name"].as_str().unwrap_or("conv_block").into(),
        }),
        Some("unet") => Architecture::Unet(UnetConfig {
            input_nc: usize_of(cfg, "input_nc"),
            output_nc: usize_of(cfg, "output_nc"),
            num_downs: usize_of(cfg, "num_downs"),
            ngf: usize_of(cfg, "ngf"),
            norm: norm_of(cfg),
            // Dropout leaves no keys: detection assumes Pix2Pix's default (on).
            use_dropout: true,
        }),
        Some("patchgan") => Architecture::PatchGan(PatchGanConfig {
            input_nc: usize_of(cfg, "input_nc"),
            ndf: usize_of(cfg, "ndf"),
            n_layers: usize_of(cfg, "n_layers"),
            norm: norm_of(cfg),
        }),
        Some("fast_style") => {
            let w: Vec<usize> = cfg["widths"].as_array().expect("widths").iter().map(|v| v.as_u64().expect("w") as usize).collect();
            Architecture::FastStyle(FastStyleConfig {
                input_nc: usize_of(cfg, "input_nc"),
                output_nc: usize_of(cfg, "output_nc"),
                widths: w.try_into().expect("3 widths"),
                n_res: usize_of(cfg, "n_res"),
            })
        }
        Some("vgg19") => {
            let w: Vec<usize> = cfg["widths"].as_array().expect("widths").iter().map(|v| v.as_u64().expect("w") as usize).collect();
            Architecture::Vgg19 { widths: w.try_into().expect("5 widths"), convs: 16 }
        }
        other => panic!("network {other:?}"),
    }
}

/// Loads a generator case's checkpoint through the full path (bytes -> state dict ->
/// detection -> build) and checks its output against PyTorch's.
fn generator_parity(name: &str, device: &Device) {
    let case = case(name);
    let ckpt = load_state_dict(&read(case["weights"].as_str().expect("weights"))).expect("checkpoint loads");
    let format = match case["format"].as_str() {
        Some("zip") => CheckpointFormat::TorchZip,
        Some("legacy") => CheckpointFormat::TorchLegacy,
        _ => CheckpointFormat::Safetensors,
    };
    assert_eq!(ckpt.format, format, "{name}");
    assert_eq!(detect(&ckpt).expect("detected"), expected_architecture(&case), "{name}: detection");
    let (generator, _) = load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, device).expect("builds");
    let io = io(&case);
    let x = to_tensor(&io["input"], device);
    let y = if case.get("pipeline").is_some() {
        crate::techniques::image_to_image::forward_any_size(&generator, x)
    } else {
        generator.forward(x)
    };
    let tol = case["tolerance"].as_f64().expect("tolerance");
    let diff = max_abs_diff(name, y, &io["output"]);
    assert!(diff <= tol, "{name}: max |ours - torch| = {diff:e} > {tol:e}");
}

fn patchgan_parity(name: &str, device: &Device) {
    let case = case(name);
    let mut ckpt = load_state_dict(&read(case["weights"].as_str().expect("weights"))).expect("loads");
    let arch = detect(&ckpt).expect("detected");
    assert_eq!(arch, expected_architecture(&case), "{name}: detection");
    let Architecture::PatchGan(config) = arch else { unreachable!() };
    let mut b = Builder::from_checkpoint(&mut ckpt, device);
    let net = PatchGan::build(&config, &mut b).expect("builds");
    b.finish().expect("every key used");
    let io = io(&case);
    let diff = max_abs_diff(name, net.forward(to_tensor(&io["input"], device)), &io["output"]);
    let tol = case["tolerance"].as_f64().expect("tolerance");
    assert!(diff <= tol, "{name}: max |ours - torch| = {diff:e} > {tol:e}");
}

fn vgg_parity(name: &str, device: &Device) {
    let case = case(name);
    let pooling = if case["config"]["pool"] == "avg" { Pooling::Average } else { Pooling::Max };
    let ckpt = load_state_dict(&read(case["weights"].as_str().expect("weights"))).expect("loads");
    assert_eq!(detect(&ckpt).expect("detected"), expected_architecture(&case));
    let net = load_vgg19(ckpt, VggLayer::Pool { block: 5 }, pooling, device).expect("builds");
    let io = io(&case);
    let layers = VggLayer::all();
    let acts = net.forward(to_tensor(&io["input"], device), &layers);
    assert_eq!(acts.len(), layers.len());
    let tol = case["tolerance"].as_f64().expect("tolerance");
    for (layer, t) in acts {
        let want = io.get(&layer.to_string()).unwrap_or_else(|| panic!("{name}: no {layer} in the fixture"));
        let diff = max_abs_diff(&format!("{name} {layer}"), t, want);
        assert!(diff <= tol, "{name} {layer}: max |ours - torch| = {diff:e} > {tol:e}");
    }
}

// Each case on the CPU backend (burn-flex): the same code as on WebGPU, minus our WGSL.
macro_rules! parity_tests {
    ($($test:ident: $check:ident($case:literal);)+) => {
        $(
            #[test]
            fn $test() {
                $check($case, &Device::flex());
            }
        )+
    };
}

parity_tests! {
    resnet_instance_norm_matches_pytorch: generator_parity("resnet6_instance");
    resnet_affine_legacy_dataparallel_block_naming_matches_pytorch: generator_parity("resnet9_affine_block");
    resnet_batch_norm_safetensors_matches_pytorch: generator_parity("resnet6_batch");
    resnet_any_size_pipeline_matches_pytorch: generator_parity("resnet6_instance_pipeline");
    unet128_instance_norm_matches_pytorch: generator_parity("unet128_instance");
    unet128_batch_norm_eval_non_square_matches_pytorch: generator_parity("unet128_batch_nonsquare");
    unet256_grey_input_matches_pytorch: generator_parity("unet256_instance");
    fast_style_legacy_with_running_stats_matches_pytorch: generator_parity("fast_style_legacy");
    fast_style_any_size_pipeline_matches_pytorch: generator_parity("fast_style_pipeline");
    patchgan_conditional_instance_norm_matches_pytorch: patchgan_parity("patchgan_6ch_instance");
    patchgan_batch_norm_matches_pytorch: patchgan_parity("patchgan_3ch_batch");
    vgg19_max_pool_activations_match_pytorch: vgg_parity("vgg19_max");
    vgg19_average_pool_activations_match_pytorch: vgg_parity("vgg19_avg");
}

#[test]
fn vgg19_builds_only_what_the_deepest_layer_needs() {
    let case = case("vgg19_max");
    let device = Device::flex();
    let ckpt = load_state_dict(&read(case["weights"].as_str().expect("weights"))).expect("loads");
    let net = load_vgg19(ckpt, "relu2_1".parse().expect("layer"), Pooling::Max, &device).expect("builds");
    assert_eq!(net.convs.len(), 3);
    assert_eq!(net.deepest(), VggLayer::Relu { block: 2, index: 1 });
    // The activation equals the full network's.
    let io = io(&case);
    let acts = net.forward(to_tensor(&io["input"], &device), &[VggLayer::Relu { block: 2, index: 1 }]);
    let diff = max_abs_diff("relu2_1", acts.into_values().next().expect("one"), &io["relu2_1"]);
    assert!(diff <= case["tolerance"].as_f64().expect("tol"));
}

#[test]
fn vgg_layer_names_round_trip_and_bad_names_are_refused() {
    for layer in VggLayer::all() {
        assert_eq!(layer.to_string().parse::<VggLayer>(), Ok(layer));
    }
    assert_eq!(VggLayer::all().len(), 16 * 2 + 5);
    assert_eq!("conv4_2".parse::<VggLayer>().map(VggLayer::convs_needed), Ok(10));
    assert_eq!(Vgg19::feature_index(9), 21); // conv4_2 is features.21
    assert_eq!(Vgg19::checkpoint_keys(2), ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]);
    assert_eq!(Vgg19::checkpoint_keys(99).len(), 32, "16 convolutions at most");
    for bad in ["conv6_1", "conv1_3", "relu0_1", "pool6", "fc7", "conv4-2", ""] {
        assert!(bad.parse::<VggLayer>().is_err(), "{bad}");
    }
}

// The WGSL instance norm and convolutions inside real networks, on wgpu (lavapipe here):
// small cases only.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn generators_and_patchgan_on_wgpu_match_pytorch() {
    let device = crate::test_support::gpu();
    assert!(crate::kernels::uses_wgsl(&device));
    let before = crate::kernels::kernel_launches();
    generator_parity("resnet6_instance", &device);
    generator_parity("resnet9_affine_block", &device);
    generator_parity("fast_style_legacy", &device);
    patchgan_parity("patchgan_6ch_instance", &device);
    let after = crate::kernels::kernel_launches();
    // Every convolution ran in our WGSL: the ResNets' transposed convolutions too.
    assert!(after.conv_forward > before.conv_forward, "our WGSL convolution must run");
    assert!(after.conv_transposed > before.conv_transposed, "our WGSL transposed convolution must run");
}

// ------------------------------------------------------------ full-width layouts -----

/// A checkpoint with every key of a full-width official layout, zero-filled.
fn layout_checkpoint(layout: &Value) -> Checkpoint {
    let mut tensors = BTreeMap::new();
    for (key, shape) in layout["keys"].as_object().expect("keys") {
        let shape: Vec<usize> = shape.as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim") as usize).collect();
        let n = shape.iter().product();
        let data = if key.ends_with("num_batches_tracked") {
            TensorValues::I64(vec![0; n])
        } else {
            TensorValues::F32(vec![0.0; n])
        };
        tensors.insert(key.clone(), TensorEntry { shape, data });
    }
    Checkpoint { format: CheckpointFormat::Safetensors, tensors, nested_dicts: Default::default() }
}

fn full_layouts() -> serde_json::Map<String, Value> {
    serde_json::from_slice::<Value>(&read("full_layouts.json")).expect("json").as_object().expect("object").clone()
}

#[test]
fn official_full_width_layouts_are_detected_and_load_without_leftovers() {
    let device = Device::flex();
    for (name, layout) in full_layouts() {
        let ckpt = layout_checkpoint(&layout);
        let network = if name.starts_with("resnet") {
            "resnet"
        } else if name.starts_with("unet") {
            "unet"
        } else if name.starts_with("patchgan") {
            "patchgan"
        } else if name.starts_with("fast_style") {
            "fast_style"
        } else {
            "vgg19"
        };
        let expected = expected_architecture(&serde_json::json!({ "network": network, "config": layout["config"] }));
        assert_eq!(detect(&ckpt).expect("detected"), expected, "{name}");
        match expected {
            Architecture::Resnet(_) | Architecture::Unet(_) | Architecture::FastStyle(_) => {
                load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Architecture::PatchGan(config) => {
                let mut ckpt = ckpt;
                let mut b = Builder::from_checkpoint(&mut ckpt, &device);
                PatchGan::build(&config, &mut b).expect("builds");
                b.finish().unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Architecture::Vgg19 { .. } => {
                load_vgg19(ckpt, VggLayer::Pool { block: 5 }, Pooling::Max, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

#[test]
fn a_mismatched_checkpoint_reports_every_problem_at_once() {
    let device = Device::flex();
    let layouts = full_layouts();
    let mut ckpt = layout_checkpoint(&layouts["resnet_9blocks"]);
    ckpt.tensors.remove("model.10.conv_block.1.weight");
    ckpt.tensors.get_mut("model.4.weight").expect("key").shape = vec![128, 64, 5, 5];
    if let Some(t) = ckpt.tensors.get_mut("model.4.weight") {
        t.data = TensorValues::F32(vec![0.0; 128 * 64 * 25]);
    }
    ckpt.tensors.insert("extra.weight".into(), TensorEntry { shape: vec![2], data: TensorValues::F32(vec![0.0; 2]) });
    let err = load_generator(ckpt, ArchChoice::Resnet { n_blocks: 9 }, NormChoice::Auto, &device)
        .err()
        .expect("must fail")
        .to_string();
    for needle in ["1 missing", "1 unexpected", "1 with the wrong shape", "model.10.conv_block.1.weight", "extra.weight", "model.4.weight"] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
}

#[test]
fn forcing_the_wrong_architecture_or_norm_is_reported_not_garbage() {
    let device = Device::flex();
    let layouts = full_layouts();
    // A 9-block generator read as 6 blocks: blocks 16..18 and the renumbered tail do not fit.
    let err = load_generator(layout_checkpoint(&layouts["resnet_9blocks"]), "resnet_6blocks".parse().expect("arch"), NormChoice::Auto, &device)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("does not fit"), "{err}");
    // Instance norm read as batch norm: the running statistics are missing.
    let err = load_generator(layout_checkpoint(&layouts["resnet_6blocks"]), ArchChoice::Auto, "batch".parse().expect("norm"), &device)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("running_mean"), "{err}");
}

#[test]
fn a_discriminator_or_vgg_is_not_taken_for_a_generator() {
    let device = Device::flex();
    let layouts = full_layouts();
    let err = load_generator(layout_checkpoint(&layouts["patchgan_basic_6ch"]), ArchChoice::Auto, NormChoice::Auto, &device)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("PatchGAN") && err.contains("not a generator"), "{err}");
    let err = load_generator(layout_checkpoint(&layouts["vgg19"]), ArchChoice::Auto, NormChoice::Auto, &device)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("VGG19") && err.contains("not a generator"), "{err}");
    let empty = Checkpoint { format: CheckpointFormat::Safetensors, tensors: BTreeMap::new(), nested_dicts: Default::default() };
    let err = load_generator(empty, ArchChoice::Auto, NormChoice::Auto, &device).err().expect("must fail").to_string();
    assert!(err.contains("could not recognise"), "{err}");
}

#[test]
fn architecture_and_norm_choices_parse() {
    assert_eq!("resnet_9blocks".parse(), Ok(ArchChoice::Resnet { n_blocks: 9 }));
    assert_eq!("unet_256".parse(), Ok(ArchChoice::Unet { num_downs: 8 }));
    assert_eq!("unet_128".parse(), Ok(ArchChoice::Unet { num_downs: 7 }));
    assert!("unet_100".parse::<ArchChoice>().is_err());
    assert!("vgg".parse::<ArchChoice>().is_err());
    assert_eq!("instance-affine".parse(), Ok(NormChoice::Fixed(NormKind::Instance { affine: true })));
    assert!("group".parse::<NormChoice>().is_err());
}

// ------------------------------------------------------------------- padding -----

#[test]
fn padding_to_a_multiple_keeps_the_image_and_reaches_the_size() {
    let device = Device::flex();
    for (h, w, m) in [(1, 1, 4), (2, 3, 256), (5, 7, 4), (30, 45, 4), (8, 8, 8), (3, 1, 16)] {
        let n = h * w * 2;
        let x = Tensor::<4>::from_data(TensorData::new((0..n).map(|v| v as f32).collect::<Vec<_>>(), [1, 2, h, w]), &device);
        let (p, off) = pad_to_multiple(x.clone(), m);
        let [_, _, ph, pw] = p.dims();
        assert_eq!((ph % m, pw % m), (0, 0), "{h}x{w} to {m}");
        assert!(ph >= h && pw >= w && ph < h + m && pw < w + m);
        let back = crop(p, off, h, w);
        assert_eq!(values(back).1, values(x).1, "{h}x{w}: crop(pad(x)) must be x");
    }
}

#[test]
fn one_step_reflection_matches_the_definition() {
    // ReflectionPad: index -k maps to k, index n-1+k maps to n-1-k.
    let device = Device::flex();
    let (h, w) = (4, 6);
    let x = Tensor::<4>::from_data(TensorData::new((0..h * w).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, h, w]), &device);
    let pad = [2, 3, 1, 5];
    let (_, got) = values(reflect_pad_sides(x, pad));
    let refl = |i: isize, n: isize| if i < 0 { -i } else if i >= n { 2 * (n - 1) - i } else { i };
    let (ph, pw) = (h + pad[0] + pad[1], w + pad[2] + pad[3]);
    for r in 0..ph {
        for c in 0..pw {
            let sr = refl(r as isize - pad[0] as isize, h as isize);
            let sc = refl(c as isize - pad[2] as isize, w as isize);
            assert_eq!(got[r * pw + c], (sr * w as isize + sc) as f32, "({r}, {c})");
        }
    }
}

// ----------------------------------------------------------------- dropout -----

#[test]
fn unet_dropout_can_stay_on_at_inference() {
    let _rng = crate::test_support::seeded_rng();
    let device = Device::flex();
    device.seed(7);
    let config = UnetConfig { input_nc: 3, output_nc: 3, num_downs: 6, ngf: 4, norm: NormKind::Instance { affine: false }, use_dropout: true };
    let mut b = Builder::init(&device, 0.5);
    let mut net = UnetGenerator::build(&config, &mut b).expect("builds");
    b.finish().expect("no checkpoint, nothing to report");
    let x = Tensor::<4>::random([1, 3, 64, 64], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let a = values(net.forward(x.clone())).1;
    let b2 = values(net.forward(x.clone())).1;
    assert_eq!(a, b2, "dropout off at inference: deterministic");
    net.set_dropout_at_inference(true);
    let c = values(net.forward(x.clone())).1;
    let d = values(net.forward(x)).1;
    assert_ne!(c, d, "dropout on at inference: two runs differ");
    assert_ne!(a, c);
}

// ------------------------------------------------------------------- export -----

#[test]
fn exported_weights_have_the_official_names_and_load_back_identically() {
    let device = Device::flex();
    for name in ["resnet9_affine_block", "resnet6_batch", "unet128_batch_nonsquare", "patchgan_6ch_instance"] {
        let case = case(name);
        let original = load_state_dict(&read(case["weights"].as_str().expect("weights"))).expect("loads");
        let arch = detect(&original).expect("detected");
        let layout = layout_of(&arch).expect("layout");
        let mut ckpt = original.clone();
        let mut b = Builder::from_checkpoint(&mut ckpt, &device);
        let bytes = match &arch {
            Architecture::PatchGan(c) => {
                let net = PatchGan::build(c, &mut b).expect("builds");
                assert_eq!(b.layout(), layout.as_slice(), "{name}: the layout of a load equals layout_of");
                pollster::block_on(export_safetensors(&net, &layout, "")).expect("exports")
            }
            _ => {
                let (generator, _) = load_generator(original.clone(), ArchChoice::Auto, NormChoice::Auto, &device).expect("builds");
                pollster::block_on(export_safetensors(&generator, &layout, "")).expect("exports")
            }
        };
        let back = load_state_dict(&bytes).expect("the export reads back");
        if let Ok(dir) = std::env::var("AI_ART_EXPORT_DIR") {
            // For checking by hand that PyTorch loads them (strict): see the README.
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}.safetensors")), &bytes).expect("write");
        }
        assert_eq!(back.format, CheckpointFormat::Safetensors);
        // Every float tensor the original holds for the network, under the same name, with
        // the same values; BatchNorm's integer counters come along (old InstanceNorm statistics
        // do not: they were never used).
        let expected: Vec<&String> = layout.iter().map(|(k, _)| k).collect();
        let floats = back.tensors.values().filter(|t| t.is_float()).count();
        assert_eq!(floats, expected.len(), "{name}");
        let counters = back.tensors.keys().filter(|k| k.ends_with("num_batches_tracked")).count();
        assert_eq!(counters, original.tensors.keys().filter(|k| k.ends_with("num_batches_tracked")).count(), "{name}");
        for key in expected {
            let (a, b) = (&original.tensors[key], &back.tensors[key]);
            assert_eq!(a.shape, b.shape, "{name} {key}");
            assert_eq!(a.as_f32(), b.as_f32(), "{name} {key}: values");
        }
        // And it loads back as the same architecture.
        assert_eq!(detect(&back).expect("detected"), arch, "{name}");
    }
}
