// Instance normalisation, forward, step 1 of 3: (plane, split) workgroups -> Welford
// partials (count, mean, M2) per split.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

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
