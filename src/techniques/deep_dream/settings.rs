//! What a dream is asked to do, shared by the CLI, the worker and the UI (which links this
//! without Burn): [`DreamSettings`], their checks that need no network ([`DreamSettings::check`])
//! and the image pyramid ([`octave_sizes`]).

use crate::models::VggLayer;
use serde::{Deserialize, Serialize};

/// What a dream is asked to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// The most octaves a dream may have.
pub const MAX_OCTAVES: usize = 10;
/// The most steps an octave may have.
pub const MAX_STEPS: usize = 1000;

impl DreamSettings {
    /// Every check that needs no network (the channels are checked against the layer's
    /// width when the dream is made); the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.octaves == 0 || self.octaves > MAX_OCTAVES {
            return Err(format!("a dream needs 1 to {MAX_OCTAVES} octaves, not {}", self.octaves));
        }
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(format!("a dream needs 1 to {MAX_STEPS} steps per octave, not {}", self.steps));
        }
        if !(self.octave_scale.is_finite() && self.octave_scale > 1.0 && self.octave_scale <= 4.0) {
            return Err(format!("the octave scale must be more than 1 and at most 4, not {}", self.octave_scale));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err("the step size must be positive".into());
        }
        Ok(())
    }

    /// Steps of the whole dream, every octave's.
    pub fn total_steps(&self) -> usize {
        self.octaves * self.steps
    }
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
