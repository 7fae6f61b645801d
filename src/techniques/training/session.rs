//! A whole training run: the settings, the data, the networks and optimisers, and where the
//! run is (epoch, position in the epoch's shuffled order, random state, history pools), so
//! that it can be stepped from the CLI or the browser worker, saved, and resumed exactly.
//!
//! The saved state is one `.safetensors` file ([`Session::save_state`]):
//! * each network's tensors under its official names, prefixed with the network
//!   (`G.model.1.weight`, `D_A.model.0.bias`, ...), so a generator can be taken out of it
//!   as an official checkpoint without a GPU ([`generator_from_state`]);
//! * each optimiser's moments, `opt_G.G.model.1.weight.exp_avg` / `.exp_avg_sq` / `.step`;
//! * the CycleGAN history pools, `pool_A.N` / `pool_B.N`;
//! * in the header metadata, the settings, the architectures and the progress, as JSON.
//!
//! Resuming rebuilds everything from that file and continues bit for bit: the dropout noise
//! is seeded from the run's seed and the iteration, so an interrupted run and an
//! uninterrupted one take the same steps (`resumed_runs_continue_exactly` checks it).

use std::collections::{BTreeMap, HashMap};

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::adam::{Moments, param_ids};
use super::{CycleGanTrainer, Gan, Network, Pix2PixTrainer, Schedule, Side};
use crate::models::detect::Architecture;
use crate::models::patchgan::{PatchGan, PatchGanConfig};
use crate::models::resnet::{ResnetConfig, ResnetGenerator};
use crate::models::unet::{UnetConfig, UnetGenerator};
use crate::models::{ArchChoice, Builder, Generator, NormChoice, NormKind, export, layout_of, load_generator};
use crate::techniques::data::{self, Preprocess, Rng, TrainData};
use crate::weights::{self, Checkpoint};

/// The `format` entry of a saved state's metadata.
pub const STATE_FORMAT: &str = "ai-art-training-state/1";

/// Which model is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Model {
    Pix2Pix,
    CycleGan,
}

impl std::str::FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pix2pix" => Ok(Model::Pix2Pix),
            "cyclegan" => Ok(Model::CycleGan),
            other => Err(format!("unknown model `{other}`: use pix2pix or cyclegan")),
        }
    }
}

impl Model {
    /// The name on the command line and in benchmark records: `pix2pix`, `cyclegan`.
    pub fn id(self) -> &'static str {
        match self {
            Model::Pix2Pix => "pix2pix",
            Model::CycleGan => "cyclegan",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Model::Pix2Pix => "Pix2Pix",
            Model::CycleGan => "CycleGAN",
        }
    }

    /// The losses each iteration reports, in order.
    pub fn loss_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix => &Pix2PixTrainer::LOSS_NAMES,
            Model::CycleGan => &CycleGanTrainer::LOSS_NAMES,
        }
    }

    /// The generators, by their official names (`latest_net_G.pth`, `latest_net_G_A.pth`, ...).
    pub fn generator_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix => &["G"],
            Model::CycleGan => &["G_A", "G_B"],
        }
    }

    /// Every network, generators first.
    pub fn network_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix => &["G", "D"],
            Model::CycleGan => &["G_A", "G_B", "D_A", "D_B"],
        }
    }
}

/// Every setting of a run (the CLI's `ai-art train` options; the app's training form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub model: Model,
    /// Crop size: images are resized to about 286/256 of it, randomly cropped and flipped.
    pub size: u32,
    pub batch_size: usize,
    /// Epochs at the base learning rate, then epochs of linear decay to zero.
    pub epochs: usize,
    pub epochs_decay: usize,
    /// Stop after this many iterations in all (for short runs).
    pub max_iterations: Option<usize>,
    pub lr: f64,
    /// Generator architecture; `Auto`: a U-Net as deep as the size allows (at most
    /// `unet_256`) for Pix2Pix, `resnet_9blocks` for CycleGAN.
    pub netg: ArchChoice,
    pub ngf: usize,
    pub ndf: usize,
    /// PatchGAN layers (3: 70x70 patches).
    pub n_layers_d: usize,
    /// Dropout 0.5 in the generator (the official default for Pix2Pix, not CycleGAN).
    pub dropout: bool,
    pub lambda_l1: f64,
    pub lambda_cycle: f64,
    pub lambda_identity: f64,
    pub pool_size: usize,
    pub seed: u64,
}

