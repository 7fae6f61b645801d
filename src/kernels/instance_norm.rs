//! Instance normalisation over `[B, C, H, W]`: per (b, c) plane, biased variance, `eps`,
//! optional affine `gamma`, `beta: [C]`; forward and backward (dx, dgamma, dbeta) in
//! `shaders/instance_norm/` (the method: its README.md).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::backend::{Autodiff, Cube, Dispatch};
use burn::tensor::{Shape, Tensor};

use super::{ArtKernels, Op, WgslKernel, count, empty_f32, launch, spread, to_u32};

macro_rules! kernel {
    ($file:literal, $label:literal, $threads:literal) => {
        WgslKernel::new(include_str!(concat!("../../shaders/instance_norm/", $file, ".wgsl")), $label, ($threads, 1, 1))
    };
}

pub(super) const STATS: WgslKernel = kernel!("stats", "instance_norm.forward", 256);
pub(super) const FINALIZE: WgslKernel = kernel!("finalize", "instance_norm.forward", 64);
pub(super) const APPLY: WgslKernel = kernel!("apply", "instance_norm.forward", 256);
pub(super) const GRAD_PARTIAL: WgslKernel = kernel!("grad_partial", "instance_norm.backward", 256);
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
pub fn instance_norm(
    x: Tensor<4>,
    gamma: Option<Tensor<1>>,
    beta: Option<Tensor<1>>,
    eps: f32,
) -> Tensor<4> {
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
pub fn instance_norm_reference(
    x: Tensor<4>,
    gamma: Option<Tensor<1>>,
    beta: Option<Tensor<1>>,
    eps: f32,
) -> Tensor<4> {
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SplitPlan {
    pub splits: usize,
    pub chunk: usize,
}

pub(super) fn split_plan(planes: usize, hw: usize) -> SplitPlan {
    let splits = TARGET_WORKGROUPS
        .div_ceil(planes.max(1))
        .min(hw.div_ceil(MIN_SPLIT_LEN).max(1))
        .clamp(1, MAX_SPLITS);
    let chunk = hw.div_ceil(splits);
    SplitPlan {
        splits: hw.div_ceil(chunk),
        chunk,
    }
}

fn dims(x: &CubeTensor) -> [usize; 4] {
    let shape = x.meta.shape();
    assert_eq!(shape.num_dims(), 4, "instance_norm expects [B, C, H, W]");
    [shape[0], shape[1], shape[2], shape[3]]
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
    let [b, c, h, w] = dims(&x);
    let (hw, planes, total) = (h * w, b * c, b * c * h * w);
    let client = x.client.clone();
    let plan = split_plan(planes, hw);
    let (hw32, planes32, total32) = (
        to_u32(hw, "H*W"),
        to_u32(planes, "B*C"),
        to_u32(total, "B*C*H*W"),
    );
    let (splits32, chunk32) = (to_u32(plan.splits, "splits"), to_u32(plan.chunk, "chunk"));

    let parts = empty_f32(&x, Shape::new([planes * plan.splits * 3]));
    let stats = empty_f32(&x, Shape::new([planes * 3]));
    let output = empty_f32(&x, Shape::new([b, c, h, w]));

    let (gx, gy) = spread(&client, to_u32(planes * plan.splits, "workgroups"));
    launch(
        STATS,
        &client,
        (gx, gy, 1),
        &[&x, &parts],
        &[hw32, planes32, splits32, chunk32],
    );

    let (gx, gy) = spread(&client, planes32.div_ceil(64));
    launch(
        FINALIZE,
        &client,
        (gx, gy, 1),
        &[&x, &parts, &stats],
        &[planes32, splits32, eps.to_bits(), hw32],
    );

    let (gx, gy) = spread(&client, total32.div_ceil(256));
    launch(
        APPLY,
        &client,
        (gx, gy, 1),
        &[&x, &stats, &gamma, &beta, &output],
        &[total32, hw32, to_u32(c, "C"), 0],
    );
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
    let [b, c, h, w] = dims(&x);
    assert_eq!(dims(&grad), [b, c, h, w], "instance_norm gradient shape");
    let (hw, planes, total) = (h * w, b * c, b * c * h * w);
    let client = x.client.clone();
    let plan = split_plan(planes, hw);
    let (hw32, planes32, total32) = (
        to_u32(hw, "H*W"),
        to_u32(planes, "B*C"),
        to_u32(total, "B*C*H*W"),
    );
    let (splits32, chunk32) = (to_u32(plan.splits, "splits"), to_u32(plan.chunk, "chunk"));
    let c32 = to_u32(c, "C");

    // Per plane: s1 = sum(dy), s2 = sum(dy * xhat).
    let parts = empty_f32(&x, Shape::new([planes * plan.splits * 2]));
    let sums = empty_f32(&x, Shape::new([planes * 2]));
    let (gx, gy) = spread(&client, to_u32(planes * plan.splits, "workgroups"));
    launch(
        GRAD_PARTIAL,
        &client,
        (gx, gy, 1),
        &[&x, &grad, &stats, &parts],
        &[hw32, planes32, splits32, chunk32],
    );
    let (gx, gy) = spread(&client, planes32.div_ceil(64));
    launch(
        GRAD_COMBINE,
        &client,
        (gx, gy, 1),
        &[&parts, &sums],
        &[planes32, splits32, 0, 0],
    );

    let dx = want_x.then(|| {
        let dx = empty_f32(&x, Shape::new([b, c, h, w]));
        let (gx, gy) = spread(&client, total32.div_ceil(256));
        launch(
            GRAD_APPLY,
            &client,
            (gx, gy, 1),
            &[&x, &grad, &stats, &sums, &gamma, &dx],
            &[total32, hw32, c32, 0],
        );
        dx
    });

    let (dgamma, dbeta) = if want_params {
        let dgamma = empty_f32(&x, Shape::new([c]));
        let dbeta = empty_f32(&x, Shape::new([c]));
        let (gx, gy) = spread(&client, c32.div_ceil(64));
        launch(
            GRAD_PARAMS,
            &client,
            (gx, gy, 1),
            &[&sums, &dgamma, &dbeta],
            &[to_u32(b, "B"), c32, 0, 0],
        );
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
pub(super) fn autodiff<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Cube, C>>,
    gamma: FloatTensor<Autodiff<Cube, C>>,
    beta: FloatTensor<Autodiff<Cube, C>>,
    eps: f32,
) -> FloatTensor<Autodiff<Cube, C>> {
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
