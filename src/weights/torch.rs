//! PyTorch checkpoints: the zip format (`torch.save` since 1.6) and the legacy format
//! (`_use_new_zipfile_serialization=False`, and every file from torch 0.4 to 1.5).
//!
//! Both hold one object pickle whose tensors point at storages by key, through
//! persistent ids `('storage', torch.FloatStorage, key, location, numel[, view])`:
//!
//! * zip: `<prefix>/data.pkl` is the pickle, `<prefix>/data/<key>` the raw bytes of each
//!   storage, `<prefix>/byteorder` (`little` or `big`, absent in old files: little);
//! * legacy: five pickles back to back (the magic number 0x1950a86a20f9469cfc6c, the
//!   protocol version 1001, a `sys_info` dict, the object, the sorted list of storage
//!   keys), then for each key an 8-byte little-endian element count and the raw data,
//!   always little-endian (torch converts when writing).
//!
//! See `torch/serialization.py` (`_save`, `_legacy_save`, `_load`, `_legacy_load`).

use super::pickle::{self, DType, Obj, TensorRef, Unpickled, Value};
use super::{Checkpoint, CheckpointFormat, Limits, TensorEntry, WeightsError};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Cursor, Read};
use std::rc::Rc;

mod decode;

#[cfg(test)]
pub(crate) use decode::f16_to_f32;
pub(crate) use decode::{Endian, decode_strided};

/// Little-endian bytes of the legacy format's magic number, 0x1950a86a20f9469cfc6c.
pub(crate) const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION: i64 = 1001;
/// Largest object pickle (`data.pkl`) we read; real ones are kilobytes to a few megabytes.
const MAX_PICKLE_BYTES: u64 = 256 << 20;
/// Deepest nesting of containers we walk (a cycle ends here too).
const MAX_DEPTH: usize = 100;
/// Most container entries we visit while looking for tensors.
const MAX_VISITS: usize = 1_000_000;

type Storages<'a> = HashMap<Rc<str>, Cow<'a, [u8]>>;

fn zip_error(e: zip::result::ZipError) -> WeightsError {
    WeightsError::Zip(e.to_string())
}

/// Reads a zip record, refusing more than `max` bytes.
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    max: u64,
    input_len: usize,
) -> Result<Vec<u8>, WeightsError> {
    let mut file = archive.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => WeightsError::Corrupt(format!("the archive has no record `{name}`")),
        other => zip_error(other),
    })?;
    let size = file.size();
    if size > max {
        return Err(WeightsError::TooLarge(format!(
            "the record `{name}` is {} (at most {} are accepted)",
            super::human_bytes(size),
            super::human_bytes(max)
        )));
    }
    // The declared size may lie (deflate): never reserve more than the input's length up front.
    let reserve = usize::try_from(size).unwrap_or(usize::MAX).min(input_len);
    let mut out = Vec::with_capacity(reserve);
    (&mut file)
        .take(size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| WeightsError::Corrupt(format!("reading `{name}` from the archive failed: {e}")))?;
    if out.len() as u64 != size {
        return Err(WeightsError::Corrupt(format!(
            "the record `{name}` holds {} bytes, not the {size} its header declares",
            out.len()
        )));
    }
    Ok(out)
}

