//! Creating a network's parameters by their official names: taken from a checkpoint (shape
//! checked, every problem collected for one report) or freshly initialised as junyanz's
//! `init_weights('normal')` does. The networks build their convolutions and norms through
//! [`Builder`]; [`ConvSpec`] is a convolution's hyper-parameters.

use burn::module::{Param, RunningState};
use burn::nn::BatchNorm;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::{Conv2d, ConvTranspose2d, InstanceNorm, NORM_EPS, Norm, NormKind};
use crate::weights::{Checkpoint, MismatchReport, WeightsError};

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
    /// state-dict layout (see [`export`](super::export)).
    pub(super) layout: Vec<(String, Vec<usize>)>,
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
    pub(super) fn layout_only() -> Builder<'static> {
        let mut b = Builder::init(&Device::flex(), 0.0);
        b.init_std = -1.0;
        b
    }

    /// The parameters created so far: official names and shapes, in creation order, which is
    /// the order [`Module::visit`](burn::module::Module::visit) walks them (the networks'
    /// fields are declared in the order they are built; [`export`](super::export) checks
    /// the shapes).
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
