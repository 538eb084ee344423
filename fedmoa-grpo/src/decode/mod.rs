//! Decoding for sampling and greedy evaluation: the [`Decode`] trait the
//! [`crate::sampling::Sampler`] runs on, and [`DecodeModel`], a decode-specialised copy of a
//! decoder-only policy.
//!
//! Every [`Policy`] decodes through its own [`Policy::forward`] with a [`KvCache`]. A
//! [`DecodeModel`] computes the same function with a layout chosen for generation: each
//! block's projections fused (`q|k|v`, `gate|up`) and stored `[out, in]`, so that a step's
//! few rows multiply the weights as `W·xᵀ` (the matmul kernel then runs its wide dimension
//! over the weights' outputs instead of over the batch), grouped-query attention without
//! repeating the key/value heads, and the output head applied to the last position only.
//! Frozen weights that are exactly the values of a ggml block format (a model read from a
//! quantised GGUF file) stay in that format and are multiplied on the host, with LoRA
//! adapters unmerged.

mod host_step;
mod layer;
mod model;
mod packed_cache;
mod packed_matrix;
mod packed_projection;
mod projection;

#[cfg(test)]
mod tests;

use burn::prelude::*;

pub use model::{DecodeModel, DecoderParts};
pub use packed_cache::PackedCache;

use crate::Policy;
use crate::layers::KvCache;

/// What sampling needs from a model: a KV cache and the logits of the last position.
pub trait Decode {
    /// Longest sequence (prompt + completion) the model accepts.
    fn max_seq_len(&self) -> usize;

    /// An empty KV cache for this model.
    fn new_cache(&self) -> KvCache;

    /// Runs `tokens` through the model, extending `cache` (the first call is the prefill
    /// and records `left_pad`; later calls continue at column `cache.len()`), and returns
    /// the logits of the last new column.
    ///
    /// # Shapes
    /// `tokens: [B, T]` → `[B, vocab_size]`.
    fn last_logits(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: &mut KvCache,
    ) -> Tensor<2>;

    /// Drops rows of `cache` that are not in `rows` (strictly increasing indices of its
    /// rows), so that later calls run fewer rows, when this model then gives each kept row
    /// the same logits, bit for bit, as it would with every row. Returns the rows it kept,
    /// strictly increasing: `rows` and any others the model needs beside them to keep that
    /// promise. `None`: nothing was dropped. The sampler calls it as completions end and
    /// follows what the model kept. The default keeps every row.
    fn retain_rows(&self, cache: &mut KvCache, rows: &[usize]) -> Option<Vec<usize>> {
        let _ = (cache, rows);
        None
    }
}

impl<P: Policy> Decode for P {
    fn max_seq_len(&self) -> usize {
        Policy::max_seq_len(self)
    }

    fn new_cache(&self) -> KvCache {
        Policy::new_cache(self)
    }

    fn last_logits(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let logits = self.forward(tokens, left_pad, Some(cache));
        let [b, t, v] = logits.dims();
        logits.slice([0..b, t - 1..t, 0..v]).reshape([b, v])
    }
}