pub(crate) fn load_zip(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, WeightsError> {
    // `torch.save` writes the archive at offset 0. Saying so skips the zip crate's search
    // for prepended data, which (zip 9.8.1) rejects some valid torch archives with
    // "Invalid Central Directory header" (tests/fixtures/networks/patchgan_6ch_instance.pth).
    let config = zip::read::Config { archive_offset: zip::read::ArchiveOffset::Known(0) };
    let mut archive = zip::ZipArchive::with_config(config, Cursor::new(bytes)).map_err(zip_error)?;
    let candidates: Vec<String> = archive
        .file_names_raw()
        .filter_map(|n| std::str::from_utf8(n).ok())
        .filter(|n| *n == "data.pkl" || (n.ends_with("/data.pkl") && n.matches('/').count() == 1))
        .map(str::to_string)
        .collect();
    let pkl = match candidates.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(WeightsError::Unsupported(
                "the zip archive has no data.pkl, so it is not a PyTorch checkpoint".into(),
            ));
        }
        _ => {
            return Err(WeightsError::Unsupported(format!(
                "the zip archive holds {} checkpoints ({}); keep one per file",
                candidates.len(),
                candidates.join(", ")
            )));
        }
    };
    let prefix = pkl.strip_suffix("data.pkl").unwrap_or_default().to_string();

    let byteorder_name = format!("{prefix}byteorder");
    let endian = if archive.index_for_name(&byteorder_name).is_some() {
        let order = read_entry(&mut archive, &byteorder_name, 16, bytes.len())?;
        match order.as_slice() {
            b"little" => Endian::Little,
            b"big" => Endian::Big,
            other => {
                return Err(WeightsError::Corrupt(format!("unknown byte order `{}`", String::from_utf8_lossy(other))));
            }
        }
    } else {
        Endian::Little
    };

    let pickle_bytes = read_entry(&mut archive, &pkl, MAX_PICKLE_BYTES, bytes.len())?;
    let unpickled = pickle::unpickle(&pickle_bytes)?;
    let flat = flatten(&unpickled)?;
    check_sizes(&flat.tensors, limits)?;

    let mut storages: Storages<'static> = HashMap::new();
    let mut read_total = 0u64;
    for (_, tensor) in &flat.tensors {
        let key = &tensor.storage.key;
        if storages.contains_key(key) {
            continue;
        }
        let name = format!("{prefix}data/{key}");
        let left = limits.max_total_bytes.saturating_sub(read_total);
        let data = read_entry(&mut archive, &name, left, bytes.len()).map_err(|e| match e {
            WeightsError::TooLarge(_) => WeightsError::TooLarge(format!(
                "its storages add up to more than {}",
                super::human_bytes(limits.max_total_bytes)
            )),
            other => other,
        })?;
        read_total += data.len() as u64;
        storages.insert(key.clone(), Cow::Owned(data));
    }
    build(flat, &storages, endian, CheckpointFormat::TorchZip)
}

