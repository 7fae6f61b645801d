// Instance normalisation, backward. With xhat = ((x - shift_p) - m_p) * rstd_p (see the
// forward file; the forward's `stats` buffer holds (shift_p, m_p, rstd_p) per plane),
// N = H*W and dy the incoming gradient:
//   s1_p = sum_hw dy            s2_p = sum_hw dy * xhat
//   dx   = rstd_p * gamma[c] * (dy - s1_p / N - xhat * s2_p / N)
//   dbeta[c]  = sum_b s1_(b,c)      dgamma[c] = sum_b s2_(b,c)
//
// Four modules (`//#section` lines), each with entry point `main`:
//   partial : (plane, split) workgroups -> (s1, s2) per split
//   combine : one thread per plane sums its splits -> sums[p] = (s1, s2)
//   apply   : elementwise dx
//   params  : one thread per channel -> dgamma, dbeta
// Host contract as in the forward file.

//#section partial
struct Info {
    hw: u32,
    planes: u32,
    splits: u32,
    chunk: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;
@group(0) @binding(4) var<uniform> info: Info;

const WG: u32 = 256u;

var<workgroup> sh_a: array<f32, 256>;
var<workgroup> sh_b: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let lin = wg.x + wg.y * nwg.x;
    if (lin >= info.planes * info.splits) {
        return;
    }
    let plane = lin / info.splits;
    let split = lin % info.splits;
    let start = split * info.chunk;
    let end = min(start + info.chunk, info.hw);
    let base = plane * info.hw;
    let shift = stats[plane * 3u];
    let mean = stats[plane * 3u + 1u];
    let rstd = stats[plane * 3u + 2u];

    var s1 = 0.0;
    var s2 = 0.0;
    for (var i = start + lid; i < end; i = i + WG) {
        let g = dy[base + i];
        s1 = s1 + g;
        s2 = s2 + g * (((src[base + i] - shift) - mean) * rstd);
    }
    sh_a[lid] = s1;
    sh_b[lid] = s2;
    workgroupBarrier();

    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            sh_a[lid] = sh_a[lid] + sh_a[lid + stride];
            sh_b[lid] = sh_b[lid] + sh_b[lid + stride];
        }
        workgroupBarrier();
    }

    if (lid == 0u) {
        parts[lin * 2u] = sh_a[0];
        parts[lin * 2u + 1u] = sh_b[0];
    }
}

//#section combine
struct Info {
    planes: u32,
    splits: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

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
    var s1 = 0.0;
    var s2 = 0.0;
    for (var s = 0u; s < info.splits; s = s + 1u) {
        let o = (plane * info.splits + s) * 2u;
        s1 = s1 + parts[o];
        s2 = s2 + parts[o + 1u];
    }
    sums[plane * 2u] = s1;
    sums[plane * 2u + 1u] = s2;
}

//#section apply
struct Info {
    total: u32,
    hw: u32,
    channels: u32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> info: Info;

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
    let shift = stats[plane * 3u];
    let mean = stats[plane * 3u + 1u];
    let rstd = stats[plane * 3u + 2u];
    let inv_n = 1.0 / f32(info.hw);
    let xhat = ((src[idx] - shift) - mean) * rstd;
    let g = dy[idx] - sums[plane * 2u] * inv_n - xhat * (sums[plane * 2u + 1u] * inv_n);
    dx[idx] = rstd * gamma[ch] * g;
}

//#section params
struct Info {
    batches: u32,
    channels: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> sums: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let ch = (wg.x + wg.y * nwg.x) * 64u + lid;
    if (ch >= info.channels) {
        return;
    }
    var sb = 0.0;
    var sg = 0.0;
    for (var b = 0u; b < info.batches; b = b + 1u) {
        let p = b * info.channels + ch;
        sb = sb + sums[p * 2u];
        sg = sg + sums[p * 2u + 1u];
    }
    dbeta[ch] = sb;
    dgamma[ch] = sg;
}
