//! Training Pix2Pix and CycleGAN in small batches, as junyanz/pytorch-CycleGAN-and-pix2pix
//! does it (`pix2pix_model.py`, `cycle_gan_model.py`): LSGAN losses, Adam 2e-4 with
//! beta1 0.5, N(0, 0.02) initialisation, a constant learning rate followed by a linear decay
//! to zero, and for CycleGAN a 50-image history pool per discriminator.
//!
//! Every step returns its losses as one small tensor, read asynchronously by the caller, so
//! training runs in a browser on WebGPU. The update order is the official one and is
//! checked against PyTorch (`scripts/reference/make_training_fixtures.py`).
//!
//! One file per GAN behind the [`Gan`] trait (junyanz's `BaseModel`: `loss_names`,
//! `model_names`, `optimize_parameters`): [`pix2pix`], [`cycle_gan`] (with its
//! [`image_pool`]); [`session`] runs either without knowing which.
//!
//! A run's settings and what it reports ([`TrainSpec`], [`StepRecord`], [`StateSummary`], the
//! user's files) are in `settings`, which the UI links without Burn; the rest needs the
//! `compute` feature, with what every GAN shares in `gan`.

mod settings;
pub use settings::{DatasetFiles, Model, NamedFile, PerceptualWeights, StateSummary, StepRecord, TrainSpec};

compute! {
    pub mod adam;
    pub mod cycle_gan;
    pub mod image_pool;
    pub mod pix2pix;
    pub mod session;
    mod gan;

    pub use cycle_gan::CycleGanTrainer;
    pub use gan::{Gan, Network, Optimizers, Schedule, Side, StepLosses, TrainingError, l1, linear_lr, lsgan};
    pub(crate) use gan::{pack, read_back};
    pub use image_pool::ImagePool;
    pub use pix2pix::Pix2PixTrainer;
    pub use session::StateError;
    pub use crate::techniques::data::DataError;

    #[cfg(test)]
    mod tests;
}
