//! Networks from checkpoints: the image-to-image [`Generator`] behind its two architectures,
//! the loaders (a generator by its detected architecture, VGG19 up to a layer) and the
//! official layout of any architecture.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::detect::{self, Architecture};
use super::fast_style::TransformerNet;
use super::resnet::{ResnetConfig, ResnetGenerator};
use super::unet::{UnetConfig, UnetGenerator};
use super::{ArchChoice, Builder, NormChoice, NormKind, patchgan, vgg};
use crate::weights::{Checkpoint, WeightsError};

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

/// An image-to-image generator: CycleGAN's ResNet, Pix2Pix's U-Net, or a fast style network.
#[derive(Module, Debug)]
pub enum Generator {
    Resnet(ResnetGenerator),
    Unet(UnetGenerator),
    FastStyle(TransformerNet),
}

impl Generator {
    /// `[B, C, H, W]` in `[-1, 1]` -> `[B, C', H, W]` in `[-1, 1]`; sides must be multiples
    /// of [`Self::required_multiple`]. (A fast style network works on pixel values: its input
    /// is scaled to `[0, 255]` and its output back, not clamped.)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::Resnet(g) => g.forward(x),
            Generator::Unet(g) => g.forward(x),
            Generator::FastStyle(g) => g.forward((x + 1.0) * 127.5) / 127.5 - 1.0,
        }
    }

    /// Input sides must be multiples of this (4 for ResNet and fast style, `2^depth` for U-Net).
    pub fn required_multiple(&self) -> usize {
        match self {
            Generator::Resnet(_) => ResnetGenerator::REQUIRED_MULTIPLE,
            Generator::Unet(g) => g.required_multiple(),
            Generator::FastStyle(_) => TransformerNet::REQUIRED_MULTIPLE,
        }
    }

    /// Keeps dropout on at inference (Pix2Pix's test-time noise) or not.
    pub fn set_dropout_at_inference(&mut self, on: bool) {
        match self {
            Generator::Resnet(g) => g.set_dropout_at_inference(on),
            Generator::Unet(g) => g.set_dropout_at_inference(on),
            Generator::FastStyle(_) => {}
        }
    }

    /// Input channels.
    pub fn input_channels(&self) -> usize {
        match self {
            Generator::Resnet(g) => g.stem.weight.dims()[1],
            Generator::Unet(g) => g.levels.first().map_or(0, |l| l.down.weight.dims()[1]),
            Generator::FastStyle(g) => g.input_channels(),
        }
    }

    /// Output channels.
    pub fn output_channels(&self) -> usize {
        match self {
            Generator::Resnet(g) => g.head.weight.dims()[0],
            Generator::Unet(g) => g.levels.first().map_or(0, |l| l.up.weight.dims()[1]),
            Generator::FastStyle(g) => g.output_channels(),
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
        (ArchChoice::Auto, Ok(a @ (Architecture::Resnet(_) | Architecture::Unet(_) | Architecture::FastStyle(_)))) => a,
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
        Architecture::FastStyle(c) => Generator::FastStyle(TransformerNet::build(c, &mut builder)?),
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
        Architecture::FastStyle(c) => drop(TransformerNet::build(c, &mut b)?),
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

