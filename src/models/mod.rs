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
//! The layers shared by the networks live here: [`Norm`] (instance norm on our WGSL kernel,
//! or batch norm), [`StochasticDropout`] (dropout that can stay on at test time, as
//! Pix2Pix does) and reflection padding.

pub mod conv;
pub mod detect;
pub mod patchgan;
pub mod resnet;
pub mod unet;
pub mod vgg;

#[cfg(test)]
mod tests;

use burn::module::{Module, Param, RunningState};
use burn::nn::BatchNorm;

pub use conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::weights::{Checkpoint, MismatchReport, WeightsError};

/// PyTorch's default `eps` for InstanceNorm2d and BatchNorm2d.
pub const NORM_EPS: f32 = 1e-5;

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
// Building networks: from a checkpoint, or freshly initialised.
// ---------------------------------------------------------------------------------------

/// How a parameter is initialised when it does not come from a checkpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init {
    /// Convolution weights: N(0, std).
    ConvWeight,
    /// Biases and norm shifts: zeros.
    Zeros,
    /// Norm scales: N(1, std), as junyanz initialises BatchNorm weights.
    NormScale,
    /// Running variance: ones.
    Ones,
}

/// Creates every parameter of a network, by its official name.
///
/// With a checkpoint, each name is taken out of it (shape checked); problems are collected
/// rather than returned at once, so that [`Builder::finish`] can report every missing,
/// unexpected and mis-shaped key together. Without one, parameters are initialised.
pub struct Builder<'a> {
    device: Device,
    checkpoint: Option<&'a mut Checkpoint>,
    report: MismatchReport,
    init_std: f64,
    prefix: String,
    /// Every parameter created, by official name, in creation order: the network's
    /// state-dict layout (see [`export`]).
    layout: Vec<(String, Vec<usize>)>,
}

impl<'a> Builder<'a> {
    /// Parameters from `checkpoint` (a state dict with official names).
    pub fn from_checkpoint(checkpoint: &'a mut Checkpoint, device: &Device) -> Self {
        Builder {
            device: device.clone(),
            checkpoint: Some(checkpoint),
            report: MismatchReport::default(),
            init_std: 0.02,
            prefix: String::new(),
            layout: Vec::new(),
        }
    }

