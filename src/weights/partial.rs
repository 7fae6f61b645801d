//! Reading only part of a `.safetensors` file: what lets the browser fetch the few VGG19
//! convolutions a style-transfer run needs out of a 548 MB file with HTTP range requests.
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of JSON
//! (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`, offsets
//! relative to the data section, which starts at `8 + n`), then the data. So:
//!
//! 1. [`header_length`] reads `n` from the first 8 bytes (bounded by [`MAX_HEADER_BYTES`]);
//! 2. [`Header::parse`] reads the JSON (serde_json, within [`MAX_HEADER_BYTES`] and its
//!    nesting limit; duplicate names refused; nothing is allocated from a declared size);
//! 3. [`Header::pieces`] gives each wanted tensor's absolute byte range, checked against its
//!    dtype and shape; [`coalesce`] merges adjacent ranges into fewer requests;
//! 4. [`assemble`] writes the fetched tensors out as a new, valid safetensors file (the
//!    `safetensors` crate's writer), which [`super::load_checkpoint`] then reads like any other.
//!
//! Everything here is pure: the fetching is the caller's (the worker, `src/worker/vgg.rs`).
//! Every failure is a [`WeightsError`] with a message for the user; no input panics.

use super::WeightsError;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;

/// Bytes of the length prefix.
pub const PREFIX_BYTES: u64 = 8;
/// Largest JSON header accepted (VGG19's is about 4 KB; files with large metadata rarely
/// exceed a few hundred KB).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Largest single tensor accepted (VGG19's largest conv is 9.4 MB; its largest tensor of
/// all, `classifier.0.weight`, 411 MB).
pub const MAX_TENSOR_BYTES: u64 = 1 << 30;
/// Most dimensions a tensor may have.
const MAX_RANK: usize = super::MAX_RANK;

fn corrupt(msg: impl Into<String>) -> WeightsError {
    WeightsError::Safetensors(msg.into())
}

/// The JSON header's length, from the file's first 8 bytes (more may be passed).
pub fn header_length(prefix: &[u8]) -> Result<u64, WeightsError> {
    let Some(b) = prefix.get(..PREFIX_BYTES as usize) else {
        return Err(corrupt(format!("the file is only {} bytes long", prefix.len())));
    };
    let mut n = [0u8; 8];
    n.copy_from_slice(b);
    let n = u64::from_le_bytes(n);
    if n < 2 {
        return Err(corrupt(format!("the header length is {n}")));
    }
    if n > MAX_HEADER_BYTES {
        return Err(corrupt(format!(
            "the header is said to be {} long (at most {} is accepted): this is probably not a \
             safetensors file",
            super::human_bytes(n),
            super::human_bytes(MAX_HEADER_BYTES)
        )));
    }
    Ok(n)
}

/// Bytes per element of a safetensors dtype this studio reads (see `safetensors_file.rs`).
fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" => 8,
        "F32" | "I32" => 4,
        "F16" | "BF16" | "I16" => 2,
        "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

/// One tensor of the header. Offsets are relative to the data section, end exclusive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMeta {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub begin: u64,
    pub end: u64,
}

/// A parsed safetensors header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Bytes of JSON (`n`).
    pub header_len: u64,
    /// The tensors by name (`__metadata__` is left out).
    pub tensors: BTreeMap<String, TensorMeta>,
}

/// A tensor to fetch: where it lies in the whole file (absolute offsets, end exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub name: String,
    pub meta: TensorMeta,
    pub range: Range<u64>,
}

