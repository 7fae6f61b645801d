//! Training Pix2Pix and CycleGAN in small batches, as junyanz/pytorch-CycleGAN-and-pix2pix
//! does it (`pix2pix_model.py`, `cycle_gan_model.py`): LSGAN losses, Adam 2e-4 with
//! beta1 0.5, N(0, 0.02) initialisation, a constant learning rate followed by a linear decay
//! to zero, and for CycleGAN a 50-image history pool per discriminator.
//!
//! Every step returns its losses as one small tensor, read asynchronously by the caller, so
//! training runs in a browser on WebGPU. The update order is the official one and is
//! checked against PyTorch (`scripts/reference/make_training_fixtures.py`).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::models::patchgan::PatchGan;
use crate::models::Generator;

pub mod adam;
pub mod session;

use adam::Adam;

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
    pub async fn read(self) -> Result<Vec<f64>, String> {
        let data = self.packed.into_data_async().await.map_err(|e| format!("reading the losses failed: {e:?}"))?;
        let v = data.try_into_vec::<f32>().map_err(|e| format!("reading the losses failed: {e:?}"))?;
        Ok(v.into_iter().map(f64::from).collect())
    }
}

fn pack(losses: Vec<Tensor<1>>) -> StepLosses {
    StepLosses { packed: Tensor::cat(losses.into_iter().map(|t| t.detach()).collect(), 0).without_autodiff() }
}

/// Pix2Pix: a generator (the U-Net) and a conditional PatchGAN that sees input and output
/// joined along channels (6 channels).
pub struct Pix2PixTrainer {
    pub generator: Generator,
    pub discriminator: PatchGan,
    pub(crate) opt_g: Adam,
    pub(crate) opt_d: Adam,
    /// lambda of the L1 term (100 in the paper).
    pub lambda_l1: f64,
    /// Iterations done.
    pub iterations: usize,
}

impl Pix2PixTrainer {
    /// The losses each step returns, in order.
    pub const LOSS_NAMES: [&'static str; 6] = ["D_fake", "D_real", "D", "G_GAN", "G_L1", "G"];

    /// Networks on an autodiff device.
    pub fn new(generator: Generator, discriminator: PatchGan, lambda_l1: f64) -> Self {
        Pix2PixTrainer { generator, discriminator, opt_g: Adam::gan(), opt_d: Adam::gan(), lambda_l1, iterations: 0 }
    }

    /// One iteration on a batch (`[B, C, H, W]` in `[-1, 1]`), as `optimize_parameters`:
    /// `fake = G(A)`; the discriminator step on `(A, fake.detach())` vs `(A, B)`; then the
    /// generator step against the updated, frozen discriminator: LSGAN + lambda L1.
    pub fn step(&mut self, real_a: Tensor<4>, real_b: Tensor<4>, lr: f64) -> StepLosses {
        let fake_b = self.generator.forward(real_a.clone());

        let pred_fake = self.discriminator.forward(Tensor::cat(vec![real_a.clone(), fake_b.clone().detach()], 1));
        let loss_d_fake = lsgan(pred_fake, false);
        let pred_real = self.discriminator.forward(Tensor::cat(vec![real_a.clone(), real_b.clone()], 1));
        let loss_d_real = lsgan(pred_real, true);
        let loss_d = (loss_d_fake.clone() + loss_d_real.clone()) * 0.5;
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.discriminator);
        self.discriminator = self.opt_d.step(lr, self.discriminator.clone(), grads);

        // The discriminator takes part in the graph without collecting gradients.
        let frozen = self.discriminator.clone().no_grad();
        let pred_fake = frozen.forward(Tensor::cat(vec![real_a, fake_b.clone()], 1));
        let loss_g_gan = lsgan(pred_fake, true);
        let loss_g_l1 = l1(fake_b, real_b) * self.lambda_l1;
        let loss_g = loss_g_gan.clone() + loss_g_l1.clone();
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.generator);
        self.generator = self.opt_g.step(lr, self.generator.clone(), grads);
        self.iterations += 1;
        pack(vec![loss_d_fake, loss_d_real, loss_d, loss_g_gan, loss_g_l1, loss_g])
    }
}

/// The history of generated images a CycleGAN discriminator is shown (Shrivastava et al.):
/// up to `capacity` images; once full, each new image is, with probability 1/2, swapped
/// with a random stored one (the stored one is returned) or passed through.
pub struct ImagePool {
    capacity: usize,
    pub(crate) images: Vec<Tensor<4>>,
    pub(crate) rng: u64,
}

