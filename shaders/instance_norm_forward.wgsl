// Instance normalisation, forward, over x: [B, C, H, W] contiguous f32.
// A "plane" is one (b, c) pair: HW = H*W contiguous values at plane * HW.
//   shift_p = x[plane, 0]  (any value of the plane; makes the statistics translation-proof)
//   m_p, var_p = biased mean / variance of (x - shift_p) over the plane
//   rstd_p = 1 / sqrt(var_p + eps)
//   y = ((x - shift_p) - m_p) * rstd_p * gamma[c] + beta[c]
// stats[p] = (shift_p, m_p, rstd_p); the true mean is shift_p + m_p but is never formed in
// f32, which is what keeps a plane like 1000 + 0.01 * noise accurate to f32 rounding of the
// small values instead of rounding at ulp(1000).
//
// Three modules (`//#section` lines, see src/kernels/mod.rs), each with entry point `main`:
//   stats    : (plane, split) workgroups -> Welford partials (count, mean, M2) per split
//   finalize : one thread per plane merges its splits (Chan et al.) -> stats[p]
//   apply    : elementwise normalisation + affine
// Welford inside a thread and Chan's pairwise merge across threads/splits keep the variance
// accurate for 1024x1024 planes, and exactly 0 for a constant plane (then x - shift == 0,
// rstd = 1/sqrt(eps) and y = beta exactly).
//
// Host contract: storage buffers at @binding(0..k), all `read_write`; the u32 parameter
// uniform last; every binding used by `main`; all indices guarded by hand.

//#section stats
struct Info {
    hw: u32,
    planes: u32,
    splits: u32,
    chunk: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

const WG: u32 = 256u;

var<workgroup> sh_n: array<f32, 256>;
var<workgroup> sh_mean: array<f32, 256>;
var<workgroup> sh_m2: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let lin = wg.x + wg.y * nwg.x;
    // Uniform per workgroup: the barriers below stay legal.
    if (lin >= info.planes * info.splits) {
        return;
    }
    let plane = lin / info.splits;
    let split = lin % info.splits;
    let start = split * info.chunk;
    let end = min(start + info.chunk, info.hw);
    let base = plane * info.hw;
    let shift = src[base];

    // Welford over this thread's strided share of [start, end), on x - shift.
    var cnt = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var i = start + lid; i < end; i = i + WG) {
        let v = src[base + i] - shift;
        cnt = cnt + 1.0;
        let d = v - mean;
        mean = mean + d / cnt;
        m2 = m2 + d * (v - mean);
    }
    sh_n[lid] = cnt;
    sh_mean[lid] = mean;
    sh_m2[lid] = m2;
    workgroupBarrier();

    // Tree reduction with Chan's merge of (count, mean, M2).
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            let na = sh_n[lid];
            let nb = sh_n[lid + stride];
            if (nb > 0.0) {
                let nab = na + nb;
                let d = sh_mean[lid + stride] - sh_mean[lid];
                sh_mean[lid] = sh_mean[lid] + d * (nb / nab);
                sh_m2[lid] = sh_m2[lid] + sh_m2[lid + stride] + d * d * (na * nb / nab);
                sh_n[lid] = nab;
            }
        }
        workgroupBarrier();
    }

    if (lid == 0u) {
        let o = lin * 3u;
        parts[o] = sh_n[0];
        parts[o + 1u] = sh_mean[0];
        parts[o + 2u] = sh_m2[0];
    }
}

//#section finalize
struct Info {
    planes: u32,
    splits: u32,
    eps_bits: u32,
    hw: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let plane = (wg.x + wg.y * nwg.x) * 64u + lid;
    if (plane >= info.planes) {
        return;
    }
    var cnt = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var s = 0u; s < info.splits; s = s + 1u) {
        let o = (plane * info.splits + s) * 3u;
        let nb = parts[o];
        if (nb > 0.0) {
            let nab = cnt + nb;
            let d = parts[o + 1u] - mean;
            mean = mean + d * (nb / nab);
            m2 = m2 + parts[o + 2u] + d * d * (cnt * nb / nab);
            cnt = nab;
        }
    }
    // Biased variance; max() guards against a -0.0/rounding below zero.
    let variance = max(m2 / max(cnt, 1.0), 0.0);
    stats[plane * 3u] = src[plane * info.hw];
    stats[plane * 3u + 1u] = mean;
    stats[plane * 3u + 2u] = 1.0 / sqrt(variance + bitcast<f32>(info.eps_bits));
}

//#section apply
struct Info {
    total: u32,
    hw: u32,
    channels: u32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> info: Info;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let idx = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (idx >= info.total) {
        return;
    }
    let plane = idx / info.hw;
    let ch = plane % info.channels;
    let xhat = ((src[idx] - stats[plane * 3u]) - stats[plane * 3u + 1u]) * stats[plane * 3u + 2u];
    dst[idx] = xhat * gamma[ch] + beta[ch];
}
