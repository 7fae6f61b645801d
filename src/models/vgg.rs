//! VGG19's convolutional stack as torchvision builds it (`vgg19().features`), the network
//! neural style transfer reads its content and style from.
//!
//! torchvision's configuration "E": five blocks of 2, 2, 4, 4, 4 convolutions (3x3, padding 1,
//! each followed by ReLU) of widths 64, 128, 256, 512, 512, each block ending in a 2x2
//! max pool. `features` is one `Sequential`, so the weights are `features.N.weight/bias`
//! with N = 0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34.
//!
//! Layers are named as in the style-transfer literature: `conv{b}_{i}`, `relu{b}_{i}`
//! and `pool{b}` (block `b`, layer `i`, both from 1). The network takes images in
//! `[0, 1]` and applies torchvision's ImageNet normalisation itself. Only the layers up to
//! the deepest one asked for are built and run ([`Vgg19::build`] with `up_to`).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

use super::{Builder, Conv2d, ConvSpec, ModelError};
use crate::imaging::imagenet_normalize;

pub use super::settings::{BLOCKS, Pooling, VggLayer, WIDTHS};

/// The first `convs.len()` convolutions of VGG19's feature stack.
#[derive(Module, Debug)]
pub struct Vgg19 {
    pub convs: Vec<Conv2d>,
    #[module(skip)]
    pub pooling: Pooling,
}

impl Vgg19 {
    /// Output channels of the first convolution (64 in torchvision's VGG19): the widest
    /// activation at full resolution, which bounds the image size on a GPU.
    pub fn first_width(&self) -> usize {
        self.convs.first().map_or(64, |c| c.weight.dims()[0])
    }

    /// The checkpoint names of the first `convs` convolutions (`features.N.weight` and
    /// `.bias`): what a network up to a layer loads, and what the app fetches of a file.
    pub fn checkpoint_keys(convs: usize) -> Vec<String> {
        (0..convs.min(BLOCKS.iter().sum()))
            .flat_map(|k| {
                let i = Self::feature_index(k);
                [format!("features.{i}.weight"), format!("features.{i}.bias")]
            })
            .collect()
    }

    /// torchvision's `features` index of convolution `k` (0-based over the network).
    pub fn feature_index(k: usize) -> usize {
        let mut idx = 0;
        let mut seen = 0;
        for &n in &BLOCKS {
            for _ in 0..n {
                if seen == k {
                    return idx;
                }
                idx += 2;
                seen += 1;
            }
            idx += 1; // the pool
        }
        idx
    }

    /// Builds the convolutions needed for `up_to` (all 16 for `pool5`); `widths` are the
    /// five block widths (official: [`WIDTHS`]).
    pub fn build(widths: [usize; 5], up_to: VggLayer, pooling: Pooling, b: &mut Builder<'_>) -> Result<Self, ModelError> {
        if widths.contains(&0) {
            return Err(ModelError::Config("VGG widths must be positive".into()));
        }
        let needed = up_to.convs_needed();
        let mut convs = Vec::with_capacity(needed);
        let mut in_ch = 3;
        let mut k = 0;
        'outer: for (block, &n) in BLOCKS.iter().enumerate() {
            for _ in 0..n {
                if k == needed {
                    break 'outer;
                }
                let out = widths[block];
                let name = format!("features.{}", Self::feature_index(k));
                convs.push(b.conv(&name, ConvSpec::new(in_ch, out, 3, 1, 1, true)));
                in_ch = out;
                k += 1;
            }
        }
        Ok(Vgg19 { convs, pooling })
    }

    /// The deepest layer this network can compute.
    pub fn deepest(&self) -> VggLayer {
        let mut k = self.convs.len();
        for (b, &n) in BLOCKS.iter().enumerate() {
            if k <= n {
                let block = b as u8 + 1;
                return if k == n { VggLayer::Pool { block } } else { VggLayer::Relu { block, index: k as u8 } };
            }
            k -= n;
        }
        VggLayer::Pool { block: 5 }
    }

    /// Runs `image` (`[B, 3, H, W]` in `[0, 1]`) up to the deepest of `layers` and returns
    /// those activations by layer.
    ///
    /// # Panics
    /// If a layer is deeper than the network was built for ([`Self::deepest`]).
    pub fn forward(&self, image: Tensor<4>, layers: &[VggLayer]) -> BTreeMap<VggLayer, Tensor<4>> {
        let mut out = BTreeMap::new();
        let Some(deepest) = layers.iter().copied().max_by_key(|l| l.order()) else {
            return out;
        };
        assert!(
            deepest.convs_needed() <= self.convs.len(),
            "VGG19 built up to {} cannot compute {deepest}",
            self.deepest()
        );
        let mut x = imagenet_normalize(image);
        let mut k = 0;
        for (b, &n) in BLOCKS.iter().enumerate() {
            let block = b as u8 + 1;
            for i in 1..=n as u8 {
                if k == self.convs.len() {
                    return out;
                }
                x = self.convs[k].forward(x);
                k += 1;
                let conv = VggLayer::Conv { block, index: i };
                if layers.contains(&conv) {
                    out.insert(conv, x.clone());
                }
                x = relu(x);
                let r = VggLayer::Relu { block, index: i };
                if layers.contains(&r) {
                    out.insert(r, x.clone());
                }
                if r == deepest || conv == deepest {
                    return out;
                }
            }
            x = match self.pooling {
                Pooling::Max => max_pool2d(x, MaxPoolOptions::new([2, 2])),
                Pooling::Average => avg_pool2d(x, AvgPoolOptions::new([2, 2])),
            };
            let p = VggLayer::Pool { block };
            if layers.contains(&p) {
                out.insert(p, x.clone());
            }
            if p == deepest {
                return out;
            }
        }
        out
    }
}
