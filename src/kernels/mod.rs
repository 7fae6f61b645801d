//! Hand-written WGSL kernels (`shaders/`) and their Burn wiring.
//!
//! Four operations, forward and backward:
//! * [`gram()`]: `[B, C, N] -> [B, C, C]`, `G = scale * F F^T` (style loss);
//! * [`instance_norm()`]: per-(b, c) normalisation of `[B, C, H, W]` with optional affine;
//! * [`conv2d()`] and [`conv_transpose2d()`] (one operation, [`ConvKind`]): every convolution
//!   of the studio's networks, as implicit matrix products (`shaders/conv/`, see [`conv`]).
//!
//! On a wgpu device whose runtime compiles WGSL ([`uses_wgsl`]) they run our kernels from
//! `shaders/`; anywhere else (the `burn-flex` CPU fallback, a non-f32 tensor, an empty
//! tensor) they run [`gram_reference`] / [`instance_norm_reference`] / [`conv_reference`],
//! compositions of Burn tensor ops or Burn's own
//! convolutions. Under autodiff the WGSL backward kernels compute the gradients.
//!
//! Wiring (Burn 0.22.1): [`ArtKernels`] is a `#[backend_extension(Cube, Autodiff)]` trait.
//! The macro generates `impl ArtKernels for burn::backend::Dispatch`, which routes a call to
//! `impl ArtKernels for Cube` (the cubecl backend; a plain wgpu tensor) or to
//! `impl ArtKernels for Autodiff<Cube, C>` (an autodiff tensor), where the backward step is
//! registered by hand with `burn::backend::autodiff::ops::Backward`.
//!
//! Launch contract of a precompiled WGSL kernel on cubecl-wgpu 0.11 (`shaders/README.md`):
//! storage buffers at `@binding(0..k)` in the order passed, all `read_write`; the u32
//! parameter block as a `var<uniform>` at `@binding(k)`; entry point `main`; every declared
//! binding used; bounds checked by hand (cubecl turns wgpu's bounds checks off). One file
//! per entry point, a folder per kernel (`shaders/gram/`, `shaders/instance_norm/`,
//! `shaders/conv/`, and `shaders/common/split_sum.wgsl` shared by Gram and the convolutions);
//! the snippets a kernel shares with others (`shaders/common/entry.wgsl`, a kernel folder's
//! `shared.wgsl` ...) are appended to its file by the host ([`WgslKernel`]).

/// Kernel parameters: `params![c, n; scale.to_bits(), 0]` is
/// `[to_u32(c, "c"), to_u32(n, "n"), scale.to_bits(), 0]`: each size is checked to fit the
/// kernels' u32 indexing, named by its expression when it does not.
macro_rules! params {
    ($($size:expr),+ $(; $($raw:expr),+)?) => {
        [$(to_u32($size, stringify!($size))),+ $($(, $raw)+)?]
    };
}

pub mod conv;
mod gram;
mod instance_norm;

pub use conv::{ConvGeometry, ConvKind, conv_reference, conv_transpose2d, conv2d};
pub use gram::{gram, gram_reference};
pub use instance_norm::{instance_norm, instance_norm_reference};

use core::sync::atomic::{AtomicU64, Ordering};

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::backend::{Autodiff, Backend, Cube, DispatchDevice, backend_extension};
use burn::cubecl::client::Client;
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::{KernelArguments, MetadataBindingInfo};
use burn::cubecl::{CubeCount, CubeDim, RuntimeId};
use burn::tensor::{DType, Device, Shape};

// ---------------------------------------------------------------------------------------
// The backend extension.
// ---------------------------------------------------------------------------------------

/// Our custom operations, at the primitive level.
///
/// Only `Cube` (every cubecl runtime; here wgpu) and its autodiff wrapper are listed: the
/// public functions send nothing else here (they run the reference composition instead), and
/// calling the generated `Dispatch` impl with a tensor of an unlisted backend panics.
///
/// Inputs must be plain tensors: the macro maps `FloatTensor<Self>` / `&FloatTensor<Self>`
/// arguments only, so `Option<FloatTensor<Self>>` is not accepted; `instance_norm` therefore
/// always takes gamma and beta (the public wrapper fills in ones / zeros).
#[backend_extension(Cube, Autodiff)]
pub trait ArtKernels: Backend {
    /// `G = scale * F F^T`, `features: [B, C, N]`, result `[B, C, C]`.
    fn gram(features: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;

    /// Instance normalisation of `x: [B, C, H, W]` with `gamma`, `beta: [C]`.
    fn instance_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f32,
    ) -> FloatTensor<Self>;

