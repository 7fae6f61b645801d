// Gram matrix, backward:  dF[b] = S[b] F[b],  S[b] = scale * (dG[b] + dG[b]^T)
//   dG: [B, C, C], F: [B, C, N], dF: [B, C, N]; contiguous row-major f32.
// Same host contract as gram_forward.wgsl (all storage read_write, uniform last, every
// binding used, hand-written bounds checks, entry point `main`).

//#section grad
// Tiled batched matmul. Workgroup (16,16) owns a 16 (rows i) x 64 (columns n) output tile;
// thread (tx,ty) computes row i0+ty, columns n0+tx+16r for r = 0..3 (coalesced loads and
// stores). S is formed on the fly while its tile is loaded. The (row tile, column tile)
// pair is a linear index spread over wg.x/wg.y (more than 65535 tiles once N is large);
// wg.z is the batch (the host splits launches when B exceeds the z limit).

const TILE: u32 = 16u;
const COLS: u32 = 64u;

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

var<workgroup> s_tile: array<array<f32, 16>, 16>;
var<workgroup> f_tile: array<array<f32, 64>, 16>;

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>
) {
    let lin = wg.x + wg.y * nwg.x;
    // Uniform per workgroup: the barriers below stay legal.
    if (lin >= info.groups) {
        return;
    }

    let c = info.channels;
    let n = info.n;
    let i_tile = lin / info.n_tiles;
    let n_tile = lin % info.n_tiles;
    let batch = info.batch_offset + wg.z;
    let g_base = batch * c * c;
    let f_base = batch * c * n;
    let scale = bitcast<f32>(info.scale_bits);

    let tx = lid.x;
    let ty = lid.y;
    let i = i_tile * TILE + ty;
    let n0 = n_tile * COLS;

    var acc = vec4<f32>(0.0);
    for (var j0 = 0u; j0 < c; j0 = j0 + TILE) {
        // S tile: s_tile[ty][tx] = S[i, j0 + tx].
        let j = j0 + tx;
        var s = 0.0;
        if (i < c && j < c) {
            s = scale * (grad[g_base + i * c + j] + grad[g_base + j * c + i]);
        }
        s_tile[ty][tx] = s;

        // F tile: f_tile[ty][col] = F[j0 + ty, n0 + col], 4 columns per thread.
        let jr = j0 + ty;
        for (var r = 0u; r < 4u; r = r + 1u) {
            let col = n0 + tx + r * TILE;
            var v = 0.0;
            if (jr < c && col < n) {
                v = feat[f_base + jr * n + col];
            }
            f_tile[ty][tx + r * TILE] = v;
        }
        workgroupBarrier();

        for (var jj = 0u; jj < TILE; jj = jj + 1u) {
            let sv = s_tile[ty][jj];
            acc = acc + sv * vec4<f32>(
                f_tile[jj][tx],
                f_tile[jj][tx + 16u],
                f_tile[jj][tx + 32u],
                f_tile[jj][tx + 48u]
            );
        }
        workgroupBarrier();
    }

    if (i < c) {
        let row = f_base + i * n;
        if (n0 + tx < n) {
            dst[row + n0 + tx] = acc.x;
        }
        if (n0 + tx + 16u < n) {
            dst[row + n0 + tx + 16u] = acc.y;
        }
        if (n0 + tx + 32u < n) {
            dst[row + n0 + tx + 32u] = acc.z;
        }
        if (n0 + tx + 48u < n) {
            dst[row + n0 + tx + 48u] = acc.w;
        }
    }
}