impl Piece {
    /// Bytes of the tensor.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// Whether the tensor has no bytes (a zero-sized dimension).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Header {
    /// Parses the JSON header (`json` is exactly the `n` bytes after the length prefix).
    /// Only structure is checked here; a tensor's dtype, shape and offsets are checked when
    /// it is asked for ([`Self::pieces`]), so unusual tensors that are not needed do not
    /// stop a partial load.
    pub fn parse(json: &[u8]) -> Result<Header, WeightsError> {
        if json.len() as u64 > MAX_HEADER_BYTES {
            return Err(corrupt(format!("the header is larger than {}", super::human_bytes(MAX_HEADER_BYTES))));
        }
        let text = std::str::from_utf8(json).map_err(|e| corrupt(format!("the header is not UTF-8 text ({e})")))?;
        // The writer pads the JSON with spaces to a multiple of 8, which JSON allows.
        let entries = serde_json::from_str::<Entries>(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => corrupt(format!("the header is not a JSON object ({e})")),
            _ => corrupt(format!("the JSON header is malformed ({e})")),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, v) in entries.0 {
            if name == "__metadata__" {
                continue;
            }
            let meta = tensor_meta(&name, &v)?;
            if tensors.insert(name.clone(), meta).is_some() {
                return Err(corrupt(format!("tensor `{name}` is listed twice")));
            }
        }
        Ok(Header { header_len: json.len() as u64, tensors })
    }

    /// Where the data section starts in the file.
    pub fn data_start(&self) -> u64 {
        PREFIX_BYTES + self.header_len
    }

    /// Whether the file has a tensor named `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// The byte ranges of the tensors named `keys`, in the order given, each checked: a
    /// dtype this studio reads, a shape whose size matches the offsets, at most
    /// [`MAX_TENSOR_BYTES`], and (when `file_len` is known) inside the file.
    pub fn pieces<S: AsRef<str>>(&self, keys: &[S], file_len: Option<u64>) -> Result<Vec<Piece>, WeightsError> {
        let mut out = Vec::with_capacity(keys.len().min(self.tensors.len()));
        for key in keys {
            let key = key.as_ref();
            let err = |reason: String| WeightsError::Tensor { key: key.to_string(), reason };
            let meta = self.tensors.get(key).ok_or_else(|| err("missing from the file".into()))?;
            let size = dtype_size(&meta.dtype).ok_or_else(|| {
                err(format!(
                    "has element type {}; only F32, F16, BF16, F64, signed integer, U8 and BOOL are supported",
                    meta.dtype
                ))
            })?;
            let numel = meta
                .shape
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
                .ok_or_else(|| err("has a shape whose element count overflows".into()))?;
            let bytes = numel.checked_mul(size).ok_or_else(|| err("has a shape whose byte size overflows".into()))?;
            if meta.end < meta.begin || meta.end - meta.begin != bytes {
                return Err(err(format!(
                    "its data offsets [{}, {}] do not match its shape {:?} of {} ({} bytes): the file is corrupt",
                    meta.begin, meta.end, meta.shape, meta.dtype, bytes
                )));
            }
            if bytes > MAX_TENSOR_BYTES {
                return Err(WeightsError::TooLarge(format!(
                    "tensor `{key}` takes {}; at most {} is accepted",
                    super::human_bytes(bytes),
                    super::human_bytes(MAX_TENSOR_BYTES)
                )));
            }
            let start = self
                .data_start()
                .checked_add(meta.begin)
                .ok_or_else(|| err("has data offsets beyond any file".into()))?;
            let end = start + bytes; // start <= data_start + end, no overflow: checked above.
            if let Some(len) = file_len
                && end > len
            {
                return Err(err(format!(
                    "lies at bytes {start}..{end}, past the end of the {len}-byte file: the file is truncated or corrupt"
                )));
            }
            out.push(Piece { name: key.to_string(), meta: meta.clone(), range: start..end });
        }
        Ok(out)
    }
}

/// The header's top-level object as it is written: serde_json's own maps keep the last of two
/// equal names, and a header listing a tensor twice is corrupt.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

