// The register-tiled step both Gram kernels share. Not a module on its own: the host
// (src/kernels/gram.rs) appends it to forward.wgsl and backward.wgsl.
//
// A workgroup of 16x16 threads owns a 64x64 output tile; thread (tx, ty) accumulates the
// 4x4 block of rows ty*4.., columns tx*4.. in registers, so each value loaded into workgroup
// memory feeds 4 multiply-adds instead of 1. K advances 16 at a time: per step the kernel
// loads 64 rows x 16 k of each operand into a_s and b_s ([k][row] layouts: the inner loop
// reads 4 consecutive rows for one k) and calls `multiply_tile` between two barriers;
// `store_block` writes the result.

const BT: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_s: array<f32, 1024>;
var<workgroup> b_s: array<f32, 1024>;

// acc[r] += A[ty*4 + r, k] * B[k, tx*4 .. tx*4 + 3] over the tile's BK values of k.
fn multiply_tile(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
    for (var kk = 0u; kk < BK; kk = kk + 1u) {
        let ai = kk * BT + ty * 4u;
        let bi = kk * BT + tx * 4u;
        let a = vec4<f32>(a_s[ai], a_s[ai + 1u], a_s[ai + 2u], a_s[ai + 3u]);
        let b = vec4<f32>(b_s[bi], b_s[bi + 1u], b_s[bi + 2u], b_s[bi + 3u]);
        (*acc)[0] = (*acc)[0] + a.x * b;
        (*acc)[1] = (*acc)[1] + a.y * b;
        (*acc)[2] = (*acc)[2] + a.z * b;
        (*acc)[3] = (*acc)[3] + a.w * b;
    }
}

// Writes a thread's block times `scale`, rows row0.. and columns col0.., into the `rows` x
// `cols` matrix at dst[base..], skipping what lies outside; with `mirror` (a square matrix)
// also at the transposed position. (acc is indexed by constants only, so that it stays in
// registers.)
fn store_block(base: u32, rows: u32, cols: u32, row0: u32, col0: u32, acc: ptr<function, array<vec4<f32>, 4>>, scale: f32, mirror: bool) {
    store_row(base, rows, cols, row0, col0, (*acc)[0] * scale, mirror);
    store_row(base, rows, cols, row0 + 1u, col0, (*acc)[1] * scale, mirror);
    store_row(base, rows, cols, row0 + 2u, col0, (*acc)[2] * scale, mirror);
    store_row(base, rows, cols, row0 + 3u, col0, (*acc)[3] * scale, mirror);
}

fn store_row(base: u32, rows: u32, cols: u32, row: u32, col0: u32, v: vec4<f32>, mirror: bool) {
    if (row >= rows) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let col = col0 + j;
        if (col < cols) {
            dst[base + row * cols + col] = v[j];
            if (mirror) {
                dst[base + col * cols + row] = v[j];
            }
        }
    }
}
