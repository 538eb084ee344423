//! The padding part of the attention mask (causality is handled by the attention kernel).

use burn::prelude::*;

/// Bool mask `[B, 1, T_q, T_k]`, `true` = hidden, for left-padded rows.
///
/// Queries occupy absolute columns `start..start + T_q`, keys `0..start + T_q`. A key in
/// the pad prefix of its row (`k < left_pad[b]`) is hidden from the row's real queries.
/// Pad queries may still see the pad keys before them, so no row is fully masked (which
/// would make the softmax 0/0); their outputs are never read. Returns `None` when no row
/// is padded, so the kernel can skip masking.
pub fn attention_mask(
    left_pad: &[usize],
    start: usize,
    t_q: usize,
    device: &Device,
) -> Option<Tensor<4, Bool>> {
    if left_pad.iter().all(|&p| p == 0) {
        return None;
    }
    let t_k = start + t_q;
    let mut hidden = Vec::with_capacity(left_pad.len() * t_q * t_k);
    for &pad in left_pad {
        for q in start..t_k {
            for k in 0..t_k {
                hidden.push(k < pad && q >= pad);
            }
        }
    }
    let data = TensorData::new(hidden, [left_pad.len(), 1, t_q, t_k]);
    Some(Tensor::<4, Bool>::from_data(data, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_pad_keys_from_real_queries_only() {
        let dev = Device::flex();
        assert!(attention_mask(&[0, 0], 0, 3, &dev).is_none());
        // Row 0 has one pad, row 1 none. Full forward, 3 columns:
        // row 0: query 0 is a pad (sees all), queries 1 and 2 hide key 0.
        let m: Vec<bool> = attention_mask(&[1, 0], 0, 3, &dev)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        #[rustfmt::skip]
        let want = [
            false, false, false,  true, false, false,  true, false, false,
            false, false, false,  false, false, false, false, false, false,
        ];
        assert_eq!(m, want);
        // Decoding one token at column 3 with 2 pads: keys 0 and 1 hidden.
        let m: Vec<bool> = attention_mask(&[2], 3, 1, &dev)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(m, [true, true, false, false]);
    }
}
