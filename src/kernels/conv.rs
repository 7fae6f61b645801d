//! 2-D convolution and transposed convolution (any kernel size, stride and zero padding;
//! dilation 1, one group: every convolution of VGG19, the ResNet and U-Net generators and the
//! PatchGAN), forward and backward, in `shaders/conv/`.
//!
//! Three implicit-GEMM kernels share one tiled core (`shaders/conv/gemm.wgsl`, appended to
//! each; `forward.wgsl` and `transposed.wgsl` also get `gather.wgsl`, their loads and bias
//! epilogue) and cover both operations:
//!
//! | kernel | convolution | transposed convolution |
//! |---|---|---|
//! | `forward.wgsl` (im2col gather) | forward | input gradient |
//! | `transposed.wgsl` (gather by stride phase) | input gradient | forward |
//! | `weight_grad.wgsl` | weight gradient | weight gradient (roles of input and output swapped) |
//!
//! plus `shaders/common/split_sum.wgsl`, which adds split-K partial sums (and the bias)
//! when one product alone would leave most of the GPU idle. Bias gradients are Burn sums over `dy`.
//!
//! Each kernel is compiled per geometry (kernel size, stride, padding are template constants)
//! and per tile shape ([`Tile`], chosen in `conv/plan.rs`): 128x128 outputs per workgroup (8x8 per thread) for large
//! products, 64x256 (4x16) for 64-row ones, 64x64 (4x4) for mid-sized ones, 16x256 for
//! products with few rows (the 3-channel first and last layers). The weights are transposed once per call into the layout each
//! kernel loads coalesced (`[K][Cout]` for the forward, `[Cout][KH][KW][Cin]` for the
//! transposed product): a few megabytes against the activations' hundreds.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate, into_contiguous};
use burn::backend::{Cube, Dispatch};
use burn::cubecl::CubeDim;
use burn::cubecl::client::Client;
use burn::cubecl::prelude::KernelId;
use burn::tensor::module::{conv_transpose2d as burn_conv_transpose2d, conv2d as burn_conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Shape, Tensor};

use super::{ArtKernels, Op, Tracked, assemble, count, dims, empty_f32, grid_limits, launch_source, spread, split_sum, to_u32};

mod plan;
pub(super) use plan::{Plan, plan};
pub use plan::{Tile, set_tile_override};

const GEMM: &str = include_str!("../../shaders/conv/gemm.wgsl");
const GATHER: &str = include_str!("../../shaders/conv/gather.wgsl");
const FORWARD: &str = include_str!("../../shaders/conv/forward.wgsl");
const TRANSPOSED: &str = include_str!("../../shaders/conv/transposed.wgsl");
const WEIGHT_GRAD: &str = include_str!("../../shaders/conv/weight_grad.wgsl");

// ---------------------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------------------

/// Stride and zero padding (per side, the same on both sides) of a 2-D convolution with
/// dilation 1 and one group, as `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl ConvGeometry {
    /// Square stride and padding.
    pub const fn new(stride: usize, padding: usize) -> Self {
        ConvGeometry { stride: [stride, stride], padding: [padding, padding] }
    }

    /// Output size of a convolution with kernel `[kh, kw]` over an `[h, w]` input, or `None`
    /// when the padded input is smaller than the kernel.
    pub fn output_size(&self, [h, w]: [usize; 2], [kh, kw]: [usize; 2]) -> Option<[usize; 2]> {
        let out = |n: usize, k: usize, s: usize, p: usize| (n + 2 * p).checked_sub(k).map(|r| r / s + 1);
        Some([out(h, kh, self.stride[0], self.padding[0])?, out(w, kw, self.stride[1], self.padding[1])?])
    }

    /// Output size of the transposed convolution with kernel `[kh, kw]` over an `[h, w]`
    /// input (PyTorch's `(n - 1) s - 2p + k + output_padding`), or `None` if not positive.
    pub fn transposed_output_size(&self, [h, w]: [usize; 2], [kh, kw]: [usize; 2], output_padding: [usize; 2]) -> Option<[usize; 2]> {
        let out = |n: usize, k: usize, s: usize, p: usize, op: usize| {
            ((n.checked_sub(1)?) * s + k + op).checked_sub(2 * p).filter(|&v| v > 0)
        };
        Some([
            out(h, kh, self.stride[0], self.padding[0], output_padding[0])?,
            out(w, kw, self.stride[1], self.padding[1], output_padding[1])?,
        ])
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new(self.stride, self.padding, [1, 1], 1)
    }
}

