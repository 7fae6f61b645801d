//! A whole training run: the settings, the data, the networks and optimisers, and where the
//! run is (epoch, position in the epoch's shuffled order, random state, history pools), so
//! that it can be stepped from the CLI or the browser worker, saved, and resumed exactly.
//!
//! The run is saved as one `.safetensors` file and resumed from it bit for bit
//! ([`Session::save_state`], [`Session::resume`]; the format is described in `state`).
//! [`TrainSpec`] (in `training::settings`, checked in `spec`) holds the settings, and `bench` times iterations
//! ([`benchmark`]).

use burn::tensor::Device;
use image::RgbImage;

use super::{CycleGanTrainer, Gan, Network, Pix2PixTrainer, Side, TrainingError};
use crate::models::detect::Architecture;
use crate::models::fast_style::TransformerNet;
use crate::models::vgg::Vgg19;
use crate::techniques::fast_style::{FastStyleSettings, FastStyleTrainer};
use crate::models::patchgan::PatchGan;
use crate::models::resnet::ResnetGenerator;
use crate::models::unet::UnetGenerator;
use crate::models::{ArchChoice, Builder, Generator, ModelError, NormChoice, layout_of, load_generator};
use crate::techniques::data::{self, DataError, Preprocess, Rng, TrainData};
use crate::weights::Checkpoint;

mod bench;
mod spec;
mod junyanz;
mod state;

pub use bench::{BenchRecord, benchmark};
pub use super::settings::{Model, StateSummary, StepRecord, TrainSpec};
pub use state::{STATE_FORMAT, SavedNetwork, SavedRun, StateError, generator_from_state, saved_run, state_summary};
pub use junyanz::{JUNYANZ_README, junyanz_folder};

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
    // Saturating: a saved state's settings are read from a file.
    let all = per_epoch.saturating_mul(spec.epochs.saturating_add(spec.epochs_decay));
    spec.max_iterations.map_or(all, |m| m.min(all))
}

/// Pix2Pix trains on pairs, CycleGAN on two sets.
fn check_data(spec: &TrainSpec, data: &TrainData) -> Result<(), TrainingError> {
    spec.check().map_err(TrainingError::Setting)?;
    match (data, spec.model) {
        (TrainData::Paired(_), Model::Pix2Pix) | (TrainData::Unpaired(..), Model::CycleGan) => Ok(()),
        (TrainData::Paired(_), Model::CycleGan) => Err(DataError::NeedsUnpaired.into()),
        (TrainData::Unpaired(..), Model::Pix2Pix) => Err(DataError::NeedsPairs.into()),
        (TrainData::Unpaired(_, style), Model::FastStyle) if style.len() == 1 => Ok(()),
        (_, Model::FastStyle) => Err(DataError::NeedsPhotosAndStyle.into()),
    }
}

/// A generator of architecture `arch` (an error for another kind of network).
fn build_generator(arch: &Architecture, b: &mut Builder) -> Result<Generator, ModelError> {
    match arch {
        Architecture::Resnet(c) => Ok(Generator::Resnet(ResnetGenerator::build(c, b)?)),
        Architecture::Unet(c) => Ok(Generator::Unet(UnetGenerator::build(c, b)?)),
        Architecture::FastStyle(c) => Ok(Generator::FastStyle(TransformerNet::build(c, b)?)),
        other => Err(ModelError::Detect(format!("{} is not a generator", other.describe()))),
    }
}

