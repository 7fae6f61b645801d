// Convolution, forward, as an implicit matrix product (entry file; the host appends
// gather.wgsl, then gemm.wgsl):
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

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> info: Conv;

fn product() -> Product {
    return Product(info.cout, info.pixels, info.k_dim, info.chunk, info.splits, info.cout * info.pixels);
}

// Output pixel n: its image in x and the top-left corner of its window.
fn column(n: u32) -> Column {
    let ohw = info.oh * info.ow;
    let p = n % ohw;
    return Column((n / ohw) * info.cin * info.h * info.w, i32((p / info.ow) * SH) - PH, i32((p % info.ow) * SW) - PW);
}

fn load_a(k: u32, m: u32) -> f32 {
    return wt[k * info.cout + m];
}

// Tap k = (ci, kh, kw) of the window, zero in the padding.
fn load_b(k: u32) -> f32 {
    let ci = k / TAPS;
    let tap = k % TAPS;
    let ih = col.y + i32(tap / KW);
    let iw = col.x + i32(tap % KW);
    if (ih >= 0 && ih < i32(info.h) && iw >= 0 && iw < i32(info.w)) {
        return x[col.base + (ci * info.h + u32(ih)) * info.w + u32(iw)];
    }
    return 0.0;
}

fn out_index(m: u32, n: u32) -> u32 {
    let ohw = info.oh * info.ow;
    return ((n / ohw) * info.cout + m) * ohw + n % ohw;
}
