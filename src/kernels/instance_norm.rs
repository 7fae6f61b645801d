//! Instance normalisation over `[B, C, H, W]`: per (b, c) plane, biased variance, `eps`,
//! optional affine `gamma`, `beta: [C]`; forward and backward (dx, dgamma, dbeta) in
//! `shaders/instance_norm/` (the method: its README.md). Every kernel there gets
//! `shaders/common/entry.wgsl` and the folder's `shared.wgsl` appended, and either
//! `shaders/common/per_item.wgsl` (one thread per value, plane or channel) or the folder's
//! `split_reduce.wgsl` (a workgroup per (plane, split)).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::backend::{Cube, Dispatch};
use burn::tensor::{Shape, Tensor};

use super::{ArtKernels, ENTRY, Op, PER_ITEM, SplitPlan, Tracked, WgslKernel, count, dims, empty_f32, launch_groups, launch_items, to_u32};

const SHARED: &str = include_str!("../../shaders/instance_norm/shared.wgsl");
const SPLIT_REDUCE: &str = include_str!("../../shaders/instance_norm/split_reduce.wgsl");

/// `shaders/instance_norm/<file>.wgsl`: one thread per item ([`Sizes::launch`]), or with
/// `SPLIT_REDUCE` a workgroup per (plane, split) ([`Sizes::reduce`]).
macro_rules! kernel {
    ($file:literal, $label:literal, $threads:literal) => {
        kernel!($file, $label, $threads, PER_ITEM)
    };
    ($file:literal, $label:literal, $threads:literal, $work:ident) => {
        WgslKernel::new(
            include_str!(concat!("../../shaders/instance_norm/", $file, ".wgsl")),
            &[ENTRY, $work, SHARED],
            $label,
            ($threads, 1, 1),
        )
    };
}

pub(super) const STATS: WgslKernel = kernel!("stats", "instance_norm.forward", 256, SPLIT_REDUCE);
pub(super) const FINALIZE: WgslKernel = kernel!("finalize", "instance_norm.forward", 64);
pub(super) const APPLY: WgslKernel = kernel!("apply", "instance_norm.forward", 256);
pub(super) const GRAD_PARTIAL: WgslKernel = kernel!("grad_partial", "instance_norm.backward", 256, SPLIT_REDUCE);
pub(super) const GRAD_COMBINE: WgslKernel = kernel!("grad_combine", "instance_norm.backward", 64);
pub(super) const GRAD_APPLY: WgslKernel = kernel!("grad_apply", "instance_norm.backward", 256);
pub(super) const GRAD_PARAMS: WgslKernel = kernel!("grad_params", "instance_norm.backward", 64);

/// Aim for about this many workgroups in the reductions before splitting planes.
const TARGET_WORKGROUPS: usize = 1024;
/// A split never gets fewer values than this (16 per thread).
const MIN_SPLIT_LEN: usize = 4096;
const MAX_SPLITS: usize = 256;

/// Instance normalisation of `x: [B, C, H, W]`: each (b, c) plane is normalised with its
/// own mean and biased variance, `y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]`.
///
/// WGSL on a wgpu device (f32), [`instance_norm_reference`] elsewhere; differentiable with
/// respect to `x`, `gamma` and `beta` either way.
pub fn instance_norm(x: Tensor<4>, gamma: Option<Tensor<1>>, beta: Option<Tensor<1>>, eps: f32) -> Tensor<4> {
    let device = x.device();
    let [_, c, _, _] = x.dims();
    for param in [&gamma, &beta].into_iter().flatten() {
        assert_eq!(
            param.dims(),
            [c],
            "instance_norm: gamma and beta must be [C] = [{c}]"
        );
    }
    let mut dtypes = vec![x.dtype()];
    dtypes.extend(
        [&gamma, &beta]
            .into_iter()
            .flatten()
            .map(|param| param.dtype()),
    );
    if !super::takes_wgsl_path(&device, &dtypes, x.shape().num_elements()) {
        return instance_norm_reference(x, gamma, beta, eps);
    }
    // The extension takes plain tensors only, so the identity affine is spelled out; created
    // on the input's device they are constants of the graph (no gradient is computed).
    let gamma = gamma.unwrap_or_else(|| Tensor::ones([c], &device));
    let beta = beta.unwrap_or_else(|| Tensor::zeros([c], &device));
    let output = <Dispatch as ArtKernels>::instance_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        eps,
    );
    Tensor::from_dispatch(output)
}

