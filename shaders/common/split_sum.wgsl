// Adds the partial sums of a split-K product, scales them and adds a per-channel bias:
//   dst[i] = scale * sum_s parts[s * items + i] + bias[(i / plane) % channels]
// over `items` outputs ([B, C, H, W]: plane = H * W, channels = C). Without a bias (a weight
// gradient, a Gram matrix) the host passes has_bias = 0 and a one-value dummy bias.
// Host contract: shaders/README.md. The host appends common/entry.wgsl and
// common/per_item.wgsl: `main`, 256 threads a workgroup, calls `run_item(i)` per output.

struct Info {
    items: u32, splits: u32,              // outputs, partial sums of each
    plane: u32, channels: u32, has_bias: u32, // where bias[c] goes
    scale_bits: u32,                       // f32 bits
    pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

fn run_item(i: u32) {
    var s = 0.0;
    for (var sp = 0u; sp < info.splits; sp = sp + 1u) {
        s = s + parts[sp * info.items + i];
    }
    s = s * bitcast<f32>(info.scale_bits);
    if (info.has_bias != 0u) {
        s = s + bias[(i / info.plane) % info.channels];
    }
    dst[i] = s;
}
