//! Adam with its state in the open, so a training run can be saved and resumed in a browser.
//!
//! Burn's own `Adam` computes the same update, but its state can only be taken out through
//! `ModuleOptimizer::to_record`, which reads every moment tensor synchronously: on WebGPU in a
//! browser a synchronous read panics. Here each parameter's moments are plain tensors that
//! the training state reads asynchronously ([`super::session`]) and puts back on resume.
//!
//! The update is PyTorch's `torch.optim.Adam` (no weight decay, no AMSGrad):
//! `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
//! `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`; the training parity tests
//! compare the weights it produces with PyTorch's after three iterations.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// One parameter's Adam state: first and second moments (flattened, on the inner,
/// non-autodiff device) and the number of updates made.
#[derive(Clone, Debug)]
pub struct Moments {
    pub exp_avg: Tensor<1>,
    pub exp_avg_sq: Tensor<1>,
    pub steps: u32,
}

/// Adam over the parameters of one or more modules, keyed by [`ParamId`].
#[derive(Clone, Debug)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    moments: HashMap<ParamId, Moments>,
}

impl Adam {
    /// As both papers use it: beta1 0.5, beta2 0.999, eps 1e-8 (the rate is given per step).
    pub fn gan() -> Self {
        Adam { beta1: 0.5, beta2: 0.999, eps: 1e-8, moments: HashMap::new() }
    }

    /// PyTorch's defaults (`torch.optim.Adam`): beta1 0.9, beta2 0.999, eps 1e-8, as
    /// pytorch/examples' fast style training uses it.
    pub fn pytorch() -> Self {
        Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8, moments: HashMap::new() }
    }

    /// Updates every parameter of `module` that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        let mut mapper = Update { adam: self, grads: &mut grads, lr };
        module.map(&mut mapper)
    }

    /// The state of parameter `id` (none before its first update).
    pub fn moments(&self, id: ParamId) -> Option<&Moments> {
        self.moments.get(&id)
    }

    /// Puts back the state of parameter `id` (when resuming).
    pub fn set_moments(&mut self, id: ParamId, moments: Moments) {
        self.moments.insert(id, moments);
    }
}

struct Update<'a> {
    adam: &'a mut Adam,
    grads: &'a mut GradientsParams,
    lr: f64,
}

impl ModuleMapper for Update<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let g = grad.reshape([n]);
        let (b1, b2) = (self.adam.beta1, self.adam.beta2);
        let moments = match self.adam.moments.remove(&id) {
            Some(m) => Moments {
                exp_avg: m.exp_avg * b1 + g.clone() * (1.0 - b1),
                exp_avg_sq: m.exp_avg_sq * b2 + g.clone() * g * (1.0 - b2),
                steps: m.steps + 1,
            },
            None => Moments { exp_avg: g.clone() * (1.0 - b1), exp_avg_sq: g.clone() * g * (1.0 - b2), steps: 1 },
        };
        let t = moments.steps as i32;
        let step_size = self.lr / (1.0 - b1.powi(t));
        let bias2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let denom = moments.exp_avg_sq.clone().sqrt() / bias2_sqrt + self.adam.eps;
        let delta = (moments.exp_avg.clone() / denom * step_size).reshape(dims);
        self.adam.moments.insert(id, moments);
        let require_grad = tensor.is_require_grad();
        let mut updated = Tensor::from_inner(tensor.inner() - delta);
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// The ids of a module's float tensors in visit order (the order of its official layout).
pub fn param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}
