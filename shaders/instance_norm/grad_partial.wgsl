// Instance normalisation, backward, step 1 of 4: (plane, split) workgroups -> (s1, s2) per
// split: s1 = sum dy, s2 = sum dy * xhat.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, split_reduce.wgsl (`main`: 256 threads per (plane, split),
// reduced into parts[lin]) and shared.wgsl (`Info`, `Stats`, `normalised`).

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<Stats>;
@group(0) @binding(3) var<storage, read_write> parts: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> info: Info;

alias Partial = vec2<f32>;

var<private> plane_stats: Stats;

fn begin(plane: u32) -> Partial {
    plane_stats = stats[plane];
    return vec2<f32>(0.0);
}

fn accumulate(s: Partial, i: u32) -> Partial {
    let g = dy[i];
    return s + vec2<f32>(g, g * normalised(src[i], plane_stats));
}

fn merge(a: Partial, b: Partial) -> Partial {
    return a + b;
}
