// Gram matrix, forward:  G[b] = scale * F[b] F[b]^T
//   F: [B, C, N] (N = H*W), contiguous row-major f32.   G: [B, C, C].
// Host contract: shaders/README.md. With several splits, common/split_sum.wgsl adds the
// partial sums and applies the scale. The host appends tile.wgsl (the 64x64 tile, its
// workgroup memory and `multiply_tile`, `store_block`).
//
// Register-tiled product over one K range ("split"): the workgroup owns the tile of G at
// rows ti*64.., columns tj*64.. (tile.wgsl).
// Only tiles with tj >= ti work (G is symmetric); off-diagonal tiles also write the
// mirrored block. wg.z = local_batch * splits + split.
// splits == 1: the result (times scale) goes straight into G.
// splits > 1:  unscaled partial sums go to parts[split][batch][C][C] and `reduce` adds them.

struct Info {
    channels: u32, n: u32,               // F is [B, channels, n]
    chunk: u32, splits: u32,             // the K ranges
    batches: u32, batch_offset: u32,     // all batches; the first of this launch
    scale_bits: u32,                     // f32 bits
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> feat: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32
) {
    let ti = wg.y;
    let tj = wg.x;
    // Uniform per workgroup (workgroup_id is uniform), so the barriers below stay legal.
    if (tj < ti) {
        return;
    }

    let c = info.channels;
    let n = info.n;
    let split = wg.z % info.splits;
    let batch = info.batch_offset + wg.z / info.splits;
    let f_base = batch * c * n;
    let k_start = split * info.chunk;
    let k_end = min(k_start + info.chunk, n);
    let row0 = ti * BT;
    let col0 = tj * BT;

    var acc: array<vec4<f32>, 4>;
    for (var k0 = k_start; k0 < k_end; k0 = k0 + BK) {
        // 64 rows x 16 k of each operand, 4 values per thread, consecutive k per row.
        for (var l = 0u; l < 4u; l = l + 1u) {
            let idx = li + l * 256u;
            let r = idx / BK;
            let kk = idx % BK;
            let k = k0 + kk;
            var a = 0.0;
            var b = 0.0;
            if (k < k_end) {
                if (row0 + r < c) {
                    a = feat[f_base + (row0 + r) * n + k];
                }
                if (col0 + r < c) {
                    b = feat[f_base + (col0 + r) * n + k];
                }
            }
            a_s[kk * BT + r] = a;
            b_s[kk * BT + r] = b;
        }
        workgroupBarrier();
        multiply_tile(lid.x, lid.y, &acc);
        workgroupBarrier();
    }

    let out_base = (split * info.batches + batch) * c * c;
    let scale = bitcast<f32>(info.scale_bits);
    store_block(out_base, c, c, row0 + lid.y * 4u, col0 + lid.x * 4u, &acc, scale, ti != tj);
}
