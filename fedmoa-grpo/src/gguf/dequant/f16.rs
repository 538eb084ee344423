//! `F16`: little-endian IEEE half precision.

/// Appends the halves in `bytes` (2 bytes each), widened to `f32`, to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(bytes.chunks_exact(2).map(super::half_at));
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_hand_encoded_halves() {
        // 0x3c00 = 1.0; 0xc100 = -2.5 (sign 1, exponent 16 → 2^1, mantissa 0x100/1024 = 0.25);
        // 0x0001 = 2^-24 (smallest subnormal).
        let bytes = [0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00];
        let mut out = Vec::new();
        super::dequantize(&bytes, &mut out);
        assert_eq!(out, [1.0, -2.5, 2f32.powi(-24)]);
    }
}