/// Discriminator `name` from a pretrained checkpoint, which must hold a PatchGAN taking what
/// `expected` takes (the same input channels).
fn pretrained_discriminator(name: &'static str, mut ckpt: Checkpoint, expected: &Architecture, device: &Device) -> Result<(PatchGan, Architecture), TrainingError> {
    let failed = |source: ModelError| TrainingError::Checkpoint { network: name, source };
    let arch = crate::models::detect::detect(&ckpt).map_err(failed)?;
    match (&arch, expected) {
        (Architecture::PatchGan(got), Architecture::PatchGan(want)) if got.input_nc == want.input_nc => {}
        (Architecture::PatchGan(got), Architecture::PatchGan(want)) => {
            return Err(failed(ModelError::Detect(format!("this PatchGAN takes {} channels; this model's takes {}", got.input_nc, want.input_nc))));
        }
        _ => return Err(failed(ModelError::Detect(format!("this checkpoint holds a {}, not a PatchGAN discriminator", arch.describe()))))
    }
    let mut b = Builder::from_checkpoint(&mut ckpt, device);
    let d = build_discriminator(&arch, &mut b)?;
    b.finish().map_err(|e| failed(e.into()))?;
    Ok((d, arch))
}

/// A PatchGAN of architecture `arch` (an error for another kind of network).
fn build_discriminator(arch: &Architecture, b: &mut Builder) -> Result<PatchGan, ModelError> {
    match arch {
        Architecture::PatchGan(c) => PatchGan::build(c, b),
        other => Err(ModelError::Detect(format!("{} is not a PatchGAN", other.describe()))),
    }
}

impl Session {
    /// A new run. `init` fine-tunes or continues: a pretrained checkpoint per network, in
    /// [`Model::network_names`] order (Pix2Pix: `[G, D]`; CycleGAN: `[G_A, G_B, D_A, D_B]`;
    /// fewer, or `None`, start those networks from random N(0, 0.02) weights), such as
    /// junyanz's `latest_net_*.pth`. The optimisers start afresh (junyanz's checkpoints hold
    /// none). `device` must be an autodiff device. A fast
    /// style network needs VGG19 too: [`Session::with_vgg`].
    pub fn new(spec: TrainSpec, data: TrainData, init: Vec<Option<Checkpoint>>, device: &Device, run_id: &str) -> Result<Session, TrainingError> {
        Session::with_vgg(spec, data, init, None, device, run_id)
    }

