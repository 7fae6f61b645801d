//! Pix2Pix's U-Net generator, in the layout of junyanz's `UnetGenerator`.
//!
//! The official code nests `UnetSkipConnectionBlock`s: each block's `model` is a
//! `Sequential` holding its down path, the next block, and its up path, so parameter names
//! nest too. With `num_downs` levels (7 for `unet_128`, 8 for `unet_256`), level 0 is the
//! outermost:
//!
//! | level | prefix | keys | channels (in -> inner -> out) |
//! |---|---|---|---|
//! | 0 | `model.model` | `0` down conv, `1` = level 1, `3` up conv (bias), Tanh | `input_nc -> ngf -> output_nc` |
//! | 1..=3 | `<parent>.{1 or 3}.model` | `1` down conv, `2` down norm, `3` = next, `5` up conv, `6` up norm | `ngf 2^(l-1) -> ngf 2^l` |
//! | 4..num_downs-2 | | as above, then dropout 0.5 (`7`) | `8ngf -> 8ngf` |
//! | num_downs-1 | | `1` down conv, `3` up conv, `4` up norm (no down norm) | `8ngf -> 8ngf` |
//!
//! Down paths are LeakyReLU(0.2) (not on level 0), Conv 4x4 stride 2, norm; up paths are
//! ReLU, ConvTranspose 4x4 stride 2, norm; every level but the outermost returns
//! `cat([input, up], channels)`. Inputs must have sides that are multiples of
//! `2^num_downs` (see [`UnetGenerator::required_multiple`]).

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::{leaky_relu, relu};
use serde::{Deserialize, Serialize};

use super::{Builder, Conv2d, ConvSpec, ConvTranspose2d, ModelError, Norm, NormKind, StochasticDropout};

/// The configuration of a [`UnetGenerator`]; official Pix2Pix models are `unet_256`,
/// `ngf = 64`, batch norm (the code's default for pix2pix), dropout on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnetConfig {
    pub input_nc: usize,
    pub output_nc: usize,
    pub num_downs: usize,
    pub ngf: usize,
    pub norm: NormKind,
    /// Dropout(0.5) in the inner `8ngf` levels (Pix2Pix's noise).
    pub use_dropout: bool,
}

impl UnetConfig {
    /// `unet_256` (8 levels) or `unet_128` (7 levels), 3 -> 3 channels, ngf 64.
    pub fn official(num_downs: usize, norm: NormKind) -> Self {
        UnetConfig { input_nc: 3, output_nc: 3, num_downs, ngf: 64, norm, use_dropout: true }
    }

    /// `unet_256`-style name (the input size the depth is made for).
    pub fn arch_name(&self) -> String {
        format!("unet_{}", 1usize << self.num_downs.min(20))
    }

    fn validate(&self) -> Result<(), ModelError> {
        if !(5..=12).contains(&self.num_downs) {
            return Err(ModelError::Config(format!(
                "a U-Net needs between 5 and 12 levels, not {}",
                self.num_downs
            )));
        }
        if self.input_nc == 0 || self.output_nc == 0 || self.ngf == 0 {
            return Err(ModelError::Config("channel counts must be positive".into()));
        }
        Ok(())
    }
}

/// One level of the U-Net (one official `UnetSkipConnectionBlock` without its submodule).
#[derive(Module, Debug)]
pub struct UnetLevel {
    pub down: Conv2d,
    pub down_norm: Option<Norm>,
    pub up: ConvTranspose2d,
    pub up_norm: Option<Norm>,
    pub dropout: Option<StochasticDropout>,
}

/// The U-Net generator, levels from the outermost to the innermost.
#[derive(Module, Debug)]
pub struct UnetGenerator {
    pub levels: Vec<UnetLevel>,
}

impl UnetGenerator {
    /// Builds the generator, taking each parameter from `b` by its official name.
    pub fn build(config: &UnetConfig, b: &mut Builder<'_>) -> Result<Self, ModelError> {
        config.validate()?;
        let n = config.num_downs;
        let (ngf, norm, bias) = (config.ngf, config.norm, config.norm.conv_bias());
        // (outer_nc, inner_nc) of level l.
        let channels = |l: usize| -> (usize, usize) {
            match l {
                0 => (config.output_nc, ngf),
                1..=3 => (ngf << (l - 1), ngf << l),
                _ => (ngf * 8, ngf * 8),
            }
        };
        let mut levels = Vec::with_capacity(n);
        let mut prefix = String::from("model.model");
        for l in 0..n {
            let (outer, inner) = channels(l);
            let level = b.scope(&prefix, |b| {
                if l == 0 {
                    UnetLevel {
                        down: b.conv("0", ConvSpec::new(config.input_nc, inner, 4, 2, 1, bias)),
                        down_norm: None,
                        up: b.conv_transpose("3", ConvSpec::new(inner * 2, outer, 4, 2, 1, true), 0),
                        up_norm: None,
                        dropout: None,
                    }
                } else if l == n - 1 {
                    UnetLevel {
                        down: b.conv("1", ConvSpec::new(outer, inner, 4, 2, 1, bias)),
                        down_norm: None,
                        up: b.conv_transpose("3", ConvSpec::new(inner, outer, 4, 2, 1, bias), 0),
                        up_norm: Some(b.norm("4", norm, outer)),
                        dropout: None,
                    }
                } else {
                    UnetLevel {
                        down: b.conv("1", ConvSpec::new(outer, inner, 4, 2, 1, bias)),
                        down_norm: Some(b.norm("2", norm, inner)),
                        up: b.conv_transpose("5", ConvSpec::new(inner * 2, outer, 4, 2, 1, bias), 0),
                        up_norm: Some(b.norm("6", norm, outer)),
                        dropout: (config.use_dropout && l >= 4)
                            .then_some(StochasticDropout { prob: 0.5, at_inference: false }),
                    }
                }
            });
            levels.push(level);
            prefix.push_str(if l == 0 { ".1.model" } else { ".3.model" });
        }
        Ok(UnetGenerator { levels })
    }

    /// Inputs must have sides that are multiples of this (`2^num_downs`).
    pub fn required_multiple(&self) -> usize {
        1 << self.levels.len()
    }

    /// `[B, input_nc, H, W]` in `[-1, 1]` -> `[B, output_nc, H, W]` in `[-1, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut skips = Vec::with_capacity(self.levels.len());
        let mut h = x;
        for (l, level) in self.levels.iter().enumerate() {
            skips.push(h.clone());
            if l > 0 {
                h = leaky_relu(h, 0.2);
            }
            h = level.down.forward(h);
            if let Some(norm) = &level.down_norm {
                h = norm.forward(h);
            }
        }
        for (l, level) in self.levels.iter().enumerate().rev() {
            h = level.up.forward(relu(h));
            if let Some(norm) = &level.up_norm {
                h = norm.forward(h);
            }
            if let Some(d) = &level.dropout {
                h = d.forward(h);
            }
            h = if l == 0 { h.tanh() } else { Tensor::cat(vec![skips[l].clone(), h], 1) };
        }
        h
    }

    /// Sets whether the dropout layers stay on at inference (as in the Pix2Pix paper).
    pub fn set_dropout_at_inference(&mut self, on: bool) {
        for level in &mut self.levels {
            if let Some(d) = &mut level.dropout {
                d.at_inference = on;
            }
        }
    }
}
