//! The fast style network of Johnson et al. ("Perceptual Losses for Real-Time Style Transfer
//! and Super-Resolution", 2016), in the layout of pytorch/examples' `fast_neural_style`
//! (`TransformerNet`), so that its published models (candy, mosaic, rain_princess, udnie) and
//! anything trained with that script load as they are.
//!
//! | keys | layer |
//! |---|---|
//! | `conv1.conv2d` 9x9, `in1` | reflection pad 4, conv `3 -> w1`, instance norm (affine), ReLU |
//! | `conv2.conv2d`, `in2`; `conv3.conv2d`, `in3` | two downsamplings: pad 1, conv 3x3 stride 2 (`w1 -> w2 -> w3`), norm, ReLU |
//! | `res1` .. `res5`: `conv1.conv2d`, `in1`, `conv2.conv2d`, `in2` | residual blocks at `w3`: pad 1, conv 3x3, norm, ReLU, pad 1, conv 3x3, norm, plus the input |
//! | `deconv1.conv2d`, `in4`; `deconv2.conv2d`, `in5` | two upsamplings: nearest x2, pad 1, conv 3x3 (`w3 -> w2 -> w1`), norm, ReLU |
//! | `deconv3.conv2d` 9x9 | pad 4, conv `w1 -> 3`, nothing after it |
//!
//! Every convolution has a bias; the published widths are 32, 64, 128. Input and output are
//! pixel values in `[0, 255]` (the output is clamped when it is saved). The output is
//! `4 ceil(ceil(H/2)/2)` high, so inputs should be padded to a multiple of 4
//! ([`TransformerNet::REQUIRED_MULTIPLE`]). Models saved by old PyTorch versions hold running
//! statistics next to the instance norms, which eval mode never used: they are ignored.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::{Builder, Conv2d, ConvSpec, ModelError, Norm, NormKind, reflect_pad};

/// The configuration of a [`TransformerNet`]: pytorch/examples' is
/// [`FastStyleConfig::official`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastStyleConfig {
    pub input_nc: usize,
    pub output_nc: usize,
    /// Channels after the first convolution and after each downsampling (32, 64, 128).
    pub widths: [usize; 3],
    /// Residual blocks (5).
    pub n_res: usize,
}

impl FastStyleConfig {
    /// pytorch/examples' `TransformerNet`: 3 -> 3 channels, widths 32, 64, 128, 5 residual blocks.
    pub fn official() -> Self {
        FastStyleConfig { input_nc: 3, output_nc: 3, widths: [32, 64, 128], n_res: 5 }
    }

    fn validate(&self) -> Result<(), ModelError> {
        if self.input_nc == 0 || self.output_nc == 0 || self.widths.contains(&0) {
            return Err(ModelError::Config("channel counts must be positive".into()));
        }
        Ok(())
    }
}

/// A reflection-padded convolution (`ConvLayer`: `name.conv2d`), padding `kernel / 2`.
#[derive(Module, Debug)]
pub struct PaddedConv {
    pub conv: Conv2d,
    pub pad: usize,
}

impl PaddedConv {
    fn build(b: &mut Builder<'_>, name: &str, (in_ch, out_ch): (usize, usize), kernel: usize, stride: usize) -> Self {
        let conv = b.scope(name, |b| b.conv("conv2d", ConvSpec::new(in_ch, out_ch, kernel, stride, 0, true)));
        PaddedConv { conv, pad: kernel / 2 }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(reflect_pad(x, self.pad))
    }
}

/// One residual block (`ResidualBlock`): `x + in2(conv2(relu(in1(conv1(x)))))`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    pub conv1: PaddedConv,
    pub in1: Norm,
    pub conv2: PaddedConv,
    pub in2: Norm,
}

impl ResidualBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.in1.forward(self.conv1.forward(x.clone())));
        x + self.in2.forward(self.conv2.forward(y))
    }
}

/// Nearest-neighbour upsampling by 2 (PyTorch's `interpolate(mode='nearest', scale_factor=2)`:
/// output pixel `i` is input pixel `i / 2`), as a broadcast and a reshape, which every backend
/// and autodiff run exactly.
pub fn upsample_nearest2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1]).expand([b, c, h, 2, w, 2]).reshape([b, c, 2 * h, 2 * w])
}

/// The fast style network.
#[derive(Module, Debug)]
pub struct TransformerNet {
    /// `conv1`, `conv2`, `conv3` with `in1`, `in2`, `in3`, each followed by a ReLU.
    pub down: Vec<(PaddedConv, Norm)>,
    pub blocks: Vec<ResidualBlock>,
    /// `deconv1`, `deconv2` with `in4`, `in5`: upsampled by 2 first, a ReLU after.
    pub up: Vec<(PaddedConv, Norm)>,
    /// `deconv3`.
    pub head: PaddedConv,
}

impl TransformerNet {
    /// Inputs should have sides that are multiples of this.
    pub const REQUIRED_MULTIPLE: usize = 4;

    /// Builds the network, taking each parameter from `b` by its pytorch/examples name.
    pub fn build(config: &FastStyleConfig, b: &mut Builder<'_>) -> Result<Self, ModelError> {
        config.validate()?;
        let [w1, w2, w3] = config.widths;
        let norm = NormKind::Instance { affine: true };
        let down = vec![
            (PaddedConv::build(b, "conv1", (config.input_nc, w1), 9, 1), b.norm("in1", norm, w1)),
            (PaddedConv::build(b, "conv2", (w1, w2), 3, 2), b.norm("in2", norm, w2)),
            (PaddedConv::build(b, "conv3", (w2, w3), 3, 2), b.norm("in3", norm, w3)),
        ];
        let blocks = (1..=config.n_res)
            .map(|i| {
                b.scope(&format!("res{i}"), |b| ResidualBlock {
                    conv1: PaddedConv::build(b, "conv1", (w3, w3), 3, 1),
                    in1: b.norm("in1", norm, w3),
                    conv2: PaddedConv::build(b, "conv2", (w3, w3), 3, 1),
                    in2: b.norm("in2", norm, w3),
                })
            })
            .collect();
        let up = vec![
            (PaddedConv::build(b, "deconv1", (w3, w2), 3, 1), b.norm("in4", norm, w2)),
            (PaddedConv::build(b, "deconv2", (w2, w1), 3, 1), b.norm("in5", norm, w1)),
        ];
        let head = PaddedConv::build(b, "deconv3", (w1, config.output_nc), 9, 1);
        Ok(TransformerNet { down, blocks, up, head })
    }

    /// `[B, input_nc, H, W]` in `[0, 255]` -> `[B, output_nc, 4ceil(H/4).., ..]`, about `[0, 255]`
    /// (not clamped).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x;
        for (conv, norm) in &self.down {
            x = relu(norm.forward(conv.forward(x)));
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        for (conv, norm) in &self.up {
            x = relu(norm.forward(conv.forward(upsample_nearest2(x))));
        }
        self.head.forward(x)
    }

    /// Input channels.
    pub fn input_channels(&self) -> usize {
        self.down[0].0.conv.weight.dims()[1]
    }

    /// Output channels.
    pub fn output_channels(&self) -> usize {
        self.head.conv.weight.dims()[0]
    }
}