impl TrainSpec {
    /// The papers' settings for `model`.
    pub fn new(model: Model) -> Self {
        TrainSpec {
            model,
            size: 256,
            batch_size: 1,
            epochs: 100,
            epochs_decay: 100,
            max_iterations: None,
            lr: 2e-4,
            netg: ArchChoice::Auto,
            ngf: 64,
            ndf: 64,
            n_layers_d: 3,
            dropout: model == Model::Pix2Pix,
            lambda_l1: 100.0,
            lambda_cycle: 10.0,
            lambda_identity: 0.5,
            pool_size: 50,
            seed: 0,
        }
    }

    /// Rejects settings that cannot train, with a message for the user.
    pub fn check(&self) -> Result<(), String> {
        if !(16..=1024).contains(&self.size) {
            return Err("the image size must be between 16 and 1024 pixels".into());
        }
        if !(1..=64).contains(&self.batch_size) {
            return Err("the batch size must be between 1 and 64".into());
        }
        if self.epochs + self.epochs_decay == 0 {
            return Err("train for at least one epoch".into());
        }
        if self.max_iterations == Some(0) {
            return Err("train for at least one iteration".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr < 1.0) {
            return Err("the learning rate must be a number between 0 and 1".into());
        }
        if !(1..=512).contains(&self.ngf) || !(1..=512).contains(&self.ndf) {
            return Err("the network widths (ngf, ndf) must be between 1 and 512".into());
        }
        if !(1..=6).contains(&self.n_layers_d) {
            return Err("the PatchGAN needs between 1 and 6 layers".into());
        }
        for (name, v) in [("lambda L1", self.lambda_l1), ("lambda cycle", self.lambda_cycle), ("lambda identity", self.lambda_identity)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a number >= 0"));
            }
        }
        if self.pool_size > 1000 {
            return Err("the history pool holds at most 1000 images".into());
        }
        self.generator_architecture().map(drop)
    }

    /// The generator to build from scratch.
    pub fn generator_architecture(&self) -> Result<Architecture, String> {
        let norm = NormKind::Instance { affine: false };
        let choice = match (self.netg, self.model) {
            (ArchChoice::Auto, Model::CycleGan) => ArchChoice::Resnet { n_blocks: 9 },
            (ArchChoice::Auto, Model::Pix2Pix) => ArchChoice::Unet { num_downs: (self.size.trailing_zeros() as usize).min(8) },
            (other, _) => other,
        };
        match choice {
            ArchChoice::Resnet { n_blocks } => {
                if !self.size.is_multiple_of(4) {
                    return Err(format!("a ResNet generator needs a size that is a multiple of 4, not {}", self.size));
                }
                Ok(Architecture::Resnet(ResnetConfig {
                    ngf: self.ngf,
                    n_blocks,
                    norm,
                    use_dropout: self.dropout,
                    ..ResnetConfig::official(n_blocks)
                }))
            }
            ArchChoice::Unet { num_downs } => {
                if !(5..=12).contains(&num_downs) {
                    return Err(format!(
                        "the U-Net needs a size that is a multiple of 32 (it halves the image at least 5 times), not {}",
                        self.size
                    ));
                }
                if !self.size.is_multiple_of(1 << num_downs) {
                    return Err(format!(
                        "a U-Net with {num_downs} downsamplings (unet_{}) needs a size that is a multiple of {}, not {}",
                        1u64 << num_downs,
                        1u64 << num_downs,
                        self.size
                    ));
                }
                Ok(Architecture::Unet(UnetConfig { ngf: self.ngf, use_dropout: self.dropout, ..UnetConfig::official(num_downs, norm) }))
            }
            ArchChoice::Auto => Err("no generator architecture".into()),
        }
    }

