// Instance normalisation, backward, step 1 of 4: (plane, split) workgroups -> (s1, s2) per
// split.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

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
