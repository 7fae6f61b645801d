// Instance normalisation, forward, step 1 of 3: (plane, split) workgroups -> Welford
// partials (count, mean, M2) per split.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, split_reduce.wgsl (`main`: 256 threads per (plane, split),
// reduced into parts[lin]) and shared.wgsl (`Info`, `Welford`).

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<Welford>;
@group(0) @binding(2) var<uniform> info: Info;

alias Partial = Welford;

// The plane's first value: the statistics are of x - shift.
var<private> shift: f32;

fn begin(plane: u32) -> Partial {
    shift = src[plane * info.hw];
    return Welford(0.0, 0.0, 0.0);
}

// Welford's update with one more value.
fn accumulate(w: Partial, i: u32) -> Partial {
    let v = src[i] - shift;
    let n = w.n + 1.0;
    let d = v - w.mean;
    let mean = w.mean + d / n;
    return Welford(n, mean, w.m2 + d * (v - mean));
}

fn merge(a: Partial, b: Partial) -> Partial {
    return chan_merge(a, b);
}
