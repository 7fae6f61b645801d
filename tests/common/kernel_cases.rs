//! Our WGSL kernels' test bodies, one per kernel for both places they run: the native tests
//! on wgpu (lavapipe without a GPU, `src/kernels/tests/gpu.rs`) and the browser tests on
//! WebGPU (SwiftShader, Tint instead of naga; `tests/browser.rs`). Async because a browser
//! can only read a GPU result asynchronously; natively they run under `pollster`.
//!
//! The including module must have `kernels` (this crate's `ai_art::kernels`) and `reference64`
//! in scope.
//!
//! Each case runs the public function under autodiff, takes `sum(y .* dy)` for a fixed
//! random `dy`, and compares the output and every gradient with the f64 reference (itself
//! checked against central finite differences in `src/kernels/tests.rs`) within
//! `1e-5 * (|want| + magnitude of the sum) + a few ulps`: f32 rounding over the summation.
//! The launch counters prove that our WGSL ran, forward and backward (the counters are
//! process-wide and tests run in parallel, so only "at least one launch" is asserted).
#![allow(dead_code)]

use super::kernels::conv::{Tile, set_tile_override};
use super::kernels::{ConvGeometry, conv_transpose2d, conv2d, gram, instance_norm, kernel_launches};
use super::reference64::{self as r, ConvShape};
use burn::tensor::{Device, Tensor, TensorData};

// ------------------------------------------------------------------------------ Gram -----

/// `[B, C, N]`: C = 1, 3, 17, 64, 512; N from 1 to 512*512; batch 1 and 3.
pub const GRAM_SHAPES: [[usize; 3]; 9] =
    [[1, 1, 1], [3, 1, 9], [1, 3, 1], [3, 17, 1000], [1, 17, 33], [3, 64, 4096], [1, 512, 40], [1, 3, 512 * 512], [3, 5, 20_000]];

/// `gram` forward and backward on every shape, `scale = 1 / (C N)`.
pub async fn check_gram(device: &Device) {
    let device = device.clone().autodiff();
    for (seed, [b, c, n]) in GRAM_SHAPES.into_iter().enumerate() {
        let what = format!("gram [{b}, {c}, {n}]");
        let f = r::values(b * c * n, seed as u64 + 10);
        let w = r::values(b * c * c, seed as u64 + 100);
        let scale = 1.0 / (c * n) as f64;
        let x = tensor(&f, [b, c, n], &device).require_grad();
        let before = kernel_launches();
        let g = gram(x.clone(), scale as f32);
        let grads = (g.clone() * tensor(&w, [b, c, c], &device)).sum().backward();
        let after = kernel_launches();
        assert!(after.gram_forward > before.gram_forward, "{what}: WGSL forward not taken");
        assert!(after.gram_backward > before.gram_backward, "{what}: WGSL backward not taken");
        let (want, mag) = r::gram(&f, b, c, n, scale);
        r::assert_close(&format!("{what} forward"), &read(g).await, &want, Some(&mag), 1e-5, 1e-30);
        let (want, mag) = r::gram_backward(&w, &f, b, c, n, scale);
        let got = read(x.grad(&grads).expect("gradient")).await;
        r::assert_close(&format!("{what} dF"), &got, &want, Some(&mag), 1e-5, 1e-30);
    }
}

// --------------------------------------------------------------------- Instance norm -----

/// `[B, C, H, W]`: C = 1, 3, 17, 64, 512; H*W from 1 to 512*512; batch 1 and 3.
pub const NORM_SHAPES: [[usize; 4]; 7] =
    [[1, 1, 1, 1], [3, 3, 1, 1], [3, 17, 5, 7], [1, 64, 16, 16], [3, 3, 17, 19], [1, 3, 512, 512], [1, 512, 4, 4]];

