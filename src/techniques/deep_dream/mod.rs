//! Deep Dream (Mordvintsev, Olah and Tyka, 2015): an image is changed by gradient ascent so
//! that a chosen VGG19 layer (or some of its channels) responds more strongly to it, over an
//! image pyramid, so that the patterns it brings out grow at several scales.
//!
//! The method, as the original notebook's `deepdream` does it (with VGG19 for GoogLeNet;
//! `scripts/reference/make_deep_dream_fixtures.py` implements the same in PyTorch, and the
//! tests compare the first steps):
//!
//! * objective: `mean(a^2)` of the layer's activations `a` (the notebook's L2 objective), over
//!   the chosen channels or all of them; the image is `[1, 3, H, W]` in `[0, 1]`, and VGG19
//!   applies the ImageNet normalisation inside;
//! * a step: the image is shifted (rolled, wrapping around) by a random offset of up to
//!   `jitter` pixels each way, the gradient `g` of the objective is taken there,
//!   `x += lr g / mean(|g|)` (the gradient normalised by its mean magnitude), the shift is
//!   undone and the image clamped to `[0, 1]`;
//! * octaves: the image is shrunk `octaves - 1` times by `octave_scale` (bilinear, half-pixel
//!   centres); from the smallest up, each octave starts from its shrunk image plus the detail
//!   the smaller octaves added (resized to it), takes `steps` steps, and hands its detail on.

use burn::module::Module;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Int, Tensor};

use crate::models::VggLayer;
use crate::models::vgg::Vgg19;
use crate::techniques::data::Rng;

#[cfg(test)]
mod tests;

/// What a dream is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct DreamSettings {
    /// The layer whose activations are amplified.
    pub layer: VggLayer,
    /// Its channels to amplify; all of them when empty.
    pub channels: Vec<usize>,
    /// Scales of the image pyramid (1: the image's size only).
    pub octaves: usize,
    /// Size ratio between two octaves.
    pub octave_scale: f64,
    /// Steps per octave.
    pub steps: usize,
    /// Step size, in pixel values of `[0, 1]`, after the gradient's normalisation.
    pub lr: f64,
    /// Largest random shift of each step, in pixels.
    pub jitter: u32,
    /// Seeds the shifts.
    pub seed: u64,
}

impl Default for DreamSettings {
    /// The notebook's values (4 octaves 1.4 apart, 10 steps, shifts of up to 32 pixels, a
    /// step of 1.5 on its 0-255 scale), on VGG19's `conv4_3`.
    fn default() -> Self {
        DreamSettings {
            layer: VggLayer::Conv { block: 4, index: 3 },
            channels: Vec::new(),
            octaves: 4,
            octave_scale: 1.4,
            steps: 10,
            lr: 1.5 / 255.0,
            jitter: 32,
            seed: 0,
        }
    }
}

/// What can stop a dream, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum DreamError {
    /// A setting out of range; the message names it.
    #[error("{0}")]
    Setting(String),
    /// VGG19 was loaded up to a shallower layer than the dream needs.
    #[error("VGG19 is loaded up to {loaded}; this dream needs {needed}")]
    VggTooShallow { loaded: VggLayer, needed: VggLayer },
    /// The objective had no gradient with respect to the image (a bug).
    #[error("the objective has no gradient with respect to the image")]
    NoGradient,
}

/// The sizes `[height, width]` of the octaves, smallest first; the last is the image's. Each
/// is the next one divided by `scale`, rounded, and at least 1.
pub fn octave_sizes(height: usize, width: usize, octaves: usize, scale: f64) -> Vec<[usize; 2]> {
    let mut sizes = vec![[height, width]];
    for _ in 1..octaves.max(1) {
        let [h, w] = sizes[sizes.len() - 1];
        sizes.push([((h as f64 / scale).round() as usize).max(1), ((w as f64 / scale).round() as usize).max(1)]);
    }
    sizes.reverse();
    sizes
}

/// `x` resized to `[h, w]`, bilinear with half-pixel centres (PyTorch's
/// `interpolate(mode='bilinear', align_corners=False)`).
pub fn resize(x: Tensor<4>, [h, w]: [usize; 2]) -> Tensor<4> {
    if x.dims()[2..] == [h, w] {
        return x;
    }
    interpolate(x, InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false).with_output_size([h, w]))
}

/// A dream: VGG19 (not trained) and the settings. Images live on the inner (non-autodiff)
/// device; VGG19 on its autodiff device.
pub struct Dream {
    vgg: Vgg19,
    settings: DreamSettings,
}

