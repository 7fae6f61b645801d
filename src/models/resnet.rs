//! CycleGAN's ResNet generator, in the layout of junyanz's `ResnetGenerator`.
//!
//! `model` is one `nn.Sequential`; with `n` residual blocks its indices are:
//!
//! | index | layer |
//! |---|---|
//! | 0, 1, 2, 3 | ReflectionPad2d(3), Conv 7x7 `input_nc -> ngf`, norm, ReLU |
//! | 4..=6, 7..=9 | two downsamplings: Conv 3x3 stride 2 (`ngf -> 2ngf -> 4ngf`), norm, ReLU |
//! | 10 .. 10+n | residual blocks at `4ngf`: `conv_block` = pad 1, conv 3x3, norm, ReLU, [dropout], pad 1, conv 3x3, norm |
//! | 10+n .. 10+n+6 | two upsamplings: ConvTranspose 3x3 stride 2 (output_padding 1), norm, ReLU |
//! | 10+n+6, +7, +8 | ReflectionPad2d(3), Conv 7x7 `ngf -> output_nc` (always with bias), Tanh |
//!
//! Convolutions before a batch norm have no bias. Input and output are in `[-1, 1]`; the
//! output is `2 ceil(H/2)`-by-..., so inputs should be padded to a multiple of 4
//! ([`ResnetGenerator::REQUIRED_MULTIPLE`]).

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::{Builder, Conv2d, ConvSpec, ConvTranspose2d, ModelError, Norm, NormKind, StochasticDropout, reflect_pad};

/// The configuration of a [`ResnetGenerator`]; official CycleGAN models are
/// `resnet_9blocks` with `ngf = 64`, instance norm without affine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResnetConfig {
    pub input_nc: usize,
    pub output_nc: usize,
    pub ngf: usize,
    pub n_blocks: usize,
    pub norm: NormKind,
    /// Dropout(0.5) inside each residual block (junyanz's `use_dropout`; off for CycleGAN).
    pub use_dropout: bool,
    /// The residual blocks' attribute name: `conv_block` (official) or `block`.
    pub block_name: String,
}

impl ResnetConfig {
    /// The official `resnet_{n}blocks` generator: 3 -> 3 channels, ngf 64, instance norm.
    pub fn official(n_blocks: usize) -> Self {
        ResnetConfig {
            input_nc: 3,
            output_nc: 3,
            ngf: 64,
            n_blocks,
            norm: NormKind::Instance { affine: false },
            use_dropout: false,
            block_name: "conv_block".into(),
        }
    }

    /// `resnet_9blocks`-style name.
    pub fn arch_name(&self) -> String {
        format!("resnet_{}blocks", self.n_blocks)
    }

    fn validate(&self) -> Result<(), ModelError> {
        if self.input_nc == 0 || self.output_nc == 0 || self.ngf == 0 {
            return Err(ModelError::Config("channel counts must be positive".into()));
        }
        if self.block_name != "conv_block" && self.block_name != "block" {
            return Err(ModelError::Config(format!("unknown residual block name `{}`", self.block_name)));
        }
        Ok(())
    }
}

/// One residual block: `x + conv_block(x)`.
#[derive(Module, Debug)]
pub struct ResnetBlock {
    pub conv1: Conv2d,
    pub norm1: Norm,
    pub dropout: Option<StochasticDropout>,
    pub conv2: Conv2d,
    pub norm2: Norm,
}

impl ResnetBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = relu(self.norm1.forward(self.conv1.forward(reflect_pad(x.clone(), 1))));
        if let Some(d) = &self.dropout {
            y = d.forward(y);
        }
        let y = self.norm2.forward(self.conv2.forward(reflect_pad(y, 1)));
        x + y
    }
}

/// The ResNet generator.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    pub stem: Conv2d,
    pub stem_norm: Norm,
    pub down: Vec<(Conv2d, Norm)>,
    pub blocks: Vec<ResnetBlock>,
    pub up: Vec<(ConvTranspose2d, Norm)>,
    pub head: Conv2d,
}

impl ResnetGenerator {
    /// Inputs should have sides that are multiples of this.
    pub const REQUIRED_MULTIPLE: usize = 4;

    /// Builds the generator, taking each parameter from `b` by its official name.
    pub fn build(config: &ResnetConfig, b: &mut Builder<'_>) -> Result<Self, ModelError> {
        config.validate()?;
        let (ngf, norm, bias) = (config.ngf, config.norm, config.norm.conv_bias());
        b.scope("model", |b| {
            let stem = b.conv("1", ConvSpec::new(config.input_nc, ngf, 7, 1, 0, bias));
            let stem_norm = b.norm("2", norm, ngf);
            let mut down = Vec::new();
            for i in 0..2 {
                let (cin, cout) = (ngf << i, ngf << (i + 1));
                let at = 4 + 3 * i;
                let conv = b.conv(&at.to_string(), ConvSpec::new(cin, cout, 3, 2, 1, bias));
                down.push((conv, b.norm(&(at + 1).to_string(), norm, cout)));
            }
            let dim = ngf * 4;
            let (c1, n1, c2, n2) = if config.use_dropout { (1, 2, 6, 7) } else { (1, 2, 5, 6) };
            let mut blocks = Vec::new();
            for i in 0..config.n_blocks {
                let block = b.scope(&(10 + i).to_string(), |b| {
                    b.scope(&config.block_name, |b| ResnetBlock {
                        conv1: b.conv(&c1.to_string(), ConvSpec::new(dim, dim, 3, 1, 0, bias)),
                        norm1: b.norm(&n1.to_string(), norm, dim),
                        dropout: config.use_dropout.then_some(StochasticDropout { prob: 0.5, at_inference: false }),
                        conv2: b.conv(&c2.to_string(), ConvSpec::new(dim, dim, 3, 1, 0, bias)),
                        norm2: b.norm(&n2.to_string(), norm, dim),
                    })
                });
                blocks.push(block);
            }
            let mut up = Vec::new();
            for i in 0..2 {
                let (cin, cout) = (ngf << (2 - i), ngf << (1 - i));
                let at = 10 + config.n_blocks + 3 * i;
                let conv = b.conv_transpose(&at.to_string(), ConvSpec::new(cin, cout, 3, 2, 1, bias), 1);
                up.push((conv, b.norm(&(at + 1).to_string(), norm, cout)));
            }
            let head_at = 10 + config.n_blocks + 7;
            let head = b.conv(&head_at.to_string(), ConvSpec::new(ngf, config.output_nc, 7, 1, 0, true));
            Ok(ResnetGenerator { stem, stem_norm, down, blocks, up, head })
        })
    }

    /// `[B, input_nc, H, W]` in `[-1, 1]` -> `[B, output_nc, 2ceil(H/2).., ..]` in `[-1, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = relu(self.stem_norm.forward(self.stem.forward(reflect_pad(x, 3))));
        for (conv, norm) in &self.down {
            x = relu(norm.forward(conv.forward(x)));
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        for (conv, norm) in &self.up {
            x = relu(norm.forward(conv.forward(x)));
        }
        self.head.forward(reflect_pad(x, 3)).tanh()
    }

    /// Sets whether dropout (if the model has any) stays on at inference.
    pub fn set_dropout_at_inference(&mut self, on: bool) {
        for block in &mut self.blocks {
            if let Some(d) = &mut block.dropout {
                d.at_inference = on;
            }
        }
    }
}
