//! Training a fast style network (Johnson, Alahi and Fei-Fei, 2016): a feed-forward network
//! ([`crate::models::fast_style::TransformerNet`]) learns to paint any photo in the style of one
//! image, so that stylising later takes one pass instead of hundreds of optimisation steps.
//!
//! The training step is pytorch/examples' `fast_neural_style` (`neural_style.py train`) with
//! VGG19, the studio's network, in place of its VGG16
//! (`scripts/reference/make_fast_style_fixtures.py` implements the same in PyTorch, and the
//! tests compare the two step by step):
//!
//! * the network gets a batch of photos `x` as pixels in `[0, 255]` and returns `y`, also in
//!   pixels; VGG19 sees `x / 255` and `y / 255` (it applies the ImageNet normalisation inside);
//! * content: `L_c = mean((F_l(y) - F_l(x))^2)` on one layer (default `relu2_2`);
//! * style: `L_s = sum_l mean((G_l(y) - A_l)^2)` over several layers (default `relu1_2`,
//!   `relu2_2`, `relu3_4`, `relu4_4`: the last of each of the first four blocks, as
//!   pytorch/examples takes them from VGG16), `G = F F^T / (C H W)` per image (our WGSL Gram
//!   kernel on WebGPU) and `A_l` the style image's, the same for every image of the batch;
//! * total variation of `y / 255`, as style transfer defines it (off in pytorch/examples);
//! * `J = alpha L_c + beta L_s + gamma L_tv`, minimised by Adam (PyTorch's defaults) on the
//!   network's weights. VGG19 is not trained.
//!
//! Each step's losses, computed before its update, come back as one small tensor read
//! asynchronously, so the loop runs in a browser on WebGPU.
//!
//! The trainer is also the fast style [`Gan`] of a training session (no discriminator; the
//! session's `A` images are the photos, its one `B` image the style), so the app's training
//! tab runs, saves, resumes and exports it as it does Pix2Pix and CycleGAN.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::style_transfer::{gram_of, mse, tv_loss};
use super::training::adam::Adam;
use super::training::{Gan, Network, Optimizers, PerceptualWeights, Side, StepLosses};
use crate::models::{Generator, VggLayer};
use crate::models::vgg::Vgg19;

#[cfg(test)]
mod tests;

/// A training photo as pytorch/examples prepares it: the shorter side resized to `size` (the
/// aspect ratio kept), then the centre `size x size` square.
pub fn photo(img: &image::RgbImage, size: u32) -> image::RgbImage {
    let (w, h) = img.dimensions();
    let scale = size as f64 / w.min(h).max(1) as f64;
    let (rw, rh) = (((w as f64 * scale).round() as u32).max(size), ((h as f64 * scale).round() as u32).max(size));
    let resized = crate::imaging::resize(img, rw, rh);
    image::imageops::crop_imm(&resized, (rw - size) / 2, (rh - size) / 2, size, size).to_image()
}

/// The loss and its optimiser: what a fast style training run is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct FastStyleSettings {
    pub content_layer: VggLayer,
    pub style_layers: Vec<VggLayer>,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    /// Adam's learning rate.
    pub lr: f64,
}

impl Default for FastStyleSettings {
    /// pytorch/examples' values (content 1e5, style 1e10, learning rate 1e-3) with the VGG19
    /// layers that match its VGG16 ones; no total variation.
    fn default() -> Self {
        let relu = |block, index| VggLayer::Relu { block, index };
        FastStyleSettings {
            content_layer: relu(2, 2),
            style_layers: vec![relu(1, 2), relu(2, 2), relu(3, 4), relu(4, 4)],
            content_weight: 1e5,
            style_weight: 1e10,
            tv_weight: 0.0,
            lr: 1e-3,
        }
    }
}

impl FastStyleSettings {
    /// The defaults' layers with a run's weights and learning rate.
    pub fn with(weights: PerceptualWeights, lr: f64) -> Self {
        FastStyleSettings { content_weight: weights.content, style_weight: weights.style, tv_weight: weights.tv, lr, ..FastStyleSettings::default() }
    }

