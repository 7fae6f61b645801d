// What the instance-norm kernels share (the method: README.md). Not a module on its own: the
// host (src/kernels/instance_norm.rs) appends it to each kernel of this folder, after
// common/entry.wgsl and either common/per_item.wgsl or split_reduce.wgsl.

// One parameter block for every kernel of a call (src/kernels/instance_norm.rs `Sizes`).
struct Info {
    // The kernel's count: items for common/per_item.wgsl (values, planes or channels), the
    // (plane, split) workgroups for split_reduce.wgsl.
    items: u32,
    // H*W, the values of a plane; B*C planes; `splits` ranges of `chunk` values per plane.
    hw: u32,
    planes: u32,
    splits: u32,
    chunk: u32,
    channels: u32,
    batches: u32,
    // eps as f32 bits (the forward only).
    eps_bits: u32,
}

// A plane's statistics, as finalize.wgsl stores them: the shift (the plane's first value),
// the mean of x - shift and 1 / sqrt(var + eps).
struct Stats {
    shift: f32,
    mean: f32,
    rstd: f32,
}

// xhat = ((x - shift) - mean) * rstd, the true mean never formed in f32 (README.md).
fn normalised(v: f32, s: Stats) -> f32 {
    return ((v - s.shift) - s.mean) * s.rstd;
}

// A Welford summary of some values of a plane: how many, their mean and M2 (the sum of
// squared deviations from the mean).
struct Welford {
    n: f32,
    mean: f32,
    m2: f32,
}

// Chan et al.'s merge of two summaries; an empty `b` leaves `a` as it is.
fn chan_merge(a: Welford, b: Welford) -> Welford {
    var out = a;
    if (b.n > 0.0) {
        let n = a.n + b.n;
        let d = b.mean - a.mean;
        out = Welford(n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n));
    }
    return out;
}
