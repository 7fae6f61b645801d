//! Neural style transfer (Gatys, Ecker and Bethge, 2016): optimise an image so that its VGG19
//! features match a content image and its Gram matrices match a style image.
//!
//! The method, exactly (`scripts/reference/make_nst_fixtures.py` implements the same in
//! PyTorch, and the tests compare the two step by step):
//!
//! * the optimised variable is the image `x` itself, `[1, 3, H, W]` in `[0, 1]`; VGG19 applies
//!   the ImageNet normalisation inside ([`crate::models::vgg`]);
//! * content: `L_c = mean((F_l(x) - F_l(c))^2)` on one layer (default `conv4_2`, the conv
//!   output before its ReLU);
//! * style: `L_s = sum_l w_l mean((G_l(x) - A_l)^2)` over several layers (default
//!   `conv1_1 .. conv5_1`), with `G = F F^T / (C H W)` computed by our WGSL Gram kernel on
//!   WebGPU, `A_l` the style image's Gram (a weighted blend of several style images'), and
//!   per-layer weights `w_l` equal (`1/L`) or decaying with depth (`d^k`, normalised to sum 1:
//!   shallow layers weigh more, which gives finer strokes);
//! * total variation: `L_tv = mean((x[.., 1:, :] - x[.., :-1, :])^2) + mean((x[.., :, 1:] - x[.., :, :-1])^2)`;
//! * `J = alpha L_c + beta L_s + gamma L_tv`, minimised by Adam on the pixels, clamped to
//!   `[0, 1]` after every step (pixels stay in range).
//!
//! Every step's losses come back as one small tensor read asynchronously
//! ([`LossTensors::read`]), so the loop runs in a browser on WebGPU, where synchronous reads
//! are impossible.

use burn::module::Module;
use burn::optim::{AdamConfig, AdamState, Optimizer as _};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::kernels::gram;
use crate::models::vgg::{Vgg19, VggLayer};

mod lbfgs;
mod settings;

use lbfgs::Lbfgs;
pub use settings::{Prepared, Settings, check_size, max_pixels};

/// What can stop a style transfer, in words for the user (its `Display`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StyleTransferError {
    /// A setting out of its range; the message names it and the range.
    #[error("{0}")]
    Setting(String),
    /// An image too large for this device, with the largest size of the same aspect ratio
    /// that fits (`fits`) and its longer side.
    #[error(
        "{width}x{height} is too large for style transfer on this device ({why}); the largest that \
         fits is about {}x{}: choose a size of {longest} or less", fits.0, fits.1
    )]
    TooLarge { width: u32, height: u32, fits: (u32, u32), longest: u32, why: String },
    /// Style image `index` (from 1) is too large at the style scale.
    #[error("style image {index}: {source} (or a smaller style scale)")]
    StyleTooLarge { index: usize, source: Box<StyleTransferError> },
    /// The loaded VGG19 stops before a layer the settings use.
    #[error("VGG19 is loaded up to {loaded}; the chosen layers need {needed}")]
    VggTooShallow { loaded: VggLayer, needed: VggLayer },
    /// A value could not be read back from the device (it was lost, or ran out of memory).
    #[error("reading {what} from the device failed: {detail}")]
    Readback { what: &'static str, detail: String },
    /// The backward pass produced no gradient for the image (a bug, not the user's input).
    #[error("no gradient reached the image")]
    NoGradient,
}

/// Reads a tensor back as `f32`s, asynchronously (the only way on WebGPU).
async fn read_back(t: Tensor<1>, what: &'static str) -> Result<Vec<f32>, StyleTransferError> {
    let failed = |e: String| StyleTransferError::Readback { what, detail: e };
    let data = t.into_data_async().await.map_err(|e| failed(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| failed(format!("{e:?}")))
}

/// How the style layers are weighted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum StyleWeights {
    /// `1/L` each.
    Equal,
    /// `d^k` for the k-th layer (from the shallowest), normalised to sum to 1.
    Decay(f64),
}

impl StyleWeights {
    /// The weight of each of `n` layers.
    pub fn weights(self, n: usize) -> Vec<f64> {
        let raw: Vec<f64> = match self {
            StyleWeights::Equal => vec![1.0; n],
            StyleWeights::Decay(d) => (0..n).map(|k| d.powi(k as i32)).collect(),
        };
        let sum: f64 = raw.iter().sum();
        raw.into_iter().map(|w| w / sum).collect()
    }
}

/// Where the optimisation starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum InitKind {
    Content,
    /// The (first) style image, resized to the content's size.
    Style,
    /// Uniform noise in `[0, 1]`, seeded.
    Noise { seed: u64 },
}

/// The loss and its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NstConfig {
    pub content_layer: VggLayer,
    pub style_layers: Vec<VggLayer>,
    pub style_weights: StyleWeights,
    /// `alpha`.
    pub content_weight: f64,
    /// `beta`.
    pub style_weight: f64,
    /// `gamma`.
    pub tv_weight: f64,
    /// The optimiser and its step size.
    pub optimizer: Optimizer,
}