/// The same operation composed of Burn tensor ops (the CPU fallback, and the reference the
/// WGSL is tested against). Like the kernels it measures each plane from its first value,
/// so a plane with a large mean and a small spread keeps its precision, and a constant
/// plane gives exactly `beta`.
pub fn instance_norm_reference(x: Tensor<4>, gamma: Option<Tensor<1>>, beta: Option<Tensor<1>>, eps: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let flat = x.reshape([b, c, h * w]);
    // The result does not depend on the shift, so no gradient needs to flow through it.
    let shift = flat.clone().narrow(2, 0, 1).detach();
    let centered = flat - shift;
    let (var, mean) = centered.clone().var_mean_bias(2);
    let normalized = (centered - mean) / var.add_scalar(eps).sqrt();
    let mut y = normalized.reshape([b, c, h, w]);
    if let Some(gamma) = gamma {
        y = y * gamma.reshape([1, c, 1, 1]);
    }
    if let Some(beta) = beta {
        y = y + beta.reshape([1, c, 1, 1]);
    }
    y
}

/// How the reductions split each plane so that few planes still fill the GPU.
pub(super) fn split_plan(planes: usize, hw: usize) -> SplitPlan {
    let splits = TARGET_WORKGROUPS
        .div_ceil(planes.max(1))
        .min(hw.div_ceil(MIN_SPLIT_LEN).max(1))
        .clamp(1, MAX_SPLITS);
    SplitPlan::covering(hw, splits, 1)
}

/// The sizes of one call, checked to fit the kernels' u32 indexing, and the parameter block
/// every kernel of the call shares (`struct Info` of `shaders/instance_norm/shared.wgsl`).
struct Sizes {
    shape: [usize; 4],
    planes: usize,
    plan: SplitPlan,
    /// `Info` after its leading item count.
    info: [u32; 7],
}

impl Sizes {
    fn of(x: &CubeTensor, eps: f32) -> Self {
        let shape @ [b, c, h, w] = dims(x, "instance_norm expects [B, C, H, W]");
        let (hw, planes) = (h * w, b * c);
        to_u32(planes * hw, "B*C*H*W");
        let plan = split_plan(planes, hw);
        let info = params![hw, planes, plan.splits, plan.chunk, c, b; eps.to_bits()];
        Sizes { shape, planes, plan, info }
    }

    /// The parameters of a kernel over `items` (`Info`); the split reductions count their
    /// workgroups.
    fn params(&self, items: usize) -> [u32; 8] {
        let mut params = [0; 8];
        params[0] = to_u32(items, "items");
        params[1..].copy_from_slice(&self.info);
        params
    }

    fn values(&self) -> usize {
        self.shape.iter().product()
    }

    fn split_groups(&self) -> usize {
        self.planes * self.plan.splits
    }

    /// Runs `kernel` with one thread per item (`shaders/common/per_item.wgsl`).
    fn launch(&self, kernel: WgslKernel, items: usize, buffers: &[&CubeTensor]) {
        let params = self.params(items);
        launch_items(kernel, &buffers[0].client, params[0], buffers, &params);
    }

    /// Runs `kernel` with a workgroup per (plane, split) (`split_reduce.wgsl`).
    fn reduce(&self, kernel: WgslKernel, buffers: &[&CubeTensor]) {
        let params = self.params(self.split_groups());
        launch_groups(kernel, &buffers[0].client, params[0], buffers, &params);
    }
}

/// Forward on the wgpu device. Returns the output and the per-plane statistics
/// `[B*C*3]` = (shift, mean of x - shift, 1/sqrt(var + eps)) the backward needs.
pub(super) fn forward(
    x: CubeTensor,
    gamma: CubeTensor,
    beta: CubeTensor,
    eps: f32,
) -> (CubeTensor, CubeTensor) {
    super::assert_wgsl(&x);
    let x = into_contiguous(x);
    let gamma = into_contiguous(gamma);
    let beta = into_contiguous(beta);
    let sizes = Sizes::of(&x, eps);
    let parts = empty_f32(&x, Shape::new([sizes.split_groups() * 3]));
    let stats = empty_f32(&x, Shape::new([sizes.planes * 3]));
    let output = empty_f32(&x, Shape::new(sizes.shape));
    sizes.reduce(STATS, &[&x, &parts]);
    sizes.launch(FINALIZE, sizes.planes, &[&x, &parts, &stats]);
    sizes.launch(APPLY, sizes.values(), &[&x, &stats, &gamma, &beta, &output]);
    count(Op::InstanceNormForward);
    (output, stats)
}