    fn discriminator_config(&self) -> PatchGanConfig {
        let input_nc = if self.model == Model::Pix2Pix { 6 } else { 3 };
        PatchGanConfig { input_nc, ndf: self.ndf, n_layers: self.n_layers_d, norm: NormKind::Instance { affine: false } }
    }

    fn schedule(&self) -> Schedule {
        Schedule { lr: self.lr, n_epochs: self.epochs, n_epochs_decay: self.epochs_decay }
    }
}

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
pub async fn benchmark(model: Model, size: u32, batch: usize, iters: usize, device: &Device, now_ms: &dyn Fn() -> f64) -> Result<BenchRecord, String> {
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

/// One iteration's record: the losses in [`Model::loss_names`] order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub iteration: usize,
    pub epoch: usize,
    pub lr: f64,
    pub losses: Vec<f64>,
}

/// Where a run is: everything besides tensors that a resumed run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Progress {
    run_id: String,
    iteration: usize,
    epoch: usize,
    order: Vec<usize>,
    pos: usize,
    rng: u64,
    pool_rngs: Vec<u64>,
    counts: (usize, usize),
}

/// What a saved state holds, read from its header alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSummary {
    pub run_id: String,
    pub spec: TrainSpec,
    pub iteration: usize,
    pub total_iterations: usize,
}

/// A training run in progress.
pub struct Session {
    spec: TrainSpec,
    data: TrainData,
    pre: Preprocess,
    /// The GAN being trained; the session never asks which.
    trainer: Box<dyn Gan>,
    /// Each network's architecture, in [`Model::network_names`] order.
    archs: Vec<Architecture>,
    rng: Rng,
    epoch: usize,
    order: Vec<usize>,
    pos: usize,
    device: Device,
    run_id: String,
}

fn total_iterations(spec: &TrainSpec, epoch_len: usize) -> usize {
    let per_epoch = epoch_len.div_ceil(spec.batch_size.max(1));
    let all = per_epoch * (spec.epochs + spec.epochs_decay);
    spec.max_iterations.map_or(all, |m| m.min(all))
}

/// Pix2Pix trains on pairs, CycleGAN on two sets.
fn check_data(spec: &TrainSpec, data: &TrainData) -> Result<(), String> {
    spec.check()?;
    match (data, spec.model) {
        (TrainData::Paired(_), Model::Pix2Pix) | (TrainData::Unpaired(..), Model::CycleGan) => Ok(()),
        (TrainData::Paired(_), Model::CycleGan) => Err("CycleGAN trains on two unpaired sets".into()),
        (TrainData::Unpaired(..), Model::Pix2Pix) => Err("Pix2Pix trains on aligned pairs".into()),
    }
}

fn build_generator(arch: &Architecture, b: &mut Builder) -> Result<Generator, String> {
    match arch {
        Architecture::Resnet(c) => Ok(Generator::Resnet(ResnetGenerator::build(c, b).map_err(|e| e.to_string())?)),
        Architecture::Unet(c) => Ok(Generator::Unet(UnetGenerator::build(c, b).map_err(|e| e.to_string())?)),
        other => Err(format!("{} is not a generator", other.describe())),
    }
}

fn build_discriminator(arch: &Architecture, b: &mut Builder) -> Result<PatchGan, String> {
    match arch {
        Architecture::PatchGan(c) => PatchGan::build(c, b).map_err(|e| e.to_string()),
        other => Err(format!("{} is not a PatchGAN", other.describe())),
    }
}