pub(crate) fn load_legacy(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, WeightsError> {
    let mut pos = 0usize;
    let mut next = |what: &str| -> Result<Unpickled, WeightsError> {
        let rest = bytes.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(WeightsError::Corrupt(format!("the file is truncated before its {what}")));
        }
        let u = pickle::unpickle(rest)?;
        pos += u.end;
        Ok(u)
    };
    let magic = next("magic number")?;
    match &magic.root {
        Value::BigInt(b) if **b == LEGACY_MAGIC => {}
        _ => {
            return Err(WeightsError::UnknownFormat(
                "a Python pickle, but not a PyTorch checkpoint (it lacks torch's magic number)".into(),
            ));
        }
    }
    match next("protocol version")?.root {
        Value::Int(LEGACY_PROTOCOL_VERSION) => {}
        Value::Int(v) => {
            return Err(WeightsError::Unsupported(format!("legacy PyTorch checkpoint protocol version {v}")));
        }
        _ => return Err(WeightsError::Corrupt("the legacy protocol version is not a number".into())),
    }
    // sys_info: byte order and C type sizes of the saving machine. The storages are always
    // written little-endian and sizes are fixed, so, like torch, we do not need it.
    next("system information")?;
    let object = next("object pickle")?;
    let keys = next("storage key list")?;
    let key_list: Vec<Rc<str>> = match keys.obj(&keys.root) {
        Some(Obj::List(items)) | Some(Obj::Tuple(items)) => items
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(WeightsError::Corrupt("a storage key that is not a string".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(WeightsError::Corrupt("the storage key list is not a list".into())),
    };

    let flat = flatten(&object)?;
    check_sizes(&flat.tensors, limits)?;

    // Element type and count of each root storage, from the persistent ids.
    let mut declared: HashMap<Rc<str>, (DType, u64)> = HashMap::new();
    for obj in &object.objs {
        if let Obj::Storage(s) = obj {
            match declared.get(&s.key) {
                Some((dtype, _)) if *dtype != s.dtype => {
                    return Err(WeightsError::Unsupported(format!(
                        "storage `{}` is used as both {} and {}",
                        s.key,
                        dtype.name(),
                        s.dtype.name()
                    )));
                }
                Some(_) => {}
                None => {
                    declared.insert(s.key.clone(), (s.dtype, s.numel));
                }
            }
        }
    }

    let mut storages: Storages<'_> = HashMap::new();
    let mut total = 0u64;
    for key in key_list {
        let (dtype, numel) = *declared
            .get(&key)
            .ok_or_else(|| WeightsError::Corrupt(format!("storage `{key}` is listed but no tensor refers to it")))?;
        let count_bytes = bytes.get(pos..pos.saturating_add(8)).ok_or_else(storage_truncated)?;
        let mut count = [0u8; 8];
        count.copy_from_slice(count_bytes);
        let count = u64::from_le_bytes(count);
        pos += 8;
        if count != numel {
            return Err(WeightsError::Corrupt(format!(
                "storage `{key}` holds {count} elements, but the checkpoint declares {numel}"
            )));
        }
        let nbytes = count.checked_mul(dtype.size() as u64).ok_or_else(storage_truncated)?;
        total = total.saturating_add(nbytes);
        if total > limits.max_total_bytes {
            return Err(WeightsError::TooLarge(format!(
                "its storages add up to more than {}",
                super::human_bytes(limits.max_total_bytes)
            )));
        }
        let nbytes = usize::try_from(nbytes).map_err(|_| storage_truncated())?;
        let end = pos.checked_add(nbytes).ok_or_else(storage_truncated)?;
        let data = bytes.get(pos..end).ok_or_else(storage_truncated)?;
        pos = end;
        storages.insert(key, Cow::Borrowed(data));
    }
    build(flat, &storages, Endian::Little, CheckpointFormat::TorchLegacy)
}

fn storage_truncated() -> WeightsError {
    WeightsError::Corrupt("the storage data is truncated (the file ends early)".into())
}

/// Tensors found in the object pickle, with their dotted names.
pub(crate) struct Flat {
    tensors: Vec<(String, TensorRef)>,
    nested_dicts: BTreeSet<String>,
}

struct Walk<'u> {
    u: &'u Unpickled,
    visits: usize,
    flat: Flat,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// A path for a message, cut to a readable length.
fn short(path: &str) -> String {
    if path.chars().count() <= 80 {
        path.to_string()
    } else {
        format!("{}...", path.chars().take(80).collect::<String>())
    }
}

fn key_text(key: &Value) -> Result<String, WeightsError> {
    Ok(match key {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::None => "None".to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => {
            return Err(WeightsError::Unsupported("a dictionary key that is not a string or a number".into()));
        }
    })
}

impl Walk<'_> {
    fn walk(&mut self, value: &Value, path: &str, depth: usize) -> Result<(), WeightsError> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return Err(WeightsError::TooLarge(format!(
                "it holds too many nested objects (more than {MAX_VISITS}) to look through"
            )));
        }
        if depth > MAX_DEPTH {
            return Err(WeightsError::Unsupported(format!(
                "objects nested too deeply (more than {MAX_DEPTH} levels, or a container that \
                 contains itself) at `{}`",
                short(path)
            )));
        }
        match value {
            Value::None
            | Value::Bool(_)
            | Value::Int(_)
            | Value::BigInt(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Bytes(_) => Ok(()),
            Value::Global(_) => {
                Err(WeightsError::Unsupported(format!("`{path}` is a Python type or function, not data")))
            }
            Value::Obj(_) => match self.u.obj(value) {
                Some(Obj::Dict(d)) => {
                    if depth > 0 {
                        self.flat.nested_dicts.insert(path.to_string());
                    }
                    for (k, v) in &d.entries {
                        let child = join(path, &key_text(k)?);
                        self.walk(v, &child, depth + 1)?;
                    }
                    Ok(())
                }
                Some(Obj::List(items)) | Some(Obj::Tuple(items)) => {
                    for (i, v) in items.iter().enumerate() {
                        self.walk(v, &join(path, &i.to_string()), depth + 1)?;
                    }
                    Ok(())
                }
                Some(Obj::Tensor(t)) => {
                    self.flat.tensors.push((path.to_string(), t.clone()));
                    Ok(())
                }
                Some(Obj::Storage(_)) => {
                    Err(WeightsError::Unsupported(format!("`{path}` is a bare storage, not a tensor")))
                }
                None => Err(WeightsError::Corrupt("a dangling object reference".into())),
            },
        }
    }
}

fn flatten(u: &Unpickled) -> Result<Flat, WeightsError> {
    match u.obj(&u.root) {
        Some(Obj::Dict(_)) => {}
        Some(Obj::Tensor(_)) => {
            return Err(WeightsError::Unsupported(
                "the file holds a single tensor, not a dictionary of named tensors (a state_dict)".into(),
            ));
        }
        _ => {
            return Err(WeightsError::Unsupported(format!(
                "the file holds {} at the top level, not a dictionary of tensors (a state_dict)",
                match u.obj(&u.root) {
                    Some(Obj::List(_)) => "a list",
                    Some(Obj::Tuple(_)) => "a tuple",
                    _ => "a single value",
                }
            )));
        }
    }
    let mut walk = Walk { u, visits: 0, flat: Flat { tensors: Vec::new(), nested_dicts: BTreeSet::new() } };
    walk.walk(&u.root, "", 0)?;
    Ok(walk.flat)
}

