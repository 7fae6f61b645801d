//! WGSL kernels on a real wgpu device (lavapipe on machines without a GPU; the
//! test command installs it, so these tests require an adapter and fail
//! without one).
//!
//! Tolerances: every value is compared with the f64 reference in
//! `tests/common/reference64.rs` as `|got - want| <= 1e-5 * (|want| + m) + abs`,
//! where `m` is the magnitude of the sum that produced it (`scale * sum |a b|`
//! for products; 0 where no long sum is involved). That is f32 rounding over
//! the summation, about 1e-5 relative, with `abs` a few ulps near zero.

use super::reference64 as r;
use super::*;
use super::reference64;
use crate::kernels;

#[path = "../../../tests/common/kernel_cases.rs"]
mod kernel_cases;
use burn::tensor::{Tensor, TensorData};

const REL: f64 = 1e-5;

use crate::test_support::gpu;

fn tensor<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 data")
}

/// Ours against Burn's result on the same device: two f32 computations, compared as
/// `r::assert_close` does with no magnitude.
fn assert_agree(what: &str, ours: &[f32], theirs: &[f32], rel: f64, abs: f64) {
    let theirs: Vec<f64> = theirs.iter().map(|&v| f64::from(v)).collect();
    r::assert_close(what, ours, &theirs, None, rel, abs);
}

/// `ours` and Burn's `reference` of test values (`seed`) of `shape` agree within 1e-5
/// relative plus 1e-5.
fn agrees_with_burn<const D: usize>(
    what: &str,
    shape: [usize; D],
    seed: u64,
    ours: impl Fn(Tensor<D>) -> Tensor<D>,
    reference: impl Fn(Tensor<D>) -> Tensor<D>,
) {
    let input = tensor(&r::values(shape.iter().product(), seed), shape, &gpu());
    assert_agree(what, &read(ours(input.clone())), &read(reference(input)), 1e-5, 1e-5);
}

/// Runs `f` with launches planned on a grid of at most `cap` workgroups per dimension.
fn on_capped_grid<T>(cap: u32, f: impl FnOnce() -> T) -> T {
    GRID_LIMIT_OVERRIDE.with(|c| c.set(cap));
    let out = f();
    GRID_LIMIT_OVERRIDE.with(|c| c.set(0));
    out
}

#[test]
fn wgpu_device_runs_wgsl() {
    let device = gpu();
    assert!(uses_wgsl(&device));
    assert!(uses_wgsl(&device.clone().autodiff()));
}

/// The shared test body (tests/common/kernel_cases.rs, also run in Chromium): forward and
/// backward against f64 on awkward shapes.
#[test]
fn gram_forward_and_backward_match_f64_on_awkward_shapes() {
    pollster::block_on(kernel_cases::check_gram(&gpu()));
}

#[test]
fn gram_wgsl_matches_the_burn_composition_on_the_same_device() {
    // Two f32 summation orders: the error of each, relative to sum |a b| * scale (<= 1000 * 1e-3).
    agrees_with_burn("gram vs Burn ops", [2, 37, 1000], 7, |f| gram(f, 1e-3), |f| gram_reference(f, 1e-3));
}

/// The shared test body: y, dx, dgamma, dbeta against f64.
#[test]
fn instance_norm_forward_and_all_gradients_match_f64() {
    pollster::block_on(kernel_cases::check_instance_norm(&gpu()));
}

#[test]
fn instance_norm_without_affine_matches_the_burn_composition() {
    let ours = |x| instance_norm(x, None, None, 1e-5);
    agrees_with_burn("instance_norm vs Burn ops", [2, 5, 23, 9], 9, ours, |x| instance_norm_reference(x, None, None, 1e-5));
}

