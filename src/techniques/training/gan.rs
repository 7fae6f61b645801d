//! What every GAN of the studio shares: the [`Gan`] trait (junyanz's `BaseModel`), the
//! LSGAN and L1 losses, the learning-rate [`Schedule`], the optimisers and what stops training.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::StateError;
use super::adam::Adam;
use super::image_pool::ImagePool;
use crate::imaging::ImageError;
use crate::models::patchgan::PatchGan;
use crate::models::{Generator, ModelError};
use crate::techniques::data::DataError;

/// What can stop training, in words for the user (its `Display`).
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// A setting that cannot train (out of its range, an unknown model, a size the generator
    /// cannot take); the message names it.
    #[error("{0}")]
    Setting(String),
    /// The user's images: none usable, arranged for the other model, or not a saved run's.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A pretrained generator to fine-tune (`network`: `G`, `G_A` or `G_B`) that cannot be
    /// read or built.
    #[error("{network}: {source}")]
    Checkpoint { network: &'static str, source: ModelError },
    /// A pretrained generator whose architecture does not take the run's image size.
    #[error("{network}: the pretrained {arch} needs a size that is a multiple of {multiple}, not {size}")]
    CheckpointSize { network: &'static str, arch: String, multiple: usize, size: u32 },
    /// A saved state that cannot be read, resumed, exported or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A value could not be read back from the device (it was lost, or ran out of memory).
    #[error("reading {what} failed: {detail}")]
    Readback { what: String, detail: String },
    /// A sample translation could not be read back from the device.
    #[error("reading the sample failed: {0}")]
    Sample(#[source] ImageError),
    /// A loss became NaN or infinite: the run diverged.
    #[error("the loss {loss} became {value} at iteration {iteration}: lower the learning rate")]
    Diverged { loss: &'static str, value: f64, iteration: usize },
    /// A step asked of a run that is over.
    #[error("the run is finished")]
    Finished,
    /// No generator of that name in the run.
    #[error("no generator named {0}")]
    NoGenerator(String),
    /// A network could not be built or laid out from its architecture.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A network's tensors could not be exported ([`crate::models::export`]'s message).
    #[error("{0}")]
    Export(String),
    /// An inconsistency in the run itself (a bug, not the user's input).
    #[error("{0}")]
    Internal(String),
}

/// LSGAN loss: `mean((pred - target)^2)` with a target of 1 (real) or 0 (fake).
pub fn lsgan(pred: Tensor<4>, real: bool) -> Tensor<1> {
    let d = if real { pred - 1.0 } else { pred };
    (d.clone() * d).mean()
}

/// Mean absolute error.
pub fn l1(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean()
}

/// The learning rate of the official `linear` policy for `epoch` (counted from 1): the
/// base rate for `n_epochs` epochs, then a linear decay over `n_epochs_decay` epochs
/// (junyanz `get_scheduler`: `1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1)`
/// with `e` the 0-based epoch and `epoch_count = 1`).
pub fn linear_lr(base: f64, epoch: usize, n_epochs: usize, n_epochs_decay: usize) -> f64 {
    let e = epoch.saturating_sub(1) as f64;
    let factor = 1.0 - (e + 1.0 - n_epochs as f64).max(0.0) / (n_epochs_decay as f64 + 1.0);
    base * factor.max(0.0)
}

/// The learning-rate schedule and loss weights shared by both models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub lr: f64,
    /// Epochs at the base rate.
    pub n_epochs: usize,
    /// Epochs of linear decay to zero after them.
    pub n_epochs_decay: usize,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { lr: 2e-4, n_epochs: 100, n_epochs_decay: 100 }
    }
}

impl Schedule {
    /// The learning rate during `epoch` (from 1).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        linear_lr(self.lr, epoch, self.n_epochs, self.n_epochs_decay)
    }
}

/// A step's losses, still on the device: one entry per name of the trainer's `LOSS_NAMES`.
pub struct StepLosses {
    pub packed: Tensor<1>,
}

