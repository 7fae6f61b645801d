//! Timing training: [`Session::for_benchmark`] sets up a run of the papers' networks on
//! noise, [`benchmark`] times its iterations into a [`BenchRecord`].

use burn::tensor::Device;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::{Model, Session, TrainSpec, TrainingError};
use crate::techniques::data::{Preprocess, Rng, TrainData};

/// One timed benchmark case: `ai-art bench train` and the in-browser benchmark print it as a
/// JSON line, the format of `scripts/reference/bench_train.py`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub model: String,
    pub size: u32,
    pub batch: usize,
    /// Timed iterations (after one warm-up); `ms_per_iter` is their median.
    pub iters: usize,
    pub ms_per_iter: f64,
    pub it_per_s: f64,
    pub generator: String,
}

/// Times [`Session::for_benchmark`]: one warm-up iteration (shader compilation, autotune),
/// then the median of `iters` iterations, each read back as the app reads its losses.
/// `now_ms` is the clock (`Instant` natively, `performance.now()` in a browser).
pub async fn benchmark(model: Model, size: u32, batch: usize, iters: usize, device: &Device, now_ms: &dyn Fn() -> f64) -> Result<BenchRecord, TrainingError> {
    let iters = iters.max(1);
    let mut session = Session::for_benchmark(model, size, batch, device)?;
    session.set_max_iterations(Some(iters + 1));
    session.step().await?;
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = now_ms();
        session.step().await?;
        samples.push(now_ms() - t);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let ms = samples[samples.len() / 2];
    let generator = session.archs.first().map(|a| a.describe()).unwrap_or_default();
    Ok(BenchRecord { model: model.id().into(), size, batch, iters: samples.len(), ms_per_iter: ms, it_per_s: 1e3 / ms, generator })
}

impl Session {
    /// A run to time: the papers' settings for `model` (full-width networks: a U-Net as deep
    /// as `size` allows, at most unet_256, with dropout for Pix2Pix; resnet_9blocks and the
    /// 50-image pool for CycleGAN) on `batch` noise images per set, so that every iteration
    /// takes a full batch. `ai-art bench train` and the in-browser benchmark both use it.
    pub fn for_benchmark(model: Model, size: u32, batch: usize, device: &Device) -> Result<Session, TrainingError> {
        if model == Model::FastStyle {
            return Err(TrainingError::Setting("a fast style network is timed by `ai-art bench fast-style`, with VGG19".into()));
        }
        let spec = TrainSpec { size, batch_size: batch, ..TrainSpec::new(model) };
        spec.check().map_err(TrainingError::Setting)?;
        let load = Preprocess::for_crop(size).load_size;
        let mut rng = Rng::new(batch as u64 ^ u64::from(size));
        let mut noise = || RgbImage::from_fn(load, load, |_, _| image::Rgb([rng.below(256) as u8, rng.below(256) as u8, rng.below(256) as u8]));
        let data = match model {
            Model::Pix2Pix => TrainData::Paired((0..batch).map(|_| (noise(), noise())).collect()),
            Model::CycleGan | Model::FastStyle => TrainData::Unpaired((0..batch).map(|_| noise()).collect(), (0..batch).map(|_| noise()).collect()),
        };
        Session::new(spec, data, vec![], device, "benchmark")
    }
}