impl ImagePool {
    pub fn new(capacity: usize, seed: u64) -> Self {
        ImagePool { capacity, images: Vec::new(), rng: seed ^ 0x2545_F491_4F6C_DD1D }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// How many images it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Images stored.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The batch to show the discriminator for this (detached) batch of fakes.
    pub fn query(&mut self, fakes: Tensor<4>) -> Tensor<4> {
        if self.capacity == 0 {
            return fakes;
        }
        let [b, c, h, w] = fakes.dims();
        let mut out = Vec::with_capacity(b);
        for i in 0..b {
            let image = fakes.clone().slice([i..i + 1, 0..c, 0..h, 0..w]);
            if self.images.len() < self.capacity {
                self.images.push(image.clone());
                out.push(image);
            } else if self.next() % 2 == 0 {
                let k = (self.next() % self.capacity as u64) as usize;
                out.push(std::mem::replace(&mut self.images[k], image));
            } else {
                out.push(image);
            }
        }
        Tensor::cat(out, 0)
    }
}

/// CycleGAN: generators `G_A: A -> B` and `G_B: B -> A`, discriminators `D_A` (on B) and
/// `D_B` (on A), each generator pair and discriminator pair under one Adam.
pub struct CycleGanTrainer {
    pub generators: (Generator, Generator),
    pub discriminators: (PatchGan, PatchGan),
    pub(crate) opt_g: Adam,
    pub(crate) opt_d: Adam,
    pub pool_a: ImagePool,
    pub pool_b: ImagePool,
    /// Cycle-consistency weights (10 each in the paper).
    pub lambda_a: f64,
    pub lambda_b: f64,
    /// Identity loss weight relative to lambda (0.5; 0 turns it off).
    pub lambda_identity: f64,
    pub iterations: usize,
}

impl CycleGanTrainer {
    /// The losses each step returns, in order.
    pub const LOSS_NAMES: [&'static str; 9] = ["D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "G"];

    /// Networks on an autodiff device; pools of `pool_size` (50 in the paper).
    pub fn new(generators: (Generator, Generator), discriminators: (PatchGan, PatchGan), pool_size: usize, seed: u64) -> Self {
        CycleGanTrainer {
            generators,
            discriminators,
            opt_g: Adam::gan(),
            opt_d: Adam::gan(),
            pool_a: ImagePool::new(pool_size, seed),
            pool_b: ImagePool::new(pool_size, seed.wrapping_add(1)),
            lambda_a: 10.0,
            lambda_b: 10.0,
            lambda_identity: 0.5,
            iterations: 0,
        }
    }

    /// One iteration, as `optimize_parameters`: the generators' step (adversarial, cycle and
    /// identity losses, discriminators frozen), then the discriminators' step on real images
    /// against pooled, detached fakes.
    pub fn step(&mut self, real_a: Tensor<4>, real_b: Tensor<4>, lr: f64) -> StepLosses {
        let (g_a, g_b) = &self.generators;
        let fake_b = g_a.forward(real_a.clone());
        let rec_a = g_b.forward(fake_b.clone());
        let fake_a = g_b.forward(real_b.clone());
        let rec_b = g_a.forward(fake_a.clone());

        let device = real_a.device();
        let zero = || Tensor::<1>::zeros([1], &device);
        let (loss_idt_a, loss_idt_b) = if self.lambda_identity > 0.0 {
            (
                l1(g_a.forward(real_b.clone()), real_b.clone()) * (self.lambda_b * self.lambda_identity),
                l1(g_b.forward(real_a.clone()), real_a.clone()) * (self.lambda_a * self.lambda_identity),
            )
        } else {
            (zero(), zero())
        };
        let (d_a, d_b) = (self.discriminators.0.clone().no_grad(), self.discriminators.1.clone().no_grad());
        let loss_g_a = lsgan(d_a.forward(fake_b.clone()), true);
        let loss_g_b = lsgan(d_b.forward(fake_a.clone()), true);
        let loss_cycle_a = l1(rec_a, real_a.clone()) * self.lambda_a;
        let loss_cycle_b = l1(rec_b, real_b.clone()) * self.lambda_b;
        let loss_g = loss_g_a.clone()
            + loss_g_b.clone()
            + loss_cycle_a.clone()
            + loss_cycle_b.clone()
            + loss_idt_a.clone()
            + loss_idt_b.clone();
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.generators);
        self.generators = self.opt_g.step(lr, self.generators.clone(), grads);

        let fake_b = self.pool_b.query(fake_b.detach());
        let fake_a = self.pool_a.query(fake_a.detach());
        let (d_a, d_b) = &self.discriminators;
        let loss_d_a = (lsgan(d_a.forward(real_b), true) + lsgan(d_a.forward(fake_b), false)) * 0.5;
        let loss_d_b = (lsgan(d_b.forward(real_a), true) + lsgan(d_b.forward(fake_a), false)) * 0.5;
        let grads = GradientsParams::from_grads((loss_d_a.clone() + loss_d_b.clone()).backward(), &self.discriminators);
        self.discriminators = self.opt_d.step(lr, self.discriminators.clone(), grads);
        self.iterations += 1;
        pack(vec![loss_d_a, loss_d_b, loss_g_a, loss_g_b, loss_cycle_a, loss_cycle_b, loss_idt_a, loss_idt_b, loss_g])
    }
}

#[cfg(test)]
mod tests;