    /// Fresh parameters: convolutions N(0, `std`), norms N(1, `std`) and zero shifts, as the
    /// official code's `init_weights(init_type='normal', init_gain=std)`.
    pub fn init(device: &Device, std: f64) -> Builder<'static> {
        Builder {
            device: device.clone(),
            checkpoint: None,
            report: MismatchReport::default(),
            init_std: std,
            prefix: String::new(),
            layout: Vec::new(),
        }
    }

    /// A builder that only records the layout: every tensor is zeros on the CPU backend.
    fn layout_only() -> Builder<'static> {
        let mut b = Builder::init(&Device::flex(), 0.0);
        b.init_std = -1.0;
        b
    }

    /// The parameters created so far: official names and shapes, in creation order, which is
    /// the order [`Module::visit`] walks them (the networks' fields are declared in the order
    /// they are built; [`export`] checks the shapes).
    pub fn layout(&self) -> &[(String, Vec<usize>)] {
        &self.layout
    }

    /// The device the parameters are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs `f` with `name.` appended to the key prefix.
    pub(crate) fn scope<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.prefix.len();
        self.prefix.push_str(name);
        self.prefix.push('.');
        let out = f(self);
        self.prefix.truncate(saved);
        out
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// One tensor parameter.
    pub(crate) fn tensor<const D: usize>(&mut self, name: &str, shape: [usize; D], init: Init) -> Tensor<D> {
        let key = self.key(name);
        self.layout.push((key.clone(), shape.to_vec()));
        let device = self.device.clone();
        let Some(checkpoint) = self.checkpoint.as_deref_mut() else {
            if self.init_std < 0.0 {
                return Tensor::zeros(shape, &device);
            }
            return match init {
                Init::ConvWeight => Tensor::random(shape, Distribution::Normal(0.0, self.init_std), &device),
                Init::NormScale => Tensor::random(shape, Distribution::Normal(1.0, self.init_std), &device),
                Init::Zeros => Tensor::zeros(shape, &device),
                Init::Ones => Tensor::ones(shape, &device),
            };
        };
        match checkpoint.get(&key).map(|t| t.shape.clone()) {
            None => self.report.missing.push((key, shape.to_vec())),
            Some(found) if found != shape => {
                checkpoint.tensors.remove(&key);
                self.report.mis_shaped.push((key, found, shape.to_vec()));
            }
            Some(_) => match checkpoint.take_f32(&key, &shape) {
                Ok(values) => return Tensor::from_data(TensorData::new(values, shape), &device),
                // An integer tensor where a float one belongs: report it as mis-shaped
                // (its shape is right, its type is not); the message names the key.
                Err(_) => {
                    checkpoint.tensors.remove(&key);
                    self.report.mis_shaped.push((key, shape.to_vec(), shape.to_vec()));
                }
            },
        }
        Tensor::zeros(shape, &device)
    }

    /// Drops a tensor the network does not use if the checkpoint has it (InstanceNorm
    /// running statistics of old official checkpoints, `num_batches_tracked`).
    pub(crate) fn ignore(&mut self, name: &str) {
        let key = self.key(name);
        if let Some(checkpoint) = self.checkpoint.as_deref_mut() {
            checkpoint.tensors.remove(&key);
        }
    }

    /// A convolution's `weight` (of `shape`) and, if `c.bias`, its `bias` (`[out]`).
    fn weight_and_bias(&mut self, shape: [usize; 4], c: ConvSpec) -> (Param<Tensor<4>>, Option<Param<Tensor<1>>>) {
        let weight = Param::from_tensor(self.tensor("weight", shape, Init::ConvWeight));
        let bias = c.bias.then(|| Param::from_tensor(self.tensor("bias", [c.out_ch], Init::Zeros)));
        (weight, bias)
    }

    /// `Conv2d` named `name` (`name.weight`, `name.bias`), PyTorch layout `[out, in, k, k]`.
    pub(crate) fn conv(&mut self, name: &str, c: ConvSpec) -> Conv2d {
        self.scope(name, |b| {
            let (weight, bias) = b.weight_and_bias([c.out_ch, c.in_ch, c.kernel, c.kernel], c);
            Conv2d { weight, bias, stride: [c.stride; 2], padding: [c.padding; 2] }
        })
    }

    /// `ConvTranspose2d` named `name`, PyTorch layout `[in, out, k, k]` (Burn's is the same).
    pub(crate) fn conv_transpose(&mut self, name: &str, c: ConvSpec, output_padding: usize) -> ConvTranspose2d {
        self.scope(name, |b| {
            let (weight, bias) = b.weight_and_bias([c.in_ch, c.out_ch, c.kernel, c.kernel], c);
            ConvTranspose2d { weight, bias, stride: [c.stride; 2], padding: [c.padding; 2], output_padding: [output_padding; 2] }
        })
    }

    /// The norm layer named `name` over `channels` channels.
    pub(crate) fn norm(&mut self, name: &str, kind: NormKind, channels: usize) -> Norm {
        self.scope(name, |b| match kind {
            NormKind::Instance { affine } => {
                // Old official checkpoints (PyTorch 0.3) saved running statistics for
                // InstanceNorm, which it never used in eval mode; they are ignored.
                for stat in ["running_mean", "running_var", "num_batches_tracked"] {
                    b.ignore(stat);
                }
                let (gamma, beta) = if affine {
                    (
                        Some(Param::from_tensor(b.tensor("weight", [channels], Init::NormScale))),
                        Some(Param::from_tensor(b.tensor("bias", [channels], Init::Zeros))),
                    )
                } else {
                    (None, None)
                };
                Norm::Instance(InstanceNorm { gamma, beta, eps: NORM_EPS as f64 })
            }
            NormKind::Batch => {
                let gamma = b.tensor("weight", [channels], Init::NormScale);
                let beta = b.tensor("bias", [channels], Init::Zeros);
                let mean = b.tensor("running_mean", [channels], Init::Zeros);
                let var = b.tensor("running_var", [channels], Init::Ones);
                b.ignore("num_batches_tracked");
                Norm::Batch(BatchNorm {
                    gamma: Param::from_tensor(gamma),
                    beta: Param::from_tensor(beta),
                    training: Param::from_bool(true),
                    running_mean: RunningState::new(mean),
                    running_var: RunningState::new(var),
                    momentum: 0.1,
                    epsilon: NORM_EPS as f64,
                })
            }
        })
    }

    /// Ends the build: any problem found, and every floating-point tensor of the checkpoint
    /// the network did not take, is reported in one error.
    pub fn finish(mut self) -> Result<(), WeightsError> {
        if let Some(checkpoint) = self.checkpoint.take() {
            for (name, t) in &checkpoint.tensors {
                if t.is_float() {
                    self.report.unexpected.push((name.clone(), t.shape.clone()));
                }
            }
            if !self.report.missing.is_empty() && self.report.unexpected.len() == checkpoint.tensors.len() {
                self.report.checkpoint_sample = checkpoint.tensors.keys().take(5).cloned().collect();
            }
        }
        if self.report.is_empty() { Ok(()) } else { Err(WeightsError::Mismatch(self.report)) }
    }
}

