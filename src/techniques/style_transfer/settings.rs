//! A run's settings and what it reports, shared by the CLI, the worker and the UI (which
//! links this without Burn): the loss and optimiser ([`NstConfig`]), the whole run
//! ([`Settings`]), each step's [`Losses`] and what can stop a run ([`StyleTransferError`]).
//! With the `compute` feature the settings are also validated, bounded and prepared in one
//! place for the CLI and the worker: [`Settings::validate`], the one size bound
//! [`max_pixels`], and [`Settings::prepare`] (resize and check every image).

use crate::device::GpuLimits;
use crate::models::{Pooling, VggLayer};
use serde::{Deserialize, Serialize};
#[cfg(feature = "compute")]
use crate::imaging::{self, MAX_SIDE};

/// The settings of a style-transfer run: the CLI's `ai-art stylize` options and the app's
/// form (carried by the protocol's `StyleTransferJob`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Longer side of the result in pixels (the content's aspect ratio is kept).
    pub size: u32,
    /// Style images are resized to this fraction of `size`.
    pub style_scale: f64,
    pub steps: u32,
    /// Loss, layers and optimiser.
    pub config: NstConfig,
    pub pooling: Pooling,
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
            pooling: Pooling::Average,
            init: InitKind::Content,
            preserve_colors: false,
            preview_every: 10,
        }
    }
}

/// The images a run starts from, resized as [`Settings`] say and checked against the device.
#[cfg(feature = "compute")]
pub struct Prepared {
    pub content: image::RgbImage,
    /// With their blend weights.
    pub styles: Vec<(image::RgbImage, f64)>,
}

#[cfg(feature = "compute")]
impl Settings {
    /// Every check that needs neither the images nor the device; `style_weights` are the
    /// style images' blend weights (one per style image).
    pub fn validate(&self, style_weights: &[f64]) -> Result<(), StyleTransferError> {
        let invalid = |why: String| Err(StyleTransferError::Setting(why));
        let c = &self.config;
        if style_weights.is_empty() {
            return invalid("add at least one style image".into());
        }
        if style_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return invalid("style blend weights must be numbers >= 0".into());
        }
        if style_weights.iter().sum::<f64>() <= 0.0 {
            return invalid("the style blend weights must not all be zero".into());
        }
        if !(16..=MAX_SIDE).contains(&self.size) {
            return invalid(format!("the size must be between 16 and {} pixels", MAX_SIDE));
        }
        if !(1..=100_000).contains(&self.steps) {
            return invalid("the number of steps must be between 1 and 100000".into());
        }
        if !(self.style_scale.is_finite() && self.style_scale > 0.0) {
            return invalid("the style scale must be a number > 0".into());
        }
        for (name, w) in [("alpha (content weight)", c.content_weight), ("beta (style weight)", c.style_weight), ("gamma (TV weight)", c.tv_weight)] {
            if !(w.is_finite() && w >= 0.0) {
                return invalid(format!("{name} must be a number >= 0"));
            }
        }
        let lr = match c.optimizer {
            Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } => lr,
        };
        if !(lr.is_finite() && lr > 0.0) {
            return invalid("the learning rate must be a number > 0".into());
        }
        if let Optimizer::Lbfgs { history: 0, .. } = c.optimizer {
            return invalid("L-BFGS needs a history of at least 1".into());
        }
        if c.style_layers.is_empty() {
            return invalid("choose at least one style layer".into());
        }
        Ok(())
    }

    /// The style images' longer side: `size * style_scale`, within the decoder's bounds.
    pub fn style_side(&self) -> u32 {
        ((self.size as f64 * self.style_scale).round() as u32).clamp(16, MAX_SIDE)
    }

    /// Validates, resizes the content (longer side `size`) and the style images (`size *
    /// style_scale`), and checks each against [`max_pixels`] for VGG19 with `first_width`
    /// channels on a device with `limits` (`None`: the CPU backend).
    pub fn prepare(
        &self,
        content: &image::RgbImage,
        styles: &[(image::RgbImage, f64)],
        first_width: usize,
        limits: Option<&GpuLimits>,
    ) -> Result<Prepared, StyleTransferError> {
        self.validate(&styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
        let content = imaging::resize_longest(content, self.size);
        let (w, h) = content.dimensions();
        check_size(w, h, first_width, limits)?;
        let side = self.style_side();
        let mut resized = Vec::with_capacity(styles.len());
        for (i, (img, weight)) in styles.iter().enumerate() {
            let img = imaging::resize_longest(img, side);
            let (sw, sh) = img.dimensions();
            check_size(sw, sh, first_width, limits).map_err(|e| StyleTransferError::StyleTooLarge { index: i + 1, source: Box::new(e) })?;
            resized.push((img, *weight));
        }
        Ok(Prepared { content, styles: resized })
    }
}

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

/// One step's losses, read back: the unweighted terms and the weighted total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
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
pub fn max_pixels(first_width: usize, limits: Option<&GpuLimits>) -> u64 {
    const CPU_MAX_PIXELS: u64 = 1 << 19;
    const GPU_MAX_PIXELS: u64 = 1 << 22;
    match limits {
        None => CPU_MAX_PIXELS,
        Some(l) => (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 2 / (4 * first_width.max(1) as u64)).min(GPU_MAX_PIXELS),
    }
}

/// Checks a `width x height` style-transfer image against [`max_pixels`]; the error says the
/// largest size with the same aspect ratio.
pub fn check_size(width: u32, height: u32, first_width: usize, limits: Option<&GpuLimits>) -> Result<(), StyleTransferError> {
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
    Err(StyleTransferError::TooLarge { width, height, fits: (fw, fh), longest, why })
}

