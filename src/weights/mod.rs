//! Checkpoint readers (PyTorch `.pth`/`.pt`/`.ckpt`, `.safetensors`) that never execute
//! pickled code, and a writer of `torch.save` state dicts ([`torch_save`]) for handing
//! networks to PyTorch.
//!
//! Everything works on bytes (`&[u8]`): the browser gets them from a dropped file or a
//! fetch, the CLI from a file. The format is sniffed from the content:
//!
//! * PyTorch zip format (`torch.save` since 1.6, Lightning `.ckpt`): a zip with
//!   `<prefix>/data.pkl` and `<prefix>/data/<key>` storages;
//! * PyTorch legacy format (before 1.6, or `_use_new_zipfile_serialization=False`);
//! * `.safetensors`.
//!
//! Pickles are read by a small stack machine (the private `pickle` module) that only
//! builds data and resolves imports against an allow-list (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor{,_v2}`, `torch._utils._rebuild_parameter{,_with_state}`,
//! the typed `torch.*Storage` classes; as plain metadata: `torch.device`, `torch.Size`, dtype
//! names like `torch.float16`, and `_codecs.encode` for protocol-2 bytes). Anything else,
//! such as `os.system`, `builtins.eval`
//! or a pickled `nn.Module`, is refused with [`WeightsError::ForbiddenGlobal`], naming it.
//!
//! Tensors come out as [`TensorValues::F32`] (float32, float16, bfloat16 and float64, the
//! latter rounded) or [`TensorValues::I64`] (integer and bool tensors, such as BatchNorm's
//! `num_batches_tracked`, which networks ignore). Strided views, storage offsets and
//! shared storages are resolved; big-endian zip checkpoints are byte-swapped.
//!
//! Nested dictionaries are flattened with dotted keys (`{'state_dict': {'a.b': t}}` gives
//! `state_dict.a.b`); [`Checkpoint::into_state_dict`] picks the weights out of a training
//! checkpoint and removes `nn.DataParallel`'s `module.` prefix.
//!
//! ```no_run
//! # fn demo(bytes: &[u8], expected: &[(String, Vec<usize>)]) -> Result<(), ai_art::weights::WeightsError> {
//! let mut weights = ai_art::weights::load_state_dict(bytes)?;
//! weights.report_mismatch(expected)?; // one message listing missing, unexpected, mis-shaped keys
//! let w = weights.take_f32("model.1.weight", &[64, 3, 7, 7])?;
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

pub mod digest;
pub mod partial;
mod pickle;
mod safetensors_file;
mod torch;
pub mod torch_save;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Most dimensions a tensor may have.
pub(crate) const MAX_RANK: usize = 16;

/// Resource bounds for reading a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the converted tensors (4 per float, 8 per integer) may take in all, and
    /// most bytes of raw storage read. Default: 2 GiB.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_total_bytes: 2 << 30 }
    }
}

/// What can go wrong reading a checkpoint; the text is meant for the user, as is.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("the checkpoint file is empty")]
    Empty,
    #[error(
        "not a checkpoint this studio can read: {0}. Expected a PyTorch file saved with \
         torch.save (.pth, .pt, .ckpt) or a .safetensors file"
    )]
    UnknownFormat(String),
    #[error(
        "refusing to load the checkpoint: it asks to import `{global}`, which is not a PyTorch \
         tensor or a plain container (loading arbitrary Python objects could run code).{hint}"
    )]
    ForbiddenGlobal { global: String, hint: String },
    #[error("unsupported checkpoint content: {0}")]
    Unsupported(String),
    #[error("the checkpoint is corrupt or truncated: {0}")]
    Corrupt(String),
    #[error("the checkpoint is too large: {0}")]
    TooLarge(String),
    #[error("the checkpoint is not a readable zip archive (it may be truncated or corrupt): {0}")]
    Zip(String),
    #[error("invalid safetensors file (it may be truncated or corrupt): {0}")]
    Safetensors(String),
    #[error("{0}")]
    Mismatch(MismatchReport),
    #[error("checkpoint tensor `{key}`: {reason}")]
    Tensor { key: String, reason: String },
}

/// Which container a checkpoint came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// `torch.save` zip format (PyTorch 1.6 and later).
    TorchZip,
    /// `torch.save` legacy format (before 1.6, or `_use_new_zipfile_serialization=False`).
    TorchLegacy,
    /// `.safetensors`.
    Safetensors,
}

/// A tensor's values: floating-point types as f32, integer and bool types as i64.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorValues {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// One tensor, row-major (contiguous) in `data`.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    pub shape: Vec<usize>,
    pub data: TensorValues,
}

