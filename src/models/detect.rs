//! Reading a network's architecture off a checkpoint's keys and shapes, so that a dropped
//! official checkpoint loads without the user naming its architecture.
//!
//! | keys | network | what is read |
//! |---|---|---|
//! | `model.1.weight` `[ngf, in, 7, 7]` | ResNet generator | blocks (`model.10..`, `conv_block` or `block`), dropout (a conv at block index 6), output channels |
//! | `model.model.0.weight` `[ngf, in, 4, 4]` | U-Net generator | depth (nesting), output channels |
//! | `model.0.weight` `[ndf, in, 4, 4]`, `model.2.weight` | PatchGAN | layers |
//! | `features.0.weight` `[w, 3, 3, 3]` | VGG19 features | block widths, convolutions present |
//! | `conv1.conv2d.weight` `[w1, in, 9, 9]` | fast style network | widths, residual blocks, output channels |
//!
//! The norm: junyanz's convolutions have no bias before a batch norm, so a missing first
//! conv bias means batch norm; otherwise instance norm, affine when the norm has weights.
//! (Running statistics next to an instance norm, from old official checkpoints, are
//! ignored, not taken for batch norm.)

use serde::{Deserialize, Serialize};

use super::fast_style::FastStyleConfig;
use super::patchgan::PatchGanConfig;
use super::resnet::ResnetConfig;
use super::unet::UnetConfig;
use super::vgg::{BLOCKS, Vgg19};
use super::{ModelError, NormKind};
use crate::weights::Checkpoint;

/// An architecture read from a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    Resnet(ResnetConfig),
    Unet(UnetConfig),
    PatchGan(PatchGanConfig),
    /// Johnson et al.'s fast style network (pytorch/examples `TransformerNet`).
    FastStyle(FastStyleConfig),
    /// VGG19 features: block widths and how many convolutions the file holds.
    Vgg19 { widths: [usize; 5], convs: usize },
}

impl Architecture {
    /// One line for the user: `resnet_9blocks, ngf 64, instance norm, 3 -> 3 channels`.
    pub fn describe(&self) -> String {
        match self {
            Architecture::Resnet(c) => format!(
                "ResNet generator {}, ngf {}, {} norm, {} -> {} channels{}",
                c.arch_name(),
                c.ngf,
                c.norm,
                c.input_nc,
                c.output_nc,
                if c.use_dropout { ", dropout" } else { "" }
            ),
            Architecture::Unet(c) => format!(
                "U-Net generator {} ({} levels), ngf {}, {} norm, {} -> {} channels",
                c.arch_name(),
                c.num_downs,
                c.ngf,
                c.norm,
                c.input_nc,
                c.output_nc
            ),
            Architecture::PatchGan(c) => format!(
                "PatchGAN discriminator, {} layers ({}x{} patches), ndf {}, {} norm, {} input channels",
                c.n_layers,
                c.receptive_field(),
                c.receptive_field(),
                c.ndf,
                c.norm,
                c.input_nc
            ),
            Architecture::FastStyle(c) => format!(
                "fast style network (Johnson et al., pytorch/examples' TransformerNet), widths {}/{}/{}, {} residual blocks, {} -> {} channels",
                c.widths[0], c.widths[1], c.widths[2], c.n_res, c.input_nc, c.output_nc
            ),
            Architecture::Vgg19 { widths, convs } => {
                format!("VGG19 features, {convs} of 16 convolutions, widths {widths:?}")
            }
        }
    }
}

fn shape<'a>(ckpt: &'a Checkpoint, key: &str) -> Option<&'a [usize]> {
    ckpt.get(key).map(|t| t.shape.as_slice())
}

fn conv_shape(ckpt: &Checkpoint, key: &str, k: usize) -> Option<[usize; 2]> {
    match shape(ckpt, key)? {
        [o, i, kh, kw] if *kh == k && *kw == k => Some([*o, *i]),
        _ => None,
    }
}

fn has(ckpt: &Checkpoint, key: &str) -> bool {
    ckpt.get(key).is_some()
}

/// Reads the architecture of a state dict (after [`Checkpoint::into_state_dict`]).
pub fn detect(ckpt: &Checkpoint) -> Result<Architecture, ModelError> {
    if let Some([ngf, input_nc]) = conv_shape(ckpt, "model.model.0.weight", 4) {
        return detect_unet(ckpt, ngf, input_nc).map(Architecture::Unet);
    }
    if let Some([ngf, input_nc]) = conv_shape(ckpt, "model.1.weight", 7) {
        return detect_resnet(ckpt, ngf, input_nc).map(Architecture::Resnet);
    }
    if let Some([ndf, input_nc]) = conv_shape(ckpt, "model.0.weight", 4) {
        return detect_patchgan(ckpt, ndf, input_nc).map(Architecture::PatchGan);
    }
    if conv_shape(ckpt, "features.0.weight", 3).is_some() {
        return detect_vgg(ckpt);
    }
    if let Some([w1, input_nc]) = conv_shape(ckpt, "conv1.conv2d.weight", 9) {
        return detect_fast_style(ckpt, w1, input_nc).map(Architecture::FastStyle);
    }
    let sample: Vec<&str> = ckpt.tensors.keys().take(6).map(String::as_str).collect();
    Err(ModelError::Detect(format!(
        "could not recognise the network in this checkpoint: expected the official key names \
         (`model.1.weight` for a CycleGAN ResNet generator, `model.model.0.weight` for a Pix2Pix \
         U-Net, `model.0.weight` for a PatchGAN, `features.0.weight` for VGG19, `conv1.conv2d.weight` \
         for a fast style network); its keys look \
         like: {}",
        if sample.is_empty() { "(no tensors)".to_string() } else { sample.join(", ") }
    )))
}

