//! Checkpoint readers: whole files (`load_checkpoint_with`, `load_state_dict`), the partial
//! safetensors reader, and the pickle machine through generated programs.

use super::driver::{Target, Trace};
use super::{fixtures, opcodes, random_seeds};
use ai_art::weights::partial::{self, Header, Piece};
use ai_art::weights::{
    Checkpoint, Limits, TensorEntry, TensorValues, WeightsError, load_checkpoint_with,
    load_state_dict,
};
use arbitrary::Unstructured;

/// Small enough that no input allocates much; the default limit (2 GiB) is checked on the
/// inputs this one accepts.
const LIMITS: Limits = Limits {
    max_total_bytes: 4 << 20,
};

/// Every reader on `bytes`: with small limits, then with the default ones (unless the small
/// limits refused the size, which the default ones may accept at up to 2 GiB of memory),
/// which must read the same tensors.
pub fn check_checkpoint(t: &mut Trace, bytes: &[u8]) {
    let small = load_checkpoint_with(bytes, &LIMITS);
    if matches!(small, Err(WeightsError::TooLarge(_))) {
        t.ok(small);
        return;
    }
    let small = t.ok(small).map(Checkpoint::into_state_dict);
    let full = t.ok(load_state_dict(bytes));
    match (&small, &full) {
        (Some(a), Some(b)) => t.check(same(a, b), || {
            "the default limits read other tensors than small ones".into()
        }),
        (None, None) => {}
        _ => t.check(false, || {
            format!(
                "only one limit read the file: small {}, default {}",
                small.is_some(),
                full.is_some()
            )
        }),
    }
    for (name, entry) in small.iter().flat_map(|c| &c.tensors) {
        let numel = entry
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        t.check(numel == Some(entry.numel()), || {
            format!(
                "tensor {name}: shape {:?}, {} values",
                entry.shape,
                entry.numel()
            )
        });
    }
}

/// Bit-for-bit equal (NaNs included).
fn same(a: &Checkpoint, b: &Checkpoint) -> bool {
    a.format == b.format
        && a.nested_dicts == b.nested_dicts
        && a.tensors.len() == b.tensors.len()
        && a.tensors
            .iter()
            .zip(&b.tensors)
            .all(|((ka, ta), (kb, tb))| ka == kb && same_entry(ta, tb))
}

fn same_entry(a: &TensorEntry, b: &TensorEntry) -> bool {
    let bits = |e: &TensorEntry| -> Vec<u64> {
        match &e.data {
            TensorValues::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
            TensorValues::I64(v) => v.iter().map(|&x| x as u64).collect(),
        }
    };
    a.shape == b.shape && a.is_float() == b.is_float() && bits(a) == bits(b)
}

pub fn checkpoint() -> Target {
    let seeds = fixtures(
        &["weights", "networks"],
        &["pth", "pt", "pkl", "safetensors", "txt"],
    );
    Target::new("checkpoint", seeds, check_checkpoint)
}

/// Pickle programs from `arbitrary` data, saved bare, as legacy files and as zip archives.
pub fn pickle() -> Target {
    Target::new("pickle", random_seeds(), |t, data| {
        check_checkpoint(t, &opcodes::checkpoint(&mut Unstructured::new(data)))
    })
}

/// The partial reader: header length, header, byte ranges, and `extract`.
pub fn safetensors_partial() -> Target {
    let seeds = fixtures(
        &["weights", "networks", "training", "nst"],
        &["safetensors"],
    );
    Target::new("safetensors_partial", seeds, |t, file| {
        let json = t.ok(partial::header_length(file)).and_then(|n| {
            let start = partial::PREFIX_BYTES as usize;
            file.get(start..start + n as usize)
        });
        let header = json.and_then(|json| t.ok(Header::parse(json)));
        let keys: Vec<String> = header
            .iter()
            .flat_map(|h| h.tensors.keys().cloned())
            .collect();
        if let Some(pieces) = header.and_then(|h| t.ok(h.pieces(&keys, Some(file.len() as u64)))) {
            check_pieces(t, &pieces, file);
        }
        // Every other tensor, cut out and read back.
        check_extract(t, file, &keys.iter().step_by(2).collect::<Vec<_>>());
    })
}

/// Each piece lies inside the file, and the coalesced ranges are disjoint and cover them.
fn check_pieces(t: &mut Trace, pieces: &[Piece], file: &[u8]) {
    for p in pieces {
        let inside = partial::slice_piece(p, 0, file).is_ok_and(|b| b.len() as u64 == p.len());
        t.check(inside, || {
            format!("piece {} ({:?}) is not inside the file", p.name, p.range)
        });
    }
    let ranges = partial::coalesce(pieces);
    t.check(ranges.windows(2).all(|w| w[0].end < w[1].start), || {
        format!("ranges overlap: {ranges:?}")
    });
    let covered = |p: &Piece| {
        ranges
            .iter()
            .any(|r| r.start <= p.range.start && p.range.end <= r.end)
    };
    t.check(pieces.iter().all(|p| p.is_empty() || covered(p)), || {
        "a piece outside the ranges".into()
    });
}

/// `extract` writes a file that reads, holding the tensors asked for as the whole file has them.
fn check_extract(t: &mut Trace, file: &[u8], wanted: &[&String]) {
    let Some(cut) = t.ok(partial::extract(file, wanted)) else {
        return;
    };
    let cut = match load_checkpoint_with(&cut, &LIMITS) {
        Ok(cut) => cut,
        Err(WeightsError::TooLarge(_)) => return,
        Err(e) => {
            return t.check(false, || {
                format!("extract wrote a file that does not read: {e}")
            });
        }
    };
    t.check(cut.tensors.keys().all(|k| wanted.contains(&k)), || {
        "extract kept a tensor not asked for".into()
    });
    if let Ok(whole) = load_checkpoint_with(file, &LIMITS) {
        for (k, v) in &cut.tensors {
            t.check(whole.get(k).is_some_and(|w| same_entry(w, v)), || {
                format!("extracted {k} differs from the file's")
            });
        }
    }
}