/// `instance_norm` with affine parameters: y, dx, dgamma and dbeta on every shape, with an
/// offset and spread that vary per channel.
pub async fn check_instance_norm(device: &Device) {
    let device = device.clone().autodiff();
    for (seed, [b, c, h, w]) in NORM_SHAPES.into_iter().enumerate() {
        let hw = h * w;
        let what = format!("instance_norm [{b}, {c}, {h}, {w}]");
        let xv: Vec<f32> = r::values(b * c * hw, seed as u64 + 20)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + (i / hw % c) as f32) + 0.5 * ((i / hw % c) as f32 - 1.0))
            .collect();
        let dy = r::values(b * c * hw, seed as u64 + 200);
        let gv: Vec<f32> = r::values(c, seed as u64 + 30).iter().map(|v| v + 1.5).collect();
        let bv = r::values(c, seed as u64 + 40);
        let eps = 1e-5;

        let x = tensor(&xv, [b, c, h, w], &device).require_grad();
        let gamma = tensor(&gv, [c], &device).require_grad();
        let beta = tensor(&bv, [c], &device).require_grad();
        let before = kernel_launches();
        let y = instance_norm(x.clone(), Some(gamma.clone()), Some(beta.clone()), eps as f32);
        let grads = (y.clone() * tensor(&dy, [b, c, h, w], &device)).sum().backward();
        let after = kernel_launches();
        assert!(after.instance_norm_forward > before.instance_norm_forward, "{what}: WGSL forward not taken");
        assert!(after.instance_norm_backward > before.instance_norm_backward, "{what}: WGSL backward not taken");

        let want = r::instance_norm(&xv, b, c, hw, &gv, &bv, eps);
        r::assert_close(&format!("{what} y"), &read(y).await, &want, None, 1e-5, 1e-5);
        let (dx, dgamma, dbeta) = r::instance_norm_backward(&xv, &dy, b, c, hw, &gv, eps);
        // dx mixes sums over the plane: scale its bound by the plane's |dy| magnitude.
        let dx_mag: Vec<f64> = (0..dx.len()).map(|i| gv[i / hw % c].abs() as f64 * 4.0).collect();
        r::assert_close(&format!("{what} dx"), &read(x.grad(&grads).expect("dx")).await, &dx, Some(&dx_mag), 1e-5, 1e-6);
        let sum_mag: Vec<f64> = (0..c).map(|_| (b * hw) as f64 * 2.0).collect();
        r::assert_close(&format!("{what} dgamma"), &read(gamma.grad(&grads).expect("dgamma")).await, &dgamma, Some(&sum_mag), 1e-5, 1e-6);
        r::assert_close(&format!("{what} dbeta"), &read(beta.grad(&grads).expect("dbeta")).await, &dbeta, Some(&sum_mag), 1e-5, 1e-6);
    }
}

// ---------------------------------------------------------------------- Convolutions -----

/// A convolution case: the shape, and optionally a forced tile (to run every tile on small
/// shapes).
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub shape: ConvShape,
    pub tile: Option<Tile>,
}

const fn conv(b: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize, stride: usize, padding: usize) -> ConvShape {
    ConvShape { b, cin, cout, h, w, k, stride, padding, transposed: None }
}

const fn conv_t(b: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize, stride: usize, padding: usize, op: usize) -> ConvShape {
    ConvShape { b, cin, cout, h, w, k, stride, padding, transposed: Some(op) }
}

const fn case(shape: ConvShape) -> Case {
    Case { shape, tile: None }
}

const fn with(shape: ConvShape, tile: Tile) -> Case {
    Case { shape, tile: Some(tile) }
}

/// The studio's geometries (3x3 stride 1: VGG19 and the residual blocks; 7x7 stride 1: the
/// ResNet's first and last layers after reflection padding; 4x4 stride 2: U-Net and
/// PatchGAN; 3x3 stride 2: the ResNet's downsampling; transposed 3x3 and 4x4 stride 2: the
/// upsampling) on odd sizes and channel counts, batch 1 and 2, every tile, split-K in each
/// product, and a 1x1 image.
pub const CONV_CASES: [Case; 13] = [
    // 3 -> 5 channels: the skinny tile forward and transposed; 800 pixels split the weight
    // gradient.
    case(conv(2, 3, 5, 20, 20, 3, 1, 1)),
    case(conv(1, 17, 33, 13, 11, 3, 1, 1)),
    // 32 -> 64 on 6x6: the transposed product (K = 64*9) is split, the forward is not.
    case(conv(1, 32, 64, 6, 6, 3, 1, 1)),
    // 64 -> 32 on 6x6: the forward (K = 64*9) is split.
    case(conv(1, 64, 32, 6, 6, 3, 1, 1)),
    case(conv(1, 3, 8, 14, 15, 7, 1, 0)),
    case(conv(2, 6, 20, 15, 17, 4, 2, 1)),
    case(conv(1, 4, 7, 11, 9, 3, 2, 1)),
    case(conv_t(2, 8, 4, 5, 6, 3, 2, 1, 1)),
    case(conv_t(1, 10, 3, 4, 5, 4, 2, 1, 0)),
    with(conv(2, 9, 19, 10, 7, 3, 1, 1), Tile::LARGE),
    with(conv_t(1, 12, 21, 5, 4, 4, 2, 1, 0), Tile::MEDIUM),
    with(conv(1, 7, 66, 9, 13, 3, 1, 1), Tile::WIDE),
    case(conv(1, 5, 6, 1, 1, 3, 1, 1)),
];