    /// 2-D convolution of `x: [B, Cin, H, W]` with `weight: [Cout, Cin, KH, KW]`, or
    /// transposed convolution with `weight: [Cin, Cout, KH, KW]`, and `bias: [Cout]` (zeros
    /// when the layer has none).
    fn conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
        kind: ConvKind,
    ) -> FloatTensor<Self>;
}

// UNSURE: `burn::backend::Cube` is `CubeBackend` only while burn-cubecl's `fusion` feature is
// off (burn-cubecl-0.22.1/src/lib.rs:77-83). It is off in this project (our burn features
// never enable `fusion`; the build fingerprints show burn-cubecl features = std, wgpu,
// template). If `fusion` is ever turned on, `FloatTensor<Cube>` becomes a fusion handle and
// these impls stop compiling: add `Fusion` to the macro and implement for `CubeBackend`.
impl ArtKernels for Cube {
    fn gram(features: CubeTensor, scale: f32) -> CubeTensor {
        gram::forward(features, scale)
    }

    fn instance_norm(x: CubeTensor, gamma: CubeTensor, beta: CubeTensor, eps: f32) -> CubeTensor {
        instance_norm::forward(x, gamma, beta, eps).0
    }

    fn conv(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, geometry: ConvGeometry, kind: ConvKind) -> CubeTensor {
        kind.forward(x, weight, bias, geometry)
    }
}

/// A tensor on the autodiff graph over the cubecl backend (the operations' `autodiff` nodes).
type Tracked<C> = FloatTensor<Autodiff<Cube, C>>;

impl<C: CheckpointStrategy> ArtKernels for Autodiff<Cube, C> {
    fn gram(features: FloatTensor<Self>, scale: f32) -> FloatTensor<Self> {
        gram::autodiff::<C>(features, scale)
    }

    fn instance_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f32,
    ) -> FloatTensor<Self> {
        instance_norm::autodiff::<C>(x, gamma, beta, eps)
    }

    fn conv(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geometry: ConvGeometry, kind: ConvKind) -> FloatTensor<Self> {
        conv::autodiff::<C>(x, weight, bias, geometry, kind)
    }
}

// ---------------------------------------------------------------------------------------
// Which path runs.
// ---------------------------------------------------------------------------------------

/// The runtime name cubecl-wgpu gives a device whose kernels are compiled to WGSL
/// (`cubecl-wgpu-0.11.3/src/runtime.rs:616-622`). A WGSL template is refused on any other
/// compiler (`wgpu<spirv>`, `wgpu<msl>`), so this is the exact condition for our kernels.
const WGSL_RUNTIME: &str = "wgpu<wgsl>";

