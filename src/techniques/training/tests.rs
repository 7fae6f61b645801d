//! Training: the official update order against PyTorch (fixtures from
//! `scripts/reference/make_training_fixtures.py`), the learning-rate rule and the pool, and
//! short runs on synthetic data where the generator must measurably learn the mapping.

use super::*;
use crate::models::patchgan::PatchGanConfig;
use crate::models::resnet::{ResnetConfig, ResnetGenerator};
use crate::models::unet::{UnetConfig, UnetGenerator};
use crate::models::{Builder, NormKind};
use burn::tensor::{Device, Distribution, TensorData};

/// Smooth random images in [-1, 1]: a few coloured blobs on a gradient, `[n, 3, s, s]`.
fn blobs(n: usize, s: usize, seed: u64, device: &Device) -> Tensor<4> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let mut data = vec![0f32; n * 3 * s * s];
    for i in 0..n {
        let centres: Vec<(f32, f32, [f32; 3])> = (0..3).map(|_| (rand() * s as f32, rand() * s as f32, [rand(), rand(), rand()])).collect();
        let base = [rand(), rand(), rand()];
        for y in 0..s {
            for x in 0..s {
                for c in 0..3 {
                    let mut v = base[c] * (x as f32 / s as f32);
                    for (cx, cy, col) in &centres {
                        let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                        v += col[c] * (-d2 / (0.05 * (s * s) as f32)).exp();
                    }
                    data[((i * 3 + c) * s + y) * s + x] = (v.clamp(0.0, 1.0)) * 2.0 - 1.0;
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [n, 3, s, s]), device)
}

/// The mapping to learn: colour inversion with a channel swap (B = -A[2, 0, 1]).
fn target_of(a: Tensor<4>) -> Tensor<4> {
    let [n, _, h, w] = a.dims();
    let r = a.clone().slice([0..n, 0..1, 0..h, 0..w]);
    let g = a.clone().slice([0..n, 1..2, 0..h, 0..w]);
    let b = a.slice([0..n, 2..3, 0..h, 0..w]);
    -Tensor::cat(vec![b, r, g], 1)
}

fn mean_abs(a: Tensor<4>, b: Tensor<4>) -> f64 {
    let v = (a - b).abs().mean().into_data().try_into_vec::<f32>().expect("f32");
    v[0] as f64
}

#[test]
fn pix2pix_learns_a_colour_mapping_on_synthetic_pairs() {
    let device = Device::flex().autodiff();
    device.seed(1);
    let norm = NormKind::Instance { affine: false };
    let mut b = Builder::init(&device, 0.02);
    let g = UnetGenerator::build(&UnetConfig { input_nc: 3, output_nc: 3, num_downs: 5, ngf: 8, norm, use_dropout: false }, &mut b).expect("G");
    let d = PatchGan::build(&PatchGanConfig { input_nc: 6, ndf: 8, n_layers: 2, norm }, &mut b).expect("D");
    let mut trainer = Pix2PixTrainer::new(Generator::Unet(g), d, 100.0);
    let held_out = blobs(4, 32, 999, &device);
    let before = mean_abs(trainer.generator.forward(held_out.clone()), target_of(held_out.clone()));
    let mut first_l1 = None;
    let mut last_l1 = 0.0;
    for it in 0..60 {
        let a = blobs(4, 32, it, &device);
        let losses = pollster::block_on(trainer.step(a.clone(), target_of(a), 2e-3).read()).expect("losses");
        assert_eq!(losses.len(), Pix2PixTrainer::LOSS_NAMES.len());
        assert!(losses.iter().all(|v| v.is_finite()), "iteration {it}: {losses:?}");
        first_l1.get_or_insert(losses[4]);
        last_l1 = losses[4];
    }
    let after = mean_abs(trainer.generator.forward(held_out.clone()), target_of(held_out));
    eprintln!("pix2pix synthetic: held-out |G(A) - B| {before:.3} -> {after:.3}; L1 loss {:.2} -> {last_l1:.2}", first_l1.unwrap_or(0.0));
    assert!(after < 0.5 * before, "the generator must learn the mapping: {before} -> {after}");
    assert!(last_l1 < 0.5 * first_l1.unwrap_or(0.0), "the L1 loss must fall");
}

/// Domain B of the CycleGAN test: a strong colour cast (red up, green down, contrast halved).
fn colour_cast(a: Tensor<4>) -> Tensor<4> {
    let device = a.device();
    let shift = Tensor::<1>::from_floats([0.5f32, -0.5, 0.0], &device).reshape([1, 3, 1, 1]);
    (a * 0.5 + shift).clamp(-1.0, 1.0)
}

/// Per-channel means of a batch, `[3]`.
fn channel_means(x: Tensor<4>) -> Vec<f32> {
    let [n, c, h, w] = x.dims();
    x.permute([1, 0, 2, 3]).reshape([c, n * h * w]).mean_dim(1).into_data().try_into_vec::<f32>().expect("f32")
}

#[test]
fn cyclegan_learns_a_colour_cast_from_unpaired_sets() {
    let device = Device::flex().autodiff();
    device.seed(2);
    let norm = NormKind::Instance { affine: false };
    let mut b = Builder::init(&device, 0.02);
    let cfg = ResnetConfig { input_nc: 3, output_nc: 3, ngf: 8, n_blocks: 2, norm, use_dropout: false, block_name: "conv_block".into() };
    let g_a = ResnetGenerator::build(&cfg, &mut b).expect("G_A");
    let g_b = ResnetGenerator::build(&cfg, &mut b).expect("G_B");
    let dcfg = PatchGanConfig { input_nc: 3, ndf: 8, n_layers: 2, norm };
    let d_a = PatchGan::build(&dcfg, &mut b).expect("D_A");
    let d_b = PatchGan::build(&dcfg, &mut b).expect("D_B");
    let mut trainer = CycleGanTrainer::new((Generator::Resnet(g_a), Generator::Resnet(g_b)), (d_a, d_b), 50, 7);
    // Unpaired: domain B holds the cast versions of *other* images than domain A's, so only
    // the distributions can be matched; the test measures the colour statistics G_A gives.
    let held_out = blobs(8, 24, 999, &device);
    let target = channel_means(colour_cast(blobs(8, 24, 998, &device)));
    let gap = |g: &Generator| -> f32 {
        channel_means(g.forward(held_out.clone())).iter().zip(&target).map(|(a, b)| (a - b).abs()).sum()
    };
    let before = gap(&trainer.generators.0);
    let mut first = None;
    let mut last = 0.0;
    for it in 0..80 {
        let a = blobs(2, 24, 2 * it, &device);
        let b = colour_cast(blobs(2, 24, 2 * it + 1, &device));
        let losses = pollster::block_on(trainer.step(a, b, 2e-3).read()).expect("losses");
        assert_eq!(losses.len(), CycleGanTrainer::LOSS_NAMES.len());
        assert!(losses.iter().all(|v| v.is_finite()), "iteration {it}: {losses:?}");
        let cycle = losses[4] + losses[5];
        first.get_or_insert(cycle);
        last = cycle;
    }
    let after = gap(&trainer.generators.0);
    eprintln!(
        "cyclegan synthetic: colour-statistics gap of G_A(A) to domain B {before:.3} -> {after:.3}; cycle loss {:.2} -> {last:.2}",
        first.unwrap_or(0.0)
    );
    assert!(after < 0.5 * before, "G_A must learn the cast: colour gap {before} -> {after}");
    assert!(last < 0.7 * first.unwrap_or(0.0), "the cycle loss must fall: {first:?} -> {last}");
    assert_eq!(trainer.pool_a.len(), 50);
}

#[test]
fn the_pool_returns_new_images_until_full_then_mixes() {
    let device = Device::flex();
    let mut pool = ImagePool::new(3, 0);
    let img = |v: f32| Tensor::<4>::ones([1, 1, 2, 2], &device) * v;
    for k in 0..3 {
        let out = pool.query(img(k as f32)).into_data().try_into_vec::<f32>().expect("f32");
        assert_eq!(out[0], k as f32, "while not full the pool passes images through");
    }
    assert_eq!(pool.len(), 3);
    let mut swapped = 0;
    for k in 3..103 {
        let out = pool.query(img(k as f32)).into_data().try_into_vec::<f32>().expect("f32");
        if out[0] != k as f32 {
            swapped += 1;
        }
    }
    assert_eq!(pool.len(), 3);
    assert!((30..=70).contains(&swapped), "about half are swapped: {swapped}");
    let mut off = ImagePool::new(0, 0);
    assert_eq!(off.query(img(5.0)).into_data().try_into_vec::<f32>().expect("f32")[0], 5.0);
}
