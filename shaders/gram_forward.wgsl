// Gram matrix, forward:  G[b] = scale * F[b] F[b]^T
//   F: [B, C, N] (N = H*W), contiguous row-major f32.   G: [B, C, C].
//
// This file holds two WGSL modules, each introduced by a `//#section <name>` line
// (src/kernels/mod.rs `section()` cuts them apart). Every module is complete on its own
// and its entry point is `main`, the name burn's `SourceKernel` hard-codes.
//
// Host contract (cubecl-wgpu 0.11, precompiled kernels):
//  * storage buffers sit at @binding(0..k) in the order the host passes them, and all are
//    declared `read_write`: on native wgpu several tensors share one wgpu::Buffer, and a
//    dispatch that sees one buffer both read-only and read-write is a usage conflict;
//  * the u32 parameter block is a uniform at @binding(k), cubecl appends it after the buffers;
//  * `main` must use every binding it declares: the pipeline layout is derived from the
//    shader, so an unused binding is missing from it and the bind group is rejected;
//  * cubecl disables wgpu's bounds checks, so every index below is guarded by hand.

//#section partial
// Tiled product over one K range ("split"). Workgroup (16,16): thread (tx,ty) of tile
// (ti = wg.y, tj = wg.x) accumulates G[ti*16+ty, tj*16+tx]. Only tiles with tj >= ti work
// (G is symmetric) and they write both G[r,c] and G[c,r]. wg.z = local_batch * splits + split.
// splits == 1: the result (times scale) goes straight into G.
// splits > 1:  unscaled partial sums go to parts[split][batch][C][C] and `reduce` adds them.

const TILE: u32 = 16u;

struct Info {
    channels: u32,
    n: u32,
    chunk: u32,
    splits: u32,
    batches: u32,
    batch_offset: u32,
    scale_bits: u32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> feat: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

// One padding column keeps the column-wise reads of tile_j free of bank conflicts.
var<workgroup> tile_i: array<array<f32, 17>, 16>;
var<workgroup> tile_j: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>
) {
    let ti = wg.y;
    let tj = wg.x;
    // Uniform per workgroup (workgroup_id is uniform), so the barriers below stay legal.
    if (tj < ti) {
        return;
    }

    let c = info.channels;
    let n = info.n;
    let split = wg.z % info.splits;
    let batch = info.batch_offset + wg.z / info.splits;
    let f_base = batch * c * n;
    let k_start = split * info.chunk;
    let k_end = min(k_start + info.chunk, n);

    let tx = lid.x;
    let ty = lid.y;
    let load_i = ti * TILE + ty;
    let load_j = tj * TILE + ty;

    var acc = 0.0;
    for (var k0 = k_start; k0 < k_end; k0 = k0 + TILE) {
        let k = k0 + tx;
        var a = 0.0;
        var b = 0.0;
        if (k < k_end) {
            if (load_i < c) {
                a = feat[f_base + load_i * n + k];
            }
            if (load_j < c) {
                b = feat[f_base + load_j * n + k];
            }
        }
        tile_i[ty][tx] = a;
        tile_j[ty][tx] = b;
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk = kk + 1u) {
            acc = acc + tile_i[ty][kk] * tile_j[tx][kk];
        }
        workgroupBarrier();
    }

    let row = ti * TILE + ty;
    let col = tj * TILE + tx;
    if (row < c && col < c) {
        let v = acc * bitcast<f32>(info.scale_bits);
        let out_base = (split * info.batches + batch) * c * c;
        dst[out_base + row * c + col] = v;
        if (ti != tj) {
            dst[out_base + col * c + row] = v;
        }
    }
}

//#section reduce
// G[i] = scale * sum_s parts[s * total + i], elementwise over total = B*C*C.
// 1-D workgroups of 256, laid out on a 2-D grid (x + y * num_workgroups.x) so that more
// than 65535 workgroups can be dispatched.

struct Info {
    total: u32,
    splits: u32,
    scale_bits: u32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> info: Info;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32
) {
    let idx = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (idx >= info.total) {
        return;
    }
    var s = 0.0;
    for (var sp = 0u; sp < info.splits; sp = sp + 1u) {
        s = s + parts[sp * info.total + idx];
    }
    dst[idx] = s * bitcast<f32>(info.scale_bits);
}