fn norm_kind(ckpt: &Checkpoint, first_conv: &str, first_norm: &str) -> NormKind {
    if !has(ckpt, &format!("{first_conv}.bias")) && has(ckpt, &format!("{first_norm}.running_mean")) {
        NormKind::Batch
    } else {
        NormKind::Instance { affine: has(ckpt, &format!("{first_norm}.weight")) }
    }
}

fn detect_resnet(ckpt: &Checkpoint, ngf: usize, input_nc: usize) -> Result<ResnetConfig, ModelError> {
    let block_name = if has(ckpt, "model.10.conv_block.1.weight") {
        "conv_block"
    } else if has(ckpt, "model.10.block.1.weight") {
        "block"
    } else {
        "conv_block"
    };
    let n_blocks = (10..)
        .take_while(|i| has(ckpt, &format!("model.{i}.{block_name}.1.weight")))
        .count();
    let use_dropout = conv_shape(ckpt, &format!("model.10.{block_name}.6.weight"), 3).is_some();
    let head = format!("model.{}.weight", 10 + n_blocks + 7);
    let [output_nc, _] = conv_shape(ckpt, &head, 7).ok_or_else(|| {
        ModelError::Detect(format!(
            "this looks like a ResNet generator with {n_blocks} residual blocks, but its last \
             convolution `{head}` is missing or not 7x7"
        ))
    })?;
    Ok(ResnetConfig {
        input_nc,
        output_nc,
        ngf,
        n_blocks,
        norm: norm_kind(ckpt, "model.1", "model.2"),
        use_dropout,
        block_name: block_name.into(),
    })
}

fn detect_unet(ckpt: &Checkpoint, ngf: usize, input_nc: usize) -> Result<UnetConfig, ModelError> {
    let mut num_downs = 1;
    let mut prefix = String::from("model.model.1.model");
    while has(ckpt, &format!("{prefix}.1.weight")) && num_downs < 16 {
        num_downs += 1;
        prefix.push_str(".3.model");
    }
    let [_, output_nc] = conv_shape(ckpt, "model.model.3.weight", 4).ok_or_else(|| {
        ModelError::Detect("this looks like a U-Net generator, but its last layer `model.model.3.weight` is missing".into())
    })?;
    Ok(UnetConfig {
        input_nc,
        output_nc,
        num_downs,
        ngf,
        norm: norm_kind(ckpt, "model.model.0", "model.model.1.model.2"),
        use_dropout: true,
    })
}

fn detect_patchgan(ckpt: &Checkpoint, ndf: usize, input_nc: usize) -> Result<PatchGanConfig, ModelError> {
    // Convolutions at 2, 5, 8, ... then the last one; n_layers = their count - 1.
    let convs = (0..).take_while(|j| conv_shape(ckpt, &format!("model.{}.weight", 2 + 3 * j), 4).is_some()).count();
    if convs < 2 {
        return Err(ModelError::Detect("this looks like a PatchGAN, but it has too few layers".into()));
    }
    Ok(PatchGanConfig { input_nc, ndf, n_layers: convs - 1, norm: norm_kind(ckpt, "model.2", "model.3") })
}

fn detect_fast_style(ckpt: &Checkpoint, w1: usize, input_nc: usize) -> Result<FastStyleConfig, ModelError> {
    let missing = |key: &str| ModelError::Detect(format!("this looks like a fast style network, but `{key}` is missing or not the expected shape"));
    let [w2, _] = conv_shape(ckpt, "conv2.conv2d.weight", 3).ok_or_else(|| missing("conv2.conv2d.weight"))?;
    let [w3, _] = conv_shape(ckpt, "conv3.conv2d.weight", 3).ok_or_else(|| missing("conv3.conv2d.weight"))?;
    let n_res = (1..).take_while(|i| has(ckpt, &format!("res{i}.conv1.conv2d.weight"))).count();
    let [output_nc, _] = conv_shape(ckpt, "deconv3.conv2d.weight", 9).ok_or_else(|| missing("deconv3.conv2d.weight"))?;
    Ok(FastStyleConfig { input_nc, output_nc, widths: [w1, w2, w3], n_res })
}

fn detect_vgg(ckpt: &Checkpoint) -> Result<Architecture, ModelError> {
    let convs = (0..16).take_while(|&k| has(ckpt, &format!("features.{}.weight", Vgg19::feature_index(k)))).count();
    let mut widths = super::vgg::WIDTHS;
    let mut k = 0;
    for (b, &n) in BLOCKS.iter().enumerate() {
        if k < convs {
            if let Some([w, _]) = conv_shape(ckpt, &format!("features.{}.weight", Vgg19::feature_index(k)), 3) {
                widths[b] = w;
            }
        }
        k += n;
    }
    Ok(Architecture::Vgg19 { widths, convs })
}