/// Gradients of the forward, on the wgpu device; `None` where not asked for.
pub(super) struct InstanceNormGrads {
    pub x: Option<CubeTensor>,
    pub gamma: Option<CubeTensor>,
    pub beta: Option<CubeTensor>,
}

pub(super) fn backward(
    x: CubeTensor,
    gamma: CubeTensor,
    stats: CubeTensor,
    grad: CubeTensor,
    want_x: bool,
    want_params: bool,
) -> InstanceNormGrads {
    super::assert_wgsl(&x);
    let x = into_contiguous(x);
    let gamma = into_contiguous(gamma);
    let grad = into_contiguous(grad);
    let sizes = Sizes::of(&x, 0.0);
    assert_eq!(dims(&grad, "instance_norm gradient shape"), sizes.shape, "instance_norm gradient shape");
    let c = sizes.shape[1];

    // Per plane: s1 = sum(dy), s2 = sum(dy * xhat).
    let parts = empty_f32(&x, Shape::new([sizes.split_groups() * 2]));
    let sums = empty_f32(&x, Shape::new([sizes.planes * 2]));
    sizes.reduce(GRAD_PARTIAL, &[&x, &grad, &stats, &parts]);
    sizes.launch(GRAD_COMBINE, sizes.planes, &[&parts, &sums]);

    let dx = want_x.then(|| {
        let dx = empty_f32(&x, Shape::new(sizes.shape));
        sizes.launch(GRAD_APPLY, sizes.values(), &[&x, &grad, &stats, &sums, &gamma, &dx]);
        dx
    });

    let (dgamma, dbeta) = if want_params {
        let dgamma = empty_f32(&x, Shape::new([c]));
        let dbeta = empty_f32(&x, Shape::new([c]));
        sizes.launch(GRAD_PARAMS, c, &[&sums, &dgamma, &dbeta]);
        (Some(dgamma), Some(dbeta))
    } else {
        (None, None)
    };
    count(Op::InstanceNormBackward);
    InstanceNormGrads {
        x: dx,
        gamma: dgamma,
        beta: dbeta,
    }
}

/// The autodiff node: forward in WGSL, backward in WGSL.
pub(super) fn autodiff<C: CheckpointStrategy>(x: Tracked<C>, gamma: Tracked<C>, beta: Tracked<C>, eps: f32) -> Tracked<C> {
    #[derive(Debug)]
    struct InstanceNormBackward;

    impl Backward<Cube, 3> for InstanceNormBackward {
        /// The checkpointed input, gamma's primitive, and the forward's statistics.
        type State = (NodeId, CubeTensor, CubeTensor);

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x, node_gamma, node_beta] = ops.parents;
            let grad: CubeTensor = grads.consume::<Cube>(&ops.node);
            let (x_id, gamma, stats) = ops.state;
            let x: CubeTensor = checkpointer.retrieve_node_output(x_id);
            let want_params = node_gamma.is_some() || node_beta.is_some();
            let result = backward(x, gamma, stats, grad, node_x.is_some(), want_params);
            if let (Some(node), Some(dx)) = (node_x, result.x) {
                grads.register::<Cube>(node.id, dx);
            }
            if let (Some(node), Some(dgamma)) = (node_gamma, result.gamma) {
                grads.register::<Cube>(node.id, dgamma);
            }
            if let (Some(node), Some(dbeta)) = (node_beta, result.beta) {
                grads.register::<Cube>(node.id, dbeta);
            }
        }
    }

    let guards = [x.node(), gamma.node(), beta.node()];
    match InstanceNormBackward
        .prepare::<C>(guards)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            // x is needed even when only gamma/beta are tracked (dgamma uses xhat).
            let x_id = prep.checkpoint(&x);
            let gamma = gamma.into_primitive();
            let (output, stats) = forward(
                x.into_primitive(),
                gamma.clone(),
                beta.into_primitive(),
                eps,
            );
            prep.finish((x_id, gamma, stats), output)
        }
        OpsKind::UnTracked(prep) => {
            let (output, _) = forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                eps,
            );
            prep.finish(output)
        }
    }
}