/// `conv2d(x: [B, Cin, H, W], weight: [Cout, Cin, KH, KW], bias: [Cout])`, PyTorch's
/// `F.conv2d` with zero padding.
///
/// WGSL on a wgpu device (f32), [`conv_reference`] (Burn's convolution) elsewhere;
/// differentiable with respect to all three either way.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, geometry: ConvGeometry) -> Tensor<4> {
    let [_, cin, h, w] = x.dims();
    let [cout, wcin, kh, kw] = weight.dims();
    assert_eq!(cin, wcin, "conv2d: the input has {cin} channels, the weights expect {wcin}");
    let out = geometry.output_size([h, w], [kh, kw]);
    run(x, weight, bias, cout, geometry, ConvKind::Conv, out.is_some_and(|[oh, ow]| oh * ow > 0))
}

/// `conv_transpose2d(x: [B, Cin, H, W], weight: [Cin, Cout, KH, KW], bias: [Cout])`,
/// PyTorch's `F.conv_transpose2d` (output `(n - 1) s - 2p + k + output_padding` per side).
///
/// WGSL on a wgpu device (f32), [`conv_reference`] elsewhere; differentiable.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    geometry: ConvGeometry,
    output_padding: [usize; 2],
) -> Tensor<4> {
    let [_, cin, h, w] = x.dims();
    let [wcin, cout, kh, kw] = weight.dims();
    assert_eq!(cin, wcin, "conv_transpose2d: the input has {cin} channels, the weights expect {wcin}");
    assert!(
        output_padding[0] < geometry.stride[0] && output_padding[1] < geometry.stride[1],
        "conv_transpose2d: output padding must be smaller than the stride"
    );
    let out = geometry.transposed_output_size([h, w], [kh, kw], output_padding);
    run(x, weight, bias, cout, geometry, ConvKind::Transposed { output_padding }, out.is_some())
}

/// Burn's own convolution or transposed convolution with the same arguments (the CPU
/// fallback, and the reference the WGSL is tested against).
pub fn conv_reference(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, geometry: ConvGeometry, kind: ConvKind) -> Tensor<4> {
    match kind {
        ConvKind::Conv => burn_conv2d(x, weight, bias, geometry.options()),
        ConvKind::Transposed { output_padding } => {
            let options = ConvTransposeOptions::new(geometry.stride, geometry.padding, output_padding, [1, 1], 1);
            burn_conv_transpose2d(x, weight, bias, options)
        }
    }
}

/// Either operation: through the backend extension when the output is not empty and
/// [`takes_wgsl`], a missing bias as `cout` zeros; Burn's convolution otherwise.
fn run(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, cout: usize, geometry: ConvGeometry, kind: ConvKind, nonempty: bool) -> Tensor<4> {
    if !nonempty || !takes_wgsl(&x, &weight, &bias, &geometry) {
        return conv_reference(x, weight, bias, geometry, kind);
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([cout], &x.device()));
    Tensor::from_dispatch(<Dispatch as ArtKernels>::conv(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), geometry, kind))
}

fn takes_wgsl(x: &Tensor<4>, weight: &Tensor<4>, bias: &Option<Tensor<1>>, geometry: &ConvGeometry) -> bool {
    let mut dtypes = vec![x.dtype(), weight.dtype()];
    dtypes.extend(bias.iter().map(|b| b.dtype()));
    geometry.stride.iter().all(|&s| s > 0)
        && weight.shape().num_elements() > 0
        && super::takes_wgsl_path(&x.device(), &dtypes, x.shape().num_elements())
}