/// A square convolution's hyper-parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvSpec {
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub bias: bool,
}

impl ConvSpec {
    pub(crate) fn new(in_ch: usize, out_ch: usize, kernel: usize, stride: usize, padding: usize, bias: bool) -> Self {
        ConvSpec { in_ch, out_ch, kernel, stride, padding, bias }
    }
}

// ---------------------------------------------------------------------------------------
// Shared layers.
// ---------------------------------------------------------------------------------------

/// Instance normalisation on our kernel ([`crate::kernels::instance_norm`]).
#[derive(Module, Debug)]
pub struct InstanceNorm {
    pub gamma: Option<Param<Tensor<1>>>,
    pub beta: Option<Param<Tensor<1>>>,
    pub eps: f64,
}

/// A generator's or discriminator's normalisation layer.
#[derive(Module, Debug)]
pub enum Norm {
    Instance(InstanceNorm),
    Batch(BatchNorm),
}

impl Norm {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Instance(n) => crate::kernels::instance_norm(
                x,
                n.gamma.as_ref().map(Param::val),
                n.beta.as_ref().map(Param::val),
                n.eps as f32,
            ),
            Norm::Batch(n) => n.forward(x),
        }
    }
}

/// Dropout that, unlike Burn's, can stay active at inference: Pix2Pix keeps its dropout at
/// test time as the source of the generator's randomness (Isola et al., section 3.1).
///
/// Active when training (an autodiff device) or when `at_inference` is set.
#[derive(Module, Debug)]
pub struct StochasticDropout {
    pub prob: f64,
    pub at_inference: bool,
}

impl StochasticDropout {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let active = self.at_inference || x.device().is_autodiff();
        if !active || self.prob <= 0.0 {
            return x;
        }
        let keep = 1.0 - self.prob;
        let mask = x.random_like(Distribution::Bernoulli(keep));
        x * mask * (1.0 / keep)
    }
}

/// `ReflectionPad2d(p)`.
pub fn reflect_pad(x: Tensor<4>, p: usize) -> Tensor<4> {
    x.pad([(p, p), (p, p)], burn::tensor::ops::PadMode::Reflect)
}

/// Pads `x` on the spatial sides so that height and width become multiples of `multiple`,
/// by reflection (repeated, so any amount works even for tiny images), the padding split
/// evenly with the extra pixel at the bottom / right. Returns the padded tensor and the
/// `(top, left)` offset of the original, for [`crop`].
pub fn pad_to_multiple(x: Tensor<4>, multiple: usize) -> (Tensor<4>, [usize; 2]) {
    let [_, _, h, w] = x.dims();
    let target = |n: usize| n.div_ceil(multiple.max(1)) * multiple.max(1);
    let (ph, pw) = (target(h) - h, target(w) - w);
    let (top, left) = (ph / 2, pw / 2);
    let x = reflect_pad_sides(x, [top, ph - top, left, pw - left]);
    (x, [top, left])
}

