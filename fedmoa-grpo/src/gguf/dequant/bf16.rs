//! `BF16`: bfloat16, the upper 16 bits of an IEEE single.

/// Appends the bfloat16 values in `bytes` (2 bytes each), widened to `f32`, to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_upper_halves_of_f32() {
        // bf16 0x3f80 → f32 0x3f800000 = 1.0; 0xc020 → 0xc0200000 = -2.5;
        // 0x4049 → 0x40490000 = 3.140625 (π truncated).
        let bytes = [0x80, 0x3f, 0x20, 0xc0, 0x49, 0x40];
        let mut out = Vec::new();
        super::dequantize(&bytes, &mut out);
        assert_eq!(out, [1.0, -2.5, 3.140625]);
    }
}