// ---------------------------------------------------------------------------------------
// Kernel sources and launch plans.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Entry {
    Forward,
    Transposed,
    WeightGrad,
}

impl Entry {
    /// The entry file and what is appended to it.
    fn files(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Entry::Forward => (FORWARD, &[GATHER, GEMM]),
            Entry::Transposed => (TRANSPOSED, &[GATHER, GEMM]),
            Entry::WeightGrad => (WEIGHT_GRAD, &[GEMM]),
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Entry::Forward => "conv.forward",
            Entry::Transposed => "conv.transposed",
            Entry::WeightGrad => "conv.weight_grad",
        }
    }
}

/// One compiled variant: an entry file with `gemm.wgsl` (and `gather.wgsl`) appended, its
/// template filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct ConvKernel {
    pub entry: Entry,
    pub tile: Tile,
    pub kernel: [u32; 2],
    pub stride: [u32; 2],
    pub padding: [u32; 2],
}

impl KernelSource for ConvKernel {
    fn source(&self) -> SourceTemplate {
        let t = self.tile;
        let taps = |k: u32, s: u32| k.div_ceil(s).to_string();
        let (file, parts) = self.entry.files();
        assemble(file, parts)
            .register("bm", t.bm.to_string())
            .register("bn", t.bn.to_string())
            .register("bk", t.bk.to_string())
            .register("tm", t.tm.to_string())
            .register("tn", t.tn.to_string())
            .register("kh", self.kernel[0].to_string())
            .register("kw", self.kernel[1].to_string())
            .register("sh", self.stride[0].to_string())
            .register("sw", self.stride[1].to_string())
            .register("ph", self.padding[0].to_string())
            .register("pw", self.padding[1].to_string())
            .register("th", taps(self.kernel[0], self.stride[0]))
            .register("tw", taps(self.kernel[1], self.stride[1]))
    }