    /// [`Session::new`] with VGG19 (on `device`, deep enough for the loss's layers), which a
    /// fast style network's loss reads; the GANs do not use it.
    pub fn with_vgg(
        spec: TrainSpec,
        data: TrainData,
        init: Vec<Option<Checkpoint>>,
        vgg: Option<Vgg19>,
        device: &Device,
        run_id: &str,
    ) -> Result<Session, TrainingError> {
        check_data(&spec, &data)?;
        // Fresh weights from the run's seed (on this backend), so a run can be repeated.
        device.seed(spec.seed);
        let mut init = init.into_iter();
        let mut generators = Vec::new();
        let mut archs = Vec::new();
        for name in spec.model.generator_names() {
            let (g, arch) = match init.next().flatten() {
                Some(ckpt) => {
                    let (g, arch) = load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, device)
                        .map_err(|source| TrainingError::Checkpoint { network: name, source })?;
                    if !(spec.size as usize).is_multiple_of(g.required_multiple()) {
                        return Err(TrainingError::CheckpointSize {
                            network: name,
                            arch: arch.describe(),
                            multiple: g.required_multiple(),
                            size: spec.size,
                        });
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
        let mut discriminators = Vec::new();
        for &name in &spec.model.network_names()[generators.len()..] {
            let (d, arch) = match init.next().flatten() {
                Some(ckpt) => pretrained_discriminator(name, ckpt, &d_arch, device)?,
                None => (build_discriminator(&d_arch, &mut Builder::init(device, 0.02))?, d_arch.clone()),
            };
            discriminators.push(d);
            archs.push(arch);
        }
        Session::assemble(spec, data, (generators, discriminators, vgg), archs, device, run_id)
    }

    /// A session at iteration 0 around built networks (generators and discriminators in
    /// [`Model::network_names`] order, `archs` for all of them; VGG19 for a fast style
    /// network's loss).
    fn assemble(
        spec: TrainSpec,
        data: TrainData,
        (mut generators, mut discriminators, vgg): (Vec<Generator>, Vec<PatchGan>, Option<Vgg19>),
        archs: Vec<Architecture>,
        device: &Device,
        run_id: &str,
    ) -> Result<Session, TrainingError> {
        // The one place that knows which GAN a model is.
        let trainer: Box<dyn Gan> = match spec.model {
            Model::Pix2Pix => {
                let (Some(g), Some(d)) = (generators.pop(), discriminators.pop()) else { return Err(TrainingError::Internal("no networks".into())) };
                Box::new(Pix2PixTrainer::new(g, d, spec.lambda_l1))
            }
            Model::CycleGan => {
                let (Some(g_b), Some(g_a), Some(d_b), Some(d_a)) = (generators.pop(), generators.pop(), discriminators.pop(), discriminators.pop())
                else {
                    return Err(TrainingError::Internal("no networks".into()));
                };
                let mut t = CycleGanTrainer::new((g_a, g_b), (d_a, d_b), spec.pool_size, spec.seed);
                t.lambda_a = spec.lambda_cycle;
                t.lambda_b = spec.lambda_cycle;
                t.lambda_identity = spec.lambda_identity;
                Box::new(t)
            }
            Model::FastStyle => {
                let Some(g) = generators.pop() else { return Err(TrainingError::Internal("no network".into())) };
                let vgg = vgg.ok_or_else(|| {
                    TrainingError::Setting("a fast style network learns from VGG19's features: load VGG19's weights first".into())
                })?;
                let TrainData::Unpaired(_, style) = &data else { return Err(DataError::NeedsPhotosAndStyle.into()) };
                let style = style.first().ok_or(DataError::NeedsPhotosAndStyle)?;
                let settings = FastStyleSettings::with(spec.perceptual, spec.lr);
                let t = FastStyleTrainer::new(g, vgg, crate::imaging::to_tensor(style, device), settings)
                    .map_err(|e| TrainingError::Setting(e.to_string()))?;
                Box::new(t)
            }
        };
        let mut rng = Rng::new(spec.seed);
        let order = data::shuffled(data.epoch_len(), &mut rng);
        Ok(Session {
            pre: Preprocess::for_spec(&spec),
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
    pub async fn step(&mut self) -> Result<StepRecord, TrainingError> {
        if self.is_finished() {
            return Err(TrainingError::Finished);
        }
        if self.pos >= self.order.len() {
            self.epoch = self.epoch.saturating_add(1);
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
            return Err(TrainingError::Diverged { loss: self.trainer.loss_names()[bad], value: losses[bad], iteration: iteration + 1 });
        }
        Ok(StepRecord { iteration: iteration + 1, epoch: self.epoch, lr, losses })
    }

    /// Translations of the first training image(s), centre-cropped: `(label, image)` panels
    /// (Pix2Pix: A, G(A), B; CycleGAN: A, G_A(A), B, G_B(B)).
    pub async fn sample(&self) -> Result<Vec<(String, RgbImage)>, TrainingError> {
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
                    crate::imaging::from_tensor(y).await.map_err(TrainingError::Sample)?
                }
            };
            panels.push((label.to_string(), shown));
        }
        Ok(panels)
    }

    /// Generator `name` (see [`Model::generator_names`]) as an official `.safetensors` file.
    pub async fn export_generator(&self, name: &str) -> Result<Vec<u8>, TrainingError> {
        let generator = self.trainer.networks().into_iter().enumerate().find_map(|(i, (n, _, net))| match net {
            Network::Generator(g) if n == name => Some((i, g)),
            _ => None,
        });
        let (i, g) = generator.ok_or_else(|| TrainingError::NoGenerator(name.to_string()))?;
        let layout = layout_of(&self.archs[i])?;
        crate::models::export_safetensors(g, &layout, "").await.map_err(TrainingError::Export)
    }
}

#[cfg(test)]
mod tests;
