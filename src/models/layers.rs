//! The layers the networks share: [`Norm`] (instance norm on our WGSL kernel, or batch
//! norm), chosen by a [`NormKind`], and [`StochasticDropout`] (dropout that can stay on at
//! test time, as Pix2Pix does).

use burn::module::{Module, Param};
use burn::nn::BatchNorm;
use burn::tensor::{Distribution, Tensor};
use serde::{Deserialize, Serialize};

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
