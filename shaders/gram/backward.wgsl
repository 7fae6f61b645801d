// Gram matrix, backward:  dF[b] = S[b] F[b],  S[b] = scale * (dG[b] + dG[b]^T)
//   dG: [B, C, C], F: [B, C, N], dF: [B, C, N]; contiguous row-major f32.
// Host contract: shaders/README.md. The host appends tile.wgsl (the 64x64 tile, its
// workgroup memory and `multiply_tile`, `store_block`).
//
// Register-tiled batched matmul: the workgroup owns a 64 (rows i) x 64 (columns n) tile of
// dF (tile.wgsl); A is S, formed on the fly while its 64x16 tile is loaded, B is F. The
// (row tile, column tile) pair is a linear index spread over wg.x/wg.y (more than 65535
// tiles once N is large); wg.z is the batch (the host splits launches when B exceeds the
// z limit).

struct Info {
    channels: u32, n: u32,          // F is [B, channels, n]
    n_tiles: u32, groups: u32,      // 64-column tiles of dF, and all its tiles
    batch_offset: u32,              // wg.z + batch_offset is the batch
    scale_bits: u32,                // f32 bits
    pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> feat: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> info: Info;

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

    var acc: array<vec4<f32>, 4>;
    for (var j0 = 0u; j0 < c; j0 = j0 + BK) {
        for (var l = 0u; l < 4u; l = l + 1u) {
            let idx = li + l * 256u;
            // S tile, a_s[jj * 64 + r] = S[i0 + r, j0 + jj], consecutive j per row.
            let r = idx / BK;
            let jj = idx % BK;
            let i = i0 + r;
            let j = j0 + jj;
            var s = 0.0;
            if (i < c && j < c) {
                s = scale * (grad[g_base + i * c + j] + grad[g_base + j * c + i]);
            }
            a_s[jj * BT + r] = s;
            // F tile, b_s[jj * 64 + col] = F[j0 + jj, n0 + col], consecutive columns per row.
            let fj = j0 + idx / BT;
            let col = n0 + idx % BT;
            var v = 0.0;
            if (fj < c && col < n) {
                v = feat[f_base + fj * n + col];
            }
            b_s[idx] = v;
        }
        workgroupBarrier();
        multiply_tile(lid.x, lid.y, &acc);
        workgroupBarrier();
    }

    // S already carries the scale.
    store_block(f_base, c, n, i0 + lid.y * 4u, n0 + lid.x * 4u, &acc, 1.0, false);
}