/// Reflection padding of `[top, bottom, left, right]` pixels; amounts beyond what one
/// reflection gives (`size - 1`) are reached by reflecting again. A dimension of size 1
/// is repeated.
pub fn reflect_pad_sides(mut x: Tensor<4>, mut pad: [usize; 4]) -> Tensor<4> {
    use burn::tensor::ops::PadMode;
    while pad.iter().any(|&p| p > 0) {
        let [_, _, h, w] = x.dims();
        let step = |p: &mut usize, size: usize| {
            let s = (*p).min(size.saturating_sub(1));
            *p -= s;
            s
        };
        let (t, b) = (step(&mut pad[0], h), step(&mut pad[1], h));
        let (l, r) = (step(&mut pad[2], w), step(&mut pad[3], w));
        if t + b + l + r == 0 {
            // A side of one pixel cannot reflect: repeat it instead.
            let grow = |p: usize, size: usize| if size == 1 { p.min(1) } else { 0 };
            let edge = [grow(pad[0], h), grow(pad[1], h), grow(pad[2], w), grow(pad[3], w)];
            for (p, e) in pad.iter_mut().zip(edge) {
                *p -= e;
            }
            x = x.pad([(edge[0], edge[1]), (edge[2], edge[3])], PadMode::Edge);
            continue;
        }
        x = x.pad([(t, b), (l, r)], PadMode::Reflect);
    }
    x
}

/// Crops `[top.., left..]` of size `h x w` out of `x`.
pub fn crop(x: Tensor<4>, [top, left]: [usize; 2], h: usize, w: usize) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    x.slice([0..b, 0..c, top..top + h, left..left + w])
}

// ---------------------------------------------------------------------------------------
// Generators from checkpoints.
// ---------------------------------------------------------------------------------------

use detect::Architecture;
use resnet::{ResnetConfig, ResnetGenerator};
use unet::{UnetConfig, UnetGenerator};

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

// ---------------------------------------------------------------------------------------
// Export in the official layout.
// ---------------------------------------------------------------------------------------

/// Collects a module's float tensors (parameters and running statistics) in visit order,
/// flattened, with their shapes.
struct Collect(Vec<(Vec<usize>, Tensor<1>)>);

impl burn::module::ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let n: usize = shape.iter().product();
        self.0.push((shape, t.reshape([n])));
    }
}

/// A network's tensors under their official names, as f32 values (read asynchronously, so
/// this works on WebGPU). `layout` is the [`Builder::layout`] the network was built with.
pub async fn export<M: Module>(module: &M, layout: &[(String, Vec<usize>)]) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>, String> {
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    if collect.0.len() != layout.len() {
        return Err(format!("the network has {} tensors, its layout {}", collect.0.len(), layout.len()));
    }
    let mut out = Vec::with_capacity(layout.len());
    for ((name, want), (shape, t)) in layout.iter().zip(collect.0) {
        if *want != shape {
            return Err(format!("`{name}`: the network's tensor is {shape:?}, the layout says {want:?}"));
        }
        let data = t.without_autodiff().into_data_async().await.map_err(|e| format!("reading `{name}` failed: {e:?}"))?;
        let values = data.try_into_vec::<f32>().map_err(|e| format!("reading `{name}` failed: {e:?}"))?;
        out.push((name.clone(), shape, values));
    }
    Ok(out)
}

/// [`export`] as `.safetensors` bytes (f32, official key names: loads in PyTorch with
/// `load_state_dict(safetensors.torch.load_file(path))`, and back here).
pub async fn export_safetensors<M: Module>(module: &M, layout: &[(String, Vec<usize>)], prefix: &str) -> Result<Vec<u8>, String> {
    let tensors = export(module, layout).await?;
    let mut bytes: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, shape, values) in tensors {
        // PyTorch's BatchNorm2d also keeps an integer step counter; `load_state_dict` (strict)
        // wants it. Its value only matters with momentum=None, which junyanz never uses.
        if let Some(layer) = name.strip_suffix(".running_var") {
            bytes.push((format!("{prefix}{layer}.num_batches_tracked"), safetensors::Dtype::I64, vec![], 0i64.to_le_bytes().to_vec()));
        }
        bytes.push((format!("{prefix}{name}"), safetensors::Dtype::F32, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()));
    }
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("`{name}`: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::tensor::serialize(views, None).map_err(|e| format!("writing safetensors failed: {e}"))
}
