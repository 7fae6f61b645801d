// The (plane, split) reductions of stats.wgsl and grad_partial.wgsl. Not a module on its own:
// the host (src/kernels/instance_norm.rs) appends it, after common/entry.wgsl, to either,
// which provides
//   a type `Partial`                          what a thread accumulates
//   fn begin(plane: u32) -> Partial           an empty one (and any per-plane set-up)
//   fn accumulate(p: Partial, i: u32) -> Partial   p with value i of [B, C, H, W] added
//   fn merge(a: Partial, b: Partial) -> Partial    two of them combined
//   parts: array<Partial>                     the result of workgroup `lin` goes to parts[lin]
//
// Workgroup lin reduces split lin % splits of plane lin / splits: each thread accumulates a
// strided share of the split's values, then a tree reduction in workgroup memory merges the
// threads' partials.

var<workgroup> tree: array<Partial, THREADS>;

fn run_workgroup(lin: u32, lid: u32) {
    // Uniform per workgroup: the barriers below stay legal.
    if (lin >= info.planes * info.splits) {
        return;
    }
    let plane = lin / info.splits;
    let start = (lin % info.splits) * info.chunk;
    let base = plane * info.hw;
    let end = base + min(start + info.chunk, info.hw);
    var mine = begin(plane);
    for (var i = base + start + lid; i < end; i = i + THREADS) {
        mine = accumulate(mine, i);
    }
    tree[lid] = mine;
    workgroupBarrier();

    for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            tree[lid] = merge(tree[lid], tree[lid + stride]);
        }
        workgroupBarrier();
    }

    if (lid == 0u) {
        parts[lin] = tree[0];
    }
}
