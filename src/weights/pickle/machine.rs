//! The pickle stack machine: it reads opcodes one by one and only ever builds data.
//!
//! Every opcode `torch.save` emits (protocols 2 to 5, and the text opcodes of older files)
//! is interpreted here: numbers, strings and bytes, tuples, lists and dictionaries, the
//! memo, marks. Imports are resolved against the allow-list (`super::imports`); calls and
//! persistent ids become tensors and storages (`super::rebuild`). Opcodes that would build
//! instances of Python classes, sets or out-of-band buffers are refused.

use super::imports::import;
use super::{Dict, Obj, Unpickled, Value, bad, truncated};
use crate::weights::WeightsError;
use std::collections::HashMap;
use std::rc::Rc;

pub(super) struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    objs: Vec<Obj>,
}

/// How a length-prefixed opcode (strings, bytes, long integers) stores its length:
/// little-endian, in 1, 4 or 8 bytes.
#[derive(Clone, Copy)]
enum Len {
    U8,
    U32,
    U64,
}

/// Where a memo opcode finds its index.
#[derive(Clone, Copy)]
enum MemoIndex {
    /// The next byte (BINPUT, BINGET).
    U8,
    /// The next 4 bytes, little-endian (LONG_BINPUT, LONG_BINGET).
    U32,
    /// A text line (PUT, GET).
    Line,
    /// The memo's size (MEMOIZE).
    Next,
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

    /// The length prefix of a string, bytes or long opcode, checked like [`Self::len_u64`].
    fn len(&mut self, width: Len) -> Result<usize, WeightsError> {
        let len = match width {
            Len::U8 => u64::from(self.u8()?),
            Len::U32 => u64::from(self.u32()?),
            Len::U64 => self.u64()?,
        };
        self.len_u64(len)
    }

    /// A length-prefixed UTF-8 string, pushed.
    fn push_utf8(&mut self, width: Len) -> Result<(), WeightsError> {
        let n = self.len(width)?;
        let bytes = self.take(n)?;
        let s = std::str::from_utf8(bytes).map_err(|_| bad("a string is not valid UTF-8"))?;
        self.push(Value::Str(Rc::from(s)));
        Ok(())
    }

    /// A length-prefixed Python 2 `str`, pushed: bytes that are text in practice; decoded
    /// as UTF-8, else Latin-1.
    fn push_py2_str(&mut self, width: Len) -> Result<(), WeightsError> {
        let n = self.len(width)?;
        let bytes = self.take(n)?;
        let s = match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
        };
        self.push(Value::Str(Rc::from(s)));
        Ok(())
    }

    /// Length-prefixed bytes, pushed.
    fn push_bytes(&mut self, width: Len) -> Result<(), WeightsError> {
        let n = self.len(width)?;
        let bytes = self.take(n)?;
        self.push(Value::Bytes(Rc::from(bytes)));
        Ok(())
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

    pub(super) fn new_obj(&mut self, obj: Obj) -> Value {
        self.objs.push(obj);
        Value::Obj(self.objs.len() - 1)
    }

    /// A new object in the arena, pushed.
    fn push_obj(&mut self, obj: Obj) {
        let v = self.new_obj(obj);
        self.push(v);
    }

    fn obj_mut(&mut self, value: &Value) -> Option<&mut Obj> {
        match value {
            Value::Obj(i) => self.objs.get_mut(*i),
            _ => None,
        }
    }

    pub(super) fn obj(&self, value: &Value) -> Option<&Obj> {
        match value {
            Value::Obj(i) => self.objs.get(*i),
            _ => None,
        }
    }

    /// The index a memo opcode names (for `op`'s error message: `PUT` or `GET`).
    fn memo_index(&mut self, at: MemoIndex, op: &str) -> Result<u64, WeightsError> {
        Ok(match at {
            MemoIndex::U8 => u64::from(self.u8()?),
            MemoIndex::U32 => u64::from(self.u32()?),
            MemoIndex::Line => self.line()?.parse().map_err(|_| bad(format!("a {op} index that is not a number")))?,
            MemoIndex::Next => self.memo.len() as u64,
        })
    }

    /// The top of the stack, memoised at the index the opcode names.
    fn memo_put(&mut self, at: MemoIndex) -> Result<(), WeightsError> {
        let key = self.memo_index(at, "PUT")?;
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    /// The memo entry the opcode names, pushed.
    fn memo_get(&mut self, at: MemoIndex) -> Result<(), WeightsError> {
        let key = self.memo_index(at, "GET")?;
        let v = self.memo.get(&key).cloned().ok_or_else(|| bad(format!("memo entry {key} is not set")))?;
        self.push(v);
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
                    let n = self.len(if op == 0x8a { Len::U8 } else { Len::U32 })?;
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
                b'X' => self.push_utf8(Len::U32)?,
                0x8c => self.push_utf8(Len::U8)?,
                0x8d => self.push_utf8(Len::U64)?,
                // SHORT_BINSTRING, BINSTRING (Python 2 str)
                b'U' => self.push_py2_str(Len::U8)?,
                b'T' => self.push_py2_str(Len::U32)?,
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8
                b'C' => self.push_bytes(Len::U8)?,
                b'B' => self.push_bytes(Len::U32)?,
                0x8e | 0x96 => self.push_bytes(Len::U64)?,
                // EMPTY_TUPLE, TUPLE, TUPLE1/2/3
                b')' => self.push_obj(Obj::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_obj(Obj::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push_obj(Obj::Tuple(items));
                }
                // EMPTY_LIST, LIST, APPEND, APPENDS
                b']' => self.push_obj(Obj::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push_obj(Obj::List(items));
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
                b'}' => self.push_obj(Obj::Dict(Dict::default())),
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
                b'q' => self.memo_put(MemoIndex::U8)?,
                b'r' => self.memo_put(MemoIndex::U32)?,
                0x94 => self.memo_put(MemoIndex::Next)?,
                b'p' => self.memo_put(MemoIndex::Line)?,
                // BINGET, LONG_BINGET, GET
                b'h' => self.memo_get(MemoIndex::U8)?,
                b'j' => self.memo_get(MemoIndex::U32)?,
                b'g' => self.memo_get(MemoIndex::Line)?,
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