fn tensor<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

async fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async().await.expect("read back").try_into_vec::<f32>().expect("f32 data")
}

/// Runs one convolution case on `device` (a wgpu/WebGPU device compiling WGSL) and checks
/// y, dx, dw and dbias; the launch counters prove the WGSL forward, input-gradient and
/// weight-gradient kernels ran (not Burn's convolution).
pub async fn check_conv_case(case: &Case, seed: u64, device: &Device) {
    let s = case.shape;
    let what = format!("{s:?} tile {:?}", case.tile.map(|t| t.name()));
    let device = device.clone().autodiff();
    let xv = r::values(s.input_len(), seed);
    let wv = r::values(s.weight_dims().iter().product(), seed + 1);
    let bv = r::values(s.cout, seed + 2);
    let dyv = r::values(s.output_len(), seed + 3);
    let (oh, ow) = s.out_hw();

    let x = tensor(&xv, [s.b, s.cin, s.h, s.w], &device).require_grad();
    let weight = tensor(&wv, s.weight_dims(), &device).require_grad();
    let bias = tensor(&bv, [s.cout], &device).require_grad();
    let geometry = ConvGeometry::new(s.stride, s.padding);
    set_tile_override(case.tile);
    let before = kernel_launches();
    let y = match s.transposed {
        None => conv2d(x.clone(), weight.clone(), Some(bias.clone()), geometry),
        Some(op) => conv_transpose2d(x.clone(), weight.clone(), Some(bias.clone()), geometry, [op, op]),
    };
    assert_eq!(y.dims(), [s.b, s.cout, oh, ow], "{what}: output shape");
    let grads = (y.clone() * tensor(&dyv, [s.b, s.cout, oh, ow], &device)).sum().backward();
    let after = kernel_launches();
    set_tile_override(None);
    let (fwd, input_grad) = match s.transposed {
        None => (after.conv_forward - before.conv_forward, after.conv_transposed - before.conv_transposed),
        Some(_) => (after.conv_transposed - before.conv_transposed, after.conv_forward - before.conv_forward),
    };
    // Other tests may launch convolutions in parallel: only "at least one" can be asserted.
    assert!(fwd >= 1 && input_grad >= 1, "{what}: WGSL forward / input gradient not taken");
    assert!(after.conv_weight_grad > before.conv_weight_grad, "{what}: WGSL weight gradient not taken");

    const REL: f64 = 1e-5;
    const ABS: f64 = 1e-6;
    let (want, mag) = r::conv(&s, &xv, &wv, &bv);
    r::assert_close(&format!("{what} y"), &read(y).await, &want, Some(&mag), REL, ABS);
    let (dx, dx_mag, dw, dw_mag, db, db_mag) = r::conv_backward(&s, &xv, &wv, &dyv);
    let got = read(x.grad(&grads).expect("dx")).await;
    r::assert_close(&format!("{what} dx"), &got, &dx, Some(&dx_mag), REL, ABS);
    let got = read(weight.grad(&grads).expect("dw")).await;
    r::assert_close(&format!("{what} dw"), &got, &dw, Some(&dw_mag), REL, ABS);
    let got = read(bias.grad(&grads).expect("dbias")).await;
    r::assert_close(&format!("{what} dbias"), &got, &db, Some(&db_mag), REL, ABS);
}

/// Every convolution case.
pub async fn check_conv(device: &Device) {
    for (i, case) in CONV_CASES.iter().enumerate() {
        check_conv_case(case, 1000 + 10 * i as u64, device).await;
    }
}
