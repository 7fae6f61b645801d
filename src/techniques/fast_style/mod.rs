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

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::style_transfer::{gram_of, mse, tv_loss};
use super::training::adam::Adam;
use crate::models::VggLayer;
use crate::models::fast_style::TransformerNet;
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

/// A fast style network being trained (on an autodiff device).
pub struct FastStyleTrainer {
    net: TransformerNet,
    vgg: Vgg19,
    /// The style image's Gram matrix at each style layer, `[1, C, C]`.
    style_grams: Vec<Tensor<3>>,
    adam: Adam,
    settings: FastStyleSettings,
    steps: usize,
}

impl FastStyleTrainer {
    /// A trainer of `net` towards the style of `style` (`[1, 3, H, W]` in `[0, 1]`), with `vgg`
    /// (which is not trained) for the loss. `net` and the images live on an autodiff device.
    pub fn new(net: TransformerNet, vgg: Vgg19, style: Tensor<4>, settings: FastStyleSettings) -> Result<Self, FastStyleError> {
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
        Ok(FastStyleTrainer { net, vgg, style_grams, adam: Adam::pytorch(), settings, steps: 0 })
    }

    /// One step on `batch` (`[B, 3, H, W]` photos in `[0, 1]`): the losses, then Adam's update.
    pub async fn step(&mut self, batch: Tensor<4>) -> Result<FastStyleLosses, FastStyleError> {
        let s = &self.settings;
        let y = self.net.forward(batch.clone() * 255.0) / 255.0;
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
        let values = Tensor::cat(vec![content, style, tv, total.clone()], 0).detach();
        let grads = GradientsParams::from_grads(total.backward(), &self.net);
        self.net = self.adam.step(s.lr, self.net.clone(), grads);
        self.steps += 1;
        let v = values.into_data_async().await.map_err(|e| FastStyleError::Readback(e.to_string()))?;
        match v.try_into_vec::<f32>().map_err(|e| FastStyleError::Readback(format!("{e:?}")))?.as_slice() {
            [c, s, t, j] => Ok(FastStyleLosses { content: *c as f64, style: *s as f64, tv: *t as f64, total: *j as f64 }),
            other => Err(FastStyleError::Readback(format!("expected 4 values, got {}", other.len()))),
        }
    }

    /// The network as trained so far.
    pub fn net(&self) -> &TransformerNet {
        &self.net
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }
}
