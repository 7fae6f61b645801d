// Convolution weight gradient as an implicit matrix product (entry file; the host
// appends gemm.wgsl):
//   dw[co, ci, kh, kw] = sum_{b, oh, ow} dy[b, co, oh, ow] x[b, ci, oh*SH - PH + kh, ow*SW - PW + kw]
// (zero padding). The same array is the weight gradient of a transposed convolution, with
// its input as "dy" and its output gradient as "x" (src/kernels/conv.rs).
//
//   A[M = Cout, R = B*OH*OW]   = dy, one row per output channel;
//   B[R, N = Cin*KH*KW]        = the image patches (im2col), gathered while loading;
//   C[M, N]                    = dw as [Cout][Cin*KH*KW], or, split over R (the reduction
//                                is long and M*N small: 64 x 27 for a first layer), partial
//                                sums that common/split_sum.wgsl adds up.
//
// Here the reduction index r is the pixel, contiguous in both dy and x, so each thread
// keeps one r offset for the whole loop (256 is a multiple of BK) and walks its
// (b, oh, ow) forward by BK per step without dividing. Loads along r are coalesced; the
// shared rows get one vec4 of padding (A_ROW = BM/4 + 1) so that threads writing
// consecutive r do not all hit one bank.
//
// Template parameters: see gemm.wgsl. Host contract as in forward.wgsl.

// Loads run along the pixel r (the reduction); padded rows (gemm.wgsl).
const K_FASTEST: bool = true;
const PAD: u32 = 1u;

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> info: Conv;

// The pixel this thread loads at the current step: r, and r as (b, oh, ow).
var<private> cur_r: u32;
var<private> cur_b: u32;
var<private> cur_oh: u32;
var<private> cur_ow: u32;
// Per load slot: the dy row (co) and the x tap (ci, kh, kw) this thread always loads.
var<private> a_row: array<u32, A_LOADS>;
var<private> a_ok: array<bool, A_LOADS>;
var<private> b_plane: array<u32, B_LOADS>;
var<private> b_kh: array<i32, B_LOADS>;
var<private> b_kw: array<i32, B_LOADS>;
var<private> b_ok: array<bool, B_LOADS>;

fn product() -> Product {
    return Product(info.cout, info.k_dim, info.pixels, info.chunk, info.splits, info.cout * info.k_dim);
}

// The reduction is over pixels: gemm.wgsl's k_begin / k_end are pixels r.
fn prepare(li: u32) {
    let ohw = info.oh * info.ow;
    cur_r = k_begin + li % BK;
    cur_b = cur_r / ohw;
    let p = cur_r % ohw;
    cur_oh = p / info.ow;
    cur_ow = p % info.ow;
    for (var i = 0u; i < A_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let co = tile_m0 + e / BK;
        a_ok[i] = e < BM * BK && co < info.cout;
        a_row[i] = co * ohw;
    }
    for (var i = 0u; i < B_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = tile_n0 + e / BK;
        b_ok[i] = e < BK * BN && k < info.k_dim;
        let tap = k % TAPS;
        b_plane[i] = (k / TAPS) * info.h * info.w;
        b_kh[i] = i32(tap / KW) - PH;
        b_kw[i] = i32(tap % KW) - PW;
    }
}

// Called for consecutive K steps only (gemm.wgsl's loop): loads at cur_r, then moves on.
fn fetch(k0: u32, li: u32) {
    let live = cur_r < k_end;
    let dy_base = (cur_b * info.cout) * info.oh * info.ow + cur_oh * info.ow + cur_ow;
    let x_base = cur_b * info.cin * info.h * info.w;
    let ih0 = i32(cur_oh * SH);
    let iw0 = i32(cur_ow * SW);
    for (var i = 0u; i < A_LOADS; i = i + 1u) {
        var v = 0.0;
        if (live && a_ok[i]) {
            v = dy[dy_base + a_row[i]];
        }
        a_reg[i] = v;
    }
    for (var i = 0u; i < B_LOADS; i = i + 1u) {
        var v = 0.0;
        let ih = ih0 + b_kh[i];
        let iw = iw0 + b_kw[i];
        if (live && b_ok[i] && ih >= 0 && ih < i32(info.h) && iw >= 0 && iw < i32(info.w)) {
            v = x[x_base + b_plane[i] + u32(ih) * info.w + u32(iw)];
        }
        b_reg[i] = v;
    }
    cur_r = cur_r + BK;
    cur_ow = cur_ow + BK;
    while (cur_ow >= info.ow) {
        cur_ow = cur_ow - info.ow;
        cur_oh = cur_oh + 1u;
    }
    while (cur_oh >= info.oh) {
        cur_oh = cur_oh - info.oh;
        cur_b = cur_b + 1u;
    }
}

fn store(m: u32, n: u32, v: f32) {
    dst[split_base + m * info.k_dim + n] = v;
}
