// Transposed convolution as an implicit matrix product, one stride phase per dispatch
// (entry file; gemm.wgsl is appended). It computes
//   dx[b, ci, ih, iw] = bias[ci] + sum_{co, kh, kw} w[co, ci, kh, kw] dy[b, co, oh, ow]
//   over the taps with oh*SH - PH + kh = ih and ow*SW - PW + kw = iw,
// which is both the input gradient of a convolution (w: [Cout, Cin, KH, KW], bias zero)
// and the forward of a transposed convolution (PyTorch's ConvTranspose2d weight
// [in, out, KH, KW] is the same array: "co" is its input channel, "ci" its output).
//
// Stride phases: for stride S only every S-th tap reaches a given output row, and which
// ones depends on the row's residue. Rows ih = rho_h + SH * th (one residue rho_h per
// dispatch, th = 0..cnt_h) all use the taps kh = rh + SH * jh (jh = 0..TH, rh =
// (rho_h + PH) mod SH), with oh = th + dh - jh (dh = (rho_h + PH) / SH). So each dispatch
// is a dense product with no wasted multiply for the taps that cannot contribute (for a
// 4x4 kernel at stride 2: 4 dispatches of K = Cout*2*2 instead of one of Cout*4*4 with
// three quarters zeros). TH = ceil(KH / SH) is the same for every phase; a phase with fewer
// real taps (KH = 3, SH = 2) gets zero weights for the missing one.
//
//   A[M = Cin, K = Cout*TH*TW] = the weights, passed as wd[Cout][KH][KW][Cin]
//                                (src/kernels/conv.rs), so loads along ci are coalesced;
//   B[K, N = B*cnt_h*cnt_w]    = dy gathered at (oh, ow) = (th + dh - jh, tw + dw - jw);
//   C                          = dx at (b, ci, rho_h + SH*th, rho_w + SW*tw), or partial
//                                sums for common/split_sum.wgsl (split-K), which adds the bias.
//
// Template parameters: see gemm.wgsl, and th, tw = ceil(kh / sh), ceil(kw / sw).
// Host contract as in forward.wgsl.

// Loads run along m (input channels) and n (pixels); no row padding (gemm.wgsl).
const K_FASTEST: bool = false;
const PAD: u32 = 0u;

const TH: u32 = {{ th }}u;
const TW: u32 = {{ tw }}u;
const PHASE_TAPS: u32 = TH * TW;

// The phase: first output row / column, how many rows / columns it has, the residue of
// its taps and the offset of its oh / ow.
struct Phase {
    rho_h: u32,
    rho_w: u32,
    cnt_h: u32,
    cnt_w: u32,
    rh: u32,
    rw: u32,
    dh: u32,
    dw: u32,
}

struct Info {
    conv: Conv,
    phase: Phase,
}

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> wd: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> info: Info;

var<private> col_ok: bool;
var<private> col_base: u32;
var<private> col_qh: i32;
var<private> col_qw: i32;
var<private> tile_m0: u32;
var<private> k_end: u32;
var<private> split_base: u32;

fn gemm_size() -> vec2<u32> {
    return vec2<u32>(info.conv.cin, info.conv.pixels);
}

fn k_range(split: u32) -> vec2<u32> {
    let begin = split * info.conv.chunk;
    return vec2<u32>(begin, min(begin + info.conv.chunk, info.conv.k_dim));
}

fn prepare(m0: u32, n0: u32, k_begin: u32, k_stop: u32, li: u32) {
    tile_m0 = m0;
    k_end = k_stop;
    split_base = (k_begin / info.conv.chunk) * info.conv.batch * info.conv.cin * info.conv.h * info.conv.w;
    let n = n0 + li % BN;
    col_ok = n < info.conv.pixels;
    let plane = info.phase.cnt_h * info.phase.cnt_w;
    let b = n / plane;
    let t = n % plane;
    col_base = b * info.conv.cout * info.conv.oh * info.conv.ow;
    col_qh = i32(t / info.phase.cnt_w + info.phase.dh);
    col_qw = i32(t % info.phase.cnt_w + info.phase.dw);
}

fn fetch(k0: u32, li: u32) {
    for (var i = 0u; i < A_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BM;
        let m = tile_m0 + e % BM;
        var v = 0.0;
        if (e < BM * BK && k < k_end && m < info.conv.cin) {
            let co = k / PHASE_TAPS;
            let j = k % PHASE_TAPS;
            let kh = info.phase.rh + SH * (j / TW);
            let kw = info.phase.rw + SW * (j % TW);
            if (kh < KH && kw < KW) {
                v = wd[((co * KH + kh) * KW + kw) * info.conv.cin + m];
            }
        }
        a_reg[i] = v;
    }
    for (var i = 0u; i < B_LOADS; i = i + 1u) {
        let e = li + i * THREADS;
        let k = k0 + e / BN;
        var v = 0.0;
        if (e < BK * BN && col_ok && k < k_end) {
            let co = k / PHASE_TAPS;
            let j = k % PHASE_TAPS;
            let oh = col_qh - i32(j / TW);
            let ow = col_qw - i32(j % TW);
            if (oh >= 0 && oh < i32(info.conv.oh) && ow >= 0 && ow < i32(info.conv.ow)) {
                v = dy[col_base + (co * info.conv.oh + u32(oh)) * info.conv.ow + u32(ow)];
            }
        }
        b_reg[i] = v;
    }
}

fn store(m: u32, n: u32, v: f32) {
    let plane = info.phase.cnt_h * info.phase.cnt_w;
    let b = n / plane;
    let t = n % plane;
    let ih = info.phase.rho_h + SH * (t / info.phase.cnt_w);
    let iw = info.phase.rho_w + SW * (t % info.phase.cnt_w);
    let at = ((b * info.conv.cin + m) * info.conv.h + ih) * info.conv.w + iw;
    if (info.conv.splits == 1u) {
        dst[at] = v + bias[m];
    } else {
        dst[split_base + at] = v;
    }
}
