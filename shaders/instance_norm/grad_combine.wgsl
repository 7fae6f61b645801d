// Instance normalisation, backward, step 2 of 4: one thread per plane sums its splits ->
// sums[p] = (s1, s2).
// The method: shaders/instance_norm/README.md. Host contract: shaders/README.md. The host
// appends common/entry.wgsl, common/per_item.wgsl (`main`: 64 threads a workgroup, calls
// `run_item` per plane) and shared.wgsl (`Info`).

@group(0) @binding(0) var<storage, read_write> parts: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> sums: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> info: Info;

fn run_item(plane: u32) {
    var s = vec2<f32>(0.0);
    for (var split = 0u; split < info.splits; split = split + 1u) {
        s = s + parts[plane * info.splits + split];
    }
    sums[plane] = s;
}
