//! Gram matrix `G = scale * F F^T` (`F: [B, C, N]`, `G: [B, C, C]`), forward and backward
//! (`dF = scale * (dG + dG^T) F`), in `shaders/gram/forward.wgsl` / `backward.wgsl`; split
//! partials are added by `shaders/common/split_sum.wgsl`. Both kernels have
//! `shaders/gram/tile.wgsl`, the register-tiled step they share, appended.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::backend::{Cube, Dispatch};
use burn::tensor::{Shape, Tensor};

use super::{ArtKernels, Op, SplitPlan, Tracked, WgslKernel, count, dims, empty_f32, grid_limits, launch, spread, to_u32};

const TILE_WGSL: &str = include_str!("../../shaders/gram/tile.wgsl");
pub(super) const PARTIAL: WgslKernel = WgslKernel::new(include_str!("../../shaders/gram/forward.wgsl"), &[TILE_WGSL], "gram.forward", (16, 16, 1));
pub(super) const GRAD: WgslKernel = WgslKernel::new(include_str!("../../shaders/gram/backward.wgsl"), &[TILE_WGSL], "gram.backward", (16, 16, 1));

/// Output tile side of both kernels: 16x16 threads, each owning a 4x4 register block.
const TILE: usize = 64;
/// Columns of dF per backward workgroup.
const GRAD_COLS: usize = 64;
/// K step of the kernels; split-K chunks are multiples of it.
const BK: usize = 16;
/// Aim for about this many working workgroups before splitting N across workgroups.
const TARGET_WORKGROUPS: usize = 1024;
/// A split never gets fewer columns than this.
const MIN_SPLIT_COLS: usize = 4096;
const MAX_SPLITS: usize = 64;
/// Cap on the split-K scratch buffer.
const MAX_PARTIAL_BYTES: usize = 64 << 20;

/// `G = scale * F F^T` for `features: [B, C, N]` (N = H*W), e.g. `scale = 1 / (C*H*W)`.
///
/// WGSL on a wgpu device (f32), [`gram_reference`] elsewhere; differentiable either way.
pub fn gram(features: Tensor<3>, scale: f32) -> Tensor<3> {
    let device = features.device();
    if super::takes_wgsl_path(
        &device,
        &[features.dtype()],
        features.shape().num_elements(),
    ) {
        let output = <Dispatch as ArtKernels>::gram(features.into_dispatch(), scale);
        Tensor::from_dispatch(output)
    } else {
        gram_reference(features, scale)
    }
}

/// The same operation composed of Burn tensor ops (the CPU fallback, and the reference the
/// WGSL is tested against).
pub fn gram_reference(features: Tensor<3>, scale: f32) -> Tensor<3> {
    let transposed = features.clone().transpose();
    features.matmul(transposed).mul_scalar(scale)
}

/// How the forward splits N so that a small C still fills the GPU (chunks of whole K steps).
pub(super) fn split_plan(b: usize, c: usize, n: usize) -> SplitPlan {
    let tiles = c.div_ceil(TILE);
    let upper = tiles * (tiles + 1) / 2; // tiles on or above the diagonal do the work
    let mut splits = (TARGET_WORKGROUPS / (upper * b).max(1)).max(1);
    splits = splits
        .min(n.div_ceil(MIN_SPLIT_COLS).max(1))
        .min(MAX_SPLITS);
    while splits > 1 && splits * b * c * c * 4 > MAX_PARTIAL_BYTES {
        splits /= 2;
    }
    SplitPlan::covering(n, splits, BK)
}

fn dims3(tensor: &CubeTensor) -> [usize; 3] {
    dims(tensor, "gram expects [B, C, N]")
}

