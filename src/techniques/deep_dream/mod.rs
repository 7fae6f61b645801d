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
//!
//! The settings are in `settings` (the UI links them without Burn); the dream, [`Dream`], and
//! [`DreamRun`], which takes it one step at a time, are in `run`.

mod settings;
pub use settings::{DreamSettings, MAX_OCTAVES, MAX_STEPS, octave_sizes};

compute! {
    mod run;
    pub use run::{Dream, DreamError, DreamRun, resize};

    #[cfg(test)]
    mod tests;
}
