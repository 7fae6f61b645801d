//! Networks in the official PyTorch layouts, so that official checkpoints load as they are.
//!
//! * [`vgg::Vgg19`]: torchvision's `vgg19().features` (`features.N.weight/bias`), with the
//!   ImageNet input normalisation, max or average pooling, and activations by name
//!   (`conv1_1`, `relu4_2`, `pool3`, ...);
//! * [`resnet::ResnetGenerator`]: CycleGAN's generator (junyanz `ResnetGenerator`, `model.N`);
//! * [`unet::UnetGenerator`]: Pix2Pix's generator (junyanz `UnetGenerator`, nested
//!   `model.model.1.model...`);
//! * [`patchgan::PatchGan`]: the 70x70 PatchGAN (junyanz `NLayerDiscriminator`).
//!
//! Every network is built by a [`Builder`], which either takes each parameter from a
//! checkpoint by its official name (checking its shape) or initialises it (N(0, 0.02), as
//! junyanz's `init_weights('normal')` does). A checkpoint that does not fit is reported in
//! one message listing every missing, unexpected and mis-shaped key.
//! [`detect::detect`] reads the architecture (kind, depth, width, norm) off the keys, so an
//! official checkpoint loads without the user naming its architecture.
//!
//! This file holds the generator behind its two architectures and the loaders; the rest
//! lives in private modules, re-exported here: the [`Builder`], the layers shared by the
//! networks ([`Norm`]: instance norm on our WGSL kernel, or batch norm; [`StochasticDropout`]:
//! dropout that can stay on at test time, as Pix2Pix does), reflection padding
//! ([`reflect_pad`], [`pad_to_multiple`]) and [`export`] in the official layout.

pub mod conv;
pub mod detect;
pub mod patchgan;
pub mod resnet;
pub mod unet;
pub mod vgg;

mod builder;
mod layers;
mod padding;
mod state_dict;

#[cfg(test)]
mod tests;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub(crate) use builder::ConvSpec;
pub use builder::Builder;
pub use conv::{Conv2d, ConvTranspose2d};
pub use layers::{InstanceNorm, NORM_EPS, Norm, NormKind, StochasticDropout};
pub use padding::{crop, pad_to_multiple, reflect_pad, reflect_pad_sides};
pub use state_dict::{export, export_safetensors};

use crate::weights::{Checkpoint, WeightsError};
use detect::Architecture;
use resnet::{ResnetConfig, ResnetGenerator};
use unet::{UnetConfig, UnetGenerator};

/// What can go wrong building a network; the text is for the user.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{0}")]
    Detect(String),
    #[error("invalid network configuration: {0}")]
    Config(String),
}

// ---------------------------------------------------------------------------------------
// Generators from checkpoints.
// ---------------------------------------------------------------------------------------

/// An image-to-image generator: CycleGAN's ResNet or Pix2Pix's U-Net.
#[derive(Module, Debug)]
pub enum Generator {
    Resnet(ResnetGenerator),
    Unet(UnetGenerator),
}

