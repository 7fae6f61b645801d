// Instance normalisation, backward, step 2 of 4: one thread per plane sums its splits ->
// sums[p] = (s1, s2).
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

struct Info {
    planes: u32,
    splits: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

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
    var s1 = 0.0;
    var s2 = 0.0;
    for (var s = 0u; s < info.splits; s = s + 1u) {
        let o = (plane * info.splits + s) * 2u;
        s1 = s1 + parts[o];
        s2 = s2 + parts[o + 1u];
    }
    sums[plane * 2u] = s1;
    sums[plane * 2u + 1u] = s2;
}