impl Session {
    /// A new run. `init` fine-tunes: a pretrained generator checkpoint per generator
    /// (Pix2Pix: `[G]`; CycleGAN: `[G_A, G_B]`), used instead of random N(0, 0.02) weights;
    /// the discriminators always start fresh. `device` must be an autodiff device.
    pub fn new(spec: TrainSpec, data: TrainData, init: Vec<Option<Checkpoint>>, device: &Device, run_id: &str) -> Result<Session, String> {
        check_data(&spec, &data)?;
        // Fresh weights from the run's seed (on this backend), so a run can be repeated.
        device.seed(spec.seed);
        let mut init = init.into_iter();
        let mut generators = Vec::new();
        let mut archs = Vec::new();
        for name in spec.model.generator_names() {
            let (g, arch) = match init.next().flatten() {
                Some(ckpt) => {
                    let (g, arch) = load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, device).map_err(|e| format!("{name}: {e}"))?;
                    if !(spec.size as usize).is_multiple_of(g.required_multiple()) {
                        return Err(format!(
                            "{name}: the pretrained {} needs a size that is a multiple of {}, not {}",
                            arch.describe(),
                            g.required_multiple(),
                            spec.size
                        ));
                    }
                    (g, arch)
                }
                None => {
                    let arch = spec.generator_architecture()?;
                    (build_generator(&arch, &mut Builder::init(device, 0.02))?, arch)
                }
            };
            generators.push(g);
            archs.push(arch);
        }
        let d_arch = Architecture::PatchGan(spec.discriminator_config());
        let n_d = spec.model.network_names().len() - generators.len();
        let mut discriminators = Vec::new();
        for _ in 0..n_d {
            discriminators.push(build_discriminator(&d_arch, &mut Builder::init(device, 0.02))?);
            archs.push(d_arch.clone());
        }
        Session::assemble(spec, data, generators, discriminators, archs, device, run_id)
    }

    /// A run to time: the papers' settings for `model` (full-width networks: a U-Net as deep
    /// as `size` allows, at most unet_256, with dropout for Pix2Pix; resnet_9blocks and the
    /// 50-image pool for CycleGAN) on `batch` noise images per set, so that every iteration
    /// takes a full batch. `ai-art bench train` and the in-browser benchmark both use it.
    pub fn for_benchmark(model: Model, size: u32, batch: usize, device: &Device) -> Result<Session, String> {
        let spec = TrainSpec { size, batch_size: batch, ..TrainSpec::new(model) };
        spec.check()?;
        let load = Preprocess::for_crop(size).load_size;
        let mut rng = Rng::new(batch as u64 ^ u64::from(size));
        let mut noise = || RgbImage::from_fn(load, load, |_, _| image::Rgb([rng.below(256) as u8, rng.below(256) as u8, rng.below(256) as u8]));
        let data = match model {
            Model::Pix2Pix => TrainData::Paired((0..batch).map(|_| (noise(), noise())).collect()),
            Model::CycleGan => TrainData::Unpaired((0..batch).map(|_| noise()).collect(), (0..batch).map(|_| noise()).collect()),
        };
        Session::new(spec, data, vec![], device, "benchmark")
    }

    /// A session at iteration 0 around built networks (generators and discriminators in
    /// [`Model::network_names`] order, `archs` for all of them).
    fn assemble(
        spec: TrainSpec,
        data: TrainData,
        mut generators: Vec<Generator>,
        mut discriminators: Vec<PatchGan>,
        archs: Vec<Architecture>,
        device: &Device,
        run_id: &str,
    ) -> Result<Session, String> {
        // The one place that knows which GAN a model is.
        let trainer: Box<dyn Gan> = match spec.model {
            Model::Pix2Pix => {
                let (Some(g), Some(d)) = (generators.pop(), discriminators.pop()) else { return Err("no networks".into()) };
                Box::new(Pix2PixTrainer::new(g, d, spec.lambda_l1))
            }
            Model::CycleGan => {
                let (Some(g_b), Some(g_a), Some(d_b), Some(d_a)) = (generators.pop(), generators.pop(), discriminators.pop(), discriminators.pop())
                else {
                    return Err("no networks".into());
                };
                let mut t = CycleGanTrainer::new((g_a, g_b), (d_a, d_b), spec.pool_size, spec.seed);
                t.lambda_a = spec.lambda_cycle;
                t.lambda_b = spec.lambda_cycle;
                t.lambda_identity = spec.lambda_identity;
                Box::new(t)
            }
        };
        let mut rng = Rng::new(spec.seed);
        let order = data::shuffled(data.epoch_len(), &mut rng);
        Ok(Session {
            pre: Preprocess::for_crop(spec.size),
            spec,
            data,
            trainer,
            archs,
            rng,
            epoch: 1,
            order,
            pos: 0,
            device: device.clone(),
            run_id: run_id.to_string(),
        })
    }

    /// Changes where the run stops (a resumed run continued further, or cut short).
    pub fn set_max_iterations(&mut self, max: Option<usize>) {
        self.spec.max_iterations = max;
    }

    /// The training images.
    pub fn data(&self) -> &TrainData {
        &self.data
    }

    pub fn spec(&self) -> &TrainSpec {
        &self.spec
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Iterations done.
    pub fn iteration(&self) -> usize {
        self.trainer.iterations()
    }

    /// Iterations the whole run takes.
    pub fn total_iterations(&self) -> usize {
        total_iterations(&self.spec, self.data.epoch_len())
    }

    pub fn is_finished(&self) -> bool {
        self.iteration() >= self.total_iterations()
    }

    /// The generator architectures, in words.
    pub fn describe(&self) -> String {
        let names = self.spec.model.network_names();
        let g: Vec<String> = self.archs.iter().zip(names).map(|(a, n)| format!("{n}: {}", a.describe())).collect();
        g.join("; ")
    }

    /// One iteration on the next batch; the epoch's order is reshuffled when it runs out.
    pub async fn step(&mut self) -> Result<StepRecord, String> {
        if self.is_finished() {
            return Err("the run is finished".into());
        }
        if self.pos >= self.order.len() {
            self.epoch += 1;
            self.order = data::shuffled(self.data.epoch_len(), &mut self.rng);
            self.pos = 0;
        }
        let end = (self.pos + self.spec.batch_size).min(self.order.len());
        let chunk: Vec<usize> = self.order[self.pos..end].to_vec();
        self.pos = end;
        let lr = self.spec.schedule().lr_at(self.epoch);
        let (a, b): (Vec<RgbImage>, Vec<RgbImage>) = match &self.data {
            TrainData::Paired(pairs) => chunk.iter().map(|&i| self.pre.pair(&pairs[i].0, &pairs[i].1, &mut self.rng)).unzip(),
            TrainData::Unpaired(set_a, set_b) => {
                // As the official unaligned loader: A in order, B at random.
                let mut a = Vec::with_capacity(chunk.len());
                let mut b = Vec::with_capacity(chunk.len());
                for &i in &chunk {
                    a.push(self.pre.one(&set_a[i % set_a.len()], &mut self.rng));
                    let j = self.rng.below(set_b.len());
                    b.push(self.pre.one(&set_b[j], &mut self.rng));
                }
                (a, b)
            }
        };
        // Dropout noise from the seed and the iteration, so a resumed run repeats it.
        let iteration = self.iteration();
        self.device.seed(self.spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ iteration as u64);
        let (a, b) = (data::batch(&a, &self.device), data::batch(&b, &self.device));
        let losses = self.trainer.step(a, b, lr).read().await?;
        if let Some(bad) = losses.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "the loss {} became {} at iteration {}: lower the learning rate",
                self.trainer.loss_names()[bad],
                losses[bad],
                iteration + 1
            ));
        }
        Ok(StepRecord { iteration: iteration + 1, epoch: self.epoch, lr, losses })
    }

    /// Translations of the first training image(s), centre-cropped: `(label, image)` panels
    /// (Pix2Pix: A, G(A), B; CycleGAN: A, G_A(A), B, G_B(B)).
    pub async fn sample(&self) -> Result<Vec<(String, RgbImage)>, String> {
        let (a, b) = match &self.data {
            TrainData::Paired(p) => (&p[0].0, &p[0].1),
            TrainData::Unpaired(a, b) => (&a[0], &b[0]),
        };
        let (a, b) = (self.pre.center(a), self.pre.center(b));
        let mut panels = Vec::new();
        for (label, side, generator) in self.trainer.sample_panels() {
            let img = if side == Side::A { &a } else { &b };
            let shown = match generator {
                None => img.clone(),
                Some(g) => {
                    let x = data::batch(std::slice::from_ref(img), &self.device);
                    let y = (g.forward(x).detach().without_autodiff() + 1.0) / 2.0;
                    crate::imaging::from_tensor(y).await.map_err(|e| format!("reading the sample failed: {e}"))?
                }
            };
            panels.push((label.to_string(), shown));
        }
        Ok(panels)
    }

    /// Generator `name` (see [`Model::generator_names`]) as an official `.safetensors` file.
    pub async fn export_generator(&self, name: &str) -> Result<Vec<u8>, String> {
        let generator = self.trainer.networks().into_iter().enumerate().find_map(|(i, (n, _, net))| match net {
            Network::Generator(g) if n == name => Some((i, g)),
            _ => None,
        });
        let (i, g) = generator.ok_or_else(|| format!("no generator named {name}"))?;
        let layout = layout_of(&self.archs[i]).map_err(|e| e.to_string())?;
        crate::models::export_safetensors(g, &layout, "").await
    }

    /// The whole run as `.safetensors` bytes (see the module documentation). Every tensor is
    /// read asynchronously, so this works on WebGPU.
    pub async fn save_state(&self) -> Result<Vec<u8>, String> {
        let mut out = StateWriter::default();
        for (i, (net, opt, module)) in self.trainer.networks().into_iter().enumerate() {
            let layout = layout_of(&self.archs[i]).map_err(|e| e.to_string())?;
            let (tensors, ids) = match module {
                Network::Generator(g) => (export(g, &layout).await?, param_ids(g)),
                Network::Discriminator(d) => (export(d, &layout).await?, param_ids(d)),
            };
            let optimizer = self.trainer.optimizer(opt).ok_or_else(|| format!("no optimiser {opt}"))?;
            for ((name, shape, values), id) in tensors.into_iter().zip(ids) {
                if let Some(m) = optimizer.moments(id) {
                    let key = format!("{opt}.{net}.{name}");
                    out.f32(&format!("{key}.exp_avg"), shape.clone(), read(m.exp_avg.clone(), &key).await?);
                    out.f32(&format!("{key}.exp_avg_sq"), shape.clone(), read(m.exp_avg_sq.clone(), &key).await?);
                    out.i64(&format!("{key}.step"), m.steps as i64);
                }
                out.f32(&format!("{net}.{name}"), shape, values);
            }
        }
        let mut pool_rngs = Vec::new();
        for (name, pool) in self.trainer.pools() {
            pool_rngs.push(pool.rng);
            for (k, img) in pool.images.iter().enumerate() {
                let shape = img.dims().to_vec();
                let n = shape.iter().product::<usize>();
                out.f32(&format!("{name}.{k}"), shape, read(img.clone().reshape([n]), name).await?);
            }
        }
        let progress = Progress {
            run_id: self.run_id.clone(),
            iteration: self.iteration(),
            epoch: self.epoch,
            order: self.order.clone(),
            pos: self.pos,
            rng: self.rng.state(),
            pool_rngs,
            counts: self.data.counts(),
        };
        let meta: HashMap<String, String> = [
            ("format".to_string(), STATE_FORMAT.to_string()),
            ("spec".to_string(), json(&self.spec)?),
            ("archs".to_string(), json(&self.archs)?),
            ("progress".to_string(), json(&progress)?),
            ("total_iterations".to_string(), self.total_iterations().to_string()),
        ]
        .into_iter()
        .collect();
        out.finish(meta)
    }

    /// Continues a run from [`Session::save_state`] bytes with the same data (checked by
    /// its counts). `device` must be an autodiff device.
    pub fn resume(state: &[u8], data: TrainData, device: &Device) -> Result<Session, String> {
        let meta = state_metadata(state)?;
        let spec: TrainSpec = from_json(&meta, "spec")?;
        check_data(&spec, &data)?;
        let archs: Vec<Architecture> = from_json(&meta, "archs")?;
        let progress: Progress = from_json(&meta, "progress")?;
        if data.counts() != progress.counts {
            return Err(format!(
                "the saved run trained on {:?} images, these are {:?}: resume it with the same images",
                progress.counts,
                data.counts()
            ));
        }
        let names = spec.model.network_names();
        if archs.len() != names.len() {
            return Err("the saved state does not list its networks".into());
        }
        let mut ckpt = weights::load_checkpoint(state).map_err(|e| format!("the saved state is unreadable: {e}"))?;
        let part = |ckpt: &mut Checkpoint, prefix: &str| {
            let mut part = Checkpoint { format: ckpt.format, tensors: BTreeMap::new(), nested_dicts: Default::default() };
            let keys: Vec<String> = ckpt.tensors.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            for k in keys {
                if let Some(v) = ckpt.tensors.remove(&k) {
                    part.tensors.insert(k[prefix.len()..].to_string(), v);
                }
            }
            part
        };
        let mut generators = Vec::new();
        let mut discriminators = Vec::new();
        for (name, arch) in names.iter().zip(&archs) {
            let mut net = part(&mut ckpt, &format!("{name}."));
            let mut b = Builder::from_checkpoint(&mut net, device);
            if name.starts_with('G') {
                generators.push(build_generator(arch, &mut b)?);
            } else {
                discriminators.push(build_discriminator(arch, &mut b)?);
            }
            b.finish().map_err(|e| format!("the saved {name} does not fit its architecture: {e}"))?;
        }
        let mut session = Session::assemble(spec, data, generators, discriminators, archs, device, &progress.run_id)?;
        session.trainer.set_iterations(progress.iteration);
        let inner = device.clone().inner();
        for (i, (name, pool)) in session.trainer.pools_mut().into_iter().enumerate() {
            pool.rng = progress.pool_rngs.get(i).copied().unwrap_or(pool.rng);
            pool.images.clear();
            let images = part(&mut ckpt, &format!("{name}."));
            for k in 0..images.tensors.len() {
                let entry = images.get(&k.to_string()).ok_or_else(|| format!("{name}.{k} is missing"))?;
                let values = entry.as_f32().ok_or_else(|| format!("{name}.{k} is not float"))?;
                pool.images.push(Tensor::<4>::from_data(TensorData::new(values.to_vec(), entry.shape.clone()), &inner).autodiff());
            }
        }
        // The optimisers' moments, matched to the rebuilt parameters by official name.
        let mut moments: Vec<(&str, burn::module::ParamId, Moments)> = Vec::new();
        for (i, (net, opt, module)) in session.trainer.networks().into_iter().enumerate() {
            let layout = layout_of(&session.archs[i]).map_err(|e| e.to_string())?;
            let ids = match module {
                Network::Generator(g) => param_ids(g),
                Network::Discriminator(d) => param_ids(d),
            };
            for ((name, shape), id) in layout.iter().zip(ids) {
                let key = format!("{opt}.{net}.{name}");
                let (Some(m), Some(v), Some(step)) =
                    (ckpt.get(&format!("{key}.exp_avg")), ckpt.get(&format!("{key}.exp_avg_sq")), ckpt.get(&format!("{key}.step")))
                else {
                    continue;
                };
                let n: usize = shape.iter().product();
                let tensor = |e: &weights::TensorEntry| -> Result<Tensor<1>, String> {
                    match e.as_f32() {
                        Some(values) if values.len() == n => Ok(Tensor::from_data(TensorData::new(values.to_vec(), [n]), &inner)),
                        _ => Err(format!("the saved optimiser state of {net}.{name} does not fit")),
                    }
                };
                let steps = step.as_i64().and_then(|s| s.first().copied()).unwrap_or(0).max(0) as u32;
                moments.push((opt, id, Moments { exp_avg: tensor(m)?, exp_avg_sq: tensor(v)?, steps }));
            }
        }
        for (opt, id, m) in moments {
            session.trainer.optimizer_mut(opt).ok_or_else(|| format!("no optimiser {opt}"))?.set_moments(id, m);
        }
        session.rng = Rng::from_state(progress.rng);
        session.epoch = progress.epoch;
        session.order = progress.order;
        session.pos = progress.pos;
        if session.order.len() != session.data.epoch_len() || session.pos > session.order.len() {
            return Err("the saved position in the epoch does not fit the data".into());
        }
        Ok(session)
    }
}

