// Instance normalisation, backward, step 4 of 4: one thread per channel -> dgamma, dbeta.
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, common/per_item.wgsl (`main`: 64 threads a workgroup, calls
// `run_item` per channel) and shared.wgsl (`Info`).

@group(0) @binding(0) var<storage, read_write> sums: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

fn run_item(ch: u32) {
    var s = vec2<f32>(0.0);
    for (var b = 0u; b < info.batches; b = b + 1u) {
        s = s + sums[b * info.channels + ch];
    }
    dbeta[ch] = s.x;
    dgamma[ch] = s.y;
}
