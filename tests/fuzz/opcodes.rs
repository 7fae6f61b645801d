//! Structured input for the pickle machine: an opcode program built from `arbitrary` data,
//! with torch's shapes (persistent-id storages, `_rebuild_tensor_v2` calls, dictionaries of
//! tensors) as single steps so that the fuzzer reaches past the first opcodes, saved as a
//! bare pickle, a legacy `torch.save` file or a zip checkpoint with matching storages.

use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeMap;
use std::io::Write;

/// What `GLOBAL` / `STACK_GLOBAL` import: every allow-listed name and a few that must be
/// refused.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Name {
    OrderedDict,
    RebuildTensor,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    Storage(Dtype),
    ComplexStorage,
    Encode,
    Device,
    Size,
    Float16,
    OsSystem,
    Eval,
    Conv2d,
}

impl Name {
    fn path(self) -> (&'static str, &'static str) {
        match self {
            Name::OrderedDict => ("collections", "OrderedDict"),
            Name::RebuildTensor => ("torch._utils", "_rebuild_tensor"),
            Name::RebuildTensorV2 => ("torch._utils", "_rebuild_tensor_v2"),
            Name::RebuildParameter => ("torch._utils", "_rebuild_parameter"),
            Name::RebuildParameterWithState => ("torch._utils", "_rebuild_parameter_with_state"),
            Name::Storage(d) => ("torch", d.storage()),
            Name::ComplexStorage => ("torch", "ComplexFloatStorage"),
            Name::Encode => ("_codecs", "encode"),
            Name::Device => ("torch", "device"),
            Name::Size => ("torch", "Size"),
            Name::Float16 => ("torch", "float16"),
            Name::OsSystem => ("os", "system"),
            Name::Eval => ("builtins", "eval"),
            Name::Conv2d => ("torch.nn.modules.conv", "Conv2d"),
        }
    }
}

#[derive(Arbitrary, Clone, Copy, Debug)]
enum Dtype {
    Float,
    Double,
    Half,
    BFloat16,
    Long,
    Int,
    Short,
    Char,
    Byte,
    Bool,
}

impl Dtype {
    fn storage(self) -> &'static str {
        match self {
            Dtype::Float => "FloatStorage",
            Dtype::Double => "DoubleStorage",
            Dtype::Half => "HalfStorage",
            Dtype::BFloat16 => "BFloat16Storage",
            Dtype::Long => "LongStorage",
            Dtype::Int => "IntStorage",
            Dtype::Short => "ShortStorage",
            Dtype::Char => "CharStorage",
            Dtype::Byte => "ByteStorage",
            Dtype::Bool => "BoolStorage",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::Double | Dtype::Long => 8,
            Dtype::Float | Dtype::Int => 4,
            Dtype::Half | Dtype::BFloat16 | Dtype::Short => 2,
            Dtype::Char | Dtype::Byte | Dtype::Bool => 1,
        }
    }
}

/// A size, stride or offset: mostly small, sometimes at a boundary.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Dim {
    Small(u8),
    Wide(u16),
    Huge,
    Negative,
    TooBig,
}

impl Dim {
    fn value(self) -> i128 {
        match self {
            Dim::Small(v) => i128::from(v % 8),
            Dim::Wide(v) => i128::from(v),
            Dim::Huge => 1 << 62,
            Dim::Negative => -1,
            Dim::TooBig => 1 << 70,
        }
    }
}

/// `('storage', torch.<dtype>Storage, key, 'cpu', numel)`, loaded through `BINPERSID`.
#[derive(Arbitrary, Clone, Copy, Debug)]
struct Storage {
    dtype: Dtype,
    key: u8,
    numel: Dim,
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
#[derive(Arbitrary, Clone, Debug)]
struct Tensor {
    storage: Storage,
    offset: Dim,
    size: Vec<Dim>,
    stride: Vec<Dim>,
}

/// Dictionary keys in the shapes real checkpoints use.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Key {
    Weight(u8),
    StateDict,
    Module(u8),
    Number(i8),
    Text,
}

#[derive(Arbitrary, Clone, Debug)]
enum Op {
    Mark,
    Pop,
    PopMark,
    Dup,
    None,
    Bool(bool),
    Int(i32),
    Int1(u8),
    Int2(u16),
    Long(Vec<u8>),
    TextInt(i64),
    Float(f64),
    Str(String),
    Py2Str(Vec<u8>),
    Bytes(Vec<u8>),
    Bytes8(Vec<u8>),
    EmptyTuple,
    Tuple,
    SmallTuple(u8),
    EmptyList,
    List,
    Append,
    Appends,
    EmptyDict,
    Dict,
    SetItem,
    SetItems,
    Put(u8),
    LongPut(u32),
    Memoize,
    Get(u8),
    LongGet(u32),
    TextGet(u16),
    Global(Name),
    StackGlobal(Name),
    Reduce,
    NewObj,
    Build,
    Storage(Storage),
    Tensor(Tensor),
    /// `key: tensor` into the dictionary on top of the stack.
    Entry(Key, Tensor),
    /// `key: {}`, left on the stack, then `SETITEM` later.
    Nested(Key),
    Frame(u64),
    Proto(u8),
    Raw(u8),
    Stop,
}