fn numel(name: &str, size: &[u64]) -> Result<u64, WeightsError> {
    size.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        WeightsError::TooLarge(format!("tensor `{name}` has a size {size:?} whose element count overflows"))
    })
}

/// Bytes a tensor takes once converted (f32 or i64).
pub(crate) fn converted_bytes(name: &str, numel: u64, float: bool) -> Result<u64, WeightsError> {
    numel
        .checked_mul(if float { 4 } else { 8 })
        .ok_or_else(|| WeightsError::TooLarge(format!("tensor `{name}` has {numel} elements")))
}

/// Refuses checkpoints whose converted tensors would exceed the limit, before any storage is read.
fn check_sizes(tensors: &[(String, TensorRef)], limits: &Limits) -> Result<(), WeightsError> {
    let mut total = 0u64;
    for (name, t) in tensors {
        let n = numel(name, &t.size)?;
        let bytes = converted_bytes(name, n, t.storage.dtype.is_float())?;
        total = total.saturating_add(bytes);
        if total > limits.max_total_bytes {
            return Err(super::too_large(name, n, bytes, limits));
        }
    }
    Ok(())
}

fn build(
    flat: Flat,
    storages: &Storages<'_>,
    endian: Endian,
    format: CheckpointFormat,
) -> Result<Checkpoint, WeightsError> {
    let mut tensors = BTreeMap::new();
    for (name, t) in flat.tensors {
        let storage = storages.get(&t.storage.key).ok_or_else(|| {
            WeightsError::Corrupt(format!(
                "tensor `{name}` refers to storage `{}`, which is missing from the file",
                t.storage.key
            ))
        })?;
        let entry = gather(&name, &t, storage, endian)?;
        if tensors.insert(name.clone(), entry).is_some() {
            return Err(WeightsError::Unsupported(format!(
                "two entries are both named `{name}` once nested keys are joined with dots"
            )));
        }
    }
    Ok(Checkpoint { format, tensors, nested_dicts: flat.nested_dicts })
}

pub(crate) fn shape_usize(name: &str, size: &[u64]) -> Result<Vec<usize>, WeightsError> {
    size.iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| WeightsError::TooLarge(format!("tensor `{name}` has a dimension of {d}")))
        })
        .collect()
}

/// Copies a strided view of a storage out as f32 (float types) or i64 (integer and bool types).
fn gather(name: &str, t: &TensorRef, storage: &[u8], endian: Endian) -> Result<TensorEntry, WeightsError> {
    let dtype = t.storage.dtype;
    let esize = dtype.size();
    if !storage.len().is_multiple_of(esize) {
        return Err(WeightsError::Corrupt(format!(
            "the storage of tensor `{name}` has {} bytes, not a whole number of {}-byte elements",
            storage.len(),
            esize
        )));
    }
    let mut available = (storage.len() / esize) as u64;
    let mut base = 0u64;
    if let Some((offset, len)) = t.storage.view {
        let end = offset.checked_add(len).filter(|&e| e <= available).ok_or_else(|| {
            WeightsError::Corrupt(format!("the storage view of tensor `{name}` lies outside its storage"))
        })?;
        base = offset;
        available = end - offset;
    }
    let n = numel(name, &t.size)?;
    if n > 0 {
        let mut last = t.offset;
        for (&size, &stride) in t.size.iter().zip(&t.stride) {
            last = (size - 1)
                .checked_mul(stride)
                .and_then(|s| last.checked_add(s))
                .ok_or_else(|| WeightsError::Corrupt(format!("tensor `{name}` has strides that overflow")))?;
        }
        if last >= available {
            return Err(WeightsError::Corrupt(format!(
                "tensor `{name}` (size {:?}, offset {}, strides {:?}) reads element {last} of its storage, \
                 which holds only {available} (the storage is truncated or the file is corrupt)",
                t.size, t.offset, t.stride
            )));
        }
    }
    let shape = shape_usize(name, &t.size)?;
    let n = usize::try_from(n).map_err(|_| WeightsError::TooLarge(format!("tensor `{name}` has {n} elements")))?;
    let data = decode_strided(storage, dtype, endian, base, t.offset, &t.size, &t.stride, n)
        .ok_or_else(|| WeightsError::Corrupt(format!("tensor `{name}` reads outside its storage")))?;
    Ok(TensorEntry { shape, data })
}