impl TensorEntry {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        match &self.data {
            TensorValues::F32(v) => v.len(),
            TensorValues::I64(v) => v.len(),
        }
    }

    /// Whether the tensor was floating-point (network weights), not an integer buffer.
    pub fn is_float(&self) -> bool {
        matches!(self.data, TensorValues::F32(_))
    }

    /// The values, if floating-point.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorValues::F32(v) => Some(v),
            TensorValues::I64(_) => None,
        }
    }

    /// The values, if integer or bool.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorValues::I64(v) => Some(v),
            TensorValues::F32(_) => None,
        }
    }
}

/// The tensors of a checkpoint, by dotted name.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub format: CheckpointFormat,
    pub tensors: BTreeMap<String, TensorEntry>,
    /// Dotted paths of the nested dictionaries the tensors were found in (e.g.
    /// `state_dict`, `optimizer.state.0`): what tells a `{'model': {...}}` wrapper from a
    /// flat state dict whose keys merely start with `model.`.
    pub nested_dicts: BTreeSet<String>,
}

/// Where [`Checkpoint::into_state_dict`] looks for the weights inside a training
/// checkpoint, in order of preference (`params_ema` before `params`: BasicSR's EMA weights).
pub const STATE_DICT_WRAPPERS: &[&str] =
    &["state_dict", "model_state_dict", "model", "net", "network", "params_ema", "params", "generator"];

/// Reads a checkpoint from bytes, sniffing the format. Keys are flattened, nothing is
/// stripped; see [`load_state_dict`] for the model weights alone.
pub fn load_checkpoint(bytes: &[u8]) -> Result<Checkpoint, WeightsError> {
    load_checkpoint_with(bytes, &Limits::default())
}

/// [`load_checkpoint`], then [`Checkpoint::into_state_dict`].
pub fn load_state_dict(bytes: &[u8]) -> Result<Checkpoint, WeightsError> {
    load_checkpoint(bytes).map(Checkpoint::into_state_dict)
}

/// [`load_checkpoint`] with explicit resource limits.
pub fn load_checkpoint_with(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, WeightsError> {
    if bytes.is_empty() {
        return Err(WeightsError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return torch::load_zip(bytes, limits);
    }
    // Safetensors before pickles: its first byte is the low byte of the header length, which
    // can be 0x80 (a pickle's PROTO opcode); a pickle never has `{` at byte 8 with a header
    // length that fits the file.
    if safetensors_file::sniff(bytes) {
        return safetensors_file::load(bytes, limits);
    }
    if bytes.first() == Some(&0x80) {
        // A pickle: the legacy format starts with one holding torch's magic number.
        // Reading it is safe; a hostile bare pickle fails on its first forbidden import.
        return torch::load_legacy(bytes, limits);
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return Err(WeightsError::Unsupported(
            "this is the tar-based format of PyTorch before 0.4; load and re-save it with a recent \
             PyTorch (torch.save(torch.load(path), new_path))"
                .into(),
        ));
    }
    let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    Err(WeightsError::UnknownFormat(format!("the file starts with bytes {head}")))
}

pub(crate) fn human_bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let f = n as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else if f >= MIB {
        format!("{:.1} MiB", f / MIB)
    } else {
        format!("{n} bytes")
    }
}

pub(crate) fn too_large(name: &str, numel: u64, bytes: u64, limits: &Limits) -> WeightsError {
    WeightsError::TooLarge(format!(
        "tensor `{name}` has {numel} elements ({} once converted), and a checkpoint may take at \
         most {} in all",
        human_bytes(bytes),
        human_bytes(limits.max_total_bytes)
    ))
}

fn shape_text(shape: &[usize]) -> String {
    format!("{shape:?}")
}

impl Checkpoint {
    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor named `key`.
    pub fn get(&self, key: &str) -> Option<&TensorEntry> {
        self.tensors.get(key)
    }

    /// Removes `prefix` from every key if every key starts with it (e.g. `module.` from
    /// `nn.DataParallel`); returns whether it did.
    pub fn strip_prefix(&mut self, prefix: &str) -> bool {
        if prefix.is_empty() || self.tensors.is_empty() || !self.tensors.keys().all(|k| k.starts_with(prefix)) {
            return false;
        }
        self.keep_under(prefix);
        true
    }

    /// Keeps the tensors under `prefix` (which ends with '.'), with the prefix removed.
    fn keep_under(&mut self, prefix: &str) {
        let tensors = std::mem::take(&mut self.tensors);
        self.tensors =
            tensors.into_iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v))).collect();
        let nested = std::mem::take(&mut self.nested_dicts);
        self.nested_dicts = nested.into_iter().filter_map(|k| k.strip_prefix(prefix).map(str::to_string)).collect();
    }

    /// The model weights of a checkpoint: when the file is a training checkpoint whose
    /// top level is a dictionary holding the weights in a nested dictionary named like
    /// [`STATE_DICT_WRAPPERS`] (`{'state_dict': {...}, 'optimizer': ..., 'epoch': 3}`),
    /// keeps that dictionary alone (repeatedly, for wrappers in wrappers); then removes a
    /// `module.` prefix shared by every key. Only real nested dictionaries count: a flat
    /// state dict whose keys start with `model.` is left as it is.
    pub fn into_state_dict(mut self) -> Checkpoint {
        for _ in 0..4 {
            let pick = STATE_DICT_WRAPPERS.iter().find(|w| {
                self.nested_dicts.contains(**w) && {
                    let prefix = format!("{w}.");
                    self.tensors.keys().any(|k| k.starts_with(&prefix))
                }
            });
            let Some(w) = pick else { break };
            self.keep_under(&format!("{w}."));
        }
        self.strip_prefix("module.");
        self
    }

    /// Compares the checkpoint with the tensors a network expects (name, shape). Integer
    /// tensors the network does not expect (BatchNorm's `num_batches_tracked`) are not
    /// reported as unexpected.
    pub fn compare(&self, expected: &[(String, Vec<usize>)]) -> MismatchReport {
        let mut report = MismatchReport::default();
        let mut wanted = BTreeSet::new();
        for (name, shape) in expected {
            wanted.insert(name.as_str());
            match self.tensors.get(name) {
                None => report.missing.push((name.clone(), shape.clone())),
                Some(t) if t.shape != *shape => report.mis_shaped.push((name.clone(), t.shape.clone(), shape.clone())),
                Some(_) => {}
            }
        }
        for (name, t) in &self.tensors {
            if t.is_float() && !wanted.contains(name.as_str()) {
                report.unexpected.push((name.clone(), t.shape.clone()));
            }
        }
        if !report.missing.is_empty() && report.missing.len() == expected.len() {
            report.checkpoint_sample = self.tensors.keys().take(5).cloned().collect();
        }
        report
    }

    /// [`compare`](Self::compare), as an error listing every difference in one message.
    pub fn report_mismatch(&self, expected: &[(String, Vec<usize>)]) -> Result<(), WeightsError> {
        let report = self.compare(expected);
        if report.is_empty() { Ok(()) } else { Err(WeightsError::Mismatch(report)) }
    }

    /// Takes a floating-point tensor out of the checkpoint, checking its shape.
    pub fn take_f32(&mut self, key: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let err = |reason: String| WeightsError::Tensor { key: key.to_string(), reason };
        let entry = self.tensors.get(key).ok_or_else(|| err("missing from the checkpoint".into()))?;
        if entry.shape != shape {
            return Err(err(format!(
                "has shape {}, the network expects {}",
                shape_text(&entry.shape),
                shape_text(shape)
            )));
        }
        if !entry.is_float() {
            return Err(err("holds integers, the network expects floating-point weights".into()));
        }
        match self.tensors.remove(key).map(|e| e.data) {
            Some(TensorValues::F32(v)) => Ok(v),
            _ => Err(err("missing from the checkpoint".into())),
        }
    }
}

