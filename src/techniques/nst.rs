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
    pub async fn read(self) -> Result<Losses, String> {
        let data = self.packed.into_data_async().await.map_err(|e| format!("reading the losses failed: {e:?}"))?;
        let v = data.try_into_vec::<f32>().map_err(|e| format!("reading the losses failed: {e:?}"))?;
        match v.as_slice() {
            [c, s, t, j] => Ok(Losses { content: *c as f64, style: *s as f64, tv: *t as f64, total: *j as f64 }),
            _ => Err(format!("expected 4 loss values, got {}", v.len())),
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
    ) -> Result<Self, String> {
        if styles.is_empty() {
            return Err("style transfer needs at least one style image".into());
        }
        if vgg.convs.len() < config.deepest().convs_needed() {
            return Err(format!("VGG19 is loaded up to {}; the chosen layers need {}", vgg.deepest(), config.deepest()));
        }
        let device = content.device().without_autodiff();
        let vgg = vgg.no_grad();
        let layers = config.layers();
        let content_target = vgg
            .forward(content, &[config.content_layer])
            .remove(&config.content_layer)
            .ok_or("content layer missing")?
            .detach();
        let blend_sum: f64 = styles.iter().map(|(_, w)| w.max(0.0)).sum();
        if blend_sum <= 0.0 {
            return Err("the style blend weights must not all be zero".into());
        }
        let mut style_targets: Vec<Tensor<3>> = Vec::new();
        for (style, w) in styles {
            let acts = vgg.forward(style.clone(), &layers);
            for (k, layer) in config.style_layers.iter().enumerate() {
                let g = gram_of(acts.get(layer).ok_or("style layer missing")?.clone()).detach() * (w.max(0.0) / blend_sum);
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
    pub async fn step(&mut self) -> Result<Losses, String> {
        let x = self.image.clone().autodiff().require_grad();
        let [content, style, tv, total] = self.losses(x.clone());
        let grads = total.clone().backward();
        let packed = Tensor::cat(vec![content.detach(), style.detach(), tv.detach(), total.detach()], 0).without_autodiff();
        let grad = x.grad(&grads).ok_or("no gradient reached the image")?;
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

// ---------------------------------------------------------------------------------------
// A run's settings: validated, bounded and prepared in one place for the CLI and the worker.
// ---------------------------------------------------------------------------------------

/// The settings of a style-transfer run: the CLI's `ai-art stylize` options and the app's
/// form (the protocol's `StylizeSettings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Longer side of the result in pixels (the content's aspect ratio is kept).
    pub size: u32,
    /// Style images are resized to this fraction of `size`.
    pub style_scale: f64,
    pub steps: u32,
    /// Loss, layers and optimiser.
    pub config: NstConfig,
    pub pooling: crate::models::vgg::Pooling,
    pub init: InitKind,
    /// Keep the content's colours (luminance-only transfer).
    pub preserve_colors: bool,
    /// A preview image every this many steps (0: none until the end; the app's option).
    pub preview_every: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            size: 384,
            style_scale: 1.0,
            steps: 300,
            config: NstConfig::default(),
            pooling: crate::models::vgg::Pooling::Average,
            init: InitKind::Content,
            preserve_colors: false,
            preview_every: 10,
        }
    }
}

/// The images a run starts from, resized as [`Settings`] say and checked against the device.
pub struct Prepared {
    pub content: image::RgbImage,
    /// With their blend weights.
    pub styles: Vec<(image::RgbImage, f64)>,
}

impl Settings {
    /// Every check that needs neither the images nor the device; `style_weights` are the
    /// style images' blend weights (one per style image).
    pub fn validate(&self, style_weights: &[f64]) -> Result<(), String> {
        let c = &self.config;
        if style_weights.is_empty() {
            return Err("add at least one style image".into());
        }
        if style_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err("style blend weights must be numbers >= 0".into());
        }
        if style_weights.iter().sum::<f64>() <= 0.0 {
            return Err("the style blend weights must not all be zero".into());
        }
        if !(16..=crate::imaging::MAX_SIDE).contains(&self.size) {
            return Err(format!("the size must be between 16 and {} pixels", crate::imaging::MAX_SIDE));
        }
        if !(1..=100_000).contains(&self.steps) {
            return Err("the number of steps must be between 1 and 100000".into());
        }
        if !(self.style_scale.is_finite() && self.style_scale > 0.0) {
            return Err("the style scale must be a number > 0".into());
        }
        for (name, w) in [("alpha (content weight)", c.content_weight), ("beta (style weight)", c.style_weight), ("gamma (TV weight)", c.tv_weight)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{name} must be a number >= 0"));
            }
        }
        let lr = match c.optimizer {
            Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } => lr,
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err("the learning rate must be a number > 0".into());
        }
        if let Optimizer::Lbfgs { history: 0, .. } = c.optimizer {
            return Err("L-BFGS needs a history of at least 1".into());
        }
        if c.style_layers.is_empty() {
            return Err("choose at least one style layer".into());
        }
        Ok(())
    }

    /// The style images' longer side: `size * style_scale`, within the decoder's bounds.
    pub fn style_side(&self) -> u32 {
        ((self.size as f64 * self.style_scale).round() as u32).clamp(16, crate::imaging::MAX_SIDE)
    }

    /// Validates, resizes the content (longer side `size`) and the style images (`size *
    /// style_scale`), and checks each against [`max_pixels`] for VGG19 with `first_width`
    /// channels on a device with `limits` (`None`: the CPU backend).
    pub fn prepare(
        &self,
        content: &image::RgbImage,
        styles: &[(image::RgbImage, f64)],
        first_width: usize,
        limits: Option<&crate::device::GpuLimits>,
    ) -> Result<Prepared, String> {
        self.validate(&styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
        let content = crate::imaging::resize_longest(content, self.size);
        let (w, h) = content.dimensions();
        check_size(w, h, first_width, limits)?;
        let side = self.style_side();
        let mut resized = Vec::with_capacity(styles.len());
        for (i, (img, weight)) in styles.iter().enumerate() {
            let img = crate::imaging::resize_longest(img, side);
            let (sw, sh) = img.dimensions();
            check_size(sw, sh, first_width, limits).map_err(|e| format!("style image {}: {e} (or a smaller style scale)", i + 1))?;
            resized.push((img, *weight));
        }
        Ok(Prepared { content, styles: resized })
    }
}

