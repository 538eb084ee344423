//! `Q4_1`: blocks of 32 values, an `f16` scale `d`, an `f16` minimum `m`, then 16 bytes
//! of 4-bit codes; `x = q·d + m`. Byte `j` holds element `j` in its low nibble and
//! element `j + 16` in its high nibble.

/// Bytes per block: 2 (scale) + 2 (minimum) + 16 (codes).
const BLOCK_BYTES: usize = 20;

/// Appends 32 values per 20-byte block of `bytes` to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    for block in bytes.chunks_exact(BLOCK_BYTES) {
        let d = super::half_at(block);
        let m = super::half_at(&block[2..]);
        let codes = &block[4..];
        out.extend(codes.iter().map(|&b| f32::from(b & 0x0f) * d + m));
        out.extend(codes.iter().map(|&b| f32::from(b >> 4) * d + m));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn applies_scale_and_minimum() {
        // d = 0.5 (f16 0x3800), m = −1.0 (f16 0xbc00). Byte 0 = 0x3a: element 0 =
        // 10·0.5 − 1 = 4, element 16 = 3·0.5 − 1 = 0.5. Byte 15 = 0xf0: element 15 =
        // 0·0.5 − 1 = −1, element 31 = 15·0.5 − 1 = 6.5. Others 0x22 → 2·0.5 − 1 = 0.
        let mut block = vec![0x00, 0x38, 0x00, 0xbc, 0x3a];
        block.resize(19, 0x22);
        block.push(0xf0);
        let mut out = Vec::new();
        super::dequantize(&block, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!((out[0], out[16], out[15], out[31]), (4.0, 0.5, -1.0, 6.5));
        assert!(out[1..15].iter().chain(&out[17..31]).all(|&x| x == 0.0));
    }

    #[test]
    fn consecutive_blocks_are_independent() {
        // Block 1: d = 1, m = 0, codes 0x11 → 1. Block 2: d = 0 (all codes irrelevant), m = 3.
        let mut bytes = vec![0x00, 0x3c, 0x00, 0x00];
        bytes.resize(20, 0x11);
        bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x42]); // m = 3.0 (f16 0x4200)
        bytes.resize(40, 0xff);
        let mut out = Vec::new();
        super::dequantize(&bytes, &mut out);
        assert!(out[..32].iter().all(|&x| x == 1.0));
        assert!(out[32..].iter().all(|&x| x == 3.0));
    }
}
