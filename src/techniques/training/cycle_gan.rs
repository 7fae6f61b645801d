//! CycleGAN (Zhu et al.): two ResNet generators and two PatchGANs trained with LSGAN,
//! cycle-consistency and identity losses and a history pool per discriminator, as junyanz's
//! `cycle_gan_model.py`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::{Gan, Optimizers, ImagePool, Network, Side, StepLosses, l1, lsgan, pack};
use crate::models::Generator;
use crate::models::patchgan::PatchGan;

/// CycleGAN: generators `G_A: A -> B` and `G_B: B -> A`, discriminators `D_A` (on B) and
/// `D_B` (on A), each generator pair and discriminator pair under one Adam.
pub struct CycleGanTrainer {
    pub generators: (Generator, Generator),
    pub discriminators: (PatchGan, PatchGan),
    /// `opt_G`, `opt_D` and the iterations done.
    pub opt: Optimizers,
    pub pool_a: ImagePool,
    pub pool_b: ImagePool,
    /// Cycle-consistency weights (10 each in the paper).
    pub lambda_a: f64,
    pub lambda_b: f64,
    /// Identity loss weight relative to lambda (0.5; 0 turns it off).
    pub lambda_identity: f64,
}

impl CycleGanTrainer {
    /// The losses each step returns, in order.
    pub const LOSS_NAMES: [&'static str; 9] = super::settings::CYCLE_GAN_LOSSES;

    /// Networks on an autodiff device; pools of `pool_size` (50 in the paper).
    pub fn new(generators: (Generator, Generator), discriminators: (PatchGan, PatchGan), pool_size: usize, seed: u64) -> Self {
        CycleGanTrainer {
            generators,
            discriminators,
            opt: Optimizers::default(),
            pool_a: ImagePool::new(pool_size, seed),
            pool_b: ImagePool::new(pool_size, seed.wrapping_add(1)),
            lambda_a: 10.0,
            lambda_b: 10.0,
            lambda_identity: 0.5,
        }
    }
}

impl Gan for CycleGanTrainer {
    /// One iteration, as `optimize_parameters`: the generators' step (adversarial, cycle and
    /// identity losses, discriminators frozen), then the discriminators' step on real images
    /// against pooled, detached fakes.
    fn step(&mut self, real_a: Tensor<4>, real_b: Tensor<4>, lr: f64) -> StepLosses {
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
        self.generators = self.opt.g.step(lr, self.generators.clone(), grads);

        let fake_b = self.pool_b.query(fake_b.detach());
        let fake_a = self.pool_a.query(fake_a.detach());
        let (d_a, d_b) = &self.discriminators;
        let loss_d_a = (lsgan(d_a.forward(real_b), true) + lsgan(d_a.forward(fake_b), false)) * 0.5;
        let loss_d_b = (lsgan(d_b.forward(real_a), true) + lsgan(d_b.forward(fake_a), false)) * 0.5;
        let grads = GradientsParams::from_grads((loss_d_a.clone() + loss_d_b.clone()).backward(), &self.discriminators);
        self.discriminators = self.opt.d.step(lr, self.discriminators.clone(), grads);
        self.opt.iterations += 1;
        pack(vec![loss_d_a, loss_d_b, loss_g_a, loss_g_b, loss_cycle_a, loss_cycle_b, loss_idt_a, loss_idt_b, loss_g])
    }

    fn loss_names(&self) -> &'static [&'static str] {
        &Self::LOSS_NAMES
    }

    fn networks(&self) -> Vec<(&'static str, &'static str, Network<'_>)> {
        vec![
            ("G_A", "opt_G", Network::Generator(&self.generators.0)),
            ("G_B", "opt_G", Network::Generator(&self.generators.1)),
            ("D_A", "opt_D", Network::Discriminator(&self.discriminators.0)),
            ("D_B", "opt_D", Network::Discriminator(&self.discriminators.1)),
        ]
    }

    fn optimizers(&self) -> &Optimizers {
        &self.opt
    }

    fn optimizers_mut(&mut self) -> &mut Optimizers {
        &mut self.opt
    }

    fn sample_panels(&self) -> Vec<(&'static str, Side, Option<&Generator>)> {
        vec![
            ("A", Side::A, None),
            ("G_A(A)", Side::A, Some(&self.generators.0)),
            ("B", Side::B, None),
            ("G_B(B)", Side::B, Some(&self.generators.1)),
        ]
    }

    fn pools(&self) -> Vec<(&'static str, &ImagePool)> {
        vec![("pool_A", &self.pool_a), ("pool_B", &self.pool_b)]
    }

    fn pools_mut(&mut self) -> Vec<(&'static str, &mut ImagePool)> {
        vec![("pool_A", &mut self.pool_a), ("pool_B", &mut self.pool_b)]
    }
}
