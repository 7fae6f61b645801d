// Instance normalisation, forward, step 2 of 3: one thread per plane merges its splits
// (Chan et al.) -> stats[p] = (shift_p, m_p, rstd_p).
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

struct Info {
    planes: u32,
    splits: u32,
    eps_bits: u32,
    hw: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

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
    var cnt = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var s = 0u; s < info.splits; s = s + 1u) {
        let o = (plane * info.splits + s) * 3u;
        let nb = parts[o];
        if (nb > 0.0) {
            let nab = cnt + nb;
            let d = parts[o + 1u] - mean;
            mean = mean + d * (nb / nab);
            m2 = m2 + parts[o + 2u] + d * d * (cnt * nb / nab);
            cnt = nab;
        }
    }
    // Biased variance; max() guards against a -0.0/rounding below zero.
    let variance = max(m2 / max(cnt, 1.0), 0.0);
    stats[plane * 3u] = src[plane * info.hw];
    stats[plane * 3u + 1u] = mean;
    stats[plane * 3u + 2u] = 1.0 / sqrt(variance + bitcast<f32>(info.eps_bits));
}
