// Instance normalisation, forward, step 3 of 3: elementwise normalisation + affine.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

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
