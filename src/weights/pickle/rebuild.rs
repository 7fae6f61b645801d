//! What the pickle's calls and persistent ids build: torch's storages and tensors.
//!
//! `REDUCE`/`NEWOBJ` may only call an allow-listed global (`super::imports`): an empty
//! `OrderedDict`, a tensor rebuilt from a storage, offset, size and stride (`_rebuild_tensor`
//! and `_v2`), a parameter (its tensor), bytes from `_codecs.encode`, or metadata
//! (`torch.device`, `torch.Size`). `BINPERSID` turns torch's persistent-id tuple
//! `('storage', torch.FloatStorage, key, location, numel[, view])` into a storage reference.
//! Sizes, strides and offsets must be non-negative, and a tensor has at most `MAX_RANK`
//! dimensions.

use super::imports::Global;
use super::machine::Machine;
use super::{Dict, Obj, StorageRef, TensorRef, Value, bad};
use crate::weights::{MAX_RANK, WeightsError};
use std::rc::Rc;

impl Machine<'_> {
    fn tuple_items(&self, v: &Value, what: &str) -> Result<Vec<Value>, WeightsError> {
        match self.obj(v) {
            Some(Obj::Tuple(items)) | Some(Obj::List(items)) => Ok(items.clone()),
            _ => Err(bad(format!("{what} is {}, not a tuple", v.kind()))),
        }
    }

    pub(super) fn call(&mut self, callable: Value, args: Value) -> Result<Value, WeightsError> {
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
        if items.len() > MAX_RANK {
            return Err(WeightsError::Unsupported(format!(
                "a tensor with {} dimensions (at most {} are supported)",
                items.len(),
                MAX_RANK
            )));
        }
        items.iter().map(|i| non_negative(Some(i), what)).collect()
    }

    pub(super) fn persistent_load(&mut self, pid: &Value) -> Result<Value, WeightsError> {
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
