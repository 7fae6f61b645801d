//! The layers the networks share: [`Norm`] (instance norm on our WGSL kernel, or batch
//! norm), chosen by a [`NormKind`], and [`StochasticDropout`] (dropout that can stay on at
//! test time, as Pix2Pix does).

use burn::module::{Module, Param};
use burn::nn::BatchNorm;
use burn::tensor::{Distribution, Tensor};

/// PyTorch's default `eps` for InstanceNorm2d and BatchNorm2d.
pub const NORM_EPS: f32 = 1e-5;

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