#[test]
fn instance_norm_is_stable_on_a_1024x1024_plane_with_a_large_offset() {
    let device = gpu();
    let hw = 1024 * 1024;
    let xv: Vec<f32> = r::values(hw, 77).iter().map(|v| 1000.0 + 0.01 * v).collect();
    let y = read(instance_norm(tensor(&xv, [1, 1, 1024, 1024], &device), None, None, 0.0));
    let want = r::instance_norm(&xv, 1, 1, hw, &[1.0], &[0.0], 0.0);
    // The inputs themselves are only known to f32 precision at 1000 (ulp 6e-5, i.e.
    // 6e-3 of the spread): compare with the f64 result of the same f32 inputs.
    r::assert_close("1024x1024 offset plane", &y, &want, None, 1e-4, 1e-4);
}

#[test]
fn instance_norm_constant_planes_give_beta_and_finite_gradients() {
    let device = gpu().autodiff();
    let x = Tensor::<4>::full([3, 2, 64, 64], 3.25, &device).require_grad();
    let beta = tensor(&[0.75, -1.5], [2], &device).require_grad();
    let gamma = tensor(&[2.0, 0.5], [2], &device).require_grad();
    let y = instance_norm(x.clone(), Some(gamma.clone()), Some(beta.clone()), 1e-5);
    let grads = y.clone().sum().backward();
    let got = read(y);
    for (i, v) in got.iter().enumerate() {
        assert_eq!(*v, [0.75, -1.5][i / 4096 % 2], "element {i}");
    }
    for g in [read(x.grad(&grads).unwrap()), read(gamma.grad(&grads).unwrap()), read(beta.grad(&grads).unwrap())] {
        assert!(g.iter().all(|v| v.is_finite()), "non-finite gradient");
    }
    assert_eq!(read(beta.grad(&grads).unwrap()), vec![3.0 * 4096.0; 2]);
}

#[test]
fn large_grids_are_spread_over_two_dimensions() {
    let device = gpu();
    // A cap of 7 workgroups per dimension forces the 2-D grid and the z-chunking on small
    // tensors; results must not depend on the grid.
    let fv = r::values(9 * 20 * 1500, 5);
    let dgv = r::values(9 * 20 * 20, 6);
    let xv = r::values(2 * 3 * 40 * 40, 8);
    let (g, d_features, y) = on_capped_grid(7, || {
        let f = tensor(&fv, [9, 20, 1500], &device);
        let g = read(gram(f.clone(), 0.1));
        let d_features = gram::backward(
            tensor(&dgv, [9, 20, 20], &device).try_into_primitive::<Cube>().unwrap(),
            f.try_into_primitive::<Cube>().unwrap(),
            0.1,
        );
        let y = read(instance_norm(tensor(&xv, [2, 3, 40, 40], &device), None, None, 1e-5));
        (g, d_features, y)
    });

    let (want, mag) = r::gram(&fv, 9, 20, 1500, 0.1);
    r::assert_close("gram on a capped grid", &g, &want, Some(&mag), REL, 1e-30);
    let (want, mag) = r::gram_backward(&dgv, &fv, 9, 20, 1500, 0.1);
    r::assert_close("gram backward on a capped grid", &read(Tensor::<3>::from_primitive::<Cube>(d_features)), &want, Some(&mag), REL, 1e-30);
    let want = r::instance_norm(&xv, 2, 3, 1600, &[1.0; 3], &[0.0; 3], 1e-5);
    r::assert_close("instance norm on a capped grid", &y, &want, None, REL, 1e-5);
}

/// A tensor larger than the adapter's maxStorageBufferBindingSize (128 MiB on lavapipe)
/// cannot be allocated: cubecl caps its memory pages at that size. The failure travels with
/// the tensor and every kernel that needs it is skipped, so reading the result is an error,
/// never garbage. (The techniques check their sizes against the limits before they start.)
#[test]
fn beyond_the_binding_limit_reading_is_an_error_not_garbage() {
    let device = gpu();
    let n = 40 << 20; // 160 MiB of f32 in one tensor
    let before = kernel_launches();
    let g = gram(Tensor::<3>::ones([1, 1, n], &device), 1.0);
    assert!(kernel_launches().gram_forward > before.gram_forward);
    let err = g.try_into_data().expect_err("a result computed from an unallocatable input");
    assert!(format!("{err:?}").contains("failure"), "{err:?}");
}