/// Most pixels of a style-transfer image on a device with `limits` (`None`: the CPU backend);
/// the one bound the CLI and the app share.
///
/// On a GPU the bound is one buffer: VGG19's first block keeps `first_width` (64) channels at
/// full resolution, 4 bytes each, and Burn's wgpu runtime cannot allocate a buffer beyond the
/// adapter's `maxStorageBufferBindingSize` (it already requests the adapter's highest
/// limits). Measured on lavapipe (128 MiB): 1024x768 fails allocating exactly
/// `64 * 1024 * 768 * 4` bytes; half of the limit is kept as the bound to leave room for the
/// backward pass's temporaries of the same size, and 4 megapixels at most (the activations
/// and gradients of every layer then take about 5 GB). On the CPU backend the bound is memory:
/// the saved activations and im2col buffers take about 4 KB per pixel, so 0.5 megapixels
/// (about 2 GB) keeps a browser tab (4 GB of wasm memory at most) alive.
pub fn max_pixels(first_width: usize, limits: Option<&crate::device::GpuLimits>) -> u64 {
    const CPU_MAX_PIXELS: u64 = 1 << 19;
    const GPU_MAX_PIXELS: u64 = 1 << 22;
    match limits {
        None => CPU_MAX_PIXELS,
        Some(l) => (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 2 / (4 * first_width.max(1) as u64)).min(GPU_MAX_PIXELS),
    }
}

/// Checks a `width x height` style-transfer image against [`max_pixels`]; the error says the
/// largest size with the same aspect ratio.
pub fn check_size(width: u32, height: u32, first_width: usize, limits: Option<&crate::device::GpuLimits>) -> Result<(), String> {
    let max = max_pixels(first_width, limits);
    let px = width as u64 * height as u64;
    if px <= max {
        return Ok(());
    }
    let scale = (max as f64 / px as f64).sqrt();
    let (fw, fh) = ((width as f64 * scale).floor() as u32, (height as f64 * scale).floor() as u32);
    let longest = fw.max(fh);
    let why = match limits {
        Some(l) if max == (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 2 / (4 * first_width.max(1) as u64)) => format!(
            "this GPU allows {} MiB per buffer and VGG19's first layers need {} bytes per pixel in one",
            l.max_storage_buffer_binding_size.min(l.max_buffer_size) >> 20,
            4 * first_width
        ),
        Some(_) => format!("the studio runs style transfer up to {:.1} megapixels", max as f64 / 1e6),
        None => "on the CPU fallback the optimisation needs about 4 KB of memory per pixel".to_string(),
    };
    Err(format!(
        "{width}x{height} is too large for style transfer on this device ({why}); the largest that \
         fits is about {fw}x{fh}: choose a size of {longest} or less"
    ))
}

