//! The dream itself: one step ([`Dream::step`]), and a whole dream step by step
//! ([`DreamRun`]: the worker's loop, with pause, cancel and previews between steps) or at once
//! ([`Dream::run`]: the CLI's).

use burn::module::Module;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Int, Tensor};

use super::{DreamSettings, octave_sizes};
use crate::models::VggLayer;
use crate::models::vgg::Vgg19;
use crate::techniques::data::Rng;

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
        s.check().map_err(DreamError::Setting)?;
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
    pub(super) fn objective(&self, x: Tensor<4>) -> Result<Tensor<1>, DreamError> {
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
    pub fn step(&self, image: Tensor<4>, shift: [i64; 2]) -> Result<Tensor<4>, DreamError> {
        Ok(self.scored_step(image, shift)?.0)
    }

    /// One step, and the objective of the image before it (shifted; on the inner device,
    /// `[1]`: reading it back is the caller's choice).
    pub fn scored_step(&self, image: Tensor<4>, [dy, dx]: [i64; 2]) -> Result<(Tensor<4>, Tensor<1>), DreamError> {
        let rolled = image.roll(&[dy, dx], &[2, 3]);
        let x = rolled.clone().autodiff().require_grad();
        let objective = self.objective(x.clone())?;
        let score = objective.clone().inner();
        let grads = objective.backward();
        let g = x.grad(&grads).ok_or(DreamError::NoGradient)?;
        let scale = (g.clone().abs().mean() + 1e-8).reshape([1, 1, 1, 1]);
        let moved = rolled + g / scale * self.settings.lr;
        Ok((moved.roll(&[-dy, -dx], &[2, 3]).clamp(0.0, 1.0), score))
    }

    /// The shifts of the steps, in order: `[dy, dx]` each in `[-jitter, jitter]`.
    pub fn shifts(&self) -> impl Iterator<Item = [i64; 2]> {
        let mut rng = Rng::new(self.settings.seed);
        let span = 2 * self.settings.jitter as usize + 1;
        let j = self.settings.jitter as i64;
        std::iter::repeat_with(move || [rng.below(span) as i64 - j, rng.below(span) as i64 - j])
    }

    /// A dream of `image` (`[1, 3, H, W]` in `[0, 1]`), to be taken step by step.
    pub fn begin(&self, image: Tensor<4>) -> DreamRun<'_> {
        self.begin_shifted(image, self.shifts())
    }

    /// [`begin`](Self::begin) with the steps' shifts given (after them, no shift).
    pub fn begin_shifted<'a>(&'a self, image: Tensor<4>, shifts: impl IntoIterator<Item = [i64; 2]> + 'a) -> DreamRun<'a> {
        let [_, _, h, w] = image.dims();
        let sizes = octave_sizes(h, w, self.settings.octaves, self.settings.octave_scale);
        let base = resize(image.clone(), sizes[0]);
        DreamRun { dream: self, image, sizes, octave: 0, step: 0, current: base.clone(), base, shifts: Box::new(shifts.into_iter()) }
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
        let shifts: Vec<_> = shifts.into_iter().take(self.settings.total_steps()).collect();
        let mut run = self.begin_shifted(image, shifts);
        while !run.finished() {
            run.step()?;
            let (octave, step) = run.position();
            after_step(octave, step, run.image());
        }
        Ok(run.image().clone())
    }

    pub fn settings(&self) -> &DreamSettings {
        &self.settings
    }
}

/// A dream in progress, taken one step at a time. The octaves go from the smallest: each
/// starts from the image shrunk to its size plus the detail the smaller octaves added
/// (resized to it), and hands its own detail on.
pub struct DreamRun<'a> {
    dream: &'a Dream,
    /// The image dreamt on, at its own size.
    image: Tensor<4>,
    sizes: Vec<[usize; 2]>,
    octave: usize,
    /// Steps done in this octave.
    step: usize,
    /// The image shrunk to this octave's size.
    base: Tensor<4>,
    current: Tensor<4>,
    shifts: Box<dyn Iterator<Item = [i64; 2]> + 'a>,
}

impl DreamRun<'_> {
    /// Takes the next step (moving to the next octave first when this one is done); returns
    /// the objective before it (see [`Dream::scored_step`]).
    pub fn step(&mut self) -> Result<Tensor<1>, DreamError> {
        if self.finished() {
            return Err(DreamError::Setting("the dream has taken all its steps".into()));
        }
        if self.step == self.dream.settings.steps {
            let detail = self.current.clone() - self.base.clone();
            self.octave += 1;
            let size = self.sizes[self.octave];
            self.base = resize(self.image.clone(), size);
            self.current = (self.base.clone() + resize(detail, size)).clamp(0.0, 1.0);
            self.step = 0;
        }
        let shift = self.shifts.next().unwrap_or([0, 0]);
        let (next, score) = self.dream.scored_step(self.current.clone(), shift)?;
        self.current = next;
        self.step += 1;
        Ok(score)
    }

    /// Whether every step of every octave is done.
    pub fn finished(&self) -> bool {
        self.octave + 1 == self.sizes.len() && self.step == self.dream.settings.steps
    }

    /// The octave and the step in it (from 0) of the last step taken.
    pub fn position(&self) -> (usize, usize) {
        (self.octave, self.step.saturating_sub(1))
    }

    /// Steps taken, every octave's.
    pub fn steps_done(&self) -> usize {
        self.octave * self.dream.settings.steps + self.step
    }

    /// Whether the last step ended an octave.
    pub fn octave_done(&self) -> bool {
        self.step == self.dream.settings.steps
    }

    /// The octaves' sizes `[height, width]`, smallest first.
    pub fn sizes(&self) -> &[[usize; 2]] {
        &self.sizes
    }

    /// The image after the last step (at its octave's size).
    pub fn image(&self) -> &Tensor<4> {
        &self.current
    }
}
