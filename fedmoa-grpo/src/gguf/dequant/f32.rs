//! `F32`: little-endian IEEE single precision, copied as is.

/// Appends the floats in `bytes` (4 bytes each) to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_little_endian() {
        // 1.0 = 0x3f800000, -2.5 = 0xc0200000
        let bytes = [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0];
        let mut out = Vec::new();
        super::dequantize(&bytes, &mut out);
        assert_eq!(out, [1.0, -2.5]);
    }
}