/// Forward on the wgpu device.
pub(super) fn forward(features: CubeTensor, scale: f32) -> CubeTensor {
    super::assert_wgsl(&features);
    let features = into_contiguous(features);
    let [b, c, n] = dims3(&features);
    let client = features.client.clone();
    let (max_x, _, max_z) = grid_limits(&client);
    let tiles = to_u32(c.div_ceil(TILE), "C / 64");
    assert!(
        tiles <= max_x,
        "C = {c} needs more than {max_x} tiles per dimension"
    );
    to_u32(b * c * n, "B*C*N");

    let output = empty_f32(&features, Shape::new([b, c, c]));
    let plan = split_plan(b, c, n);
    let (target, kernel_scale) = if plan.splits == 1 {
        (output.clone(), scale)
    } else {
        (
            empty_f32(&features, Shape::new([plan.splits * b * c * c])),
            1.0,
        )
    };

    // z = local batch * splits + split; launches are cut by batch when z would overflow.
    let batches_per_launch = ((max_z as usize) / plan.splits).max(1);
    let mut batch_offset = 0;
    while batch_offset < b {
        let batches = batches_per_launch.min(b - batch_offset);
        launch(
            PARTIAL,
            &client,
            (tiles, tiles, to_u32(batches * plan.splits, "grid z")),
            &[&features, &target],
            &params![c, n, plan.chunk, plan.splits, b, batch_offset; kernel_scale.to_bits(), 0],
        );
        batch_offset += batches;
    }

    if plan.splits > 1 {
        super::split_sum(&target, plan.splits, scale, None, &output);
    }
    count(Op::GramForward);
    output
}

/// `dF = scale * (dG + dG^T) F` on the wgpu device.
pub(super) fn backward(grad: CubeTensor, features: CubeTensor, scale: f32) -> CubeTensor {
    super::assert_wgsl(&features);
    let grad = into_contiguous(grad);
    let features = into_contiguous(features);
    let [b, c, n] = dims3(&features);
    assert_eq!(dims3(&grad), [b, c, c], "gram gradient shape");
    let client = features.client.clone();
    let (_, _, max_z) = grid_limits(&client);
    to_u32(b * c * n, "B*C*N");

    let output = empty_f32(&features, Shape::new([b, c, n]));
    let n_tiles = to_u32(n.div_ceil(GRAD_COLS), "N / 64");
    let groups = to_u32(
        c.div_ceil(TILE) * n.div_ceil(GRAD_COLS),
        "gram backward tiles",
    );
    let (gx, gy) = spread(&client, groups);

    let mut batch_offset = 0;
    while batch_offset < b {
        let batches = (max_z as usize).min(b - batch_offset);
        launch(
            GRAD,
            &client,
            (gx, gy, to_u32(batches, "grid z")),
            &[&grad, &features, &output],
            &params![c, n; n_tiles, groups, to_u32(batch_offset, "batch_offset"), scale.to_bits(), 0, 0],
        );
        batch_offset += batches;
    }
    count(Op::GramBackward);
    output
}

/// The autodiff node: forward in WGSL, backward in WGSL.
pub(super) fn autodiff<C: CheckpointStrategy>(features: Tracked<C>, scale: f32) -> Tracked<C> {
    #[derive(Debug)]
    struct GramBackward;

    impl Backward<Cube, 1> for GramBackward {
        /// The checkpointed input and the scale.
        type State = (NodeId, f32);

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [parent] = ops.parents;
            let grad: CubeTensor = grads.consume::<Cube>(&ops.node);
            let (features_id, scale) = ops.state;
            let features: CubeTensor = checkpointer.retrieve_node_output(features_id);
            if let Some(parent) = parent {
                grads.register::<Cube>(parent.id, backward(grad, features, scale));
            }
        }
    }

    // The guard keeps the input's node alive until the step is registered (take it before
    // consuming the primitive; burn-autodiff-0.22.1/src/ops/base.rs:20-33).
    let guard = features.node();
    match GramBackward
        .prepare::<C>([guard])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let features_id = prep.checkpoint(&features);
            let output = forward(features.into_primitive(), scale);
            prep.finish((features_id, scale), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(features.into_primitive(), scale)),
    }
}
