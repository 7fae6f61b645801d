//! Networks in the official PyTorch layouts, so that official checkpoints load as they are.
//!
//! * [`vgg::Vgg19`]: torchvision's `vgg19().features` (`features.N.weight/bias`), with the
//!   ImageNet input normalisation, max or average pooling, and activations by name
//!   (`conv1_1`, `relu4_2`, `pool3`, ...);
//! * [`resnet::ResnetGenerator`]: CycleGAN's generator (junyanz `ResnetGenerator`, `model.N`);
//! * [`unet::UnetGenerator`]: Pix2Pix's generator (junyanz `UnetGenerator`, nested
//!   `model.model.1.model...`);
//! * [`patchgan::PatchGan`]: the 70x70 PatchGAN (junyanz `NLayerDiscriminator`);
//! * [`fast_style::TransformerNet`]: Johnson et al.'s fast style network (pytorch/examples
//!   `fast_neural_style`, `conv1.conv2d...`, `in1...`, `res1...`, `deconv1...`).
//!
//! Every network is built by a [`Builder`], which either takes each parameter from a
//! checkpoint by its official name (checking its shape) or initialises it (N(0, 0.02), as
//! junyanz's `init_weights('normal')` does). A checkpoint that does not fit is reported in
//! one message listing every missing, unexpected and mis-shaped key.
//! [`detect::detect`] reads the architecture (kind, depth, width, norm) off the keys, so an
//! official checkpoint loads without the user naming its architecture.
//!
//! What the user and the protocol name (architectures, norms, VGG layers) is in `settings`,
//! without Burn, for the UI; the rest needs the `compute` feature. The generator behind its
//! two architectures and the loaders are in `loading`; private modules, re-exported here, hold the [`Builder`], the layers shared by the
//! networks ([`Norm`]: instance norm on our WGSL kernel, or batch norm; [`StochasticDropout`]:
//! dropout that can stay on at test time, as Pix2Pix does), reflection padding
//! ([`reflect_pad`], [`pad_to_multiple`]) and [`export`] in the official layout.

mod settings;
pub use settings::{ArchChoice, BLOCKS, NormChoice, NormKind, Pooling, VggLayer, WIDTHS};

compute! {
    pub mod conv;
    pub mod detect;
    pub mod fast_style;
    pub mod patchgan;
    pub mod resnet;
    pub mod unet;
    pub mod vgg;

    mod builder;
    mod layers;
    mod loading;
    mod padding;
    mod state_dict;

    #[cfg(test)]
    mod tests;

    pub(crate) use builder::ConvSpec;
    pub use builder::Builder;
    pub use conv::{Conv2d, ConvTranspose2d};
    pub use layers::{InstanceNorm, NORM_EPS, Norm, StochasticDropout};
    pub use loading::{Generator, ModelError, layout_of, load_generator, load_vgg19};
    pub use padding::{crop, pad_to_multiple, reflect_pad, reflect_pad_sides};
    pub use state_dict::{export, export_safetensors};
}