/// True when `device` (autodiff or not) runs our WGSL kernels: a cubecl device of the wgpu
/// runtime whose compiler is WGSL (always the case in this build, which enables neither
/// burn's `vulkan` nor `metal` feature).
pub fn uses_wgsl(device: &Device) -> bool {
    match device.clone().without_autodiff().as_dispatch() {
        DispatchDevice::Cube(cube) => {
            cube.runtime() == RuntimeId::Wgpu && cube.client().name() == WGSL_RUNTIME
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether a call with these inputs takes the WGSL path.
fn takes_wgsl_path(device: &Device, dtypes: &[DType], num_elements: usize) -> bool {
    num_elements > 0 && dtypes.iter().all(|dtype| *dtype == DType::F32) && uses_wgsl(device)
}

fn assert_wgsl(tensor: &CubeTensor) {
    assert_eq!(
        tensor.client.name(),
        WGSL_RUNTIME,
        "our WGSL kernels need a wgpu device compiling WGSL; the public functions route other devices to the reference"
    );
    assert_eq!(tensor.dtype, DType::F32, "our WGSL kernels are f32 only");
}

/// How many times each WGSL operation ran in this process: lets a test prove that the WGSL
/// path (and, under autodiff, the WGSL backward) was taken. Counts only grow, so concurrent
/// tests can compare before/after snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelLaunches {
    pub gram_forward: u64,
    pub gram_backward: u64,
    pub instance_norm_forward: u64,
    pub instance_norm_backward: u64,
    /// `shaders/conv/forward.wgsl`: convolutions, and transposed convolutions' input gradients.
    pub conv_forward: u64,
    /// `shaders/conv/transposed.wgsl`: transposed convolutions, and convolutions' input gradients.
    pub conv_transposed: u64,
    /// `shaders/conv/weight_grad.wgsl`: the weight gradients of both.
    pub conv_weight_grad: u64,
}

static LAUNCHES: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

#[derive(Clone, Copy)]
enum Op {
    GramForward = 0,
    GramBackward = 1,
    InstanceNormForward = 2,
    InstanceNormBackward = 3,
    ConvForward = 4,
    ConvTransposed = 5,
    ConvWeightGrad = 6,
}

fn count(op: Op) {
    LAUNCHES[op as usize].fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of [`KernelLaunches`].
pub fn kernel_launches() -> KernelLaunches {
    let get = |op: Op| LAUNCHES[op as usize].load(Ordering::Relaxed);
    KernelLaunches {
        gram_forward: get(Op::GramForward),
        gram_backward: get(Op::GramBackward),
        instance_norm_forward: get(Op::InstanceNormForward),
        instance_norm_backward: get(Op::InstanceNormBackward),
        conv_forward: get(Op::ConvForward),
        conv_transposed: get(Op::ConvTransposed),
        conv_weight_grad: get(Op::ConvWeightGrad),
    }
}

// ---------------------------------------------------------------------------------------
// Naming launches for profiles.
// ---------------------------------------------------------------------------------------

std::thread_local! {
    static LAUNCH_LABEL: core::cell::Cell<Option<&'static str>> = const { core::cell::Cell::new(None) };
}

/// Names the kernel being launched on this thread, for as long as it lives. Every one of our
/// kernels is a `SourceKernel` to cubecl, so a profile could not tell them apart by type;
/// cubecl calls launch observers synchronously on the launching thread, where
/// [`launch_label`] reads this back (see `crate::cli::profile`).
pub(crate) struct LaunchLabel(Option<&'static str>);

impl LaunchLabel {
    pub(crate) fn set(label: &'static str) -> Self {
        LaunchLabel(LAUNCH_LABEL.with(|l| l.replace(Some(label))))
    }
}

impl Drop for LaunchLabel {
    fn drop(&mut self) {
        LAUNCH_LABEL.with(|l| l.set(self.0));
    }
}

/// The label of the kernel this thread is launching, if it is one of ours.
pub fn launch_label() -> Option<&'static str> {
    LAUNCH_LABEL.with(|l| l.get())
}

// ---------------------------------------------------------------------------------------
// Launching a WGSL kernel.
// ---------------------------------------------------------------------------------------

/// One `shaders/<kernel>/<entry>.wgsl` file with the shared snippets it needs appended: a
/// complete WGSL module with entry point `main` (burn's `SourceKernel` hard-codes that name,
/// burn-cubecl-0.22.1/src/template/base.rs:48-55). The convolutions, which are templates of
/// their geometry and tile, have their own [`KernelSource`] (`conv.rs`).
#[derive(Clone, Copy, Debug)]
struct WgslKernel {
    file: &'static str,
    /// Appended to `file` in order (WGSL declarations may come in any order), e.g.
    /// [`ENTRY`] and [`PER_ITEM`]; their `{{ threads }}` is the workgroup's x size.
    parts: &'static [&'static str],
    /// Of `file` and `parts`.
    source_hash: u64,
    /// What a profile calls it (`gram.forward`, ...); also part of the pipeline-cache id.
    label: &'static str,
    /// Must equal the `@workgroup_size` in the WGSL (checked by a unit test).
    workgroup: (u32, u32, u32),
}

/// `shaders/common/entry.wgsl`: `main` of the kernels with 1-D workgroups on a 2-D grid,
/// which calls the kernel's `run_workgroup` ([`launch_groups`]).
const ENTRY: &str = include_str!("../../shaders/common/entry.wgsl");
/// `shaders/common/per_item.wgsl`: with [`ENTRY`], one thread per item ([`launch_items`]).
const PER_ITEM: &str = include_str!("../../shaders/common/per_item.wgsl");

impl WgslKernel {
    const fn new(file: &'static str, parts: &'static [&'static str], label: &'static str, workgroup: (u32, u32, u32)) -> Self {
        let mut source_hash = fnv1a(file, FNV_OFFSET);
        let mut i = 0;
        while i < parts.len() {
            source_hash = fnv1a(parts[i], source_hash);
            i += 1;
        }
        Self { file, parts, source_hash, label, workgroup }
    }

    fn cube_dim(&self) -> CubeDim {
        CubeDim::new_3d(self.workgroup.0, self.workgroup.1, self.workgroup.2)
    }
}

impl KernelSource for WgslKernel {
    fn source(&self) -> SourceTemplate {
        assemble(self.file, self.parts).register("threads", self.workgroup.0.to_string())
    }

    /// The id keys every compiled-pipeline cache and never sees the text
    /// (cubecl-runtime-0.11.3/src/kernel.rs:75-84), so it carries the label and a hash of
    /// the sources. It also carries the cube dim, which cubecl validates against the device's
    /// limits before compiling (cubecl-server-0.11.3/src/validation.rs:10-45).
    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
            .info((self.label, self.source_hash))
            .cube_dim(self.cube_dim().0)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// An entry file with `parts` appended in order, its placeholders still to fill.
fn assemble(file: &'static str, parts: &[&'static str]) -> SourceTemplate {
    parts.iter().fold(SourceTemplate::new(file), |template, part| template.add_template(*part))
}

/// `shaders/common/split_sum.wgsl`: adds split-K partial sums (Gram, convolutions).
const SPLIT_SUM: WgslKernel = WgslKernel::new(include_str!("../../shaders/common/split_sum.wgsl"), &[ENTRY, PER_ITEM], "split_sum", (256, 1, 1));

/// `out = scale * sum of the splits of parts + bias[c]` for `out` of shape `[.., C, H, W]`;
/// `bias` is `(bias [C], C, H*W)`. `parts` holds `splits` copies of `out`'s layout.
fn split_sum(parts: &CubeTensor, splits: usize, scale: f32, bias: Option<(&CubeTensor, usize, usize)>, out: &CubeTensor) {
    let total = to_u32(out.meta.shape().num_elements(), "split-K output");
    let dummy;
    let (bias_tensor, channels, plane, has_bias) = match bias {
        Some((b, channels, plane)) => (b, channels, plane, 1),
        None => {
            // Never read, but bound: WebGPU rejects two bindings of one writable tensor.
            dummy = empty_f32(out, Shape::new([1]));
            (&dummy, 1, 1, 0)
        }
    };
    launch_items(
        SPLIT_SUM,
        &out.client,
        total,
        &[parts, bias_tensor, out],
        &[
            total,
            to_u32(splits, "splits"),
            to_u32(plane.max(1), "plane"),
            to_u32(channels.max(1), "channels"),
            has_bias,
            scale.to_bits(),
            0,
            0,
        ],
    );
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `text`, continuing from `hash` ([`FNV_OFFSET`] to start).
const fn fnv1a(text: &str, mut hash: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The u32 parameters as cubecl's info words: `MetadataBindingInfo` holds `u64`s, uploaded
/// as bytes into the uniform that is bound after the buffers
/// (cubecl-wgpu-0.11.3/src/compute/schedule.rs:174-205, stream.rs:714-726). Two u32 per
/// word, low half first (every wgpu target is little-endian), padded to 16 bytes so the
/// binding is never smaller than the WGSL `Info` struct.
fn pack_params(params: &[u32]) -> Vec<u64> {
    let mut words: Vec<u32> = params.to_vec();
    while words.len() % 4 != 0 {
        words.push(0);
    }
    words
        .chunks(2)
        .map(|pair| pair[0] as u64 | ((pair[1] as u64) << 32))
        .collect()
}

/// Enqueues one WGSL kernel. `buffers` bind to `@binding(0..)` in order; `params` become the
/// uniform at `@binding(buffers.len())`.
fn launch(kernel: WgslKernel, client: &Client, groups: (u32, u32, u32), buffers: &[&CubeTensor], params: &[u32]) {
    launch_source(kernel, kernel.label, kernel.cube_dim(), client, groups, buffers, params);
}

/// [`launch`] for any of our kernel sources, named `label` in profiles.
fn launch_source<K: KernelSource>(
    source: K,
    label: &'static str,
    cube_dim: CubeDim,
    client: &Client,
    groups: (u32, u32, u32),
    buffers: &[&CubeTensor],
    params: &[u32],
) {
    let mut args = KernelArguments::new();
    for tensor in buffers {
        args = args.with_buffer(tensor.handle.clone().binding());
    }
    args = args.with_info(MetadataBindingInfo::custom(pack_params(params)));
    let _label = LaunchLabel::set(label);
    client.launch(
        Box::new(SourceKernel::new(source, cube_dim)),
        CubeCount::Static(groups.0, groups.1, groups.2),
        args,
    );
}

/// Launches `groups` 1-D workgroups, laid out on x and y ([`spread`]), of a kernel built on
/// `shaders/common/entry.wgsl`.
fn launch_groups(kernel: WgslKernel, client: &Client, groups: u32, buffers: &[&CubeTensor], params: &[u32]) {
    let (gx, gy) = spread(client, groups);
    launch(kernel, client, (gx, gy, 1), buffers, params);
}

/// Launches one thread per item of a kernel built on `shaders/common/per_item.wgsl`, whose
/// uniform starts with the number of items: `params[0] == items`.
fn launch_items(kernel: WgslKernel, client: &Client, items: u32, buffers: &[&CubeTensor], params: &[u32]) {
    assert_eq!(params.first(), Some(&items), "{}: the parameters start with the item count", kernel.label);
    launch_groups(kernel, client, items.div_ceil(kernel.workgroup.0), buffers, params);
}

/// The `D` dimensions of one of our operations' tensors.
fn dims<const D: usize>(tensor: &CubeTensor, what: &str) -> [usize; D] {
    let shape = tensor.meta.shape();
    assert_eq!(shape.num_dims(), D, "{what}");
    core::array::from_fn(|i| shape[i])
}

/// How a reduction of `len` values is cut into `splits` ranges of `chunk`, so that a small
/// problem still fills the GPU (Gram's N, instance norm's planes, the convolutions' K).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SplitPlan {
    pub splits: usize,
    /// Values per split, a multiple of the kernel's step.
    pub chunk: usize,
}

impl SplitPlan {
    /// About `splits` ranges over `len`, each a multiple of `step` long; none is empty.
    fn covering(len: usize, splits: usize, step: usize) -> Self {
        let chunk = len.div_ceil(splits).div_ceil(step).max(1) * step;
        SplitPlan { splits: len.div_ceil(chunk).max(1), chunk }
    }
}

/// A new, uninitialised, contiguous f32 tensor on `like`'s device.
fn empty_f32(like: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * core::mem::size_of::<f32>();
    let handle = like.client.empty(bytes);
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        DType::F32,
    )
}

/// Most workgroups per dispatch dimension (`max_compute_workgroups_per_dimension`, 65535 by
/// default): cubecl does not split a `CubeCount::Static` that exceeds it, wgpu rejects it.
fn grid_limits(client: &Client) -> (u32, u32, u32) {
    let limits = client.properties().hardware.max_cube_count;
    #[cfg(test)]
    {
        let cap = tests::GRID_LIMIT_OVERRIDE.with(|c| c.get());
        if cap > 0 {
            return (limits.0.min(cap), limits.1.min(cap), limits.2.min(cap));
        }
    }
    limits
}

/// Lays `groups` workgroups out on x and y; the WGSL rebuilds the linear index as
/// `wg.x + wg.y * num_workgroups.x` and discards the overshoot.
fn spread(client: &Client, groups: u32) -> (u32, u32) {
    let (max_x, max_y, _) = grid_limits(client);
    if groups <= max_x {
        return (groups.max(1), 1);
    }
    let y = groups.div_ceil(max_x);
    assert!(
        y <= max_y,
        "{groups} workgroups do not fit a {max_x}x{max_y} grid"
    );
    (groups.div_ceil(y), y)
}

fn to_u32(value: usize, what: &str) -> u32 {
    u32::try_from(value)
        .unwrap_or_else(|_| panic!("{what} = {value} does not fit the kernels' u32 indexing"))
}

#[cfg(test)]
mod tests;
