//! The convolution layers of every network here, on our kernels ([`crate::kernels::conv2d`],
//! [`crate::kernels::conv_transpose2d`]: WGSL on WebGPU/wgpu, Burn's convolution on the CPU).
//!
//! Parameters as PyTorch's `nn.Conv2d` / `nn.ConvTranspose2d` hold them (`weight`, then
//! `bias`, in that visit order), so the official state-dict layout and export are those of
//! the Burn modules they replace. Square kernels, dilation 1, one group, zero padding:
//! reflection padding is a separate step ([`super::reflect_pad`]), as in junyanz's networks.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::kernels::{ConvGeometry, conv_transpose2d, conv2d};

/// `nn.Conv2d(in, out, kernel, stride, padding)`: weight `[out, in, k, k]`, bias `[out]`.
#[derive(Module, Debug)]
pub struct Conv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Conv2d {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let geometry = ConvGeometry { stride: self.stride, padding: self.padding };
        conv2d(x, self.weight.val(), self.bias.as_ref().map(Param::val), geometry)
    }
}

/// `nn.ConvTranspose2d(in, out, kernel, stride, padding, output_padding)`: weight
/// `[in, out, k, k]`, bias `[out]`.
#[derive(Module, Debug)]
pub struct ConvTranspose2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub output_padding: [usize; 2],
}

impl ConvTranspose2d {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let geometry = ConvGeometry { stride: self.stride, padding: self.padding };
        conv_transpose2d(x, self.weight.val(), self.bias.as_ref().map(Param::val), geometry, self.output_padding)
    }
}