impl Generator {
    /// `[B, C, H, W]` in `[-1, 1]` -> `[B, C', H, W]` in `[-1, 1]`; sides must be multiples
    /// of [`Self::required_multiple`].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::Resnet(g) => g.forward(x),
            Generator::Unet(g) => g.forward(x),
        }
    }

    /// Input sides must be multiples of this (4 for ResNet, `2^depth` for U-Net).
    pub fn required_multiple(&self) -> usize {
        match self {
            Generator::Resnet(_) => ResnetGenerator::REQUIRED_MULTIPLE,
            Generator::Unet(g) => g.required_multiple(),
        }
    }

    /// Keeps dropout on at inference (Pix2Pix's test-time noise) or not.
    pub fn set_dropout_at_inference(&mut self, on: bool) {
        match self {
            Generator::Resnet(g) => g.set_dropout_at_inference(on),
            Generator::Unet(g) => g.set_dropout_at_inference(on),
        }
    }

    /// Input channels.
    pub fn input_channels(&self) -> usize {
        match self {
            Generator::Resnet(g) => g.stem.weight.dims()[1],
            Generator::Unet(g) => g.levels.first().map_or(0, |l| l.down.weight.dims()[1]),
        }
    }

    /// Output channels.
    pub fn output_channels(&self) -> usize {
        match self {
            Generator::Resnet(g) => g.head.weight.dims()[0],
            Generator::Unet(g) => g.levels.first().map_or(0, |l| l.up.weight.dims()[1]),
        }
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

/// Builds the generator a checkpoint holds. The architecture is read from the keys
/// ([`detect::detect`]) unless `arch` / `norm` say otherwise; any key that does not fit is
/// reported. Returns the architecture used, to show the user.
pub fn load_generator(
    mut checkpoint: Checkpoint,
    arch: ArchChoice,
    norm: NormChoice,
    device: &Device,
) -> Result<(Generator, Architecture), ModelError> {
    let detected = detect::detect(&checkpoint);
    let mut architecture = match (arch, detected) {
        (ArchChoice::Auto, Ok(a @ (Architecture::Resnet(_) | Architecture::Unet(_)))) => a,
        (ArchChoice::Auto, Ok(other)) => {
            return Err(ModelError::Detect(format!(
                "this checkpoint holds a {}, not a generator; pick a generator checkpoint \
                 (for CycleGAN, a `latest_net_G_A.pth`-style file)",
                other.describe()
            )));
        }
        (ArchChoice::Auto, Err(e)) => return Err(e),
        (ArchChoice::Resnet { n_blocks }, found) => {
            let mut config = match found {
                Ok(Architecture::Resnet(c)) => c,
                _ => ResnetConfig::official(n_blocks),
            };
            config.n_blocks = n_blocks;
            Architecture::Resnet(config)
        }
        (ArchChoice::Unet { num_downs }, found) => {
            let mut config = match found {
                Ok(Architecture::Unet(c)) => c,
                _ => UnetConfig::official(num_downs, NormKind::Batch),
            };
            config.num_downs = num_downs;
            Architecture::Unet(config)
        }
    };
    if let NormChoice::Fixed(kind) = norm {
        match &mut architecture {
            Architecture::Resnet(c) => c.norm = kind,
            Architecture::Unet(c) => c.norm = kind,
            _ => {}
        }
    }
    let mut builder = Builder::from_checkpoint(&mut checkpoint, device);
    let generator = match &architecture {
        Architecture::Resnet(c) => Generator::Resnet(ResnetGenerator::build(c, &mut builder)?),
        Architecture::Unet(c) => Generator::Unet(UnetGenerator::build(c, &mut builder)?),
        _ => return Err(ModelError::Detect("not a generator".into())),
    };
    builder.finish()?;
    Ok((generator, architecture))
}

/// The official state-dict layout (names and shapes, in [`Module::visit`] order) of a
/// generator or discriminator architecture, for [`export`].
pub fn layout_of(architecture: &Architecture) -> Result<Vec<(String, Vec<usize>)>, ModelError> {
    let mut b = Builder::layout_only();
    match architecture {
        Architecture::Resnet(c) => drop(ResnetGenerator::build(c, &mut b)?),
        Architecture::Unet(c) => drop(UnetGenerator::build(c, &mut b)?),
        Architecture::PatchGan(c) => drop(patchgan::PatchGan::build(c, &mut b)?),
        Architecture::Vgg19 { widths, convs } => {
            let up_to = vgg::VggLayer::all().into_iter().filter(|l| l.convs_needed() <= *convs).max_by_key(|l| l.convs_needed());
            let up_to = up_to.ok_or_else(|| ModelError::Config("VGG19 without convolutions".into()))?;
            drop(vgg::Vgg19::build(*widths, up_to, vgg::Pooling::Max, &mut b)?)
        }
    }
    Ok(b.layout)
}

/// Builds VGG19 up to `up_to` from a torchvision-layout checkpoint (`features.N.*`);
/// convolutions beyond it are not loaded (and not reported as unexpected).
pub fn load_vgg19(
    mut checkpoint: Checkpoint,
    up_to: vgg::VggLayer,
    pooling: vgg::Pooling,
    device: &Device,
) -> Result<vgg::Vgg19, ModelError> {
    let widths = match detect::detect(&checkpoint)? {
        Architecture::Vgg19 { widths, convs } => {
            if convs < up_to.convs_needed() {
                return Err(ModelError::Detect(format!(
                    "this VGG19 checkpoint holds {convs} convolutions; {up_to} needs {}",
                    up_to.convs_needed()
                )));
            }
            widths
        }
        other => {
            return Err(ModelError::Detect(format!(
                "this checkpoint holds a {}, not VGG19's features",
                other.describe()
            )));
        }
    };
    // Only `features.*` up to the deepest layer is needed: drop the rest (deeper convs,
    // the classifier) so that they are not reported as unexpected.
    let keep: std::collections::BTreeSet<String> = vgg::Vgg19::checkpoint_keys(up_to.convs_needed()).into_iter().collect();
    checkpoint.tensors.retain(|k, _| keep.contains(k));
    let mut builder = Builder::from_checkpoint(&mut checkpoint, device);
    let net = vgg::Vgg19::build(widths, up_to, pooling, &mut builder)?;
    builder.finish()?;
    Ok(net)
}

