//! The pickle reader's allow-list: the only imports (`GLOBAL`, `STACK_GLOBAL`) a
//! checkpoint may make, what each one gives, and the error, with a hint, for any other.
//!
//! Names are matched as text and never looked up: `collections.OrderedDict`, torch's
//! `_rebuild_*` functions and typed storages, and a few metadata-only names (`torch.device`,
//! `torch.Size`, dtypes such as `torch.float16`, `_codecs.encode` for protocol-2 bytes).
//! What the callable ones do when a pickle calls them is in `super::rebuild`.

use super::{DType, Value};
use crate::weights::WeightsError;
use std::rc::Rc;

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
pub(super) fn import(module: &str, name: &str) -> Result<Value, WeightsError> {
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
