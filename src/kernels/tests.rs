//! Unit tests: the WGSL sections and their launch parameters, the reference compositions on
//! the CPU backend, and, when a GPU (or lavapipe) adapter is present, WGSL against the
//! reference on the same wgpu device, forward and through autodiff.

use super::*;
use burn::tensor::{Distribution, Tensor, TensorData, Tolerance};

#[path = "../../tests/common/reference64.rs"]
pub(super) mod reference64;

thread_local! {
    /// Caps the grid used by `spread` / batch chunking so that small tensors exercise the
    /// 2-D grid and the z-chunking. Per thread: launches are planned on the calling thread,
    /// so tests running in parallel are not affected.
    pub(super) static GRID_LIMIT_OVERRIDE: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

const ALL: [WgslKernel; 10] = [
    gram::PARTIAL,
    gram::GRAD,
    instance_norm::STATS,
    instance_norm::FINALIZE,
    instance_norm::APPLY,
    instance_norm::GRAD_PARTIAL,
    instance_norm::GRAD_COMBINE,
    instance_norm::GRAD_APPLY,
    instance_norm::GRAD_PARAMS,
    SPLIT_SUM,
];

/// What every module handed to cubecl must satisfy (see the host contract in mod.rs).
fn check_module(what: &str, text: &str, workgroup: (u32, u32, u32)) {
    assert!(text.contains("fn main("), "{what}: no `main`");
    let (x, y, z) = workgroup;
    let declared = format!("@workgroup_size({x}, {y}, {z})");
    assert_eq!(text.matches("@workgroup_size").count(), 1, "{what}: one entry point");
    assert!(text.contains(&declared), "{what}: expected {declared}");
    // SourceTemplate fills `{{ name }}` placeholders and silently empties unknown ones.
    assert!(!text.contains("{{") && !text.contains("}}"), "{what}: unfilled template");
    assert!(!text.contains("var<storage, read>"), "{what}: storage must be read_write");
    assert_eq!(text.matches("var<uniform>").count(), 1, "{what}");
}

#[test]
fn every_kernel_file_is_a_complete_module_with_the_declared_workgroup() {
    for kernel in ALL {
        let text = KernelSource::source(&kernel).complete();
        check_module(kernel.label, &text, kernel.workgroup);
        // Distinct ids for distinct files.
        let id = KernelSource::id(&kernel);
        for other in ALL {
            if other.source_hash != kernel.source_hash {
                assert_ne!(id, KernelSource::id(&other));
            }
        }
    }
}

/// Every convolution entry, on every tile and the studio's geometries, fills its template
/// completely; distinct variants get distinct pipeline-cache ids.
#[test]
fn every_convolution_variant_is_a_complete_module() {
    use conv::{ConvKernel, Entry, Tile};
    let mut ids = Vec::new();
    for entry in [Entry::Forward, Entry::Transposed, Entry::WeightGrad] {
        for tile in Tile::ALL {
            assert_eq!((tile.bm / tile.tm) * (tile.bn / tile.tn), 256, "{tile:?}: 256 threads");
            assert!(tile.tm % 4 == 0 && tile.tn % 4 == 0 && 256 % tile.bn == 0 && 256 % tile.bk == 0, "{tile:?}");
            // Workgroup memory within WebGPU's default 16 KiB (weight_grad pads each row).
            let bytes = 4 * tile.bk * (tile.bm + 4 + tile.bn + 4);
            assert!(bytes <= 16384, "{tile:?}: {bytes} bytes of workgroup memory");
            for (k, s, p) in [(3, 1, 1), (7, 1, 0), (4, 2, 1), (3, 2, 1), (1, 1, 0)] {
                let kernel = ConvKernel { entry, tile, kernel: [k, k], stride: [s, s], padding: [p, p] };
                let text = KernelSource::source(&kernel).complete();
                check_module(&format!("{kernel:?}"), &text, (256, 1, 1));
                let id = KernelSource::id(&kernel);
                assert!(!ids.contains(&id), "{kernel:?}: duplicate id");
                ids.push(id);
            }
        }
    }
}

#[test]
fn convolution_plans_cover_the_reduction_and_fill_the_gpu() {
    use conv::{Tile, plan};
    // (m, n, k): VGG19 conv1_1 and conv5_1 at 512x384, their input gradients, a first
    // layer's weight gradient, a tiny layer.
    for (m, n, k) in [(64, 196_608, 27), (512, 768, 4608), (3, 196_608, 576), (64, 27, 196_608), (5, 6, 7)] {
        let p = plan(m, n, k, m * n);
        let bk = p.tile.bk as usize;
        assert!(p.chunk % bk == 0 && p.splits >= 1, "{m}x{n}x{k}: {p:?}");
        assert!(p.splits * p.chunk >= k && (p.splits - 1) * p.chunk < k, "{m}x{n}x{k}: {p:?} leaves K uncovered or a split empty");
        assert!(p.splits == 1 || p.splits * m * n * 4 <= 64 << 20, "{m}x{n}x{k}: partials too large");
    }
    for tile in Tile::ALL {
        assert_eq!(Tile::from_name(tile.name()), Some(tile));
    }
    assert_eq!(plan(3, 196_608, 576, 1).tile, Tile::SKINNY);
    assert_eq!(plan(64, 196_608, 27, 1).tile, Tile::WIDE);
    assert_eq!(plan(128, 49_152, 576, 1).tile, Tile::LARGE);
    assert_eq!(plan(256, 12_288, 2304, 1).tile, Tile::MEDIUM);
    // Deep layers on small images split K rather than leave the GPU idle.
    let deep = plan(512, 768, 4608, 512 * 768);
    assert!(deep.splits > 1 && deep.splits * deep.tile.workgroups(512, 768) >= 256, "{deep:?}");
    // The weight gradient of a first layer splits its long reduction.
    assert!(plan(64, 27, 196_608, 64 * 27).splits >= 64);
}

#[test]
fn params_pack_two_u32_per_word_low_first_padded_to_16_bytes() {
    assert_eq!(pack_params(&[1, 2, 3]), vec![1 | (2 << 32), 3]);
    assert_eq!(pack_params(&[7; 8]).len(), 4);
    assert_eq!(pack_params(&[0.5f32.to_bits()])[0] as u32, 0.5f32.to_bits());
}

#[test]
fn split_plans_cover_the_data() {
    for (b, c, n) in [
        (1, 3, 1 << 20),
        (2, 37, 1000),
        (1, 512, 65536),
        (8, 64, 4096),
    ] {
        let plan = gram::split_plan(b, c, n);
        assert!(plan.splits >= 1 && plan.chunk % 16 == 0);
        assert!(plan.splits * plan.chunk >= n && (plan.splits - 1) * plan.chunk < n);
    }
    for (planes, hw) in [(1, 1 << 20), (64, 1 << 20), (4096, 16), (3, 1)] {
        let plan = instance_norm::split_plan(planes, hw);
        assert!(plan.splits * plan.chunk >= hw && (plan.splits - 1) * plan.chunk < hw);
    }
}

fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, rel: f32, abs: f32) {
    actual
        .into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::rel_abs(rel, abs));
}

