//! A style-transfer run on the device: the losses (Gram matrices on our WGSL kernel, total
//! variation), the optimisation step with Adam or L-BFGS, and where the image starts.

use burn::module::Module;
use burn::optim::{AdamConfig, AdamState, Optimizer as _};
use burn::tensor::{Tensor, TensorData};

use super::lbfgs::Lbfgs;
use super::{InitKind, Losses, NstConfig, Optimizer, StyleTransferError};
use crate::kernels::gram;
use crate::models::vgg::Vgg19;

/// Reads a tensor back as `f32`s, asynchronously (the only way on WebGPU).
pub(super) async fn read_back(t: Tensor<1>, what: &'static str) -> Result<Vec<f32>, StyleTransferError> {
    let failed = |e: String| StyleTransferError::Readback { what, detail: e };
    let data = t.into_data_async().await.map_err(|e| failed(format!("{e:?}")))?;
    data.try_into_vec::<f32>().map_err(|e| failed(format!("{e:?}")))
}

/// One step's losses, still on the device.
pub struct LossTensors {
    /// `[content, style, tv, total]`, unweighted terms and the weighted total.
    pub packed: Tensor<1>,
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

/// Mean squared error (PyTorch's `mse_loss`; `b` broadcast against `a`).
pub(crate) fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let d = a - b;
    (d.clone() * d).mean()
}

/// `F F^T / (C H W)` of `[B, C, H, W]` activations, `[B, C, C]`.
pub(crate) fn gram_of(f: Tensor<4>) -> Tensor<3> {
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