    /// Every template value is in the id, which keys the compiled-pipeline cache.
    fn id(&self) -> KernelId {
        let t = self.tile;
        KernelId::new::<Self>()
            .info((self.entry, [t.bm, t.bn, t.bk, t.tm, t.tn], self.kernel, self.stride, self.padding))
            .cube_dim(CubeDim::new_1d(256).0)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// One implicit product on the device, in one or several dispatches: the compiled variant,
/// its plan, and where it writes: straight into `out`, or into split-K partials that
/// [`Product::finish`] adds up (with the bias).
struct Product {
    kernel: ConvKernel,
    plan: Plan,
    client: Client,
    out: CubeTensor,
    parts: Option<CubeTensor>,
}

impl Product {
    /// Plans an `m x n` product over `k` into `out` (the transposed product's `m x n` is
    /// its largest phase: all phases must use the same splits).
    fn new(entry: Entry, [m, n, k]: [usize; 3], kernel: [usize; 2], geometry: ConvGeometry, out: CubeTensor) -> Self {
        let out_elements = out.meta.shape().num_elements();
        let plan = plan(m, n, k, out_elements);
        let pair = |v: [usize; 2], what| [to_u32(v[0], what), to_u32(v[1], what)];
        let kernel = ConvKernel {
            entry,
            tile: plan.tile,
            kernel: pair(kernel, "kernel"),
            stride: pair(geometry.stride, "stride"),
            padding: pair(geometry.padding, "padding"),
        };
        let parts = (plan.splits > 1).then(|| empty_f32(&out, Shape::new([plan.splits * out_elements])));
        Product { kernel, plan, client: out.client.clone(), out, parts }
    }

    /// `struct Conv` of `gemm.wgsl`, which every entry's uniform starts with: the
    /// convolution's shape `[B, Cin, H, W, Cout, OH, OW]`, `k_dim` (`Cin*KH*KW`, or the
    /// transposed product's K), the pixels of the product, and the split plan; 12 words.
    fn params(&self, shape: [usize; 7], k_dim: usize, pixels: usize) -> Vec<u32> {
        const NAMES: [&str; 7] = ["B", "Cin", "H", "W", "Cout", "OH", "OW"];
        let mut out: Vec<u32> = shape.iter().zip(NAMES).map(|(&v, name)| to_u32(v, name)).collect();
        let plan = &self.plan;
        out.extend([to_u32(k_dim, "Cin*KH*KW"), to_u32(pixels, "pixels"), to_u32(plan.chunk, "chunk"), to_u32(plan.splits, "splits"), 0]);
        out
    }

    /// One dispatch over `m x n` outputs of the product: `inputs`, then the output, bind in
    /// order, `params` (starting with [`Product::params`]) as the uniform.
    fn dispatch(&self, [m, n]: [usize; 2], inputs: &[&CubeTensor], params: &[u32]) {
        let splits = self.plan.splits;
        let (_, _, max_z) = grid_limits(&self.client);
        assert!(splits as u32 <= max_z, "{splits} splits exceed the grid's z limit {max_z}");
        let (gx, gy) = spread(&self.client, to_u32(self.plan.tile.workgroups(m, n), "workgroups"));
        let mut buffers = inputs.to_vec();
        buffers.push(self.parts.as_ref().unwrap_or(&self.out));
        let groups = (gx, gy, to_u32(splits, "splits"));
        launch_source(self.kernel, self.kernel.entry.label(), CubeDim::new_1d(256), &self.client, groups, &buffers, params);
    }

    /// Adds the partials, plus `bias[c]` on channel `c` of `[B, C, H, W]` (`plane = H*W`).
    fn finish(self, bias: Option<(&CubeTensor, usize, usize)>) -> CubeTensor {
        if let Some(parts) = &self.parts {
            split_sum(parts, self.plan.splits, 1.0, bias, &self.out);
        }
        self.out
    }
}

fn dims4(tensor: &CubeTensor) -> [usize; 4] {
    dims(tensor, "convolution tensors are 4-D")
}

// ---------------------------------------------------------------------------------------
// The three products, on the wgpu device.
// ---------------------------------------------------------------------------------------

/// `y = conv(x, w) + bias` with `w: [Co, Ci, KH, KW]`, `x: [B, Ci, H, W]`; the output is
/// `[B, Co, out_hw]` (passed in: the transposed convolution's input gradient asks for its
/// own input size).
fn implicit_forward(x: CubeTensor, weight: CubeTensor, bias: Option<CubeTensor>, geometry: ConvGeometry, [oh, ow]: [usize; 2]) -> CubeTensor {
    super::assert_wgsl(&x);
    let x = into_contiguous(x);
    let [b, cin, h, w] = dims4(&x);
    let [cout, wcin, kh, kw] = dims4(&weight);
    assert_eq!(cin, wcin, "conv forward: channels");
    let k_dim = cin * kh * kw;
    let n_total = b * oh * ow;
    // wt[k][co]: the weights as [Co, K], transposed.
    let wt = into_contiguous(Cube::float_swap_dims(Cube::float_reshape(into_contiguous(weight), Shape::new([cout, k_dim])), 0, 1));
    let bias = bias.map(into_contiguous).unwrap_or_else(|| zeros(&x, cout));
    let out = empty_f32(&x, Shape::new([b, cout, oh, ow]));
    to_u32(b * cin * h * w, "input size");
    to_u32(cout * n_total, "output size");

    let product = Product::new(Entry::Forward, [cout, n_total, k_dim], [kh, kw], geometry, out);
    let params = product.params([b, cin, h, w, cout, oh, ow], k_dim, n_total);
    product.dispatch([cout, n_total], &[&x, &wt, &bias], &params);
    count(Op::ConvForward);
    product.finish(Some((&bias, cout, oh * ow)))
}

/// `dx = conv_transpose(dy, w) + bias` with `w: [Co, Ci, KH, KW]`, `dy: [B, Co, OH, OW]`;
/// the output is `[B, Ci, in_hw]`.
fn implicit_transposed(dy: CubeTensor, weight: CubeTensor, bias: Option<CubeTensor>, geometry: ConvGeometry, [h, w]: [usize; 2]) -> CubeTensor {
    super::assert_wgsl(&dy);
    let dy = into_contiguous(dy);
    let [b, cout, oh, ow] = dims4(&dy);
    let [wcout, cin, kh, kw] = dims4(&weight);
    assert_eq!(cout, wcout, "transposed convolution: channels");
    let [sh, sw] = geometry.stride;
    let [ph, pw] = geometry.padding;
    let k_dim = cout * kh.div_ceil(sh) * kw.div_ceil(sw);
    // wd[co][kh][kw][ci].
    let wd = into_contiguous(Cube::float_swap_dims(Cube::float_reshape(into_contiguous(weight), Shape::new([cout, cin, kh * kw])), 1, 2));
    let bias = bias.map(into_contiguous).unwrap_or_else(|| zeros(&dy, cin));
    let out = empty_f32(&dy, Shape::new([b, cin, h, w]));
    to_u32(b * cout * oh * ow, "input size");
    to_u32(b * cin * h * w, "output size");

    // The largest phase sets the tile and the splits.
    let n_max = b * h.div_ceil(sh) * w.div_ceil(sw);
    let product = Product::new(Entry::Transposed, [cin, n_max, k_dim], [kh, kw], geometry, out);
    for rho_h in 0..sh.min(h) {
        let cnt_h = (h - rho_h).div_ceil(sh);
        for rho_w in 0..sw.min(w) {
            let cnt_w = (w - rho_w).div_ceil(sw);
            let n_total = b * cnt_h * cnt_w;
            // The shared head (`Conv`), then the phase (`Phase`).
            let mut params = product.params([b, cin, h, w, cout, oh, ow], k_dim, n_total);
            params.extend(params![rho_h, rho_w, cnt_h, cnt_w, (rho_h + ph) % sh, (rho_w + pw) % sw, (rho_h + ph) / sh, (rho_w + pw) / sw]);
            product.dispatch([cin, n_total], &[&dy, &wd, &bias], &params);
        }
    }
    count(Op::ConvTransposed);
    product.finish(Some((&bias, cin, h * w)))
}

/// `dw[co, ci, kh, kw] = sum dy[b, co, oh, ow] x[b, ci, oh*s - p + kh, ow*s - p + kw]` for
/// `dy: [B, Co, OH, OW]`, `x: [B, Ci, H, W]`; the result is `[Co, Ci, KH, KW]`.
fn implicit_weight_grad(dy: CubeTensor, x: CubeTensor, [kh, kw]: [usize; 2], geometry: ConvGeometry) -> CubeTensor {
    super::assert_wgsl(&x);
    let dy = into_contiguous(dy);
    let x = into_contiguous(x);
    let [b, cout, oh, ow] = dims4(&dy);
    let [xb, cin, h, w] = dims4(&x);
    assert_eq!(b, xb, "weight gradient: batch");
    let k_dim = cin * kh * kw;
    let r_total = b * oh * ow;
    let out = empty_f32(&x, Shape::new([cout, cin, kh, kw]));
    to_u32(b * cin * h * w, "input size");
    to_u32(b * cout * oh * ow, "gradient size");

    let product = Product::new(Entry::WeightGrad, [cout, k_dim, r_total], [kh, kw], geometry, out);
    let params = product.params([b, cin, h, w, cout, oh, ow], k_dim, r_total);
    product.dispatch([cout, k_dim], &[&dy, &x], &params);
    count(Op::ConvWeightGrad);
    product.finish(None)
}

/// `db[c] = sum dy[b, c, h, w]` (Burn's reductions).
fn bias_grad(dy: CubeTensor) -> CubeTensor {
    let [b, c, h, w] = dims4(&dy);
    let flat = Cube::float_reshape(dy, Shape::new([b, c, h * w]));
    Cube::float_reshape(Cube::float_sum_dim(Cube::float_sum_dim(flat, 2), 0), Shape::new([c]))
}

fn zeros(like: &CubeTensor, n: usize) -> CubeTensor {
    Cube::float_zeros(Shape::new([n]), &like.device, burn::tensor::FloatDType::F32)
}

// ---------------------------------------------------------------------------------------
// The operations, without and with autodiff.
// ---------------------------------------------------------------------------------------

/// Which of the two operations: a convolution, or a transposed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    Conv,
    Transposed { output_padding: [usize; 2] },
}

impl ConvKind {
    /// The operation on the wgpu device (the public functions have checked the sizes).
    pub(super) fn forward(self, x: CubeTensor, weight: CubeTensor, bias: CubeTensor, geometry: ConvGeometry) -> CubeTensor {
        let [_, _, h, w] = dims4(&x);
        let [_, _, kh, kw] = dims4(&weight);
        match self {
            ConvKind::Conv => {
                let out = geometry.output_size([h, w], [kh, kw]).expect("conv2d: the public function checks the size");
                implicit_forward(x, weight, Some(bias), geometry, out)
            }
            ConvKind::Transposed { output_padding } => {
                let out = geometry
                    .transposed_output_size([h, w], [kh, kw], output_padding)
                    .expect("conv_transpose2d: the public function checks the size");
                implicit_transposed(x, weight, Some(bias), geometry, out)
            }
        }
    }
}

/// The backward of both operations; the state is the checkpointed input and weights.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Cube, 3> for ConvBackward {
    type State = (NodeId, NodeId, ConvGeometry, ConvKind);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad: CubeTensor = grads.consume::<Cube>(&ops.node);
        let (x_id, w_id, geometry, kind) = ops.state;
        let x: CubeTensor = checkpointer.retrieve_node_output(x_id);
        let weight: CubeTensor = checkpointer.retrieve_node_output(w_id);
        let [_, _, h, w] = dims4(&x);
        let [_, _, kh, kw] = dims4(&weight);
        if let Some(node) = node_x {
            // A convolution's input gradient is the transposed convolution of its output
            // gradient, and the other way round (same weights, read as [Co, Ci, KH, KW]).
            let dx = match kind {
                ConvKind::Conv => implicit_transposed(grad.clone(), weight, None, geometry, [h, w]),
                ConvKind::Transposed { .. } => implicit_forward(grad.clone(), weight, None, geometry, [h, w]),
            };
            grads.register::<Cube>(node.id, dx);
        }
        if let Some(node) = node_w {
            // A transposed convolution's weight gradient is a convolution's with input and
            // output gradient swapped.
            let dw = match kind {
                ConvKind::Conv => implicit_weight_grad(grad.clone(), x, [kh, kw], geometry),
                ConvKind::Transposed { .. } => implicit_weight_grad(x, grad.clone(), [kh, kw], geometry),
            };
            grads.register::<Cube>(node.id, dw);
        }
        if let Some(node) = node_b {
            grads.register::<Cube>(node.id, bias_grad(grad));
        }
    }
}

/// Records either operation on the autodiff graph (forward in WGSL, backward in WGSL).
pub(super) fn autodiff<C: CheckpointStrategy>(x: Tracked<C>, weight: Tracked<C>, bias: Tracked<C>, geometry: ConvGeometry, kind: ConvKind) -> Tracked<C> {
    match ConvBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            let x_id = prep.checkpoint(&x);
            let w_id = prep.checkpoint(&weight);
            let out = kind.forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), geometry);
            prep.finish((x_id, w_id, geometry, kind), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(kind.forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), geometry)),
    }
}