// ---------------------------------------------------------------- CPU (burn-flex) -------

#[test]
fn flex_is_not_a_wgsl_device() {
    assert!(!uses_wgsl(&Device::flex()));
    assert!(!uses_wgsl(&Device::flex().autodiff()));
}

#[test]
fn gram_reference_matches_a_naive_product() {
    let device = Device::flex();
    let (b, c, n) = (2, 3, 5);
    let values: Vec<f32> = (0..b * c * n)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
        .collect();
    let features = Tensor::<3>::from_data(TensorData::new(values.clone(), [b, c, n]), &device);
    let scale = 1.0 / (c * n) as f32;
    let mut expected = vec![0f32; b * c * c];
    for bb in 0..b {
        for i in 0..c {
            for j in 0..c {
                let dot: f64 = (0..n)
                    .map(|k| {
                        values[(bb * c + i) * n + k] as f64 * values[(bb * c + j) * n + k] as f64
                    })
                    .sum();
                expected[(bb * c + i) * c + j] = (dot * scale as f64) as f32;
            }
        }
    }
    let expected = Tensor::<3>::from_data(TensorData::new(expected, [b, c, c]), &device);
    // On the CPU, `gram` is the reference.
    assert_close(gram(features, scale), expected, 1e-5, 1e-6);
}

