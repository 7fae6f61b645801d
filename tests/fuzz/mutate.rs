//! The byte mutator: a seeded PRNG and the edits it makes to corpus entries.

/// SplitMix64: small, fast and seedable, so a run is repeated exactly from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A chunk length, mostly short.
    fn chunk(&mut self, max: usize) -> usize {
        let longest = if self.below(4) == 0 { 256 } else { 16 };
        (1 + self.below(longest)).min(max)
    }
}

/// Bytes that tend to sit on boundaries: signs, all bits set, zero.
const INTERESTING: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/// Values written over length and size fields.
const LARGE: [u64; 8] = [
    u64::MAX,
    i64::MAX as u64,
    u32::MAX as u64,
    i32::MAX as u64,
    0x8000_0000,
    1 << 40,
    0xffff,
    0,
];

/// Where zip records and pickle opcodes keep lengths and sizes: a marker, then the offsets
/// (from the marker) of its little-endian length fields.
const LENGTH_FIELDS: &[(&[u8], &[usize])] = &[
    (b"PK\x03\x04", &[18, 22, 26, 28]), // local header: sizes, name and extra lengths
    (b"PK\x01\x02", &[20, 24, 28, 30, 42]), // central directory: sizes, lengths, offset
    (b"PK\x05\x06", &[8, 10, 12, 16]),  // end of central directory: counts, size, offset
    (b"PK\x06\x06", &[24, 32, 40, 48]), // zip64 end of central directory
    (b"X", &[1]),                       // BINUNICODE
    (b"B", &[1]),                       // BINBYTES
    (b"\x8d", &[1]),                    // BINUNICODE8
    (b"\x8e", &[1]),                    // BINBYTES8
    (b"\x95", &[1]),                    // FRAME
    (b"\x8b", &[1]),                    // LONG4
];

/// A new input from the corpus: one entry with one to eight edits stacked.
pub fn mutate(corpus: &[Vec<u8>], rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let mut data = rng.pick(corpus).clone();
    for _ in 0..1 + rng.below(8) {
        edit(&mut data, corpus, rng);
    }
    data.truncate(max_len);
    data
}

fn edit(data: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
    let len = data.len();
    let at = rng.below(len);
    match rng.below(10) {
        0 if len > 0 => data[at] ^= 1 << rng.below(8),
        1 if len > 0 => data[at] = *rng.pick(&INTERESTING),
        2 if len > 0 => data[at] = rng.next() as u8,
        3 if len > 0 => {
            let n = rng.chunk(len - at);
            data.drain(at..at + n);
        }
        4 if len > 0 => {
            let n = rng.chunk(len - at);
            let chunk = data[at..at + n].to_vec();
            let to = rng.below(len + 1);
            data.splice(to..to, chunk);
        }
        5 => {
            let n = rng.chunk(64);
            let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, fill);
        }
        6 => data.truncate(rng.below(len + 1)),
        7 => {
            // Splicing: this entry's head, another's tail.
            let other = rng.pick(corpus);
            let from = rng.below(other.len() + 1);
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        8 => overwrite_length(data, rng),
        _ => {
            // A large value anywhere, 2, 4 or 8 bytes wide, either byte order.
            let width = *rng.pick(&[2, 4, 8]);
            let mut bytes = rng.pick(&LARGE).to_le_bytes();
            if rng.below(2) == 0 {
                bytes[..width].reverse();
            }
            if let Some(slot) = data.get_mut(at..at + width) {
                slot.copy_from_slice(&bytes[..width]);
            }
        }
    }
}

/// Overwrites a length field of a zip record or a pickle opcode (found by its marker) with
/// a large value, or with the input's own length plus or minus one.
fn overwrite_length(data: &mut [u8], rng: &mut Rng) {
    let (marker, offsets) = *rng.pick(LENGTH_FIELDS);
    let hits: Vec<usize> = data
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i)
        .collect();
    if hits.is_empty() {
        return;
    }
    let field = rng.pick(&hits) + rng.pick(offsets);
    let value = match rng.below(3) {
        0 => data.len() as u64 + 1,
        1 => (data.len() as u64).saturating_sub(field as u64 + 1),
        _ => *rng.pick(&LARGE),
    };
    let width = if marker.len() == 1 && matches!(marker[0], 0x8d | 0x8e | 0x95) {
        8
    } else {
        4
    };
    if let Some(slot) = data.get_mut(field..field + width) {
        slot.copy_from_slice(&value.to_le_bytes()[..width]);
    }
}