impl StepLosses {
    /// Reads the values with one asynchronous transfer.
    pub async fn read(self) -> Result<Vec<f64>, TrainingError> {
        let v = read_back(self.packed, "the losses").await?;
        Ok(v.into_iter().map(f64::from).collect())
    }
}

/// Reads a tensor back as `f32`s, asynchronously (the only way on WebGPU); `what` names it
/// in the error.
pub(crate) async fn read_back(t: Tensor<1>, what: &str) -> Result<Vec<f32>, TrainingError> {
    let failed = |detail: String| TrainingError::Readback { what: what.to_string(), detail };
    let data = t.into_data_async().await.map_err(|e| failed(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| failed(format!("{e:?}")))
}

/// The losses of a step as one tensor, detached, for [`StepLosses::read`].
pub(crate) fn pack(losses: Vec<Tensor<1>>) -> StepLosses {
    StepLosses { packed: Tensor::cat(losses.into_iter().map(|t| t.detach()).collect(), 0).without_autodiff() }
}

/// One of the studio's networks, as a [`Gan`] lists them.
pub enum Network<'a> {
    Generator(&'a Generator),
    Discriminator(&'a PatchGan),
}

/// Which training image a sample panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// What a training session needs of a GAN, so that it never asks which one it runs.
/// junyanz's two optimisers, as both GANs have them (`opt_G` updates the generators, `opt_D`
/// the discriminators), and the iterations they have taken.
pub struct Optimizers {
    pub g: Adam,
    pub d: Adam,
    pub iterations: usize,
}

impl Default for Optimizers {
    /// Adam 2e-4 with beta1 0.5, before the first iteration.
    fn default() -> Self {
        Optimizers { g: Adam::gan(), d: Adam::gan(), iterations: 0 }
    }
}

pub trait Gan {
    /// The losses [`Gan::step`] returns, in order (the model's `loss_names`).
    fn loss_names(&self) -> &'static [&'static str];
    /// Every network with the name of the optimiser that updates it, `(name, optimiser,
    /// network)`, in the model's `network_names` order.
    fn networks(&self) -> Vec<(&'static str, &'static str, Network<'_>)>;
    /// One iteration on a batch (`[B, C, H, W]` in `[-1, 1]`) at learning rate `lr`, in the
    /// official update order (`optimize_parameters`).
    fn step(&mut self, real_a: Tensor<4>, real_b: Tensor<4>, lr: f64) -> StepLosses;
    /// The trainer's optimisers and iteration count.
    fn optimizers(&self) -> &Optimizers;
    fn optimizers_mut(&mut self) -> &mut Optimizers;
    /// The optimiser named `name` (`opt_G`, `opt_D`).
    fn optimizer(&self, name: &str) -> Option<&Adam> {
        let o = self.optimizers();
        match name {
            "opt_G" => Some(&o.g),
            "opt_D" => Some(&o.d),
            _ => None,
        }
    }
    fn optimizer_mut(&mut self, name: &str) -> Option<&mut Adam> {
        let o = self.optimizers_mut();
        match name {
            "opt_G" => Some(&mut o.g),
            "opt_D" => Some(&mut o.d),
            _ => None,
        }
    }
    /// Iterations done (restored by a resume).
    fn iterations(&self) -> usize {
        self.optimizers().iterations
    }
    fn set_iterations(&mut self, iterations: usize) {
        self.optimizers_mut().iterations = iterations;
    }
    /// The sample panels: a label, the training image shown, and the generator it goes
    /// through (`None`: the image itself).
    fn sample_panels(&self) -> Vec<(&'static str, Side, Option<&Generator>)>;
    /// The history pools a saved state keeps, by name (CycleGAN's `pool_A`, `pool_B`).
    fn pools(&self) -> Vec<(&'static str, &ImagePool)> {
        Vec::new()
    }
    fn pools_mut(&mut self) -> Vec<(&'static str, &mut ImagePool)> {
        Vec::new()
    }
}
