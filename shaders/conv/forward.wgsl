// Convolution, forward, as an implicit matrix product (entry file; gemm.wgsl is appended):
//   y[b, co, oh, ow] = bias[co] + sum_{ci, kh, kw} w[co, ci, kh, kw] x[b, ci, oh*SH - PH + kh, ow*SW - PW + kw]
// with zero padding. Also the input gradient of a transposed convolution (the same sum).
//
//   A[M = Cout, K = Cin*KH*KW] = the weights, passed transposed as wt[K][Cout]
//                                (src/kernels/conv.rs), so a row of A is contiguous in k
//                                and a load of BM output channels is coalesced;
//   B[K, N = B*OH*OW]          = the image patches (im2col), gathered while loading, never
//                                stored: column n is one output pixel, row k one
//                                (ci, kh, kw) tap;
//   C[M, N]                    = y, written straight into [B, Cout, OH, OW] (splits == 1), or
//                                unscaled partial sums into parts[split][B][Cout][OH][OW]
//                                for common/split_sum.wgsl (split-K when M*N alone would leave the
//                                GPU idle), which adds the bias.
//
// Host contract as for every kernel here: storage buffers at @binding(0..3), all
// read_write; the u32 parameters as the uniform after them; every binding used; bounds
// checked by hand.

// Loads run along m (output channels) and n (pixels); no row padding (gemm.wgsl).
const K_FASTEST: bool = false;
const PAD: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> info: Conv;

// This thread's B column (one output pixel, fixed for the whole K loop because 256 is a
// multiple of BN): where its image starts and the top-left corner of its window.
var<private> col_ok: bool;
var<private> col_base: u32;
var<private> col_ih: i32;
var<private> col_iw: i32;
var<private> tile_m0: u32;
var<private> k_end: u32;
var<private> split_base: u32;

fn gemm_size() -> vec2<u32> {
    return vec2<u32>(info.cout, info.pixels);
}

fn k_range(split: u32) -> vec2<u32> {
    let begin = split * info.chunk;
    return vec2<u32>(begin, min(begin + info.chunk, info.k_dim));
}

fn prepare(m0: u32, n0: u32, k_begin: u32, k_stop: u32, li: u32) {
    tile_m0 = m0;
    k_end = k_stop;
    split_base = (k_begin / info.chunk) * info.cout * info.pixels;
    let n = n0 + li % BN;
    col_ok = n < info.pixels;
    let ohw = info.oh * info.ow;
    let b = n / ohw;
    let p = n % ohw;
    col_base = b * info.cin * info.h * info.w;
    col_ih = i32((p / info.ow) * SH) - PH;
    col_iw = i32((p % info.ow) * SW) - PW;
}

fn fetch(k0: u32, li: u32) {
    for (var i = 0u; i < A_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BM;
        let m = tile_m0 + e % BM;
        var v = 0.0;
        if (e < BM * BK && k < k_end && m < info.cout) {
            v = wt[k * info.cout + m];
        }
        a_reg[i] = v;
    }
    for (var i = 0u; i < B_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BN;
        var v = 0.0;
        if (e < BK * BN && col_ok && k < k_end) {
            let ci = k / TAPS;
            let tap = k % TAPS;
            let ih = col_ih + i32(tap / KW);
            let iw = col_iw + i32(tap % KW);
            if (ih >= 0 && ih < i32(info.h) && iw >= 0 && iw < i32(info.w)) {
                v = x[col_base + (ci * info.h + u32(ih)) * info.w + u32(iw)];
            }
        }
        b_reg[i] = v;
    }
}

fn store(m: u32, n: u32, v: f32) {
    let ohw = info.oh * info.ow;
    let b = n / ohw;
    let at = (b * info.cout + m) * ohw + n % ohw;
    if (info.splits == 1u) {
        dst[at] = v + bias[m];
    } else {
        dst[split_base + at] = v;
    }
}
