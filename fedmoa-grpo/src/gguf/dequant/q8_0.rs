//! `Q8_0`: blocks of 32 values, an `f16` scale `d` then 32 signed bytes; `x = q·d`.

/// Bytes per block: 2 (scale) + 32 (codes).
const BLOCK_BYTES: usize = 34;

/// Appends 32 values per 34-byte block of `bytes` to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    for block in bytes.chunks_exact(BLOCK_BYTES) {
        let d = super::half_at(block);
        out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scales_signed_codes() {
        // d = 0.5 (f16 0x3800); codes 0, 1, -1 (0xff), 127, -128 (0x80), then 27 × 2.
        let mut block = vec![0x00, 0x38, 0x00, 0x01, 0xff, 0x7f, 0x80];
        block.resize(34, 2);
        let mut out = Vec::new();
        super::dequantize(&block, &mut out);
        assert_eq!(out.len(), 32);
        // 0·0.5 = 0, 1·0.5 = 0.5, −1·0.5 = −0.5, 127·0.5 = 63.5, −128·0.5 = −64, 2·0.5 = 1
        assert_eq!(&out[..6], &[0.0, 0.5, -0.5, 63.5, -64.0, 1.0]);
        assert!(out[5..].iter().all(|&x| x == 1.0));
    }
}
