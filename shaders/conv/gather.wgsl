// The loads and the epilogue that forward.wgsl and transposed.wgsl share: both gather
// their operands one element at a time, each thread keeping one B column (an output pixel)
// for the whole K loop (256 is a multiple of BN), and both add a bias. Not a module on its
// own: src/kernels/conv.rs appends it, then gemm.wgsl, to either entry, which provides
// `bias` and `dst` bindings and
//   fn column(n: u32) -> Column          B column n (n may lie past N: then unused)
//   fn load_a(k: u32, m: u32) -> f32     A[m, k], for k < K and m < M
//   fn load_b(k: u32) -> f32             B[k, this thread's column `col`], for k < K and
//                                        a column inside the product
//   fn out_index(m: u32, n: u32) -> u32  where C[m, n] goes in the output
// Loads run along m and n, so no row padding (gemm.wgsl).

const K_FASTEST: bool = false;
const PAD: u32 = 0u;

// A B column: where its image starts in the gathered tensor, and the row and column in
// that image its gather is relative to (its own meaning in each entry).
struct Column {
    base: u32,
    y: i32,
    x: i32,
}

var<private> col: Column;
var<private> col_ok: bool;

fn prepare(li: u32) {
    let n = tile_n0 + li % BN;
    col_ok = n < prod.n;
    col = column(n);
}

fn fetch(k0: u32, li: u32) {
    for (var i = 0u; i < A_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BM;
        let m = tile_m0 + e % BM;
        var v = 0.0;
        if (e < BM * BK && k < k_end && m < prod.m) {
            v = load_a(k, m);
        }
        a_reg[i] = v;
    }
    for (var i = 0u; i < B_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BN;
        var v = 0.0;
        if (e < BK * BN && col_ok && k < k_end) {
            v = load_b(k);
        }
        b_reg[i] = v;
    }
}

// The result plus the bias, or with split-K (common/split_sum.wgsl adds the bias) this
// split's partial sum.
fn store(m: u32, n: u32, v: f32) {
    let at = out_index(m, n);
    if (prod.splits == 1u) {
        dst[at] = v + bias[m];
    } else {
        dst[split_base + at] = v;
    }
}