    /// The deepest VGG19 layer the loss reads.
    pub fn deepest(&self) -> VggLayer {
        self.style_layers.iter().copied().chain([self.content_layer]).max_by_key(|l| l.convs_needed()).unwrap_or(self.content_layer)
    }
}

/// What can stop fast style training, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum FastStyleError {
    /// A setting out of range; the message names it.
    #[error("{0}")]
    Setting(String),
    /// VGG19 was loaded up to a shallower layer than the loss needs.
    #[error("VGG19 is loaded up to {loaded}; this loss needs {needed}")]
    VggTooShallow { loaded: VggLayer, needed: VggLayer },
    /// The losses could not be read back from the device (it was lost, or ran out of memory).
    #[error("reading the losses failed: {0}")]
    Readback(String),
}

/// One step's losses, weighted, before its update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastStyleLosses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

/// A fast style network being trained (on an autodiff device): Johnson's `TransformerNet`
/// (`Generator::FastStyle`), or any of the studio's generators on the same loss.
pub struct FastStyleTrainer {
    net: Generator,
    vgg: Vgg19,
    /// The style image's Gram matrix at each style layer, `[1, C, C]`.
    style_grams: Vec<Tensor<3>>,
    /// `opt_G`, PyTorch's Adam, on the network (`opt_D` is never used: there is no
    /// discriminator), and the iterations taken.
    opt: Optimizers,
    settings: FastStyleSettings,
}

impl FastStyleTrainer {
    /// A trainer of `net` towards the style of `style` (`[1, 3, H, W]` in `[0, 1]`), with `vgg`
    /// (which is not trained) for the loss. `net` and the images live on an autodiff device.
    pub fn new(net: Generator, vgg: Vgg19, style: Tensor<4>, settings: FastStyleSettings) -> Result<Self, FastStyleError> {
        let weights = [settings.content_weight, settings.style_weight, settings.tv_weight, settings.lr];
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || settings.lr <= 0.0 {
            return Err(FastStyleError::Setting("the loss weights must be finite and not negative, and the learning rate positive".into()));
        }
        if settings.style_layers.is_empty() {
            return Err(FastStyleError::Setting("fast style training needs at least one style layer".into()));
        }
        if vgg.convs.len() < settings.deepest().convs_needed() {
            return Err(FastStyleError::VggTooShallow { loaded: vgg.deepest(), needed: settings.deepest() });
        }
        let vgg = vgg.no_grad();
        let acts = vgg.forward(style, &settings.style_layers);
        let style_grams = settings
            .style_layers
            .iter()
            .map(|l| acts.get(l).map(|a| gram_of(a.clone()).detach()).ok_or(FastStyleError::VggTooShallow { loaded: vgg.deepest(), needed: *l }))
            .collect::<Result<_, _>>()?;
        let opt = Optimizers { g: Adam::pytorch(), d: Adam::pytorch(), iterations: 0 };
        Ok(FastStyleTrainer { net, vgg, style_grams, opt, settings })
    }

    /// The network's output for `batch`, both in `[0, 1]`: Johnson's network works on pixel
    /// values (`net(255 x) / 255`), the other generators on `[-1, 1]`.
    fn stylise(&self, batch: Tensor<4>) -> Tensor<4> {
        match &self.net {
            Generator::FastStyle(net) => net.forward(batch * 255.0) / 255.0,
            other => (other.forward(batch * 2.0 - 1.0) + 1.0) / 2.0,
        }
    }

