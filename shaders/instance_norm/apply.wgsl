// Instance normalisation, forward, step 3 of 3: elementwise normalisation + affine.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, common/per_item.wgsl (`main`: 256 threads a workgroup, calls
// `run_item` per value) and shared.wgsl (`Info`, `Stats`, `normalised`).

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<Stats>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> info: Info;

fn run_item(i: u32) {
    let plane = i / info.hw;
    let ch = plane % info.channels;
    dst[i] = normalised(src[i], stats[plane]) * gamma[ch] + beta[ch];
}
