// Gram matrix, forward:  G[b] = scale * F[b] F[b]^T
//   F: [B, C, N] (N = H*W), contiguous row-major f32.   G: [B, C, C].
// Host contract: shaders/README.md. With several splits, common/split_sum.wgsl adds the
// partial sums and applies the scale.
//
// Register-tiled product over one K range ("split"). A workgroup of 16x16 threads owns a
// 64x64 tile of G (rows ti*64.., columns tj*64..); each thread accumulates a 4x4 block
// (rows ty*4..ty*4+3, columns tx*4..tx*4+3) in registers, so each value loaded into
// workgroup memory feeds 4 multiply-adds instead of 1. K advances 16 at a time.
// Only tiles with tj >= ti work (G is symmetric); off-diagonal tiles also write the
// mirrored block. wg.z = local_batch * splits + split.
// splits == 1: the result (times scale) goes straight into G.
// splits > 1:  unscaled partial sums go to parts[split][batch][C][C] and `reduce` adds them.

const BT: u32 = 64u;
const BK: u32 = 16u;

struct Info {
    channels: u32,
    n: u32,
    chunk: u32,
    splits: u32,
    batches: u32,
    batch_offset: u32,
    scale_bits: u32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> feat: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

// [k][row] layouts: the inner loop reads 4 consecutive rows for one k.
var<workgroup> a_s: array<f32, 1024>;
var<workgroup> b_s: array<f32, 1024>;

fn put(base: u32, c: u32, row: u32, col0: u32, v: vec4<f32>, mirror: bool) {
    if (row >= c) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let col = col0 + j;
        if (col < c) {
            dst[base + row * c + col] = v[j];
            if (mirror) {
                dst[base + col * c + row] = v[j];
            }
        }
    }
}

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
    let tx = lid.x;
    let ty = lid.y;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
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
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let ai = kk * BT + ty * 4u;
            let bi = kk * BT + tx * 4u;
            let a = vec4<f32>(a_s[ai], a_s[ai + 1u], a_s[ai + 2u], a_s[ai + 3u]);
            let b = vec4<f32>(b_s[bi], b_s[bi + 1u], b_s[bi + 2u], b_s[bi + 3u]);
            acc0 = acc0 + a.x * b;
            acc1 = acc1 + a.y * b;
            acc2 = acc2 + a.z * b;
            acc3 = acc3 + a.w * b;
        }
        workgroupBarrier();
    }

    let s = bitcast<f32>(info.scale_bits);
    let out_base = (split * info.batches + batch) * c * c;
    let mirror = ti != tj;
    let row = row0 + ty * 4u;
    let col = col0 + tx * 4u;
    put(out_base, c, row, col, acc0 * s, mirror);
    put(out_base, c, row + 1u, col, acc1 * s, mirror);
    put(out_base, c, row + 2u, col, acc2 * s, mirror);
    put(out_base, c, row + 3u, col, acc3 * s, mirror);
}