fn tensor_meta(name: &str, v: &Value) -> Result<TensorMeta, WeightsError> {
    let bad = |what: &str| corrupt(format!("tensor `{name}`: {what}"));
    let Value::Object(fields) = v else {
        return Err(bad("its description is not a JSON object"));
    };
    let dtype = match fields.get("dtype") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(bad("no dtype")),
    };
    let shape = match fields.get("shape") {
        Some(Value::Array(dims)) => {
            if dims.len() > MAX_RANK {
                return Err(bad(&format!("{} dimensions (at most {MAX_RANK})", dims.len())));
            }
            dims.iter()
                .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()).ok_or_else(|| bad("a dimension is not a size")))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => return Err(bad("no shape")),
    };
    let (begin, end) = match fields.get("data_offsets") {
        Some(Value::Array(o)) if o.len() == 2 => match (o[0].as_u64(), o[1].as_u64()) {
            (Some(b), Some(e)) if b <= e => (b, e),
            _ => return Err(bad("its data offsets are not two increasing byte positions")),
        },
        _ => return Err(bad("no data offsets")),
    };
    Ok(TensorMeta { dtype, shape, begin, end })
}

/// The ranges to request for `pieces`: sorted, with touching ranges merged (so that
/// exactly the wanted bytes are fetched, in as few requests as possible).
pub fn coalesce(pieces: &[Piece]) -> Vec<Range<u64>> {
    let mut ranges: Vec<Range<u64>> = pieces.iter().filter(|p| !p.is_empty()).map(|p| p.range.clone()).collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Cuts `piece`'s bytes out of a fetched block that starts at file offset `block_start`.
pub fn slice_piece<'a>(piece: &Piece, block_start: u64, block: &'a [u8]) -> Result<&'a [u8], WeightsError> {
    let short = || {
        corrupt(format!(
            "tensor `{}` (bytes {}..{}) is not inside the {} bytes received from offset {block_start}",
            piece.name,
            piece.range.start,
            piece.range.end,
            block.len()
        ))
    };
    let from = piece.range.start.checked_sub(block_start).ok_or_else(short)?;
    let from = usize::try_from(from).map_err(|_| short())?;
    let len = usize::try_from(piece.len()).map_err(|_| short())?;
    block.get(from..from.checked_add(len).ok_or_else(short)?).ok_or_else(short)
}

/// A valid safetensors file holding `parts` (each piece with its bytes), written by the
/// `safetensors` crate.
pub fn assemble(parts: &[(&Piece, &[u8])]) -> Result<Vec<u8>, WeightsError> {
    let mut names = std::collections::BTreeSet::new();
    let mut views = Vec::with_capacity(parts.len());
    for (piece, bytes) in parts {
        if bytes.len() as u64 != piece.len() {
            return Err(corrupt(format!(
                "tensor `{}`: received {} bytes, its header says {}",
                piece.name,
                bytes.len(),
                piece.len()
            )));
        }
        if !names.insert(piece.name.as_str()) {
            return Err(corrupt(format!("tensor `{}` given twice", piece.name)));
        }
        let dtype: safetensors::Dtype = serde_json::from_value(Value::String(piece.meta.dtype.clone()))
            .map_err(|_| corrupt(format!("tensor `{}`: unknown element type {}", piece.name, piece.meta.dtype)))?;
        let view = safetensors::tensor::TensorView::new(dtype, piece.meta.shape.clone(), bytes)
            .map_err(|e| corrupt(format!("tensor `{}`: {e}", piece.name)))?;
        views.push((piece.name.clone(), view));
    }
    safetensors::tensor::serialize(views, None).map_err(|e| corrupt(format!("writing the tensors failed: {e}")))
}