    /// One step on `batch` (`[B, 3, H, W]` photos in `[0, 1]`) at learning rate `lr`: the
    /// weighted losses `[content, style, tv, total]` before the update (detached, on the
    /// inner device, not read), then Adam's update.
    fn losses(&mut self, batch: Tensor<4>, lr: f64) -> Result<Tensor<1>, FastStyleError> {
        let s = &self.settings;
        let y = self.stylise(batch.clone());
        let mut layers = s.style_layers.clone();
        layers.push(s.content_layer);
        let content_target = self.vgg.forward(batch, &[s.content_layer]).remove(&s.content_layer).map(|t| t.detach());
        let acts = self.vgg.forward(y.clone(), &layers);
        let missing = |l: VggLayer| FastStyleError::VggTooShallow { loaded: self.vgg.deepest(), needed: l };
        // The content layer may also be a style layer (relu2_2 by default).
        let content = match (acts.get(&s.content_layer).cloned(), content_target) {
            (Some(out), Some(target)) => mse(out, target) * s.content_weight,
            _ => return Err(missing(s.content_layer)),
        };
        let mut style = Tensor::<1>::zeros([1], &y.device());
        for (l, target) in s.style_layers.iter().zip(&self.style_grams) {
            let g = gram_of(acts.get(l).ok_or_else(|| missing(*l))?.clone());
            style = style + mse(g, target.clone());
        }
        let style = style * s.style_weight;
        let tv = tv_loss(y) * s.tv_weight;
        let total = content.clone() + style.clone() + tv.clone();
        let values = Tensor::cat(vec![content, style, tv, total.clone()], 0).detach().without_autodiff();
        let grads = GradientsParams::from_grads(total.backward(), &self.net);
        self.net = self.opt.g.step(lr, self.net.clone(), grads);
        self.opt.iterations += 1;
        Ok(values)
    }

    /// One step on `batch` (`[B, 3, H, W]` photos in `[0, 1]`): the losses, then Adam's update.
    pub async fn step(&mut self, batch: Tensor<4>) -> Result<FastStyleLosses, FastStyleError> {
        let v = self.losses(batch, self.settings.lr)?.into_data_async().await.map_err(|e| FastStyleError::Readback(e.to_string()))?;
        match v.try_into_vec::<f32>().map_err(|e| FastStyleError::Readback(format!("{e:?}")))?.as_slice() {
            [c, s, t, j] => Ok(FastStyleLosses { content: *c as f64, style: *s as f64, tv: *t as f64, total: *j as f64 }),
            other => Err(FastStyleError::Readback(format!("expected 4 values, got {}", other.len()))),
        }
    }

    /// The network as trained so far.
    pub fn net(&self) -> &Generator {
        &self.net
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.opt.iterations
    }
}

/// The fast style network in a training session: `real_a` is a batch of photos in `[-1, 1]`;
/// `real_b`, the style image's crop, is not used (its Gram matrices were taken once, whole).
impl Gan for FastStyleTrainer {
    fn loss_names(&self) -> &'static [&'static str] {
        crate::techniques::training::Model::FastStyle.loss_names()
    }

    fn networks(&self) -> Vec<(&'static str, &'static str, Network<'_>)> {
        vec![("G", "opt_G", Network::Generator(&self.net))]
    }

    fn step(&mut self, real_a: Tensor<4>, _real_b: Tensor<4>, lr: f64) -> StepLosses {
        // FastStyleTrainer::new checked that VGG19 reaches every layer the loss reads, so this
        // cannot fail; if it did, the losses are NaN, which the session stops on.
        let device = real_a.device().inner();
        let packed = self.losses((real_a + 1.0) / 2.0, lr).unwrap_or_else(|e| {
            log::error!("fast style step: {e}");
            Tensor::from_floats([f32::NAN; 4], &device)
        });
        StepLosses { packed }
    }

    fn optimizers(&self) -> &Optimizers {
        &self.opt
    }

    fn optimizers_mut(&mut self) -> &mut Optimizers {
        &mut self.opt
    }

    fn sample_panels(&self) -> Vec<(&'static str, Side, Option<&Generator>)> {
        vec![("photo", Side::A, None), ("stylised", Side::A, Some(&self.net)), ("style", Side::B, None)]
    }
}
