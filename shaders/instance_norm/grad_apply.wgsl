// Instance normalisation, backward, step 3 of 4: elementwise dx.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, common/per_item.wgsl (`main`: 256 threads a workgroup, calls
// `run_item` per value) and shared.wgsl (`Info`, `Stats`, `normalised`).

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<Stats>;
@group(0) @binding(3) var<storage, read_write> sums: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> info: Info;

fn run_item(i: u32) {
    let plane = i / info.hw;
    let st = stats[plane];
    let s = sums[plane];
    let inv_n = 1.0 / f32(info.hw);
    let g = dy[i] - s.x * inv_n - normalised(src[i], st) * (s.y * inv_n);
    dx[i] = st.rstd * gamma[plane % info.channels] * g;
}
