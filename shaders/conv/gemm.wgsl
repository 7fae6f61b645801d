// The tiled matrix product every convolution kernel runs: C[M, N] = A[M, K] B[K, N].
//
// This file is not a module on its own: src/kernels/conv.rs appends it to one of the
// entry files of this folder (forward.wgsl and transposed.wgsl with gather.wgsl before it,
// weight_grad.wgsl), which say what A, B and C are for their convolution and provide:
//
//   const K_FASTEST: bool      how the 256 threads share a tile's loads: false: element e of
//                              the A tile is (k = e / BM, m = e % BM) and of the B tile
//                              (e / BN, e % BN), consecutive threads along m / n; true:
//                              (e % BK, e / BK), consecutive threads along k (where k is the
//                              pixel, contiguous in memory)
//   const PAD: u32             vec4s of padding per row of a_s / b_s (1 against bank
//                              conflicts when consecutive threads write consecutive rows)
//   fn product() -> Product    the sizes of the product and of its split (`Product` below)
//   fn prepare(li: u32)        per-thread set-up (private variables), once the tile's
//                              private variables below are set
//   fn fetch(k0: u32, li: u32)    loads this thread's share of A[m0.., k0..k0+BK] and
//                                 B[k0..k0+BK, n0..] into a_reg / b_reg (slot i holds tile
//                                 element li + 256 i), zeros outside the matrices
//   fn store(m: u32, n: u32, v: f32)   the epilogue, called for m < M, n < N
//
// Template parameters: the tile, bm x bn outputs per workgroup, K advancing bk at a time,
// tm x tn outputs per thread ((bm/tm) * (bn/tn) = 256); and the convolution's geometry,
// kernel kh x kw, stride sh x sw, zero padding ph x pw (compile-time, so that the
// decompositions of k divide by constants). Every entry's uniform starts with `Conv`.
//
// Scheme: the classic register-blocked SGEMM. A workgroup of 256 threads owns a BM x BN
// tile of C; thread (tx, ty) accumulates TM x TN outputs in registers, rows
// (i * TY + ty) * 4 + 0..3 and columns (j * TX + tx) * 4 + 0..3 (vec4 groups strided by
// the thread grid, so a warp reads contiguous shared memory). Each K step reads TM/4 + TN/4
// vec4s from shared memory per thread for TM * TN multiply-adds. Global loads for the next
// K step are issued before the current step is computed (register prefetch), so their
// latency overlaps the arithmetic; two barriers per step.
//
// Tiles are a linear index over wg.x + wg.y * num_workgroups.x (more than 65,535 tiles
// on large images), M fastest, so consecutive workgroups share their B columns (the image
// patch) and differ in A rows (the small weight matrix); wg.z is the split of K.
// Every early return depends on workgroup-uniform values only, so the barriers stay legal.

const BM: u32 = {{ bm }}u;
const BN: u32 = {{ bn }}u;
const BK: u32 = {{ bk }}u;
const TM: u32 = {{ tm }}u;
const TN: u32 = {{ tn }}u;
const A_ROW: u32 = BM / 4u + PAD;
const B_ROW: u32 = BN / 4u + PAD;
// Loads per thread and K step (256 threads share BM*BK and BK*BN values).
const A_LOADS: u32 = (BM * BK + 255u) / 256u;
const B_LOADS: u32 = (BK * BN + 255u) / 256u;

const KH: u32 = {{ kh }}u;
const KW: u32 = {{ kw }}u;
const SH: u32 = {{ sh }}u;
const SW: u32 = {{ sw }}u;
const PH: i32 = {{ ph }};
const PW: i32 = {{ pw }};
const TAPS: u32 = KH * KW;

// The launch parameters every entry's uniform starts with (src/kernels/conv.rs
// `Product::params`): the convolution x [batch, cin, h, w] -> y [batch, cout, oh, ow], the
// product's sizes and its split of K.
struct Conv {
    batch: u32,
    cin: u32,
    h: u32,
    w: u32,
    cout: u32,
    oh: u32,
    ow: u32,
    // Cin*KH*KW (transposed.wgsl: its K, Cout*TH*TW).
    k_dim: u32,
    // B*OH*OW (transposed.wgsl: the pixels of its phase).
    pixels: u32,
    // Length of each split's range of the reduction, and how many splits (grid z).
    chunk: u32,
    splits: u32,
    pad0: u32,
}

// What an entry's `product()` returns: C is m x n, the reduction k long, cut into ranges of
// `chunk`, one per split (grid z) of `splits`; one split's partial result is `part` floats
// of dst (split-K, src/kernels/conv.rs).
struct Product {
    m: u32,
    n: u32,
    k: u32,
    chunk: u32,
    splits: u32,
    part: u32,
}

