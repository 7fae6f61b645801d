// Instance normalisation, backward, step 4 of 4: one thread per channel -> dgamma, dbeta.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md.

struct Info {
    batches: u32,
    channels: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> sums: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let ch = (wg.x + wg.y * nwg.x) * 64u + lid;
    if (ch >= info.channels) {
        return;
    }
    var sb = 0.0;
    var sg = 0.0;
    for (var b = 0u; b < info.batches; b = b + 1u) {
        let p = b * info.channels + ch;
        sb = sb + sums[p * 2u];
        sg = sg + sums[p * 2u + 1u];
    }
    dbeta[ch] = sb;
    dgamma[ch] = sg;
}
