//! Dequantisation of ggml tensor data to `f32`, one file per element type.
//!
//! Each type's function takes whole blocks (`bytes.len()` a multiple of the block size;
//! trailing bytes of a partial block are ignored) and appends the values in storage order.

mod bf16;
mod f16;
mod f32;
mod q4_0;
mod q4_1;
mod q8_0;

use super::{GgmlType, GgufError};

/// Dequantises `n` elements of type `ty` from `bytes` (exactly `ty.byte_len(n)` bytes).
///
/// # Errors
/// [`GgufError::UnsupportedType`] for a type this reader does not decode,
/// [`GgufError::BadTensor`] when `n` is not a whole number of blocks or `bytes` has the
/// wrong length. `tensor` names the tensor in the error.
pub fn dequantize(tensor: &str, ty: GgmlType, bytes: &[u8], n: u64) -> Result<Vec<f32>, GgufError> {
    let bad = |reason: String| GgufError::BadTensor {
        tensor: tensor.to_string(),
        reason,
    };
    let Some((block, _)) = ty.block_layout() else {
        return Err(GgufError::UnsupportedType {
            tensor: tensor.to_string(),
            ty,
        });
    };
    let Some(len) = ty.byte_len(n) else {
        return Err(bad(format!(
            "{n} elements is not a whole number of {}-element {} blocks",
            block,
            ty.name()
        )));
    };
    if len != bytes.len() as u64 {
        return Err(bad(format!(
            "{n} {} elements need {len} bytes, got {}",
            ty.name(),
            bytes.len()
        )));
    }
    let mut out = Vec::with_capacity(usize::try_from(n).map_err(|e| bad(e.to_string()))?);
    match ty {
        GgmlType::F32 => f32::dequantize(bytes, &mut out),
        GgmlType::F16 => f16::dequantize(bytes, &mut out),
        GgmlType::Bf16 => bf16::dequantize(bytes, &mut out),
        GgmlType::Q4_0 => q4_0::dequantize(bytes, &mut out),
        GgmlType::Q4_1 => q4_1::dequantize(bytes, &mut out),
        GgmlType::Q8_0 => q8_0::dequantize(bytes, &mut out),
        GgmlType::Other(_) => {
            return Err(GgufError::UnsupportedType {
                tensor: tensor.to_string(),
                ty,
            });
        }
    }
    Ok(out)
}

/// The little-endian IEEE half at `b[0..2]` as `f32`.
fn half_at(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_type_is_named() {
        let err = dequantize("blk.0.w", GgmlType::Other(14), &[0; 210], 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor \"blk.0.w\": unsupported type Q6_K (ggml type 14)"
        );
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let err = dequantize("w", GgmlType::Q8_0, &[0; 34], 31).unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
        let err = dequantize("w", GgmlType::F32, &[0; 7], 2).unwrap_err();
        assert!(err.to_string().contains("need 8 bytes, got 7"), "{err}");
    }

    #[test]
    fn dispatches_to_the_type() {
        // F16 0x3c00 = 1.0, BF16 0x3f80 = 1.0
        assert_eq!(
            dequantize("w", GgmlType::F16, &[0x00, 0x3c], 1).unwrap(),
            [1.0]
        );
        assert_eq!(
            dequantize("w", GgmlType::Bf16, &[0x80, 0x3f], 1).unwrap(),
            [1.0]
        );
    }
}