// The entry's `product()`, this workgroup's tile of C (first row m0, first column n0), the
// [k_begin, k_end) of its split and where the split's partial result starts in dst (0 with
// one split); set before `prepare`, for the entries to read.
var<private> prod: Product;
var<private> tile_m0: u32;
var<private> tile_n0: u32;
var<private> k_begin: u32;
var<private> k_end: u32;
var<private> split_base: u32;

const THREADS: u32 = 256u;
const TX: u32 = BN / TN;
const TY: u32 = BM / TM;
const TM4: u32 = TM / 4u;
const TN4: u32 = TN / 4u;

var<workgroup> a_s: array<vec4<f32>, BK * A_ROW>;
var<workgroup> b_s: array<vec4<f32>, BK * B_ROW>;
var<private> a_reg: array<f32, A_LOADS>;
var<private> b_reg: array<f32, B_LOADS>;

// Where element e of a BK x `width` operand tile goes in a_s / b_s, rows of `row` vec4s:
// (vec4, lane), for either K_FASTEST.
fn slot(e: u32, width: u32, row: u32) -> vec2<u32> {
    var k = e / width;
    var x = e % width;
    if (K_FASTEST) {
        k = e % BK;
        x = e / BK;
    }
    return vec2<u32>(k * row + x / 4u, x % 4u);
}

// Writes the loads of `fetch` into a_s ([k][m]) and b_s ([k][n]): slot i of this thread
// holds element li + 256 i of the A tile and of the B tile (a tile of fewer elements
// leaves the last slots empty).
fn stash(li: u32) {
    for (var i = 0u; i < max(A_LOADS, B_LOADS); i = i + 1u) {
        let e = li + i * THREADS;
        if (i < A_LOADS && e < BM * BK) {
            let at = slot(e, BM, A_ROW);
            a_s[at.x][at.y] = a_reg[i];
        }
        if (i < B_LOADS && e < BK * BN) {
            let at = slot(e, BN, B_ROW);
            b_s[at.x][at.y] = b_reg[i];
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32
) {
    let size = product();
    let m_tiles = (size.m + BM - 1u) / BM;
    let n_tiles = (size.n + BN - 1u) / BN;
    let tile = wg.x + wg.y * nwg.x;
    if (tile >= m_tiles * n_tiles) {
        return;
    }
    let m0 = (tile % m_tiles) * BM;
    let n0 = (tile / m_tiles) * BN;
    let begin = wg.z * size.chunk;
    let range = vec2<u32>(begin, min(begin + size.chunk, size.k));
    prod = size;
    tile_m0 = m0;
    tile_n0 = n0;
    k_begin = range.x;
    k_end = range.y;
    split_base = wg.z * size.part;
    prepare(li);

    let tx = li % TX;
    let ty = li / TX;
    var acc: array<vec4<f32>, TM * TN4>;
    for (var i = 0u; i < TM * TN4; i = i + 1u) {
        acc[i] = vec4<f32>(0.0);
    }

    if (range.x < range.y) {
        fetch(range.x, li);
        stash(li);
    }
    workgroupBarrier();
    for (var k0 = range.x; k0 < range.y; k0 = k0 + BK) {
        let next = k0 + BK;
        if (next < range.y) {
            fetch(next, li);
        }
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            var a: array<vec4<f32>, TM4>;
            var b: array<vec4<f32>, TN4>;
            for (var i = 0u; i < TM4; i = i + 1u) {
                a[i] = a_s[kk * A_ROW + i * TY + ty];
            }
            for (var j = 0u; j < TN4; j = j + 1u) {
                b[j] = b_s[kk * B_ROW + j * TX + tx];
            }
            for (var i = 0u; i < TM4; i = i + 1u) {
                for (var ii = 0u; ii < 4u; ii = ii + 1u) {
                    let av = vec4<f32>(a[i][ii]);
                    let row = (i * 4u + ii) * TN4;
                    for (var j = 0u; j < TN4; j = j + 1u) {
                        acc[row + j] = fma(av, b[j], acc[row + j]);
                    }
                }
            }
        }
        workgroupBarrier();
        if (next < range.y) {
            stash(li);
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM4; i = i + 1u) {
        for (var ii = 0u; ii < 4u; ii = ii + 1u) {
            let m = m0 + (i * TY + ty) * 4u + ii;
            if (m >= size.m) {
                continue;
            }
            for (var j = 0u; j < TN4; j = j + 1u) {
                let v = acc[(i * 4u + ii) * TN4 + j];
                let n = n0 + (j * TX + tx) * 4u;
                for (var jj = 0u; jj < 4u; jj = jj + 1u) {
                    if (n + jj < size.n) {
                        store(m, n + jj, v[jj]);
                    }
                }
            }
        }
    }
}
