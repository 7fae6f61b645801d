//! What the user, the CLI and the protocol name about a network: the generator architecture
//! and norm to build ([`ArchChoice`], [`NormChoice`], [`NormKind`]) and VGG19's layers and
//! pooling ([`VggLayer`], [`Pooling`]). No tensors here: the UI links this without Burn.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Convolutions per block (torchvision configuration "E").
pub const BLOCKS: [usize; 5] = [2, 2, 4, 4, 4];
/// Official widths per block.
pub const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// Max pooling (torchvision) or average pooling (Gatys et al. found it gives smoother
/// results; the seed uses it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pooling {
    #[default]
    Max,
    Average,
}

/// A named activation of VGG19.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum VggLayer {
    /// `conv{block}_{index}` (both from 1), before its ReLU.
    Conv { block: u8, index: u8 },
    /// `relu{block}_{index}`.
    Relu { block: u8, index: u8 },
    /// `pool{block}`.
    Pool { block: u8 },
}

impl VggLayer {
    /// Position in the forward order: (block, step within the block), where each conv
    /// is two steps (conv, relu) and the pool comes last.
    pub fn order(self) -> (u8, u8) {
        match self {
            VggLayer::Conv { block, index } => (block, 2 * index - 1),
            VggLayer::Relu { block, index } => (block, 2 * index),
            VggLayer::Pool { block } => (block, u8::MAX),
        }
    }

    /// Index of the last convolution needed to compute this layer, counting from 0 over
    /// the whole network (0..16).
    pub fn convs_needed(self) -> usize {
        let (block, index) = match self {
            VggLayer::Conv { block, index } | VggLayer::Relu { block, index } => (block, index as usize),
            VggLayer::Pool { block } => (block, BLOCKS[block as usize - 1]),
        };
        BLOCKS[..block as usize - 1].iter().sum::<usize>() + index
    }

    /// Every layer name, in forward order.
    pub fn all() -> Vec<VggLayer> {
        let mut out = Vec::new();
        for (b, &n) in BLOCKS.iter().enumerate() {
            let block = b as u8 + 1;
            for index in 1..=n as u8 {
                out.push(VggLayer::Conv { block, index });
                out.push(VggLayer::Relu { block, index });
            }
            out.push(VggLayer::Pool { block });
        }
        out
    }
}

impl std::fmt::Display for VggLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VggLayer::Conv { block, index } => write!(f, "conv{block}_{index}"),
            VggLayer::Relu { block, index } => write!(f, "relu{block}_{index}"),
            VggLayer::Pool { block } => write!(f, "pool{block}"),
        }
    }
}

impl FromStr for VggLayer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a VGG19 layer (expected e.g. conv4_2, relu1_1 or pool3)");
        let s_trim = s.trim();
        let (kind, rest) = if let Some(r) = s_trim.strip_prefix("conv") {
            ("conv", r)
        } else if let Some(r) = s_trim.strip_prefix("relu") {
            ("relu", r)
        } else if let Some(r) = s_trim.strip_prefix("pool") {
            ("pool", r)
        } else {
            return Err(bad());
        };
        let parse = |t: &str| t.parse::<u8>().map_err(|_| bad());
        let layer = if kind == "pool" {
            VggLayer::Pool { block: parse(rest)? }
        } else {
            let (b, i) = rest.split_once('_').ok_or_else(bad)?;
            let (block, index) = (parse(b)?, parse(i)?);
            if kind == "conv" { VggLayer::Conv { block, index } } else { VggLayer::Relu { block, index } }
        };
        let ok = match layer {
            VggLayer::Conv { block, index } | VggLayer::Relu { block, index } => {
                (1..=5).contains(&block) && index >= 1 && index as usize <= BLOCKS[block as usize - 1]
            }
            VggLayer::Pool { block } => (1..=5).contains(&block),
        };
        if ok { Ok(layer) } else { Err(bad()) }
    }
}

/// The architecture the user asks for; `Auto` reads it from the checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchChoice {
    #[default]
    Auto,
    /// `resnet_{n}blocks`.
    Resnet { n_blocks: usize },
    /// `unet_{2^num_downs}`.
    Unet { num_downs: usize },
}

impl std::str::FromStr for ArchChoice {
    type Err = String;

    /// `auto`, `resnet_9blocks`, `resnet_6blocks`, `unet_256`, `unet_128` (and other
    /// block counts or powers of two).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown architecture `{s}`: use auto, resnet_9blocks, resnet_6blocks, unet_256 or unet_128");
        if s == "auto" {
            return Ok(ArchChoice::Auto);
        }
        if let Some(n) = s.strip_prefix("resnet_").and_then(|r| r.strip_suffix("blocks")) {
            return n.parse().map(|n_blocks| ArchChoice::Resnet { n_blocks }).map_err(|_| bad());
        }
        if let Some(n) = s.strip_prefix("unet_") {
            let size: usize = n.parse().map_err(|_| bad())?;
            if size.is_power_of_two() && (32..=4096).contains(&size) {
                return Ok(ArchChoice::Unet { num_downs: size.trailing_zeros() as usize });
            }
        }
        Err(bad())
    }
}

/// The norm the user asks for; `Auto` reads it from the checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NormChoice {
    #[default]
    Auto,
    Fixed(NormKind),
}

impl std::str::FromStr for NormChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(NormChoice::Auto),
            "instance" => Ok(NormChoice::Fixed(NormKind::Instance { affine: false })),
            "instance-affine" => Ok(NormChoice::Fixed(NormKind::Instance { affine: true })),
            "batch" => Ok(NormChoice::Fixed(NormKind::Batch)),
            _ => Err(format!("unknown norm `{s}`: use auto, instance, instance-affine or batch")),
        }
    }
}

/// The normalisation layer of a generator or discriminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NormKind {
    /// `InstanceNorm2d`; `affine` when it has learned scale and shift (junyanz's default has
    /// none; some re-implementations, such as vintagify's, do).
    Instance { affine: bool },
    /// `BatchNorm2d` with running statistics (used in eval mode for inference).
    Batch,
}

impl NormKind {
    /// junyanz's rule: convolutions before a batch norm have no bias (the norm's shift
    /// makes it redundant); before an instance norm they do.
    pub fn conv_bias(self) -> bool {
        !matches!(self, NormKind::Batch)
    }

    /// The name used on the command line and in the UI.
    pub fn label(self) -> &'static str {
        match self {
            NormKind::Instance { affine: false } => "instance",
            NormKind::Instance { affine: true } => "instance-affine",
            NormKind::Batch => "batch",
        }
    }
}

impl std::fmt::Display for NormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
