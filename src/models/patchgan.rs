//! The PatchGAN discriminator, in the layout of junyanz's `NLayerDiscriminator`.
//!
//! With `n_layers = 3` (the 70x70 PatchGAN of both papers) `model` holds, by index:
//! `0` Conv 4x4/2 `input_nc -> ndf` (bias) + LeakyReLU(0.2); `2`, `5` Conv 4x4/2 to
//! `2ndf`, `4ndf` + norm (`3`, `6`) + LeakyReLU; `8` Conv 4x4/1 to `8ndf` + norm (`9`) +
//! LeakyReLU; `11` Conv 4x4/1 to one channel (bias). Widths are capped at `8ndf`.
//! Each output value judges one 70x70 patch of the input (for `n_layers = 3`).

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;
use serde::{Deserialize, Serialize};

use super::{Builder, Conv2d, ConvSpec, ModelError, Norm, NormKind};

/// The configuration of a [`PatchGan`]. Pix2Pix's is conditional: `input_nc = 6`
/// (input and output joined along channels).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchGanConfig {
    pub input_nc: usize,
    pub ndf: usize,
    pub n_layers: usize,
    pub norm: NormKind,
}

impl PatchGanConfig {
    /// The 70x70 PatchGAN (`n_layers = 3`, `ndf = 64`).
    pub fn basic(input_nc: usize, norm: NormKind) -> Self {
        PatchGanConfig { input_nc, ndf: 64, n_layers: 3, norm }
    }

    /// Receptive field of one output value, in input pixels (70 for `n_layers = 3`).
    pub fn receptive_field(&self) -> usize {
        // Two stride-1 4x4 convs at the end, n_layers stride-2 4x4 convs before them.
        let mut rf = 1;
        for _ in 0..2 {
            rf += 3;
        }
        for _ in 0..self.n_layers {
            rf = rf * 2 + 2;
        }
        rf
    }
}

/// A convolution of the discriminator, with its norm (none on the first and last).
#[derive(Module, Debug)]
pub struct PatchGanLayer {
    pub conv: Conv2d,
    pub norm: Option<Norm>,
}

/// The PatchGAN discriminator: `[B, input_nc, H, W]` -> `[B, 1, H', W']` raw scores
/// (LSGAN compares them with 1 and 0; no sigmoid).
#[derive(Module, Debug)]
pub struct PatchGan {
    pub layers: Vec<PatchGanLayer>,
}

impl PatchGan {
    /// Builds the discriminator, taking each parameter from `b` by its official name.
    pub fn build(config: &PatchGanConfig, b: &mut Builder<'_>) -> Result<Self, ModelError> {
        if config.n_layers == 0 || config.n_layers > 8 || config.ndf == 0 || config.input_nc == 0 {
            return Err(ModelError::Config(format!(
                "a PatchGAN needs 1 to 8 layers and positive widths (got n_layers {}, ndf {})",
                config.n_layers, config.ndf
            )));
        }
        let (ndf, norm, bias) = (config.ndf, config.norm, config.norm.conv_bias());
        b.scope("model", |b| {
            let mut layers = vec![PatchGanLayer {
                conv: b.conv("0", ConvSpec::new(config.input_nc, ndf, 4, 2, 1, true)),
                norm: None,
            }];
            let mut mult = 1;
            let mut at = 2;
            for n in 1..=config.n_layers {
                let prev = mult;
                mult = (1 << n).min(8);
                let stride = if n < config.n_layers { 2 } else { 1 };
                let conv = b.conv(&at.to_string(), ConvSpec::new(ndf * prev, ndf * mult, 4, stride, 1, bias));
                let norm = b.norm(&(at + 1).to_string(), norm, ndf * mult);
                layers.push(PatchGanLayer { conv, norm: Some(norm) });
                at += 3;
            }
            layers.push(PatchGanLayer { conv: b.conv(&at.to_string(), ConvSpec::new(ndf * mult, 1, 4, 1, 1, true)), norm: None });
            Ok(PatchGan { layers })
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.conv.forward(h);
            if let Some(norm) = &layer.norm {
                h = norm.forward(h);
            }
            if i < last {
                h = leaky_relu(h, 0.2);
            }
        }
        h
    }
}
