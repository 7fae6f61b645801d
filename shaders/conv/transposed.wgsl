// Transposed convolution as an implicit matrix product, one stride phase per dispatch
// (entry file; the host appends gather.wgsl, then gemm.wgsl). It computes
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

fn product() -> Product {
    let c = info.conv;
    return Product(c.cin, c.pixels, c.k_dim, c.chunk, c.splits, c.batch * c.cin * c.h * c.w);
}

// Pixel n of the phase: its image in dy and its (th + dh, tw + dw), from which the taps
// step back.
fn column(n: u32) -> Column {
    let plane = info.phase.cnt_h * info.phase.cnt_w;
    let t = n % plane;
    let base = (n / plane) * info.conv.cout * info.conv.oh * info.conv.ow;
    return Column(base, i32(t / info.phase.cnt_w + info.phase.dh), i32(t % info.phase.cnt_w + info.phase.dw));
}

// Weight of tap j = (jh, jw) of the phase from output channel co to input channel m; zero
// for a tap the kernel does not have (KH = 3, SH = 2).
fn load_a(k: u32, m: u32) -> f32 {
    let co = k / PHASE_TAPS;
    let j = k % PHASE_TAPS;
    let kh = info.phase.rh + SH * (j / TW);
    let kw = info.phase.rw + SW * (j % TW);
    if (kh < KH && kw < KW) {
        return wd[((co * KH + kh) * KW + kw) * info.conv.cin + m];
    }
    return 0.0;
}

// dy at (co, oh, ow) = (co, th + dh - jh, tw + dw - jw), zero outside dy.
fn load_b(k: u32) -> f32 {
    let co = k / PHASE_TAPS;
    let j = k % PHASE_TAPS;
    let oh = col.y - i32(j / TW);
    let ow = col.x - i32(j % TW);
    if (oh >= 0 && oh < i32(info.conv.oh) && ow >= 0 && ow < i32(info.conv.ow)) {
        return dy[col.base + (co * info.conv.oh + u32(oh)) * info.conv.ow + u32(ow)];
    }
    return 0.0;
}

fn out_index(m: u32, n: u32) -> u32 {
    let plane = info.phase.cnt_h * info.phase.cnt_w;
    let t = n % plane;
    let ih = info.phase.rho_h + SH * (t / info.phase.cnt_w);
    let iw = info.phase.rho_w + SW * (t % info.phase.cnt_w);
    return (((n / plane) * info.conv.cin + m) * info.conv.h + ih) * info.conv.w + iw;
}
