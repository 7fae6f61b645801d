// Instance normalisation, backward, step 3 of 4: elementwise dx.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

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