#[test]
fn instance_norm_reference_constant_plane_gives_beta() {
    let device = Device::flex();
    let x = Tensor::<4>::full([1, 2, 8, 8], 3.25, &device);
    let gamma = Tensor::<1>::from_floats([2.0, 0.5], &device);
    let beta = Tensor::<1>::from_floats([0.75, -1.5], &device);
    let y = instance_norm(x, Some(gamma), Some(beta.clone()), 1e-5);
    let expected = beta.reshape([1, 2, 1, 1]).expand([1, 2, 8, 8]);
    assert_close(y, expected, 0.0, 1e-7);
}

#[test]
fn instance_norm_reference_normalises_each_plane() {
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 3, 16, 16], Distribution::Normal(1000.0, 0.01), &device);
    let y = instance_norm(x, None, None, 0.0).reshape([6, 256]);
    let (var, mean) = y.var_mean_bias(1);
    assert_close(mean, Tensor::zeros([6, 1], &device), 0.0, 1e-3);
    assert_close(var, Tensor::ones([6, 1], &device), 1e-2, 1e-3);
}

#[test]
fn reference_paths_are_differentiable_on_the_cpu() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([1, 2, 4, 4], Distribution::Default, &device).require_grad();
    let gamma = Tensor::<1>::ones([2], &device).require_grad();
    let y = instance_norm(x.clone(), Some(gamma.clone()), None, 1e-5);
    let g = gram(y.reshape([1, 2, 16]), 1.0 / 32.0);
    let grads = g.sum().backward();
    assert!(x.grad(&grads).is_some() && gamma.grad(&grads).is_some());
}

// ------------------------------------------------- wgpu (GPU, lavapipe, SwiftShader) -----

#[test]
fn f64_references_agree_with_finite_differences() {
    use reference64 as r;
    // Gram: d/dF of sum(W .* gram(F)) against central differences of the f64 forward.
    let (b, c, n) = (2, 3, 5);
    let f = r::values(b * c * n, 1);
    let w = r::values(b * c * c, 2);
    let scale = 0.37;
    let loss = |f: &[f32]| -> f64 { r::gram(f, b, c, n, scale).0.iter().zip(&w).map(|(g, &w)| g * w as f64).sum() };
    let (df, _) = r::gram_backward(&w, &f, b, c, n, scale);
    let h = 1e-3f32;
    for i in 0..f.len() {
        let (mut p, mut m) = (f.clone(), f.clone());
        p[i] += h;
        m[i] -= h;
        let fd = (loss(&p) - loss(&m)) / ((p[i] - m[i]) as f64);
        assert!((fd - df[i]).abs() <= 1e-4 * (1.0 + df[i].abs()), "gram dF[{i}]: analytic {} vs FD {fd}", df[i]);
    }
    // Instance norm: dx, dgamma, dbeta of sum(W .* y).
    let (b, c, hw) = (2, 3, 7);
    let x = r::values(b * c * hw, 3);
    let w = r::values(b * c * hw, 4);
    let gamma = r::values(c, 5).iter().map(|v| v + 1.5).collect::<Vec<_>>();
    let beta = r::values(c, 6);
    let eps = 1e-5;
    let loss = |x: &[f32], g: &[f32], be: &[f32]| -> f64 {
        r::instance_norm(x, b, c, hw, g, be, eps).iter().zip(&w).map(|(y, &w)| y * w as f64).sum()
    };
    let (dx, dgamma, dbeta) = r::instance_norm_backward(&x, &w, b, c, hw, &gamma, eps);
    let fd = |v: &[f32], i: usize, f: &dyn Fn(&[f32]) -> f64| {
        let (mut p, mut m) = (v.to_vec(), v.to_vec());
        p[i] += h;
        m[i] -= h;
        (f(&p) - f(&m)) / ((p[i] - m[i]) as f64)
    };
    for i in 0..x.len() {
        let d = fd(&x, i, &|x| loss(x, &gamma, &beta));
        assert!((d - dx[i]).abs() <= 1e-3 * (1.0 + dx[i].abs()), "IN dx[{i}]: analytic {} vs FD {d}", dx[i]);
    }
    for i in 0..c {
        let d = fd(&gamma, i, &|g| loss(&x, g, &beta));
        assert!((d - dgamma[i]).abs() <= 1e-3 * (1.0 + dgamma[i].abs()), "IN dgamma[{i}]");
        let d = fd(&beta, i, &|be| loss(&x, &gamma, be));
        assert!((d - dbeta[i]).abs() <= 1e-3 * (1.0 + dbeta[i].abs()), "IN dbeta[{i}]");
    }
    // Convolution and transposed convolution (stride 2, padding, an odd size, output
    // padding): dx, dw, dbias of sum(W .* y).
    for shape in [
        r::ConvShape { b: 2, cin: 2, cout: 3, h: 5, w: 4, k: 3, stride: 2, padding: 1, transposed: None },
        r::ConvShape { b: 1, cin: 3, cout: 2, h: 3, w: 2, k: 4, stride: 2, padding: 1, transposed: Some(1) },
    ] {
        let [x, wt, bias] = conv_values(&shape, 7);
        let w = r::values(shape.output_len(), 10);
        let loss = |x: &[f32], wt: &[f32], bias: &[f32]| -> f64 {
            r::conv(&shape, x, wt, bias).0.iter().zip(&w).map(|(y, &w)| y * w as f64).sum()
        };
        let (dx, _, dw, _, db, _) = r::conv_backward(&shape, &x, &wt, &w);
        let close = |d: f64, a: f64| (d - a).abs() <= 1e-3 * (1.0 + a.abs());
        for i in 0..x.len() {
            let d = fd(&x, i, &|x| loss(x, &wt, &bias));
            assert!(close(d, dx[i]), "{shape:?} dx[{i}]: analytic {} vs FD {d}", dx[i]);
        }
        for i in 0..wt.len() {
            let d = fd(&wt, i, &|wt| loss(&x, wt, &bias));
            assert!(close(d, dw[i]), "{shape:?} dw[{i}]: analytic {} vs FD {d}", dw[i]);
        }
        for i in 0..bias.len() {
            let d = fd(&bias, i, &|b| loss(&x, &wt, b));
            assert!(close(d, db[i]), "{shape:?} dbias[{i}]: analytic {} vs FD {d}", db[i]);
        }
    }
}