/// L-BFGS exactly as PyTorch's `torch.optim.LBFGS` with `max_iter = 1` and no line search,
/// one iteration per call: the curvature pairs `(s, y)` are kept when `y.s > 1e-10` (at most
/// `history`), `H_diag = y.s / y.y`, the direction comes from the two-loop recursion, and the
/// step is `t d` with `t = min(1, 1 / |g|_1) lr` on the very first iteration and `lr` after.
/// Like PyTorch it takes no step when `max |g| <= 1e-7` (converged) or when the directional
/// derivative `g.d > -1e-9`. The pixel clamp happens outside, so `s` is the unclamped step
/// and the next `y` the gradient difference at the clamped point, as in a PyTorch loop that
/// clamps after `optimizer.step`.
struct Lbfgs {
    lr: f64,
    history: usize,
    iterations: usize,
    /// `y` vectors (PyTorch's `old_dirs`), `s` vectors (`old_stps`), `1 / y.s`.
    ys: std::collections::VecDeque<(Tensor<1>, Tensor<1>, f64)>,
    h_diag: f64,
    prev_grad: Option<Tensor<1>>,
    /// The last step `t d` (PyTorch's `d` and `t`).
    prev_step: Option<Tensor<1>>,
}

const LBFGS_TOLERANCE_GRAD: f64 = 1e-7;
const LBFGS_TOLERANCE_CHANGE: f64 = 1e-9;

async fn scalar(t: Tensor<1>) -> Result<f64, String> {
    let v = t.into_data_async().await.map_err(|e| format!("reading a scalar failed: {e:?}"))?;
    let v = v.try_into_vec::<f32>().map_err(|e| format!("reading a scalar failed: {e:?}"))?;
    v.first().map(|x| *x as f64).ok_or_else(|| "empty scalar".to_string())
}

async fn dot(a: &Tensor<1>, b: &Tensor<1>) -> Result<f64, String> {
    scalar((a.clone() * b.clone()).sum()).await
}

impl Lbfgs {
    fn new(lr: f64, history: usize) -> Self {
        Lbfgs { lr, history, iterations: 0, ys: Default::default(), h_diag: 1.0, prev_grad: None, prev_step: None }
    }

    /// The update `t d` for gradient `g`, or `None` when PyTorch would not move.
    async fn direction(&mut self, g: Tensor<1>) -> Result<Option<Tensor<1>>, String> {
        if scalar(g.clone().abs().max()).await? <= LBFGS_TOLERANCE_GRAD {
            return Ok(None);
        }
        self.iterations += 1;
        let d = if self.iterations == 1 {
            self.ys.clear();
            self.h_diag = 1.0;
            -g.clone()
        } else {
            if let (Some(prev_g), Some(s)) = (&self.prev_grad, &self.prev_step) {
                let y = g.clone() - prev_g.clone();
                let ys = dot(&y, s).await?;
                if ys > 1e-10 {
                    if self.ys.len() == self.history {
                        self.ys.pop_front();
                    }
                    self.h_diag = ys / dot(&y, &y).await?;
                    self.ys.push_back((y, s.clone(), 1.0 / ys));
                }
            }
            // Two-loop recursion.
            let mut q = -g.clone();
            let mut alphas = vec![0.0; self.ys.len()];
            for (i, (y, s, rho)) in self.ys.iter().enumerate().rev() {
                alphas[i] = dot(s, &q).await? * rho;
                q = q - y.clone() * alphas[i];
            }
            let mut r = q * self.h_diag;
            for (i, (y, s, rho)) in self.ys.iter().enumerate() {
                let beta = dot(y, &r).await? * rho;
                r = r + s.clone() * (alphas[i] - beta);
            }
            r
        };
        let t = if self.iterations == 1 {
            (1.0 / scalar(g.clone().abs().sum()).await?).min(1.0) * self.lr
        } else {
            self.lr
        };
        let gtd = dot(&g, &d).await?;
        self.prev_grad = Some(g);
        if gtd > -LBFGS_TOLERANCE_CHANGE {
            // PyTorch breaks before moving, keeping d and t for the next pair.
            self.prev_step = Some(d * t);
            return Ok(None);
        }
        let step = d * t;
        self.prev_step = Some(step.clone());
        Ok(Some(step))
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