/// How the pixels are optimised.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Adam (beta 0.9, 0.999, eps 1e-8) with learning rate `lr`, in `[0, 1]` pixel units.
    Adam { lr: f64 },
    /// L-BFGS as PyTorch's `torch.optim.LBFGS(lr, max_iter=1, history_size, line_search_fn=None)`
    /// called once per step; every scalar it needs is read asynchronously.
    Lbfgs { lr: f64, history: usize },
}

impl Default for NstConfig {
    /// Defaults that give a good picture with torchvision's VGG19 at 256-512 px in a few
    /// hundred Adam steps.
    fn default() -> Self {
        NstConfig {
            content_layer: VggLayer::Conv { block: 4, index: 2 },
            style_layers: (1..=5).map(|block| VggLayer::Conv { block, index: 1 }).collect(),
            style_weights: StyleWeights::Equal,
            content_weight: 1.0,
            style_weight: 1e6,
            tv_weight: 1e-1,
            optimizer: Optimizer::Adam { lr: 0.02 },
        }
    }
}

impl NstConfig {
    /// Every layer the loss reads, and the deepest of them (what VGG must be built up to).
    pub fn layers(&self) -> Vec<VggLayer> {
        let mut layers = self.style_layers.clone();
        layers.push(self.content_layer);
        layers.sort();
        layers.dedup();
        layers
    }

    /// The deepest layer needed.
    pub fn deepest(&self) -> VggLayer {
        self.layers().into_iter().max_by_key(|l| l.convs_needed()).unwrap_or(self.content_layer)
    }
}

/// One step's losses, still on the device.
pub struct LossTensors {
    /// `[content, style, tv, total]`, unweighted terms and the weighted total.
    pub packed: Tensor<1>,
}

/// One step's losses, read back: the unweighted terms and the weighted total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

impl LossTensors {
    /// Reads the four numbers with one asynchronous transfer.
    pub async fn read(self) -> Result<Losses, StyleTransferError> {
        let v = read_back(self.packed, "the losses").await?;
        match v.as_slice() {
            [c, s, t, j] => Ok(Losses { content: *c as f64, style: *s as f64, tv: *t as f64, total: *j as f64 }),
            _ => Err(StyleTransferError::Readback { what: "the losses", detail: format!("expected 4 values, got {}", v.len()) }),
        }
    }
}

fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let d = a - b;
    (d.clone() * d).mean()
}

/// `F F^T / (C H W)` of `[1, C, H, W]` activations, `[1, C, C]`.
fn gram_of(f: Tensor<4>) -> Tensor<3> {
    let [b, c, h, w] = f.dims();
    gram(f.reshape([b, c, h * w]), 1.0 / (c * h * w) as f32)
}

/// Total-variation loss of `[B, C, H, W]` (0 for a 1-pixel side).
pub fn tv_loss(x: Tensor<4>) -> Tensor<1> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let mut total = Tensor::<1>::zeros([1], &device);
    if h > 1 {
        total = total + mse(x.clone().slice([0..b, 0..c, 1..h, 0..w]), x.clone().slice([0..b, 0..c, 0..h - 1, 0..w]));
    }
    if w > 1 {
        total = total + mse(x.clone().slice([0..b, 0..c, 0..h, 1..w]), x.slice([0..b, 0..c, 0..h, 0..w - 1]));
    }
    total
}

/// A style-transfer optimisation in progress.
pub struct NstRun {
    vgg: Vgg19,
    config: NstConfig,
    layer_weights: Vec<f64>,
    content_target: Tensor<4>,
    style_targets: Vec<Tensor<3>>,
    /// The current image, on the plain (non-autodiff) device.
    image: Tensor<4>,
    optimizer: OptimizerState,
    step: usize,
}

enum OptimizerState {
    Adam { lr: f64, adam: burn::optim::Adam, state: Option<AdamState<4>> },
    Lbfgs(Box<Lbfgs>),
}