/// Test values of a convolution's input, weights and bias (seeds `seed`, `seed + 1`, `seed + 2`).
fn conv_values(shape: &reference64::ConvShape, seed: u64) -> [Vec<f32>; 3] {
    let lens = [shape.input_len(), shape.weight_dims().iter().product(), shape.cout];
    core::array::from_fn(|i| reference64::values(lens[i], seed + i as u64))
}

/// The f64 reference convolution against Burn's on the CPU: the two are independent, so
/// this checks the reference's index conventions (PyTorch's) too.
#[test]
fn f64_convolution_reference_agrees_with_burns_convolution() {
    use reference64 as r;
    let device = Device::flex();
    for shape in [
        r::ConvShape { b: 2, cin: 3, cout: 4, h: 7, w: 6, k: 4, stride: 2, padding: 1, transposed: None },
        r::ConvShape { b: 1, cin: 4, cout: 3, h: 3, w: 5, k: 3, stride: 2, padding: 1, transposed: Some(1) },
    ] {
        let [x, wt, bias] = conv_values(&shape, 11);
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [shape.b, shape.cin, shape.h, shape.w]), &device);
        let wtt = Tensor::<4>::from_data(TensorData::new(wt.clone(), shape.weight_dims()), &device);
        let bt = Tensor::<1>::from_data(TensorData::new(bias.clone(), [shape.cout]), &device);
        let g = ConvGeometry::new(shape.stride, shape.padding);
        let y = match shape.transposed {
            None => conv2d(xt, wtt, Some(bt), g),
            Some(op) => conv_transpose2d(xt, wtt, Some(bt), g, [op, op]),
        };
        let got = y.into_data().try_into_vec::<f32>().expect("f32");
        let (want, mag) = r::conv(&shape, &x, &wt, &bias);
        r::assert_close(&format!("{shape:?}"), &got, &want, Some(&mag), 1e-5, 1e-6);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod gpu;
