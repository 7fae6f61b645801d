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

use super::WeightsError;
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

/// The allow-listed imports. Anything else is rejected when it is imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Global {
    /// `collections.OrderedDict`: called with no arguments, gives an empty dictionary.
    OrderedDict,
    /// `torch._utils._rebuild_tensor(storage, offset, size, stride)`.
    RebuildTensor,
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
    /// backward_hooks[, metadata])`.
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)`.
    RebuildParameter,
    /// `torch._utils._rebuild_parameter_with_state(data, requires_grad, backward_hooks, state)`.
    RebuildParameterWithState,
    /// `torch.FloatStorage` and friends: only valid inside a persistent id.
    Storage(DType),
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 pickles `bytes`; gives bytes.
    CodecsEncode,
    /// `torch.device(type[, index])` in metadata: gives the device's name as a string.
    Device,
    /// `torch.Size(tuple)` in metadata: gives the tuple.
    Size,
}

/// `torch.float16` and friends: dtype objects in metadata, read as their names.
const TORCH_DTYPES: &[&str] = &[
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "float8_e4m3fn",
    "float8_e5m2",
];

/// What an import gives: an allow-listed global, or plain data for metadata-only names.
fn import(module: &str, name: &str) -> Result<Value, WeightsError> {
    if module == "torch" && TORCH_DTYPES.contains(&name) {
        return Ok(Value::Str(Rc::from(format!("torch.{name}"))));
    }
    resolve_global(module, name).map(Value::Global)
}

fn resolve_global(module: &str, name: &str) -> Result<Global, WeightsError> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("torch", "device") => Global::Device,
        ("torch", "Size") => Global::Size,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch", "FloatStorage") => Global::Storage(DType::F32),
        ("torch", "DoubleStorage") => Global::Storage(DType::F64),
        ("torch", "HalfStorage") => Global::Storage(DType::F16),
        ("torch", "BFloat16Storage") => Global::Storage(DType::BF16),
        ("torch", "LongStorage") => Global::Storage(DType::I64),
        ("torch", "IntStorage") => Global::Storage(DType::I32),
        ("torch", "ShortStorage") => Global::Storage(DType::I16),
        ("torch", "CharStorage") => Global::Storage(DType::I8),
        ("torch", "ByteStorage") => Global::Storage(DType::U8),
        ("torch", "BoolStorage") => Global::Storage(DType::Bool),
        ("torch", storage) if storage.ends_with("Storage") => {
            return Err(WeightsError::Unsupported(format!(
                "tensors stored as `torch.{storage}` cannot be read; only floating-point \
                 (float32/16/64, bfloat16), integer and bool tensors are supported"
            )));
        }
        _ => return Err(forbidden(module, name)),
    };
    Ok(global)
}

fn forbidden(module: &str, name: &str) -> WeightsError {
    let hint = if module.starts_with("__torch__") {
        " This looks like a TorchScript archive (torch.jit.save); save the weights with \
         `torch.save(model.state_dict(), path)` instead."
    } else if module.starts_with("torch.nn.") || module == "__main__" {
        " The file seems to hold a whole pickled model; save `model.state_dict()` instead."
    } else if module == "torch._utils" || module == "torch._tensor" {
        " Only dense tensors can be read, not quantized or sparse tensors or tensor subclasses."
    } else if module.starts_with("numpy") {
        " NumPy objects are not supported in checkpoints; use tensors or plain numbers."
    } else {
        ""
    };
    WeightsError::ForbiddenGlobal { global: format!("{module}.{name}"), hint: hint.to_string() }
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

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    objs: Vec<Obj>,
}

/// Reads one pickle from the start of `data`, stopping at its `STOP` opcode.
pub(crate) fn unpickle(data: &[u8]) -> Result<Unpickled, WeightsError> {
    let mut m = Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), objs: Vec::new() };
    let root = m.run()?;
    Ok(Unpickled { root, objs: m.objs, end: m.pos })
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WeightsError> {
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], WeightsError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WeightsError> {
        Ok(self.take_array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, WeightsError> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    fn u64(&mut self) -> Result<u64, WeightsError> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// A length read from the input, checked against what is left of the input.
    fn len_u64(&mut self, len: u64) -> Result<usize, WeightsError> {
        let len = usize::try_from(len).map_err(|_| truncated())?;
        if len > self.data.len().saturating_sub(self.pos) {
            return Err(truncated());
        }
        Ok(len)
    }

    fn line(&mut self) -> Result<&'a str, WeightsError> {
        let rest = self.data.get(self.pos..).ok_or_else(truncated)?;
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(truncated)?;
        let line = self.take(n)?;
        self.take(1)?;
        std::str::from_utf8(line).map_err(|_| bad("a GLOBAL name is not UTF-8"))
    }

    fn utf8(&mut self, n: usize) -> Result<Value, WeightsError> {
        let bytes = self.take(n)?;
        let s = std::str::from_utf8(bytes).map_err(|_| bad("a string is not valid UTF-8"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    /// Python 2 `str`: bytes that are text in practice; decoded as UTF-8, else Latin-1.
    fn py2_str(&mut self, n: usize) -> Result<Value, WeightsError> {
        let bytes = self.take(n)?;
        let s = match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        };
        Ok(Value::Str(Rc::from(s)))
    }

    fn bytes(&mut self, n: usize) -> Result<Value, WeightsError> {
        Ok(Value::Bytes(Rc::from(self.take(n)?)))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value, WeightsError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(bad("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| bad("stack underflow"))
    }

    fn top(&self) -> Result<&Value, WeightsError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(bad("stack underflow"));
        }
        self.stack.last().ok_or_else(|| bad("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, WeightsError> {
        let mark = self.marks.pop().ok_or_else(|| bad("no MARK on the stack"))?;
        if mark > self.stack.len() {
            return Err(bad("MARK beyond the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn new_obj(&mut self, obj: Obj) -> Value {
        self.objs.push(obj);
        Value::Obj(self.objs.len() - 1)
    }

    fn obj_mut(&mut self, value: &Value) -> Option<&mut Obj> {
        match value {
            Value::Obj(i) => self.objs.get_mut(*i),
            _ => None,
        }
    }

    fn obj(&self, value: &Value) -> Option<&Obj> {
        match value {
            Value::Obj(i) => self.objs.get(*i),
            _ => None,
        }
    }

    fn memo_get(&self, key: u64) -> Result<Value, WeightsError> {
        self.memo.get(&key).cloned().ok_or_else(|| bad(format!("memo entry {key} is not set")))
    }

    fn memo_put(&mut self, key: u64) -> Result<(), WeightsError> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn append(&mut self, list: &Value, items: Vec<Value>) -> Result<(), WeightsError> {
        match self.obj_mut(list) {
            Some(Obj::List(l)) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(WeightsError::Unsupported("APPEND to something that is not a list".into())),
        }
    }

    fn set_items(&mut self, dict: &Value, items: Vec<Value>) -> Result<(), WeightsError> {
        if !items.len().is_multiple_of(2) {
            return Err(bad("SETITEMS with an odd number of items"));
        }
        match self.obj_mut(dict) {
            Some(Obj::Dict(d)) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.insert(k, v);
                }
                Ok(())
            }
            _ => Err(WeightsError::Unsupported("SETITEM on something that is not a dictionary".into())),
        }
    }

    fn run(&mut self) -> Result<Value, WeightsError> {
        loop {
            let op = self.u8()?;
            match op {
                // PROTO
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(WeightsError::Unsupported(format!("pickle protocol {proto}")));
                    }
                }
                // FRAME: a length hint only.
                0x95 => {
                    self.u64()?;
                }
                // STOP
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                // BININT, BININT1, BININT2
                b'J' => {
                    let v = i32::from_le_bytes(self.take_array()?);
                    self.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take_array()?);
                    self.push(Value::Int(i64::from(v)));
                }
                // LONG1, LONG4
                0x8a | 0x8b => {
                    let n = if op == 0x8a { u64::from(self.u8()?) } else { u64::from(self.u32()?) };
                    let n = self.len_u64(n)?;
                    let bytes = self.take(n)?;
                    self.push(long_value(bytes));
                }
                // INT / LONG (protocol 0 text), accepted for old files.
                b'I' | b'L' => {
                    let line = self.line()?;
                    let text = line.trim_end_matches('L');
                    let v = match text {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => Value::Int(text.parse().map_err(|_| bad("an INT that is not a number"))?),
                    };
                    self.push(v);
                }
                // BINFLOAT (big-endian)
                b'G' => {
                    let v = f64::from_be_bytes(self.take_array()?);
                    self.push(Value::Float(v));
                }
                // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                b'X' => {
                    let n = u64::from(self.u32()?);
                    let n = self.len_u64(n)?;
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.u64()?;
                    let n = self.len_u64(n)?;
                    let v = self.utf8(n)?;
                    self.push(v);
                }
                // SHORT_BINSTRING, BINSTRING (Python 2 str)
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let v = self.py2_str(n)?;
                    self.push(v);
                }
                b'T' => {
                    let n = u64::from(self.u32()?);
                    let n = self.len_u64(n)?;
                    let v = self.py2_str(n)?;
                    self.push(v);
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8
                b'C' => {
                    let n = usize::from(self.u8()?);
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                b'B' => {
                    let n = u64::from(self.u32()?);
                    let n = self.len_u64(n)?;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.u64()?;
                    let n = self.len_u64(n)?;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                // EMPTY_TUPLE, TUPLE, TUPLE1/2/3
                b')' => {
                    let v = self.new_obj(Obj::Tuple(Vec::new()));
                    self.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let v = self.new_obj(Obj::Tuple(items));
                    self.push(v);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let v = self.new_obj(Obj::Tuple(items));
                    self.push(v);
                }
                // EMPTY_LIST, LIST, APPEND, APPENDS
                b']' => {
                    let v = self.new_obj(Obj::List(Vec::new()));
                    self.push(v);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.new_obj(Obj::List(items));
                    self.push(v);
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?.clone();
                    self.append(&list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?.clone();
                    self.append(&list, items)?;
                }
                // EMPTY_DICT, DICT, SETITEM, SETITEMS
                b'}' => {
                    let v = self.new_obj(Obj::Dict(Dict::default()));
                    self.push(v);
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.new_obj(Obj::Dict(Dict::default()));
                    self.set_items(&v, items)?;
                    self.push(v);
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?.clone();
                    self.set_items(&dict, vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?.clone();
                    self.set_items(&dict, items)?;
                }
                // BINPUT, LONG_BINPUT, MEMOIZE, PUT
                b'q' => {
                    let k = u64::from(self.u8()?);
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = u64::from(self.u32()?);
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'p' => {
                    let k = self.line()?.parse().map_err(|_| bad("a PUT index that is not a number"))?;
                    self.memo_put(k)?;
                }
                // BINGET, LONG_BINGET, GET
                b'h' => {
                    let k = u64::from(self.u8()?);
                    let v = self.memo_get(k)?;
                    self.push(v);
                }
                b'j' => {
                    let k = u64::from(self.u32()?);
                    let v = self.memo_get(k)?;
                    self.push(v);
                }
                b'g' => {
                    let k = self.line()?.parse().map_err(|_| bad("a GET index that is not a number"))?;
                    let v = self.memo_get(k)?;
                    self.push(v);
                }
                // GLOBAL, STACK_GLOBAL
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let v = import(module, name)?;
                    self.push(v);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (&module, &name) {
                        (Value::Str(module), Value::Str(name)) => {
                            let v = import(module, name)?;
                            self.push(v);
                        }
                        _ => return Err(bad("STACK_GLOBAL needs two strings")),
                    }
                }
                // REDUCE, NEWOBJ: call an allow-listed global.
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.push(v);
                }
                // BUILD: only dictionaries may receive state (an OrderedDict's `_metadata`),
                // which is ignored.
                b'b' => {
                    let _state = self.pop()?;
                    let target = self.top()?.clone();
                    match self.obj(&target) {
                        Some(Obj::Dict(_)) => {}
                        _ => {
                            return Err(WeightsError::Unsupported(format!(
                                "the pickle sets the state of {}, which is not a dictionary",
                                target.kind()
                            )));
                        }
                    }
                }
                // BINPERSID: torch's storages.
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent_load(&pid)?;
                    self.push(v);
                }
                b'P' => {
                    return Err(WeightsError::Unsupported("text persistent ids (PERSID)".into()));
                }
                0x8f..=0x91 => {
                    return Err(WeightsError::Unsupported("sets in a checkpoint".into()));
                }
                b'i' | b'o' | 0x92 => {
                    return Err(WeightsError::Unsupported(
                        "the pickle builds an instance of a Python class (INST/OBJ/NEWOBJ_EX)".into(),
                    ));
                }
                0x82..=0x84 => {
                    return Err(WeightsError::Unsupported("pickle extension registry codes (EXT1/2/4)".into()));
                }
                0x97 | 0x98 => {
                    return Err(WeightsError::Unsupported("out-of-band pickle buffers (protocol 5)".into()));
                }
                other => {
                    return Err(bad(format!("unknown opcode 0x{other:02x} at byte {}", self.pos - 1)));
                }
            }
        }
    }

    fn tuple_items(&self, v: &Value, what: &str) -> Result<Vec<Value>, WeightsError> {
        match self.obj(v) {
            Some(Obj::Tuple(items)) | Some(Obj::List(items)) => Ok(items.clone()),
            _ => Err(bad(format!("{what} is {}, not a tuple", v.kind()))),
        }
    }

    fn call(&mut self, callable: Value, args: Value) -> Result<Value, WeightsError> {
        let Value::Global(global) = callable else {
            return Err(WeightsError::Unsupported(format!("the pickle calls {}", callable.kind())));
        };
        let args = self.tuple_items(&args, "the argument list")?;
        match global {
            Global::OrderedDict => {
                if !args.is_empty() {
                    return Err(WeightsError::Unsupported("OrderedDict built from arguments".into()));
                }
                Ok(self.new_obj(Obj::Dict(Dict::default())))
            }
            Global::RebuildTensor | Global::RebuildTensorV2 => {
                let expected = if global == Global::RebuildTensor { 4..=4 } else { 6..=7 };
                if !expected.contains(&args.len()) {
                    return Err(bad(format!("a tensor rebuilt with {} arguments", args.len())));
                }
                let storage = match args.first().and_then(|v| self.obj(v)) {
                    Some(Obj::Storage(s)) => s.clone(),
                    _ => return Err(bad("a tensor whose first argument is not a storage")),
                };
                let offset = non_negative(args.get(1), "a storage offset")?;
                let size = self.int_list(args.get(2), "a tensor size")?;
                let stride = self.int_list(args.get(3), "a tensor stride")?;
                if size.len() != stride.len() {
                    return Err(bad("a tensor whose size and stride differ in length"));
                }
                Ok(self.new_obj(Obj::Tensor(TensorRef { storage, offset, size, stride })))
            }
            Global::RebuildParameter | Global::RebuildParameterWithState => {
                let data = args.into_iter().next().ok_or_else(|| bad("a parameter without data"))?;
                match self.obj(&data) {
                    Some(Obj::Tensor(_)) => Ok(data),
                    _ => Err(bad("a parameter whose data is not a tensor")),
                }
            }
            Global::CodecsEncode => match args.as_slice() {
                [Value::Str(text), Value::Str(encoding)]
                    if matches!(&**encoding, "latin1" | "latin-1" | "iso-8859-1") =>
                {
                    let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
                    let bytes = bytes.ok_or_else(|| bad("latin1 text with a character above U+00FF"))?;
                    Ok(Value::Bytes(Rc::from(bytes)))
                }
                _ => Err(WeightsError::Unsupported("_codecs.encode with other arguments than (text, 'latin1')".into())),
            },
            Global::Device => match args.as_slice() {
                [Value::Str(kind)] => Ok(Value::Str(kind.clone())),
                [Value::Str(kind), Value::Int(index)] => Ok(Value::Str(Rc::from(format!("{kind}:{index}")))),
                _ => Err(bad("torch.device with unexpected arguments")),
            },
            Global::Size => match args.as_slice() {
                [dims] if matches!(self.obj(dims), Some(Obj::Tuple(_)) | Some(Obj::List(_))) => Ok(dims.clone()),
                _ => Err(bad("torch.Size with unexpected arguments")),
            },
            Global::Storage(dtype) => {
                Err(WeightsError::Unsupported(format!("a bare {} storage outside a tensor", dtype.name())))
            }
        }
    }

    fn int_list(&self, v: Option<&Value>, what: &str) -> Result<Vec<u64>, WeightsError> {
        let v = v.ok_or_else(|| bad(format!("missing {what}")))?;
        let items = self.tuple_items(v, what)?;
        if items.len() > super::MAX_RANK {
            return Err(WeightsError::Unsupported(format!(
                "a tensor with {} dimensions (at most {} are supported)",
                items.len(),
                super::MAX_RANK
            )));
        }
        items.iter().map(|i| non_negative(Some(i), what)).collect()
    }

    fn persistent_load(&mut self, pid: &Value) -> Result<Value, WeightsError> {
        let items = self.tuple_items(pid, "a persistent id")?;
        let text = |v: Option<&Value>| -> Option<Rc<str>> {
            match v {
                Some(Value::Str(s)) => Some(s.clone()),
                Some(Value::Bytes(b)) => std::str::from_utf8(b).ok().map(Rc::from),
                Some(Value::Int(i)) => Some(Rc::from(i.to_string())),
                _ => None,
            }
        };
        let typename = text(items.first()).unwrap_or_else(|| Rc::from(""));
        if &*typename == "module" {
            return Err(WeightsError::Unsupported(
                "the file holds a whole pickled model (nn.Module); save `model.state_dict()` instead".into(),
            ));
        }
        if &*typename != "storage" || !(5..=6).contains(&items.len()) {
            return Err(bad("a persistent id that is not a torch storage"));
        }
        let dtype = match items.get(1) {
            Some(Value::Global(Global::Storage(d))) => *d,
            _ => return Err(bad("a storage whose type is not a torch storage type")),
        };
        let key = text(items.get(2)).ok_or_else(|| bad("a storage without a key"))?;
        let numel = non_negative(items.get(4), "a storage size")?;
        let view = match items.get(5) {
            None | Some(Value::None) => None,
            Some(v) => {
                let view = self.tuple_items(v, "a storage view")?;
                let offset = non_negative(view.get(1), "a storage view offset")?;
                let len = non_negative(view.get(2), "a storage view size")?;
                Some((offset, len))
            }
        };
        Ok(self.new_obj(Obj::Storage(StorageRef { dtype, key, numel, view })))
    }
}

fn non_negative(v: Option<&Value>, what: &str) -> Result<u64, WeightsError> {
    match v {
        Some(Value::Int(i)) => u64::try_from(*i).map_err(|_| bad(format!("{what} is negative"))),
        Some(Value::Bool(b)) => Ok(u64::from(*b)),
        Some(Value::BigInt(_)) => Err(WeightsError::TooLarge(format!("{what} does not fit in 64 bits"))),
        Some(other) => Err(bad(format!("{what} is {}, not an integer", other.kind()))),
        None => Err(bad(format!("missing {what}"))),
    }
}

/// LONG1/LONG4 payload: little-endian two's complement of any length.
fn long_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() <= 8 {
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..bytes.len()].copy_from_slice(bytes);
        return Value::Int(i64::from_le_bytes(buf));
    }
    Value::BigInt(Rc::from(bytes))
}