async fn read(t: Tensor<1>, what: &str) -> Result<Vec<f32>, String> {
    let data = t.without_autodiff().into_data_async().await.map_err(|e| format!("reading {what} failed: {e:?}"))?;
    data.try_into_vec::<f32>().map_err(|e| format!("reading {what} failed: {e:?}"))
}

fn json<T: Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| e.to_string())
}

fn from_json<T: serde::de::DeserializeOwned>(meta: &HashMap<String, String>, key: &str) -> Result<T, String> {
    let text = meta.get(key).ok_or_else(|| format!("the saved state has no `{key}`"))?;
    serde_json::from_str(text).map_err(|e| format!("the saved state's `{key}` is unreadable: {e}"))
}

/// The metadata of a saved state; an error unless it is one.
fn state_metadata(state: &[u8]) -> Result<HashMap<String, String>, String> {
    let not_state = "this file is not a saved training state of this app";
    let (_, meta) = safetensors::SafeTensors::read_metadata(state).map_err(|_| not_state.to_string())?;
    let meta: HashMap<String, String> = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    if meta.get("format").map(String::as_str) != Some(STATE_FORMAT) {
        return Err(not_state.into());
    }
    Ok(meta)
}

/// What a saved state is (settings, iteration), from its header only.
pub fn state_summary(state: &[u8]) -> Result<StateSummary, String> {
    let meta = state_metadata(state)?;
    let progress: Progress = from_json(&meta, "progress")?;
    Ok(StateSummary {
        run_id: progress.run_id,
        spec: from_json(&meta, "spec")?,
        iteration: progress.iteration,
        total_iterations: meta.get("total_iterations").and_then(|t| t.parse().ok()).unwrap_or(0),
    })
}

