// Instance normalisation, forward, step 2 of 3: one thread per plane merges its splits
// (Chan et al.) -> stats[p] = (shift_p, m_p, rstd_p).
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, common/per_item.wgsl (`main`: 64 threads a workgroup, calls
// `run_item` per plane) and shared.wgsl (`Info`, `Welford`, `Stats`).

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<Welford>;
@group(0) @binding(2) var<storage, read_write> stats: array<Stats>;
@group(0) @binding(3) var<uniform> info: Info;

fn run_item(plane: u32) {
    var w = Welford(0.0, 0.0, 0.0);
    for (var s = 0u; s < info.splits; s = s + 1u) {
        w = chan_merge(w, parts[plane * info.splits + s]);
    }
    // Biased variance; max() guards against a -0.0/rounding below zero.
    let variance = max(w.m2 / max(w.n, 1.0), 0.0);
    stats[plane] = Stats(src[plane * info.hw], w.mean, 1.0 / sqrt(variance + bitcast<f32>(info.eps_bits)));
}