impl Dream {
    pub fn new(vgg: Vgg19, settings: DreamSettings) -> Result<Self, DreamError> {
        let s = &settings;
        if s.octaves == 0 || s.octaves > 10 || s.steps == 0 {
            return Err(DreamError::Setting("a dream needs 1 to 10 octaves and at least one step each".into()));
        }
        if !(s.octave_scale.is_finite() && s.octave_scale > 1.0 && s.octave_scale <= 4.0) {
            return Err(DreamError::Setting(format!("the octave scale must be more than 1 and at most 4, not {}", s.octave_scale)));
        }
        if !(s.lr.is_finite() && s.lr > 0.0) {
            return Err(DreamError::Setting("the step size must be positive".into()));
        }
        if vgg.convs.len() < s.layer.convs_needed() {
            return Err(DreamError::VggTooShallow { loaded: vgg.deepest(), needed: s.layer });
        }
        let width = vgg.convs[s.layer.convs_needed() - 1].weight.dims()[0];
        if let Some(c) = s.channels.iter().find(|&&c| c >= width) {
            return Err(DreamError::Setting(format!("{} has {width} channels (0 to {}); there is no channel {c}", s.layer, width - 1)));
        }
        Ok(Dream { vgg: vgg.no_grad(), settings })
    }

    /// The objective at `x` (on the autodiff device): `mean(a^2)` of the chosen channels.
    fn objective(&self, x: Tensor<4>) -> Result<Tensor<1>, DreamError> {
        let s = &self.settings;
        let missing = || DreamError::VggTooShallow { loaded: self.vgg.deepest(), needed: s.layer };
        let mut a = self.vgg.forward(x, &[s.layer]).remove(&s.layer).ok_or_else(missing)?;
        if !s.channels.is_empty() {
            let idx: Vec<i64> = s.channels.iter().map(|&c| c as i64).collect();
            a = a.clone().select(1, Tensor::<1, Int>::from_ints(idx.as_slice(), &a.device()));
        }
        Ok((a.clone() * a).mean())
    }

    /// One step from `image` with the shift `[dy, dx]`.
    pub fn step(&self, image: Tensor<4>, [dy, dx]: [i64; 2]) -> Result<Tensor<4>, DreamError> {
        let rolled = image.roll(&[dy, dx], &[2, 3]);
        let x = rolled.clone().autodiff().require_grad();
        let grads = self.objective(x.clone())?.backward();
        let g = x.grad(&grads).ok_or(DreamError::NoGradient)?;
        let scale = (g.clone().abs().mean() + 1e-8).reshape([1, 1, 1, 1]);
        let moved = rolled + g / scale * self.settings.lr;
        Ok(moved.roll(&[-dy, -dx], &[2, 3]).clamp(0.0, 1.0))
    }

    /// The shifts of the steps, in order: `[dy, dx]` each in `[-jitter, jitter]`.
    pub fn shifts(&self) -> impl Iterator<Item = [i64; 2]> {
        let mut rng = Rng::new(self.settings.seed);
        let span = 2 * self.settings.jitter as usize + 1;
        let j = self.settings.jitter as i64;
        std::iter::repeat_with(move || [rng.below(span) as i64 - j, rng.below(span) as i64 - j])
    }

    /// The whole dream of `image` (`[1, 3, H, W]` in `[0, 1]`); `after_step(octave, step, image)`
    /// sees every step's image (for previews).
    pub fn run(&self, image: Tensor<4>, after_step: impl FnMut(usize, usize, &Tensor<4>)) -> Result<Tensor<4>, DreamError> {
        self.run_shifted(image, self.shifts(), after_step)
    }

    /// [`run`](Self::run) with the steps' shifts given.
    pub fn run_shifted(
        &self,
        image: Tensor<4>,
        shifts: impl IntoIterator<Item = [i64; 2]>,
        mut after_step: impl FnMut(usize, usize, &Tensor<4>),
    ) -> Result<Tensor<4>, DreamError> {
        let [_, _, h, w] = image.dims();
        let sizes = octave_sizes(h, w, self.settings.octaves, self.settings.octave_scale);
        let mut shifts = shifts.into_iter();
        let mut detail = Tensor::<4>::zeros([1, 3, sizes[0][0], sizes[0][1]], &image.device());
        let mut current = image.clone();
        for (octave, &size) in sizes.iter().enumerate() {
            let base = resize(image.clone(), size);
            current = (base.clone() + resize(detail, size)).clamp(0.0, 1.0);
            for step in 0..self.settings.steps {
                let shift = shifts.next().unwrap_or([0, 0]);
                current = self.step(current, shift)?;
                after_step(octave, step, &current);
            }
            detail = current.clone() - base;
        }
        Ok(current)
    }

    pub fn settings(&self) -> &DreamSettings {
        &self.settings
    }
}