/// Generator `name` of a saved state, as an official `.safetensors` checkpoint (no GPU
/// needed: the tensors are copied out of the file).
pub fn generator_from_state(state: &[u8], name: &str) -> Result<Vec<u8>, String> {
    state_metadata(state)?;
    let st = safetensors::SafeTensors::deserialize(state).map_err(|e| e.to_string())?;
    let prefix = format!("{name}.");
    let mut out = StateWriter::default();
    let mut names: Vec<String> = st.names().into_iter().filter(|n| n.starts_with(&prefix)).map(str::to_string).collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("the saved state has no generator {name}"));
    }
    for full in names {
        let view = st.tensor(&full).map_err(|e| e.to_string())?;
        let key = &full[prefix.len()..];
        if let Some(layer) = key.strip_suffix(".running_var") {
            out.i64(&format!("{layer}.num_batches_tracked"), 0);
        }
        out.raw(key, view.dtype(), view.shape().to_vec(), view.data().to_vec());
    }
    out.finish(HashMap::new())
}

#[derive(Default)]
struct StateWriter(Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>);

impl StateWriter {
    fn raw(&mut self, name: &str, dtype: safetensors::Dtype, shape: Vec<usize>, bytes: Vec<u8>) {
        self.0.push((name.to_string(), dtype, shape, bytes));
    }

    fn f32(&mut self, name: &str, shape: Vec<usize>, values: Vec<f32>) {
        self.raw(name, safetensors::Dtype::F32, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect());
    }

    fn i64(&mut self, name: &str, value: i64) {
        self.raw(name, safetensors::Dtype::I64, vec![], value.to_le_bytes().to_vec());
    }

    fn finish(self, meta: HashMap<String, String>) -> Result<Vec<u8>, String> {
        let views = self
            .0
            .iter()
            .map(|(name, dtype, shape, data)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).map(|v| (name.clone(), v)).map_err(|e| format!("`{name}`: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let meta = if meta.is_empty() { None } else { Some(meta.into_iter().collect()) };
        safetensors::tensor::serialize(views, meta).map_err(|e| format!("writing the state failed: {e}"))
    }
}

#[cfg(test)]
mod tests;