/// How the program is saved.
#[derive(Arbitrary, Debug)]
enum Container {
    Bare,
    Legacy {
        extra_key: Option<u8>,
        count_off: bool,
    },
    Zip {
        byteorder: Option<bool>,
        prefix: bool,
        short_by: u8,
    },
}

/// A pickle program and the storages its persistent ids declare (key: element size, count).
#[derive(Default)]
struct Program {
    out: Vec<u8>,
    storages: BTreeMap<String, (usize, usize)>,
}

impl Program {
    fn op(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn int(&mut self, v: i128) {
        match v {
            0..=0xff => self.op(&[b'K', v as u8]),
            0x100..=0xffff => {
                self.op(b"M");
                self.op(&(v as u16).to_le_bytes());
            }
            _ if i32::try_from(v).is_ok() => {
                self.op(b"J");
                self.op(&(v as i32).to_le_bytes());
            }
            _ => {
                // LONG1: little-endian two's complement, 9 bytes for anything wider.
                self.op(&[0x8a, 9]);
                self.op(&v.to_le_bytes()[..9]);
            }
        }
    }

    fn str(&mut self, s: &str) {
        self.op(b"X");
        self.op(&(s.len() as u32).to_le_bytes());
        self.op(s.as_bytes());
    }

    fn global(&mut self, name: Name) {
        let (module, name) = name.path();
        self.op(format!("c{module}\n{name}\n").as_bytes());
    }

    fn key(&mut self, key: Key) {
        match key {
            Key::Weight(i) => self.str(&format!("layer{}.weight", i % 4)),
            Key::StateDict => self.str("state_dict"),
            Key::Module(i) => self.str(&format!("module.{}", i % 3)),
            Key::Number(i) => self.int(i128::from(i)),
            Key::Text => self.str("a.b"),
        }
    }

    fn storage(&mut self, s: Storage) {
        let key = (s.key % 4).to_string();
        let numel = s.numel.value();
        if let Ok(n) = usize::try_from(numel) {
            self.storages
                .entry(key.clone())
                .or_insert((s.dtype.size(), n.min(1 << 16)));
        }
        self.op(b"(");
        self.str("storage");
        self.global(Name::Storage(s.dtype));
        self.str(&key);
        self.str("cpu");
        self.int(numel);
        self.op(b"tQ");
    }

    fn tensor(&mut self, t: &Tensor) {
        self.global(Name::RebuildTensorV2);
        self.op(b"(");
        self.storage(t.storage);
        self.int(t.offset.value());
        for dims in [&t.size, &t.stride] {
            self.op(b"(");
            for d in dims.iter().take(5) {
                self.int(d.value());
            }
            self.op(b"t");
        }
        self.op(b"\x89");
        self.global(Name::OrderedDict);
        self.op(b")RtR");
    }

    fn emit(&mut self, op: &Op) {
        match op {
            Op::Mark => self.op(b"("),
            Op::Pop => self.op(b"0"),
            Op::PopMark => self.op(b"1"),
            Op::Dup => self.op(b"2"),
            Op::None => self.op(b"N"),
            Op::Bool(b) => self.op(if *b { b"\x88" } else { b"\x89" }),
            Op::Int(v) => {
                self.op(b"J");
                self.op(&v.to_le_bytes());
            }
            Op::Int1(v) => self.op(&[b'K', *v]),
            Op::Int2(v) => {
                self.op(b"M");
                self.op(&v.to_le_bytes());
            }
            Op::Long(bytes) => {
                self.op(&[0x8a, bytes.len().min(255) as u8]);
                self.op(&bytes[..bytes.len().min(255)]);
            }
            Op::TextInt(v) => self.op(format!("I{v}\n").as_bytes()),
            Op::Float(v) => {
                self.op(b"G");
                self.op(&v.to_be_bytes());
            }
            Op::Str(s) => self.str(s),
            Op::Py2Str(b) => {
                self.op(&[b'U', b.len().min(255) as u8]);
                self.op(&b[..b.len().min(255)]);
            }
            Op::Bytes(b) => {
                self.op(b"B");
                self.op(&(b.len() as u32).to_le_bytes());
                self.op(b);
            }
            Op::Bytes8(b) => {
                self.op(b"\x8e");
                self.op(&(b.len() as u64).to_le_bytes());
                self.op(b);
            }
            Op::EmptyTuple => self.op(b")"),
            Op::Tuple => self.op(b"t"),
            Op::SmallTuple(n) => self.op(&[0x85 + n % 3]),
            Op::EmptyList => self.op(b"]"),
            Op::List => self.op(b"l"),
            Op::Append => self.op(b"a"),
            Op::Appends => self.op(b"e"),
            Op::EmptyDict => self.op(b"}"),
            Op::Dict => self.op(b"d"),
            Op::SetItem => self.op(b"s"),
            Op::SetItems => self.op(b"u"),
            Op::Put(i) => self.op(&[b'q', *i]),
            Op::LongPut(i) => {
                self.op(b"r");
                self.op(&i.to_le_bytes());
            }
            Op::Memoize => self.op(b"\x94"),
            Op::Get(i) => self.op(&[b'h', *i]),
            Op::LongGet(i) => {
                self.op(b"j");
                self.op(&i.to_le_bytes());
            }
            Op::TextGet(i) => self.op(format!("g{i}\n").as_bytes()),
            Op::Global(name) => self.global(*name),
            Op::StackGlobal(name) => {
                let (module, name) = name.path();
                self.str(module);
                self.str(name);
                self.op(b"\x93");
            }
            Op::Reduce => self.op(b"R"),
            Op::NewObj => self.op(b"\x81"),
            Op::Build => self.op(b"b"),
            Op::Storage(s) => self.storage(*s),
            Op::Tensor(t) => self.tensor(t),
            Op::Entry(key, t) => {
                self.key(*key);
                self.tensor(t);
                self.op(b"s");
            }
            Op::Nested(key) => {
                self.key(*key);
                self.op(b"}");
            }
            Op::Frame(n) => {
                self.op(b"\x95");
                self.op(&n.to_le_bytes());
            }
            Op::Proto(p) => self.op(&[0x80, *p % 7]),
            Op::Raw(b) => self.op(&[*b]),
            Op::Stop => self.op(b"."),
        }
    }
}

/// A checkpoint file holding a pickle program made from `u`.
pub fn checkpoint(u: &mut Unstructured) -> Vec<u8> {
    let mut p = Program::default();
    // A dictionary to put entries into, as `torch.save(state_dict)` starts.
    p.op(b"\x80\x02}");
    let ops: Vec<Op> = u.arbitrary().unwrap_or_default();
    for op in &ops {
        p.emit(op);
    }
    p.op(b".");
    let container = u.arbitrary().unwrap_or(Container::Bare);
    let mut data = |esize: usize, numel: usize| {
        let mut bytes = vec![0u8; esize * numel];
        let _ = u.fill_buffer(&mut bytes);
        bytes
    };
    match container {
        Container::Bare => p.out,
        Container::Legacy {
            extra_key,
            count_off,
        } => {
            let mut keys = Program::default();
            keys.op(b"\x80\x02](");
            let names: Vec<String> = p
                .storages
                .keys()
                .cloned()
                .chain(extra_key.map(|k| k.to_string()))
                .collect();
            for k in &names {
                keys.str(k);
            }
            keys.op(b"e.");
            // The magic number, the protocol version and the system information.
            let mut out = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}.".to_vec();
            out.extend_from_slice(&p.out);
            out.extend_from_slice(&keys.out);
            for k in &names {
                let (esize, numel) = p.storages.get(k).copied().unwrap_or((4, 1));
                out.extend_from_slice(&(numel as u64 + u64::from(count_off)).to_le_bytes());
                out.extend_from_slice(&data(esize, numel));
            }
            out
        }
        Container::Zip {
            byteorder,
            prefix,
            short_by,
        } => {
            let dir = if prefix { "archive/" } else { "" };
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            let mut files = vec![(format!("{dir}data.pkl"), p.out.clone())];
            if let Some(big) = byteorder {
                files.push((
                    format!("{dir}byteorder"),
                    if big {
                        b"big".to_vec()
                    } else {
                        b"little".to_vec()
                    },
                ));
            }
            for (k, &(esize, numel)) in &p.storages {
                let mut bytes = data(esize, numel);
                bytes.truncate(bytes.len().saturating_sub(usize::from(short_by % 4)));
                files.push((format!("{dir}data/{k}"), bytes));
            }
            for (name, bytes) in files {
                zip.start_file(name, stored).expect("a zip record");
                zip.write_all(&bytes).expect("written to memory");
            }
            zip.finish().expect("a zip archive").into_inner()
        }
    }
}
