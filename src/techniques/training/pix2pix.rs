//! Pix2Pix (Isola et al.): a U-Net generator and a conditional 70x70 PatchGAN trained with
//! LSGAN + lambda L1, as junyanz's `pix2pix_model.py`.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::{Gan, Optimizers, Network, Side, StepLosses, l1, lsgan, pack};
use crate::models::Generator;
use crate::models::patchgan::PatchGan;

/// Pix2Pix: a generator (the U-Net) and a conditional PatchGAN that sees input and output
/// joined along channels (6 channels).
pub struct Pix2PixTrainer {
    pub generator: Generator,
    pub discriminator: PatchGan,
    /// `opt_G`, `opt_D` and the iterations done.
    pub opt: Optimizers,
    /// lambda of the L1 term (100 in the paper).
    pub lambda_l1: f64,
}

impl Pix2PixTrainer {
    /// The losses each step returns, in order.
    pub const LOSS_NAMES: [&'static str; 6] = super::settings::PIX2PIX_LOSSES;

    /// Networks on an autodiff device.
    pub fn new(generator: Generator, discriminator: PatchGan, lambda_l1: f64) -> Self {
        Pix2PixTrainer { generator, discriminator, opt: Optimizers::default(), lambda_l1 }
    }
}

impl Gan for Pix2PixTrainer {
    /// One iteration on a batch (`[B, C, H, W]` in `[-1, 1]`), as `optimize_parameters`:
    /// `fake = G(A)`; the discriminator step on `(A, fake.detach())` vs `(A, B)`; then the
    /// generator step against the updated, frozen discriminator: LSGAN + lambda L1.
    fn step(&mut self, real_a: Tensor<4>, real_b: Tensor<4>, lr: f64) -> StepLosses {
        let fake_b = self.generator.forward(real_a.clone());

        let pred_fake = self.discriminator.forward(Tensor::cat(vec![real_a.clone(), fake_b.clone().detach()], 1));
        let loss_d_fake = lsgan(pred_fake, false);
        let pred_real = self.discriminator.forward(Tensor::cat(vec![real_a.clone(), real_b.clone()], 1));
        let loss_d_real = lsgan(pred_real, true);
        let loss_d = (loss_d_fake.clone() + loss_d_real.clone()) * 0.5;
        let grads = GradientsParams::from_grads(loss_d.backward(), &self.discriminator);
        self.discriminator = self.opt.d.step(lr, self.discriminator.clone(), grads);

        // The discriminator takes part in the graph without collecting gradients.
        let frozen = self.discriminator.clone().no_grad();
        let pred_fake = frozen.forward(Tensor::cat(vec![real_a, fake_b.clone()], 1));
        let loss_g_gan = lsgan(pred_fake, true);
        let loss_g_l1 = l1(fake_b, real_b) * self.lambda_l1;
        let loss_g = loss_g_gan.clone() + loss_g_l1.clone();
        let grads = GradientsParams::from_grads(loss_g.backward(), &self.generator);
        self.generator = self.opt.g.step(lr, self.generator.clone(), grads);
        self.opt.iterations += 1;
        pack(vec![loss_d_fake, loss_d_real, loss_d, loss_g_gan, loss_g_l1, loss_g])
    }

    fn loss_names(&self) -> &'static [&'static str] {
        &Self::LOSS_NAMES
    }

    fn networks(&self) -> Vec<(&'static str, &'static str, Network<'_>)> {
        vec![("G", "opt_G", Network::Generator(&self.generator)), ("D", "opt_D", Network::Discriminator(&self.discriminator))]
    }

    fn optimizers(&self) -> &Optimizers {
        &self.opt
    }

    fn optimizers_mut(&mut self) -> &mut Optimizers {
        &mut self.opt
    }

    fn sample_panels(&self) -> Vec<(&'static str, Side, Option<&Generator>)> {
        vec![("A", Side::A, None), ("G(A)", Side::A, Some(&self.generator)), ("B", Side::B, None)]
    }
}
