//! Deep Dream against PyTorch (`scripts/reference/make_deep_dream_fixtures.py`, the same method
//! with the small VGG19 fixture, the shifts given): three steps at one size, and three octaves
//! of two steps, every image within 1e-4 of PyTorch's.

use super::*;
use crate::imaging;
use crate::models::{Pooling, load_vgg19};
use crate::weights::{TensorEntry, load_checkpoint, load_state_dict};
use crate::models::VggLayer;
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn read(path: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Fixture {
    meta: Value,
    images: BTreeMap<String, TensorEntry>,
}

fn fixture() -> Fixture {
    Fixture {
        meta: serde_json::from_slice(&read("deep_dream/deep_dream.json")).expect("deep_dream.json"),
        images: load_checkpoint(&read("deep_dream/deep_dream.safetensors")).expect("images").tensors,
    }
}

fn tensor(t: &TensorEntry, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = t.shape.clone().try_into().expect("4-D");
    Tensor::from_data(TensorData::new(t.as_f32().expect("f32").to_vec(), shape), device)
}

/// The case's dream, its shifts, and the input image.
fn case(f: &Fixture, name: &str, device: &Device) -> (Dream, Vec<[i64; 2]>, Tensor<4>) {
    let c = &f.meta["cases"][name];
    let settings = DreamSettings {
        layer: c["layer"].as_str().expect("layer").parse().expect("a VGG19 layer"),
        channels: c["channels"].as_array().expect("channels").iter().map(|v| v.as_u64().expect("channel") as usize).collect(),
        octaves: c["octaves"].as_u64().expect("octaves") as usize,
        octave_scale: c["octave_scale"].as_f64().expect("scale"),
        steps: c["steps"].as_u64().expect("steps") as usize,
        lr: c["lr"].as_f64().expect("lr"),
        jitter: 0,
        seed: 0,
    };
    let shifts = c["shifts"].as_array().expect("shifts").iter().map(|s| [s[0].as_i64().expect("dy"), s[1].as_i64().expect("dx")]).collect();
    let vgg = load_vgg19(load_state_dict(&read("networks/vgg19_small.pth")).expect("vgg"), settings.layer, Pooling::Max, &device.clone().autodiff())
        .expect("vgg builds");
    (Dream::new(vgg, settings).expect("dream"), shifts, tensor(&f.images["input"], device))
}

fn assert_close(what: &str, got: &Tensor<4>, want: &TensorEntry) {
    assert_eq!(got.dims().to_vec(), want.shape, "{what}: shape");
    let got = got.clone().into_data().try_to_vec::<f32>().expect("f32");
    let diff = got.iter().zip(want.as_f32().expect("f32")).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff <= 1e-4, "{what}: max |ours - PyTorch| = {diff:e}");
}

fn first_steps_match_pytorch(device: &Device) {
    let f = fixture();
    let (dream, shifts, mut image) = case(&f, "steps", device);
    let input = image.clone();
    for (i, shift) in shifts.into_iter().enumerate() {
        image = dream.step(image, shift).expect("a step");
        assert_close(&format!("step {}", i + 1), &image, &f.images[&format!("steps.{}", i + 1)]);
    }
    let moved = (image - input).abs().max().into_data().try_to_vec::<f32>().expect("f32")[0];
    assert!(moved > 0.05, "the image changed ({moved}), so the comparison checks the steps");
}

#[test]
fn first_steps_match_pytorch_on_the_cpu() {
    first_steps_match_pytorch(&Device::flex());
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn first_steps_match_pytorch_on_wgpu() {
    first_steps_match_pytorch(&crate::test_support::gpu());
}

#[test]
fn octaves_match_pytorch() {
    let f = fixture();
    let device = Device::flex();
    let (dream, shifts, image) = case(&f, "octaves", &device);
    let sizes: Vec<[usize; 2]> = serde_json::from_value(f.meta["cases"]["octaves"]["sizes"].clone()).expect("sizes");
    assert_eq!(octave_sizes(32, 40, 3, 1.4), sizes);
    let mut seen = Vec::new();
    let out = dream.run_shifted(image, shifts, |octave, step, img| seen.push((octave, step, img.clone()))).expect("dreams");
    assert_eq!(seen.iter().map(|(o, s, _)| (*o, *s)).collect::<Vec<_>>(), [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    for (k, (_, _, img)) in seen.iter().enumerate() {
        assert_close(&format!("octave image {}", k + 1), img, &f.images[&format!("octaves.{}", k + 1)]);
    }
    assert_close("the result", &out, &f.images["octaves.6"]);
}

#[test]
fn the_shifts_are_seeded_and_within_the_jitter_and_bad_settings_are_refused() {
    let device = Device::flex();
    let vgg = || load_vgg19(load_state_dict(&read("networks/vgg19_small.pth")).expect("vgg"), "conv4_3".parse().expect("layer"), Pooling::Max, &device.clone().autodiff()).expect("vgg");
    let settings = DreamSettings { jitter: 3, seed: 7, ..DreamSettings::default() };
    let a: Vec<_> = Dream::new(vgg(), settings.clone()).expect("dream").shifts().take(200).collect();
    let b: Vec<_> = Dream::new(vgg(), settings).expect("dream").shifts().take(200).collect();
    assert_eq!(a, b, "the same seed, the same shifts");
    assert!(a.iter().flatten().all(|d| (-3..=3).contains(d)));
    assert!([-3, 3].iter().all(|e| a.iter().flatten().any(|d| d == e)), "both extremes occur");
    for (bad, says) in [
        (DreamSettings { octaves: 0, ..DreamSettings::default() }, "1 to 10 octaves"),
        (DreamSettings { octave_scale: 1.0, ..DreamSettings::default() }, "octave scale"),
        (DreamSettings { lr: f64::NAN, ..DreamSettings::default() }, "step size"),
        (DreamSettings { channels: vec![31, 32], ..DreamSettings::default() }, "conv4_3 has 32 channels (0 to 31); there is no channel 32"),
        (DreamSettings { layer: "conv5_1".parse().expect("layer"), ..DreamSettings::default() }, "VGG19 is loaded up to"),
    ] {
        let err = Dream::new(vgg(), bad).err().expect("refused").to_string();
        assert!(err.contains(says), "{err}");
    }
}

/// A whole dream of a real picture on the defaults' pyramid: the size is kept, every value
/// stays in [0, 1], and the objective rose.
#[test]
fn a_dream_keeps_the_size_and_raises_the_objective() {
    let device = Device::flex();
    let image = imaging::to_tensor(&imaging::decode(&read("nst/content.png")).expect("content"), &device);
    let layer: VggLayer = "relu3_1".parse().expect("layer");
    let vgg = load_vgg19(load_state_dict(&read("networks/vgg19_small.pth")).expect("vgg"), layer, Pooling::Max, &device.clone().autodiff()).expect("vgg");
    let dream = Dream::new(vgg, DreamSettings { layer, octaves: 2, steps: 5, lr: 0.02, jitter: 4, ..DreamSettings::default() }).expect("dream");
    let score = |x: Tensor<4>| dream.objective(x.autodiff()).expect("objective").into_data().try_to_vec::<f32>().expect("f32")[0];
    let before = score(image.clone());
    let out = dream.run(image, |_, _, _| {}).expect("dreams");
    assert_eq!(out.dims(), [1, 3, 32, 40]);
    let values = out.clone().into_data().try_to_vec::<f32>().expect("f32");
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    let after = score(out);
    assert!(after > 1.5 * before, "the objective rose: {before} -> {after}");
}
