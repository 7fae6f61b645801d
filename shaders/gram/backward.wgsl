// Gram matrix, backward:  dF[b] = S[b] F[b],  S[b] = scale * (dG[b] + dG[b]^T)
//   dG: [B, C, C], F: [B, C, N], dF: [B, C, N]; contiguous row-major f32.
// Host contract: shaders/README.md.
//
// Register-tiled batched matmul. A workgroup of 16x16 threads owns a 64 (rows i) x 64
// (columns n) output tile; each thread accumulates a 4x4 block (rows ty*4.., columns
// tx*4..) in registers. S is formed on the fly while its 64x16 tile is loaded. The
// (row tile, column tile) pair is a linear index spread over wg.x/wg.y (more than 65535
// tiles once N is large); wg.z is the batch (the host splits launches when B exceeds the
// z limit).

const BT: u32 = 64u;
const BK: u32 = 16u;

struct Info {
    channels: u32,
    n: u32,
    n_tiles: u32,
    groups: u32,
    batch_offset: u32,
    scale_bits: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> feat: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

// s_s[jj * 64 + r] = S[i0 + r, j0 + jj];  f_s[jj * 64 + col] = F[j0 + jj, n0 + col].
var<workgroup> s_s: array<f32, 1024>;
var<workgroup> f_s: array<f32, 1024>;

fn put(row_base: u32, row: u32, c: u32, n: u32, col0: u32, v: vec4<f32>) {
    if (row >= c) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (col0 + j < n) {
            dst[row_base + row * n + col0 + j] = v[j];
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32
) {
    let lin = wg.x + wg.y * nwg.x;
    // Uniform per workgroup: the barriers below stay legal.
    if (lin >= info.groups) {
        return;
    }

    let c = info.channels;
    let n = info.n;
    let i0 = (lin / info.n_tiles) * BT;
    let n0 = (lin % info.n_tiles) * BT;
    let batch = info.batch_offset + wg.z;
    let g_base = batch * c * c;
    let f_base = batch * c * n;
    let scale = bitcast<f32>(info.scale_bits);
    let tx = lid.x;
    let ty = lid.y;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var j0 = 0u; j0 < c; j0 = j0 + BK) {
        for (var l = 0u; l < 4u; l = l + 1u) {
            let idx = li + l * 256u;
            // S tile, consecutive j per row.
            let r = idx / BK;
            let jj = idx % BK;
            let i = i0 + r;
            let j = j0 + jj;
            var s = 0.0;
            if (i < c && j < c) {
                s = scale * (grad[g_base + i * c + j] + grad[g_base + j * c + i]);
            }
            s_s[jj * BT + r] = s;
            // F tile, consecutive columns per row.
            let fj = j0 + idx / BT;
            let col = n0 + idx % BT;
            var v = 0.0;
            if (fj < c && col < n) {
                v = feat[f_base + fj * n + col];
            }
            f_s[idx] = v;
        }
        workgroupBarrier();
        for (var jj = 0u; jj < BK; jj = jj + 1u) {
            let si = jj * BT + ty * 4u;
            let fi = jj * BT + tx * 4u;
            let a = vec4<f32>(s_s[si], s_s[si + 1u], s_s[si + 2u], s_s[si + 3u]);
            let b = vec4<f32>(f_s[fi], f_s[fi + 1u], f_s[fi + 2u], f_s[fi + 3u]);
            acc0 = acc0 + a.x * b;
            acc1 = acc1 + a.y * b;
            acc2 = acc2 + a.z * b;
            acc3 = acc3 + a.w * b;
        }
        workgroupBarrier();
    }

    let row = i0 + ty * 4u;
    let col = n0 + tx * 4u;
    put(f_base, row, c, n, col, acc0);
    put(f_base, row + 1u, c, n, col, acc1);
    put(f_base, row + 2u, c, n, col, acc2);
    put(f_base, row + 3u, c, n, col, acc3);
}
