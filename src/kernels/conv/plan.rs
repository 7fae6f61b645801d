//! How a convolution's implicit product is cut into workgroups: the tile shape each
//! workgroup computes ([`Tile`], chosen from the product's size or forced per thread with
//! [`set_tile_override`]) and the split of K over workgroups ([`plan`]).

use super::super::SplitPlan;

/// Split-K aims for about this many workgroups per product.
const TARGET_WORKGROUPS: usize = 512;
/// A split gets at least this much of the reduction.
const MIN_SPLIT_K: usize = 256;
const MAX_SPLITS: usize = 256;
/// Cap on the split-K scratch buffer: half of WebGPU's default `maxStorageBufferBindingSize`
/// (128 MiB), so it fits on every adapter.
const MAX_PARTIAL_BYTES: usize = 64 << 20;

/// A workgroup's share of the product: `bm x bn` outputs, K advancing `bk` at a time, each of
/// the 256 threads holding `tm x tn` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    pub bm: u32,
    pub bn: u32,
    pub bk: u32,
    pub tm: u32,
    pub tn: u32,
}

impl Tile {
    /// Big products: 8x8 per thread, 8 KiB of workgroup memory.
    pub const LARGE: Tile = Tile { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 };
    /// Mid-sized products: 4x4 per thread.
    pub const MEDIUM: Tile = Tile { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };
    /// 64 rows, many columns (64-channel layers on large images): 4x16 per thread.
    pub const WIDE: Tile = Tile { bm: 64, bn: 256, bk: 8, tm: 4, tn: 16 };
    /// Few rows (3-channel layers): 16 rows, 256 columns.
    pub const SKINNY: Tile = Tile { bm: 16, bn: 256, bk: 8, tm: 4, tn: 4 };
    pub const ALL: [Tile; 4] = [Tile::LARGE, Tile::MEDIUM, Tile::WIDE, Tile::SKINNY];

    /// Picks the tile for an `m x n` product: the largest whose rows `m` fills that still
    /// gives a few hundred workgroups (a GPU has on the order of 100 multiprocessors), the
    /// skinny one for `m <= 16`. (Reasoned, not yet tuned on a GPU; see README.)
    pub fn for_product(m: usize, n: usize) -> Tile {
        if let Some(tile) = tile_override() {
            return tile;
        }
        let big = if m <= 16 {
            return Tile::SKINNY;
        } else if m <= 64 {
            Tile::WIDE
        } else {
            Tile::LARGE
        };
        if big.workgroups(m, n) >= 256 { big } else { Tile::MEDIUM }
    }

    pub fn workgroups(&self, m: usize, n: usize) -> usize {
        m.div_ceil(self.bm as usize) * n.div_ceil(self.bn as usize)
    }

    /// The tile a [`Tile::name`] names (`128x128`, `64x256`, `64x64`, `16x256`).
    pub fn from_name(name: &str) -> Option<Tile> {
        Tile::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn name(&self) -> &'static str {
        match *self {
            Tile::LARGE => "128x128",
            Tile::MEDIUM => "64x64",
            Tile::WIDE => "64x256",
            Tile::SKINNY => "16x256",
            _ => "custom",
        }
    }
}

std::thread_local! {
    static TILE_OVERRIDE: core::cell::Cell<Option<Tile>> = const { core::cell::Cell::new(None) };
}

/// Forces the convolutions launched from this thread onto one tile shape (`None`: the
/// automatic choice), for tests and for benchmarks that compare the tiles on one GPU.
/// Per thread, like the launches it plans: tests running in parallel are not affected.
pub fn set_tile_override(tile: Option<Tile>) {
    TILE_OVERRIDE.with(|t| t.set(tile));
}

fn tile_override() -> Option<Tile> {
    TILE_OVERRIDE.with(|t| t.get())
}

/// How one product is cut into workgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::kernels) struct Plan {
    pub tile: Tile,
    /// Number of K ranges (`grid z`); 1 writes the result directly.
    pub splits: usize,
    /// Length of each K range, a multiple of the tile's `bk`.
    pub chunk: usize,
}

/// Plans an `m x n` product over `k`; `out_elements` is the size of one partial result.
pub(in crate::kernels) fn plan(m: usize, n: usize, k: usize, out_elements: usize) -> Plan {
    let tile = Tile::for_product(m, n);
    let workgroups = tile.workgroups(m, n).max(1);
    let mut splits = if workgroups >= TARGET_WORKGROUPS / 2 {
        1
    } else {
        (TARGET_WORKGROUPS / workgroups).min(k / MIN_SPLIT_K).clamp(1, MAX_SPLITS)
    };
    while splits > 1 && splits * out_elements * 4 > MAX_PARTIAL_BYTES {
        splits /= 2;
    }
    let SplitPlan { splits, chunk } = SplitPlan::covering(k, splits, tile.bk as usize);
    Plan { tile, splits, chunk }
}
