//! `Q4_0`: blocks of 32 values, an `f16` scale `d` then 16 bytes of 4-bit codes;
//! `x = (q − 8)·d`. Byte `j` holds element `j` in its low nibble and element `j + 16`
//! in its high nibble.

/// Bytes per block: 2 (scale) + 16 (codes).
const BLOCK_BYTES: usize = 18;

/// Appends 32 values per 18-byte block of `bytes` to `out`.
pub(super) fn dequantize(bytes: &[u8], out: &mut Vec<f32>) {
    for block in bytes.chunks_exact(BLOCK_BYTES) {
        let d = super::half_at(block);
        let codes = &block[2..];
        out.extend(codes.iter().map(|&b| (f32::from(b & 0x0f) - 8.0) * d));
        out.extend(codes.iter().map(|&b| (f32::from(b >> 4) - 8.0) * d));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_nibbles_and_centres_at_eight() {
        // d = 2.0 (f16 0x4000). Byte 0 = 0xf0: element 0 = (0 − 8)·2 = −16,
        // element 16 = (15 − 8)·2 = 14. Byte 1 = 0x98: element 1 = (8 − 8)·2 = 0,
        // element 17 = (9 − 8)·2 = 2. Other bytes 0x88 → 0.
        let mut block = vec![0x00, 0x40, 0xf0, 0x98];
        block.resize(18, 0x88);
        let mut out = Vec::new();
        super::dequantize(&block, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!((out[0], out[1], out[16], out[17]), (-16.0, 0.0, 14.0, 2.0));
        assert!(out[2..16].iter().chain(&out[18..]).all(|&x| x == 0.0));
    }
}
