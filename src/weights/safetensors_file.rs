//! `.safetensors`: an 8-byte little-endian header length, a JSON header (names, dtypes,
//! shapes, byte ranges), then the raw little-endian row-major data. Parsed and validated
//! by the `safetensors` crate; converted here.

use super::pickle::DType;
use super::torch::{Endian, converted_bytes, decode_strided, shape_usize};
use super::{Checkpoint, CheckpointFormat, Limits, TensorEntry, WeightsError};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};

/// Whether `bytes` starts like a safetensors file: a plausible header length followed by `{`.
pub(crate) fn sniff(bytes: &[u8]) -> bool {
    let Some(len) = bytes.get(..8) else { return false };
    let mut n = [0u8; 8];
    n.copy_from_slice(len);
    let n = u64::from_le_bytes(n);
    n >= 2 && n <= (bytes.len() as u64).saturating_sub(8) && bytes.get(8) == Some(&b'{')
}

fn dtype_of(name: &str, dtype: Dtype) -> Result<DType, WeightsError> {
    Ok(match dtype {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::I8 => DType::I8,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        other => {
            return Err(WeightsError::Unsupported(format!(
                "tensor `{name}` has element type {other:?}; only floating-point (F32, F16, BF16, \
                 F64), signed integer, U8 and BOOL tensors are supported"
            )));
        }
    })
}

pub(crate) fn load(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, WeightsError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Safetensors(e.to_string()))?;
    let mut total = 0u64;
    let mut views = Vec::new();
    for (name, view) in st.iter() {
        let dtype = dtype_of(name, view.dtype())?;
        let size: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
        let n = size.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or_else(|| {
            WeightsError::TooLarge(format!("tensor `{name}` has a shape whose element count overflows"))
        })?;
        let bytes = converted_bytes(name, n, dtype.is_float())?;
        total = total.saturating_add(bytes);
        if total > limits.max_total_bytes {
            return Err(super::too_large(name, n, bytes, limits));
        }
        views.push((name.to_string(), dtype, size, n, view));
    }
    let mut tensors = BTreeMap::new();
    for (name, dtype, size, n, view) in views {
        let mut stride = vec![1u64; size.len()];
        for d in (0..size.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1].saturating_mul(size[d + 1]);
        }
        let n = usize::try_from(n).map_err(|_| WeightsError::TooLarge(format!("tensor `{name}` has {n} elements")))?;
        let data = decode_strided(view.data(), dtype, Endian::Little, 0, 0, &size, &stride, n).ok_or_else(|| {
            WeightsError::Safetensors(format!("tensor `{name}` has fewer bytes than its shape needs"))
        })?;
        let shape = shape_usize(&name, &size)?;
        tensors.insert(name, TensorEntry { shape, data });
    }
    Ok(Checkpoint { format: CheckpointFormat::Safetensors, tensors, nested_dicts: BTreeSet::new() })
}