/// The differences between a checkpoint and what a network expects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MismatchReport {
    /// Expected but absent: (name, expected shape).
    pub missing: Vec<(String, Vec<usize>)>,
    /// Floating-point tensors present but not expected: (name, shape).
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// Present with another shape: (name, checkpoint shape, expected shape).
    pub mis_shaped: Vec<(String, Vec<usize>, Vec<usize>)>,
    /// When nothing matched at all: the first few checkpoint keys, to show the naming.
    pub checkpoint_sample: Vec<String>,
}

impl MismatchReport {
    /// Whether the checkpoint matches.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mis_shaped.is_empty()
    }
}

const LISTED: usize = 12;

fn list<T>(f: &mut fmt::Formatter<'_>, title: &str, items: &[T], show: impl Fn(&T) -> String) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    write!(f, "\n  {title} ({}): ", items.len())?;
    let shown: Vec<String> = items.iter().take(LISTED).map(show).collect();
    write!(f, "{}", shown.join(", "))?;
    if items.len() > LISTED {
        write!(f, ", ... and {} more", items.len() - LISTED)?;
    }
    Ok(())
}

impl fmt::Display for MismatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the checkpoint does not fit the network: {} missing, {} unexpected, {} with the wrong shape",
            self.missing.len(),
            self.unexpected.len(),
            self.mis_shaped.len()
        )?;
        list(f, "missing", &self.missing, |(n, s)| format!("{n} {}", shape_text(s)))?;
        list(f, "unexpected", &self.unexpected, |(n, s)| format!("{n} {}", shape_text(s)))?;
        list(f, "wrong shape", &self.mis_shaped, |(n, got, want)| {
            format!("{n}: checkpoint {}, network {}", shape_text(got), shape_text(want))
        })?;
        if !self.checkpoint_sample.is_empty() {
            write!(
                f,
                "\n  no expected name was found; the checkpoint's names look like: {}",
                self.checkpoint_sample.join(", ")
            )?;
        }
        Ok(())
    }
}