impl NstRun {
    /// Prepares a run: the targets are computed once. `vgg` may live on any device; it is
    /// moved to the autodiff version of `device` with its weights frozen. `styles` are the
    /// style images and their blend weights (normalised to sum to 1); `init` the start image
    /// (see [`initial_image`]). Images are `[1, 3, H, W]` in `[0, 1]`.
    pub fn new(
        vgg: Vgg19,
        content: Tensor<4>,
        styles: &[(Tensor<4>, f64)],
        init: Tensor<4>,
        config: NstConfig,
    ) -> Result<Self, StyleTransferError> {
        if styles.is_empty() {
            return Err(StyleTransferError::Setting("style transfer needs at least one style image".into()));
        }
        if vgg.convs.len() < config.deepest().convs_needed() {
            return Err(StyleTransferError::VggTooShallow { loaded: vgg.deepest(), needed: config.deepest() });
        }
        let device = content.device().without_autodiff();
        let vgg = vgg.no_grad();
        let layers = config.layers();
        let content_target = vgg
            .forward(content, &[config.content_layer])
            .remove(&config.content_layer)
            .ok_or(StyleTransferError::VggTooShallow { loaded: vgg.deepest(), needed: config.content_layer })?
            .detach();
        let blend_sum: f64 = styles.iter().map(|(_, w)| w.max(0.0)).sum();
        if blend_sum <= 0.0 {
            return Err(StyleTransferError::Setting("the style blend weights must not all be zero".into()));
        }
        let mut style_targets: Vec<Tensor<3>> = Vec::new();
        for (style, w) in styles {
            let acts = vgg.forward(style.clone(), &layers);
            for (k, layer) in config.style_layers.iter().enumerate() {
                let g = gram_of(acts.get(layer).ok_or(StyleTransferError::VggTooShallow { loaded: vgg.deepest(), needed: *layer })?.clone()).detach() * (w.max(0.0) / blend_sum);
                if k < style_targets.len() {
                    style_targets[k] = style_targets[k].clone() + g;
                } else {
                    style_targets.push(g);
                }
            }
        }
        let layer_weights = config.style_weights.weights(config.style_layers.len());
        let optimizer = match config.optimizer {
            Optimizer::Adam { lr } => OptimizerState::Adam {
                lr,
                adam: AdamConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).build(),
                state: None,
            },
            Optimizer::Lbfgs { lr, history } => OptimizerState::Lbfgs(Box::new(Lbfgs::new(lr, history.max(1)))),
        };
        Ok(NstRun {
            vgg,
            config,
            layer_weights,
            content_target,
            style_targets,
            image: init.to_device(&device).clamp(0.0, 1.0),
            optimizer,
            step: 0,
        })
    }

    /// The losses of `x` (an autodiff tensor), weighted total last.
    fn losses(&self, x: Tensor<4>) -> [Tensor<1>; 4] {
        let acts = self.vgg.forward(x.clone(), &self.config.layers());
        let content = match acts.get(&self.config.content_layer) {
            Some(f) => mse(f.clone(), self.content_target.clone()),
            None => Tensor::zeros([1], &x.device()),
        };
        let mut style = Tensor::<1>::zeros([1], &x.device());
        for ((layer, target), w) in self.config.style_layers.iter().zip(&self.style_targets).zip(&self.layer_weights) {
            if let Some(f) = acts.get(layer) {
                style = style + mse(gram_of(f.clone()), target.clone()) * *w;
            }
        }
        let tv = tv_loss(x);
        let total = content.clone() * self.config.content_weight
            + style.clone() * self.config.style_weight
            + tv.clone() * self.config.tv_weight;
        [content, style, tv, total]
    }

    /// One optimisation step. Returns the losses at the image before the step (as PyTorch's
    /// loop reports them). Asynchronous: every value the step needs from the device is read
    /// with `into_data_async`, so it runs on WebGPU.
    pub async fn step(&mut self) -> Result<Losses, StyleTransferError> {
        let x = self.image.clone().autodiff().require_grad();
        let [content, style, tv, total] = self.losses(x.clone());
        let grads = total.clone().backward();
        let packed = Tensor::cat(vec![content.detach(), style.detach(), tv.detach(), total.detach()], 0).without_autodiff();
        let grad = x.grad(&grads).ok_or(StyleTransferError::NoGradient)?;
        match &mut self.optimizer {
            OptimizerState::Adam { lr, adam, state } => {
                let (next, next_state) = adam.step(*lr, self.image.clone(), grad, state.take());
                self.image = next.clamp(0.0, 1.0);
                *state = next_state;
            }
            OptimizerState::Lbfgs(lbfgs) => {
                let [b, c, h, w] = self.image.dims();
                let flat_grad = grad.reshape([b * c * h * w]);
                if let Some(delta) = lbfgs.direction(flat_grad).await? {
                    self.image = (self.image.clone() + delta.reshape([b, c, h, w])).clamp(0.0, 1.0);
                }
            }
        }
        self.step += 1;
        LossTensors { packed }.read().await
    }

    /// The losses of the current image, without stepping.
    pub fn evaluate(&self) -> LossTensors {
        let [c, s, t, j] = self.losses(self.image.clone());
        LossTensors { packed: Tensor::cat(vec![c, s, t, j], 0) }
    }

    /// The current image, `[1, 3, H, W]` in `[0, 1]`.
    pub fn image(&self) -> Tensor<4> {
        self.image.clone()
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.step
    }

    /// The configuration.
    pub fn config(&self) -> &NstConfig {
        &self.config
    }
}

/// The start image for `kind`: the content, the first style image resized to the content's
/// size, or seeded uniform noise.
pub fn initial_image(kind: InitKind, content: &Tensor<4>, style: &Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = content.dims();
    let device = content.device();
    match kind {
        InitKind::Content => content.clone(),
        InitKind::Style => burn::tensor::module::interpolate(
            style.clone(),
            burn::tensor::ops::InterpolateOptions::new(burn::tensor::ops::InterpolateMode::Bilinear)
                .with_output_size([h, w]),
        ),
        InitKind::Noise { seed } => {
            // A seeded host-side generator, so the same seed gives the same start on every
            // backend (device RNGs differ).
            let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
            let values: Vec<f32> = (0..3 * h * w)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 24) as f32
                })
                .collect();
            Tensor::from_data(TensorData::new(values, [1, 3, h, w]), &device)
        }
    }
}

#[cfg(test)]
mod tests;
