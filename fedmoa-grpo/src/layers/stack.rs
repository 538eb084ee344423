//! [`run_blocks`]: the decoder stack shared by every policy (cache offset, padding mask,
//! blocks, cache advance).

use burn::nn::RotaryEncoding;
use burn::prelude::*;

use super::{DecoderBlock, KvCache, attention_mask};

/// Runs `blocks` over embedded tokens `x` and returns the last block's output.
///
/// Without a cache, `x` is a whole left-padded batch starting at column 0. With a cache,
/// `x` continues it at column `cache.len()`: the first call (the prefill) records
/// `left_pad`, later calls ignore it, and the cache is advanced by `T`.
///
/// # Shapes
/// `x: [B, T, d_model]` → `[B, T, d_model]`.
pub fn run_blocks(
    blocks: &[DecoderBlock],
    rope: &RotaryEncoding,
    x: Tensor<3>,
    left_pad: &[usize],
    mut cache: Option<&mut KvCache>,
) -> Tensor<3> {
    let [_, t, _] = x.dims();
    let device = x.device();
    let (start, pads) = match cache.as_deref_mut() {
        Some(c) => {
            c.set_left_pad(left_pad);
            (c.len(), c.left_pad().to_vec())
        }
        None => (0, left_pad.to_vec()),
    };
    let mask = attention_mask(&pads, start, t, &device);
    let mut x = x;
    for (i, block) in blocks.iter().enumerate() {
        let kv = cache.as_deref_mut().and_then(|c| c.layer_mut(i));
        x = block.forward(x, rope, start, mask.clone(), kv);
    }
    if let Some(c) = cache {
        c.advance(t);
    }
    x
}
