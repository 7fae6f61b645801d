//! A Python pickle reader that never executes code.
//!
//! It interprets the opcodes PyTorch's `torch.save` emits (protocols 2 to 5) as a small
//! stack machine that only builds data: numbers, strings, tuples, lists, dictionaries,
//! and the two things a checkpoint needs beyond those, storages (through `BINPERSID`,
//! with torch's persistent-id tuples) and tensors (through the `_rebuild_*` functions).
//! Imports (`GLOBAL`, `STACK_GLOBAL`) are resolved against an allow-list of names;
//! anything else, `os.system`, `builtins.eval`, a pickled `nn.Module`, ..., is an error
//! that names it. Nothing is ever looked up or called by name.
//!
//! Objects live in an arena and values refer to them by index, so a pickle that
//! references one object many times (through the memo) costs nothing extra to read;
//! the walk that follows bounds depth and visits (see `super::torch`).
//!
//! The reader is split along those lines: `machine` runs the opcodes, `imports` holds the
//! allow-list, and `rebuild` makes storages and tensors of torch's calls and persistent
//! ids. This file holds what they build: [`Value`]s, the arena's [`Obj`]s, [`Unpickled`].

mod imports;
mod machine;
mod rebuild;

use super::WeightsError;
use imports::Global;
pub(crate) use machine::unpickle;
use std::collections::HashMap;
use std::rc::Rc;

/// Element type of a torch storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    pub(crate) fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    pub(crate) fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }
}

/// A pickle value. Containers and torch objects live in [`Unpickled::objs`]; values
/// refer to them by index, so copies are cheap.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in i64: little-endian two's complement bytes.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Global(Global),
    Obj(usize),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) | Value::BigInt(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::Global(_) => "an imported name",
            Value::Obj(_) => "an object",
        }
    }
}

/// A storage reference, from a torch persistent id.
#[derive(Clone, Debug)]
pub(crate) struct StorageRef {
    pub dtype: DType,
    /// Key of the root storage (`data/<key>` in a zip, or in the legacy key list).
    pub key: Rc<str>,
    /// Element count the persistent id declares for the root storage.
    pub numel: u64,
    /// Legacy storage views: `(offset, len)` in elements within the root storage.
    pub view: Option<(u64, u64)>,
}

/// A tensor: a strided view of a storage.
#[derive(Clone, Debug)]
pub(crate) struct TensorRef {
    pub storage: StorageRef,
    pub offset: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DictKey {
    Str(Rc<str>),
    Int(i64),
}

/// An (ordered) dictionary; string and integer keys are de-duplicated like Python's.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    pub entries: Vec<(Value, Value)>,
    index: HashMap<DictKey, usize>,
}

impl Dict {
    fn insert(&mut self, key: Value, value: Value) {
        let dict_key = match &key {
            Value::Str(s) => Some(DictKey::Str(s.clone())),
            Value::Int(i) => Some(DictKey::Int(*i)),
            Value::Bool(b) => Some(DictKey::Int(i64::from(*b))),
            _ => None,
        };
        if let Some(dict_key) = dict_key {
            if let Some(&at) = self.index.get(&dict_key)
                && let Some(slot) = self.entries.get_mut(at)
            {
                slot.1 = value;
                return;
            }
            self.index.insert(dict_key, self.entries.len());
        }
        self.entries.push((key, value));
    }

    /// The value for a string key.
    #[cfg(test)]
    pub(crate) fn get_str(&self, key: &str) -> Option<&Value> {
        let at = self.index.get(&DictKey::Str(Rc::from(key)))?;
        self.entries.get(*at).map(|(_, v)| v)
    }
}

#[derive(Debug)]
pub(crate) enum Obj {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    Storage(StorageRef),
    Tensor(TensorRef),
}

/// The result of reading one pickle.
#[derive(Debug)]
pub(crate) struct Unpickled {
    pub root: Value,
    pub objs: Vec<Obj>,
    /// Offset just past the `STOP` opcode, in the input slice.
    pub end: usize,
}

impl Unpickled {
    pub(crate) fn obj(&self, value: &Value) -> Option<&Obj> {
        match value {
            Value::Obj(i) => self.objs.get(*i),
            _ => None,
        }
    }
}

fn truncated() -> WeightsError {
    WeightsError::Corrupt("the pickled data ends unexpectedly (the file is truncated or corrupt)".into())
}

fn bad(msg: impl Into<String>) -> WeightsError {
    WeightsError::Corrupt(format!("invalid pickle: {}", msg.into()))
}
