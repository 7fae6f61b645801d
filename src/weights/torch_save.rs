//! Writing PyTorch checkpoints without PyTorch: a state dict of float32 and int64 tensors in
//! `torch.save`'s zip format, as `torch.save(OrderedDict(...))` writes it, so that
//! `torch.load` (with `weights_only=True` too) reads it, and the readers of this module read
//! it back bit for bit. Nothing is executed and nothing but data is referenced: the pickle
//! names only `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and the typed
//! storages, the globals every `torch.save` of a state dict names.
//!
//! The archive (records stored, not compressed, each aligned to 64 bytes as PyTorch aligns
//! them, so `torch.load(mmap=True)` works too):
//! * `archive/data.pkl`: a protocol-2 pickle of the `OrderedDict`; each tensor is
//!   `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` with `storage` a
//!   persistent id `('storage', torch.FloatStorage | torch.LongStorage, key, 'cpu', numel)`;
//! * `archive/byteorder`: `little`;
//! * `archive/data/<key>`: each tensor's values, little-endian, contiguous;
//! * `archive/version`: `3`.

use std::io::{Cursor, Write};

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::{TensorEntry, TensorValues, WeightsError};

/// The archive's top folder (`torch.save` names it after the file; any name reads).
const ARCHIVE: &str = "archive";

/// A protocol-2 pickle, written opcode by opcode.
struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, op: u8) {
        self.0.push(op);
    }

    fn global(&mut self, module: &str, name: &str) {
        self.0.push(b'c');
        self.0.extend_from_slice(module.as_bytes());
        self.0.push(b'\n');
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b'\n');
    }

    fn string(&mut self, s: &str) {
        self.0.push(b'X'); // BINUNICODE
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: u64) {
        match i32::try_from(v) {
            Ok(small) => {
                self.0.push(b'J'); // BININT
                self.0.extend_from_slice(&small.to_le_bytes());
            }
            Err(_) => {
                self.0.extend_from_slice(&[0x8a, 8]); // LONG1, 8 bytes, two's complement
                self.0.extend_from_slice(&(v as i64).to_le_bytes());
            }
        }
    }

    /// A tuple of `values`.
    fn ints(&mut self, values: &[usize]) {
        self.op(b'('); // MARK
        for &v in values {
            self.int(v as u64);
        }
        self.op(b't'); // TUPLE
    }

    /// `collections.OrderedDict()`.
    fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.op(b')'); // EMPTY_TUPLE
        self.op(b'R'); // REDUCE
    }
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut out = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        out[i] = out[i + 1] * shape[i + 1];
    }
    out
}

/// `torch.save` bytes of the state dict `tensors` (in this order; names must be unique).
pub fn save_state_dict(tensors: &[(String, TensorEntry)]) -> Result<Vec<u8>, WeightsError> {
    let mut p = Pickle(vec![0x80, 2]); // PROTO 2
    p.empty_ordered_dict();
    p.op(b'('); // MARK: the items
    let mut storages = Vec::with_capacity(tensors.len());
    for (key, (name, t)) in tensors.iter().enumerate() {
        let numel: usize = t.shape.iter().product();
        if numel != t.numel() {
            return Err(WeightsError::Tensor { key: name.clone(), reason: format!("shape {:?} but {} values", t.shape, t.numel()) });
        }
        let (storage, bytes): (&str, Vec<u8>) = match &t.data {
            TensorValues::F32(v) => ("FloatStorage", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            TensorValues::I64(v) => ("LongStorage", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        };
        p.string(name);
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op(b'('); // MARK: the arguments
        p.op(b'('); // MARK: the persistent id
        p.string("storage");
        p.global("torch", storage);
        p.string(&key.to_string());
        p.string("cpu");
        p.int(numel as u64);
        p.op(b't');
        p.op(b'Q'); // BINPERSID
        p.int(0); // storage offset
        p.ints(&t.shape);
        p.ints(&strides(&t.shape));
        p.op(0x89); // NEWFALSE: requires_grad
        p.empty_ordered_dict(); // backward hooks
        p.op(b't');
        p.op(b'R');
        storages.push(bytes);
    }
    p.op(b'u'); // SETITEMS
    p.op(b'.'); // STOP

    let mut records = vec![("data.pkl".to_string(), p.0), ("byteorder".to_string(), b"little".to_vec())];
    records.extend(storages.into_iter().enumerate().map(|(key, bytes)| (format!("data/{key}"), bytes)));
    records.push(("version".into(), b"3\n".to_vec()));
    zip_folder(ARCHIVE, &records)
}

/// A zip of `files` (`(name, bytes)`, in this order) under the folder `folder`, stored
/// uncompressed, each record aligned to 64 bytes: a `torch.save` archive, or a folder of
/// files to download as one.
pub fn zip_folder(folder: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, WeightsError> {
    let failed = |e: &dyn std::fmt::Display| WeightsError::Zip(format!("writing the archive failed: {e}"));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).with_alignment(64);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(format!("{folder}/{name}"), options).map_err(|e| failed(&e))?;
        zip.write_all(bytes).map_err(|e| failed(&e))?;
    }
    Ok(zip.finish().map_err(|e| failed(&e))?.into_inner())
}
