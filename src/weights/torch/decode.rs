//! Raw storage bytes to tensor values: each element type (float32/64/16, bfloat16, the
//! integers, bool) in either byte order, read as f32 or i64, for any strided view.
//!
//! A contiguous view is one slice of the storage; any other is walked index by index in
//! the view's row-major order. The safetensors reader decodes through here as well.

use crate::weights::TensorValues;
use crate::weights::pickle::DType;

/// Byte order of a storage's elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

/// Storage element indices of a strided view, in row-major order of the view.
struct Indices<'a> {
    size: &'a [u64],
    stride: &'a [u64],
    counter: Vec<u64>,
    pos: u64,
    left: usize,
}

impl Iterator for Indices<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let current = self.pos;
        for d in (0..self.size.len()).rev() {
            let (Some(c), Some(&size), Some(&stride)) = (self.counter.get_mut(d), self.size.get(d), self.stride.get(d))
            else {
                break;
            };
            *c += 1;
            self.pos = self.pos.wrapping_add(stride);
            if *c < size {
                break;
            }
            self.pos = self.pos.wrapping_sub(stride.wrapping_mul(size));
            *c = 0;
        }
        Some(current)
    }
}

#[inline]
fn le<const N: usize>(chunk: &[u8], endian: Endian) -> Option<[u8; N]> {
    let mut out: [u8; N] = chunk.try_into().ok()?;
    if endian == Endian::Big {
        out.reverse();
    }
    Some(out)
}

/// One element of a floating-point storage as f32.
#[inline]
fn float_of(dtype: DType, chunk: &[u8], endian: Endian) -> Option<f32> {
    Some(match dtype {
        DType::F32 => f32::from_le_bytes(le(chunk, endian)?),
        DType::F64 => f64::from_le_bytes(le(chunk, endian)?) as f32,
        DType::F16 => f16_to_f32(u16::from_le_bytes(le(chunk, endian)?)),
        DType::BF16 => f32::from_bits(u32::from(u16::from_le_bytes(le(chunk, endian)?)) << 16),
        _ => return None,
    })
}

/// One element of an integer or bool storage as i64.
#[inline]
fn int_of(dtype: DType, chunk: &[u8], endian: Endian) -> Option<i64> {
    Some(match dtype {
        DType::I64 => i64::from_le_bytes(le(chunk, endian)?),
        DType::I32 => i64::from(i32::from_le_bytes(le(chunk, endian)?)),
        DType::I16 => i64::from(i16::from_le_bytes(le(chunk, endian)?)),
        DType::I8 => i64::from(i8::from_le_bytes(le(chunk, endian)?)),
        DType::U8 => i64::from(*chunk.first()?),
        DType::Bool => i64::from(*chunk.first()? != 0),
        _ => return None,
    })
}

/// Decodes `n` elements of a strided view (element `base + offset` first); `None` if an
/// index falls outside the storage (callers check bounds first, so this is a second line
/// of defence, not an expected path).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_strided(
    storage: &[u8],
    dtype: DType,
    endian: Endian,
    base: u64,
    offset: u64,
    size: &[u64],
    stride: &[u64],
    n: usize,
) -> Option<TensorValues> {
    let es = dtype.size();
    let start = base.checked_add(offset)?;
    // Row-major contiguous (ignoring dimensions of size 1): one slice of the storage.
    let mut expected = 1u64;
    let mut contiguous = true;
    for (&d, &st) in size.iter().zip(stride).rev() {
        if d != 1 && st != expected {
            contiguous = false;
            break;
        }
        expected = expected.saturating_mul(d);
    }
    let chunk_at = |i: u64| -> Option<&[u8]> {
        let from = usize::try_from(i).ok()?.checked_mul(es)?;
        storage.get(from..from.checked_add(es)?)
    };
    if n == 0 {
        return Some(if dtype.is_float() { TensorValues::F32(Vec::new()) } else { TensorValues::I64(Vec::new()) });
    }
    if contiguous {
        let from = usize::try_from(start).ok()?.checked_mul(es)?;
        let bytes = storage.get(from..from.checked_add(n.checked_mul(es)?)?)?;
        let chunks = bytes.chunks_exact(es);
        return if dtype.is_float() {
            chunks.map(|c| float_of(dtype, c, endian)).collect::<Option<Vec<_>>>().map(TensorValues::F32)
        } else {
            chunks.map(|c| int_of(dtype, c, endian)).collect::<Option<Vec<_>>>().map(TensorValues::I64)
        };
    }
    let indices = Indices { size, stride, counter: vec![0; size.len()], pos: start, left: n };
    if dtype.is_float() {
        indices.map(|i| float_of(dtype, chunk_at(i)?, endian)).collect::<Option<Vec<_>>>().map(TensorValues::F32)
    } else {
        indices.map(|i| int_of(dtype, chunk_at(i)?, endian)).collect::<Option<Vec<_>>>().map(TensorValues::I64)
    }
}

/// IEEE half to single precision, exactly (every f16 is an f32).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    if exp == 0 {
        // Zero or subnormal: mant * 2^-24, exact in f32.
        let v = mant as f32 * (1.0 / 16_777_216.0);
        return if sign != 0 { -v } else { v };
    }
    let bits = if exp == 0x1f { sign | 0x7f80_0000 | (mant << 13) } else { sign | ((exp + 112) << 23) | (mant << 13) };
    f32::from_bits(bits)
}