/// A safetensors file (all of it, in memory) cut down to the tensors named `keys`; keys
/// the file lacks are skipped. For a dropped or fully downloaded file, so that only the
/// needed tensors are converted.
pub fn extract<S: AsRef<str>>(file: &[u8], keys: &[S]) -> Result<Vec<u8>, WeightsError> {
    let n = header_length(file)?;
    let json = file
        .get(PREFIX_BYTES as usize..(PREFIX_BYTES + n) as usize)
        .ok_or_else(|| corrupt(format!("the file ends inside its {n}-byte header")))?;
    let header = Header::parse(json)?;
    let present: Vec<&str> = keys.iter().map(|k| k.as_ref()).filter(|k| header.contains(k)).collect();
    let pieces = header.pieces(&present, Some(file.len() as u64))?;
    let parts = pieces
        .iter()
        .map(|p| slice_piece(p, 0, file).map(|b| (p, b)))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(&parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A safetensors file written by the reference implementation (the `safetensors` crate).
    fn reference_file() -> Vec<u8> {
        use safetensors::tensor::TensorView;
        use safetensors::Dtype;
        let a: Vec<u8> = (0..24u32).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
        let b: Vec<u8> = (0..4u32).flat_map(|i| (i as f32 - 1.0).to_le_bytes()).collect();
        let c: Vec<u8> = (0..3i64).flat_map(|i| i.to_le_bytes()).collect();
        let d: Vec<u8> = (0..6u16).flat_map(|i| half_bits(i as f32 + 0.25).to_le_bytes()).collect();
        let views = vec![
            ("features.0.weight", TensorView::new(Dtype::F32, vec![2, 3, 2, 2], &a).unwrap()),
            ("features.0.bias", TensorView::new(Dtype::F32, vec![4], &b).unwrap()),
            ("num_batches_tracked", TensorView::new(Dtype::I64, vec![3], &c).unwrap()),
            ("features.2.weight", TensorView::new(Dtype::F16, vec![2, 3], &d).unwrap()),
        ];
        safetensors::serialize(views, None).unwrap()
    }

    /// f32 -> IEEE half bits, for values exactly representable.
    fn half_bits(v: f32) -> u16 {
        let bits = v.to_bits();
        let sign = ((bits >> 16) & 0x8000) as u16;
        let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
        let mant = ((bits >> 13) & 0x3ff) as u16;
        if v == 0.0 { sign } else { sign | ((exp as u16) << 10) | mant }
    }

    fn header_of(file: &[u8]) -> Header {
        let n = header_length(file).unwrap();
        Header::parse(&file[8..8 + n as usize]).unwrap()
    }

    /// A file whose header is `json` (padded), followed by `data`.
    fn file_with(json: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn parses_the_header_of_a_reference_file() {
        let file = reference_file();
        let h = header_of(&file);
        assert_eq!(h.tensors.len(), 4);
        let w = &h.tensors["features.0.weight"];
        assert_eq!((w.dtype.as_str(), w.shape.as_slice()), ("F32", &[2usize, 3, 2, 2][..]));
        assert_eq!(w.end - w.begin, 96);
        assert_eq!(h.tensors["features.2.weight"].dtype, "F16");
        // What the reference reader says about each tensor.
        let st = safetensors::SafeTensors::deserialize(&file).unwrap();
        for (name, view) in st.tensors() {
            let p = &h.pieces(&[name.as_str()], Some(file.len() as u64)).unwrap()[0];
            assert_eq!(&file[p.range.start as usize..p.range.end as usize], view.data(), "{name}");
        }
    }

    #[test]
    fn ranges_for_keys_and_coalescing() {
        let file = reference_file();
        let h = header_of(&file);
        let keys = ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"];
        // features.2.bias is missing: a clear error naming it.
        let e = h.pieces(&keys, None).unwrap_err();
        assert_eq!(e.to_string(), "checkpoint tensor `features.2.bias`: missing from the file");
        let pieces = h.pieces(&keys[..3], Some(file.len() as u64)).unwrap();
        assert_eq!(pieces.iter().map(Piece::len).collect::<Vec<_>>(), [96, 16, 12]);
        let ranges = coalesce(&pieces);
        let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        assert_eq!(total, 96 + 16 + 12, "exactly the wanted bytes");
        // Sorted and non-overlapping.
        assert!(ranges.windows(2).all(|w| w[0].end < w[1].start));
        // The safetensors writer orders by dtype then name, so features.0.bias (F32) and
        // features.0.weight (F32) are adjacent: one request for both.
        let f0 = h.pieces(&["features.0.bias", "features.0.weight"], None).unwrap();
        assert_eq!(coalesce(&f0).len(), 1);
        assert_eq!(coalesce(&[]), Vec::<Range<u64>>::new());
    }

    #[test]
    fn assembles_a_valid_file_from_fetched_pieces() {
        let file = reference_file();
        let h = header_of(&file);
        let pieces = h.pieces(&["features.2.weight", "features.0.weight", "num_batches_tracked"], None).unwrap();
        // Fetch as the browser does: one block per coalesced range.
        let blocks: Vec<(u64, Vec<u8>)> =
            coalesce(&pieces).into_iter().map(|r| (r.start, file[r.start as usize..r.end as usize].to_vec())).collect();
        let parts: Vec<(&Piece, &[u8])> = pieces
            .iter()
            .map(|p| {
                let (start, block) = blocks.iter().find(|(s, b)| p.range.start >= *s && p.range.end <= s + b.len() as u64).unwrap();
                (p, slice_piece(p, *start, block).unwrap())
            })
            .collect();
        let out = assemble(&parts).unwrap();
        assert_eq!(header_length(&out).unwrap() % 8, 0, "header padded to 8 bytes");
        let ck = crate::weights::load_checkpoint(&out).unwrap();
        let full = crate::weights::load_checkpoint(&file).unwrap();
        assert_eq!(ck.tensors.len(), 3);
        for (k, t) in &ck.tensors {
            assert_eq!(t, &full.tensors[k], "{k}");
        }
        // extract() does the same on a whole file, skipping what is absent.
        let ex = extract(&file, &["features.0.weight", "features.9.weight"]).unwrap();
        let ck = crate::weights::load_checkpoint(&ex).unwrap();
        assert_eq!(ck.tensors.keys().collect::<Vec<_>>(), ["features.0.weight"]);
        // Wrong byte counts are refused.
        let p = &pieces[0];
        let e = assemble(&[(p, &[0u8; 3][..])]).unwrap_err();
        assert!(e.to_string().contains("received 3 bytes"), "{e}");
        let e = slice_piece(p, p.range.start + 1, &file).unwrap_err();
        assert!(e.to_string().contains("is not inside"), "{e}");
        // An empty selection is still a valid (empty) file.
        assert!(crate::weights::load_checkpoint(&assemble(&[]).unwrap()).unwrap().is_empty());
    }

    #[test]
    fn json_details() {
        let json = r#" { "__metadata__": {"a": "b", "n": [1, 2.5e3, -1, true, null]},
            "we\"ird\u00e9\ud83d\ude00": {"shape": [], "dtype": "U8", "data_offsets": [0, 1]} }  "#;
        let h = Header::parse(json.as_bytes()).unwrap();
        let (name, t) = h.tensors.iter().next().unwrap();
        assert_eq!(name, "we\"irdé😀");
        assert_eq!(t.shape, Vec::<usize>::new());
        // A name with quotes survives assembling.
        let p = &h.pieces(&[name.as_str()], None).unwrap()[0];
        let out = assemble(&[(p, &[7u8][..])]).unwrap();
        let back = header_of(&out);
        assert!(back.contains(name));
    }

    #[test]
    fn truncated_and_corrupt_headers_are_clear_errors() {
        let file = reference_file();
        let n = header_length(&file).unwrap() as usize;
        assert!(header_length(&file[..5]).unwrap_err().to_string().contains("only 5 bytes"));
        // Cut inside the JSON.
        for cut in [1, 10, n / 2, n - 3] {
            let e = Header::parse(&file[8..8 + cut]).unwrap_err();
            assert!(e.to_string().starts_with("invalid safetensors file"), "cut {cut}: {e}");
        }
        assert!(extract(&file[..8 + n / 2], &["features.0.weight"]).unwrap_err().to_string().contains("ends inside"));
        // Data cut short: the tensor lies past the end.
        let e = extract(&file[..file.len() - 4], &["features.2.weight", "features.0.weight", "features.0.bias", "num_batches_tracked"])
            .unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        for (bad, why) in [
            (&b"[1, 2]"[..], "not a JSON object"),
            (b"{\"a\": 1}", "not a JSON object"),
            (b"{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", "no data offsets"),
            (b"{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", "not two increasing"),
            (b"{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "not a size"),
            (b"{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", "not a size"),
            (b"{\"a\": {}, \"a\": {}}", "no dtype"),
            (b"{\"a\" 1}", "expected `:`"),
            (b"{} x", "trailing characters"),
            (b"{\"\\x\": 1}", "invalid escape"),
            (b"{\"\\ud800\": 1}", "hex escape"),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            let e = Header::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{:?}: {e}", String::from_utf8_lossy(bad));
        }
        let dup = br#"{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}"#;
        assert!(Header::parse(dup).unwrap_err().to_string().contains("listed twice"));
        // Deep nesting is refused (serde_json's recursion limit), not a stack overflow.
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Header::parse(deep.as_bytes()).unwrap_err().to_string().contains("recursion limit"));
    }

    #[test]
    fn hostile_headers_fail_without_huge_allocations() {
        // An absurd header length: refused before anything is read or allocated.
        let e = header_length(&u64::MAX.to_le_bytes()).unwrap_err().to_string();
        assert!(e.contains("probably not a safetensors file"), "{e}");
        assert!(header_length(&(MAX_HEADER_BYTES + 1).to_le_bytes()).is_err());
        assert!(header_length(&1u64.to_le_bytes()).is_err());
        let check = |json: &str, want: &str| {
            let h = Header::parse(json.as_bytes()).unwrap();
            let e = h.pieces(&["a"], Some(1000)).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        };
        let max = u64::MAX;
        // Offsets near u64::MAX, consistent with the shape: overflow is caught.
        check(&format!(r#"{{"a": {{"dtype": "U8", "shape": [4], "data_offsets": [{}, {max}]}}}}"#, max - 4), "beyond any file");
        // Offsets that do not match the shape.
        check(r#"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 15]}}"#, "do not match its shape");
        // A shape whose element count overflows.
        check(&format!(r#"{{"a": {{"dtype": "F32", "shape": [{max}, {max}], "data_offsets": [0, 4]}}}}"#), "overflows");
        check(&format!(r#"{{"a": {{"dtype": "F64", "shape": [{}], "data_offsets": [0, 0]}}}}"#, max / 4), "overflows");
        // A huge tensor, consistent: refused by size, nothing allocated.
        let big = 1u64 << 40;
        check(&format!(r#"{{"a": {{"dtype": "U8", "shape": [{big}], "data_offsets": [0, {big}]}}}}"#), "at most");
        // Inside the limits but past the end of the file.
        check(r#"{"a": {"dtype": "U8", "shape": [2000], "data_offsets": [0, 2000]}}"#, "past the end");
        // A number too large for u64 and an unsupported dtype.
        let e = Header::parse(br#"{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 99999999999999999999999]}}"#).unwrap_err();
        assert!(e.to_string().contains("not two increasing"), "{e}");
        check(r#"{"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}"#, "element type F8_E4M3");
        // Too many dimensions.
        let dims = vec!["1"; 40].join(",");
        let e = Header::parse(format!(r#"{{"a": {{"dtype": "U8", "shape": [{dims}], "data_offsets": [0, 1]}}}}"#).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("40 dimensions"), "{e}");
        // A hostile file handed to extract(): the tensor is said to be huge, the file is tiny.
        let f = file_with(r#"{"features.0.weight": {"dtype": "F32", "shape": [100000000], "data_offsets": [0, 400000000]}}"#, &[0; 16]);
        assert!(extract(&f, &["features.0.weight"]).unwrap_err().to_string().contains("past the end"));
    }
}