/// The WGSL backward against the Burn-op composition differentiated by Burn's autodiff, on
/// the same device, through a chain that uses both ops (instance norm feeding a Gram).
/// Two f32 computations with different summation orders: 1e-4 relative plus a small floor.
#[test]
fn gradients_match_the_composition_differentiated_by_burn() {
    let device = gpu().autodiff();
    let [b, c, h, w]: [usize; 4] = [2, 5, 17, 19];
    let xv = r::values(b * c * h * w, 91);
    let gv: Vec<f32> = r::values(c, 92).iter().map(|v| v + 1.5).collect();
    let bv = r::values(c, 93);
    let wv = r::values(b * c * c, 94);
    let scale = 1.0 / (c * h * w) as f32;
    let run = |wgsl: bool| {
        let x = tensor(&xv, [b, c, h, w], &device).require_grad();
        let gamma = tensor(&gv, [c], &device).require_grad();
        let beta = tensor(&bv, [c], &device).require_grad();
        let before = kernel_launches();
        let y = if wgsl {
            instance_norm(x.clone(), Some(gamma.clone()), Some(beta.clone()), 1e-5)
        } else {
            instance_norm_reference(x.clone(), Some(gamma.clone()), Some(beta.clone()), 1e-5)
        };
        let features = y.reshape([b, c, h * w]);
        let g = if wgsl { gram(features, scale) } else { gram_reference(features, scale) };
        let grads = (g * tensor(&wv, [b, c, c], &device)).sum().backward();
        let after = kernel_launches();
        // The counters are process-wide and other tests run in parallel, so only the
        // positive direction can be asserted here.
        if wgsl {
            assert!(after.gram_backward > before.gram_backward, "gram backward not in WGSL");
            assert!(after.instance_norm_backward > before.instance_norm_backward, "IN backward not in WGSL");
        }
        [x.grad(&grads).unwrap().reshape([-1]), gamma.grad(&grads).unwrap(), beta.grad(&grads).unwrap()].map(read)
    };
    let ours = run(true);
    let theirs = run(false);
    for (name, (o, t)) in ["dx", "dgamma", "dbeta"].iter().zip(ours.iter().zip(&theirs)) {
        assert_agree(name, o, t, 1e-4, 1e-6);
    }
}

/// The shared test body: every convolution case, forward, input, weight and bias gradients
/// against f64.
#[test]
fn convolutions_forward_and_all_gradients_match_f64() {
    pollster::block_on(kernel_cases::check_conv(&gpu()));
}

/// The convolution products on a grid capped at 7 workgroups per dimension: 18 tiles spread
/// over x and y, and the split weight gradient's partials summed on a 2-D grid.
#[test]
fn convolutions_on_a_capped_grid_match_f64() {
    use conv::Tile;
    let device = gpu();
    let shape = r::ConvShape { b: 2, cin: 8, cout: 20, h: 24, w: 24, k: 3, stride: 1, padding: 1, transposed: None };
    on_capped_grid(7, || pollster::block_on(kernel_cases::check_conv_case(&kernel_cases::Case { shape, tile: Some(Tile::MEDIUM) }, 77, &device)));
}

/// Burn's convolution and ours on the same device agree (two f32 summation orders).
#[test]
fn convolution_matches_burns_on_the_same_device() {
    let device = gpu();
    let x = tensor(&r::values(2 * 16 * 19 * 23, 3), [2, 16, 19, 23], &device);
    let w = tensor(&r::values(24 * 16 * 9, 4), [24, 16, 3, 3], &device);
    let b = tensor(&r::values(24, 5), [24], &device);
    let g = ConvGeometry::new(1, 1);
    let ours = read(conv2d(x.clone(), w.clone(), Some(b.clone()), g));
    // Each output sums 144 products of values in [-1, 1].
    assert_agree("conv vs Burn", &ours, &read(conv_reference(x, w, Some(b), g, ConvKind::Conv)), 1e-5, 1e-4);
}
