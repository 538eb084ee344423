//! [`DecodeModel`]: a decoder-only policy's weights laid out for generation.

use burn::nn::{Embedding, Linear, RmsNorm, RotaryEncoding};
use burn::prelude::*;

use super::Decode;
use super::layer::{DecodeLayer, HeadShape, last_column_logits, out_in};
use crate::layers::{DecoderBlock, KvCache};

/// A plain-device copy of a decoder-only model for sampling and greedy evaluation; build
/// it with [`crate::Policy::decode_model`]. It computes the policy's function up to float
/// rounding (the sums run in another order), with fused `[out, in]` projections and
/// grouped-query attention without repeated heads (see [`crate::decode`]).
#[derive(Debug, Clone)]
pub struct DecodeModel {
    embed: Tensor<2>,
    layers: Vec<DecodeLayer>,
    norm: RmsNorm,
    /// `[vocab, d_model]`: the embedding itself when tied.
    head: Tensor<2>,
    rope: RotaryEncoding,
    heads: HeadShape,
    max_seq_len: usize,
}

/// The parts of a decoder-only model a [`DecodeModel`] is built from, on a plain device;
/// projections with LoRA adapters are copied merged.
#[derive(Debug)]
pub struct DecoderParts<'a> {
    /// Token embeddings `[vocab, d_model]`.
    pub embed: &'a Embedding,
    /// Decoder blocks.
    pub blocks: &'a [DecoderBlock],
    /// Final norm.
    pub norm: &'a RmsNorm,
    /// Untied output head (`[d_model, vocab]`); `None` when tied to `embed`.
    pub lm_head: Option<&'a Linear>,
    /// Rotary table.
    pub rope: &'a RotaryEncoding,
    /// Query heads, key/value heads and head width.
    pub heads: [usize; 3],
    /// Longest sequence the model accepts.
    pub max_seq_len: usize,
}

impl DecodeModel {
    /// Copies the weights of `parts` into the decoding layout.
    pub fn new(parts: DecoderParts<'_>) -> Self {
        let [n_heads, n_kv_heads, head_dim] = parts.heads;
        let embed = parts.embed.weight.val();
        Self {
            head: match parts.lm_head {
                Some(head) => out_in(head.weight.val()),
                None => embed.clone(),
            },
            embed,
            layers: parts.blocks.iter().map(DecodeLayer::new).collect(),
            norm: parts.norm.clone(),
            rope: parts.rope.clone(),
            heads: HeadShape {
                n_heads,
                n_kv_heads,
                head_dim,
            },
            max_seq_len: parts.max_seq_len,
        }
    }
}

impl Decode for DecodeModel {
    fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    fn last_logits(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let [b, t] = tokens.dims();
        cache.set_left_pad(left_pad);
        let start = cache.len();
        let pads = cache.left_pad().to_vec();
        let mut x = self.embed.clone().select(0, tokens.reshape([b * t]));
        for (i, layer) in self.layers.iter().enumerate() {
            let mut unused = None;
            let kv = cache.layer_mut(i).unwrap_or(&mut unused);
            x = layer.forward(x, [b, t], self.heads, &self.rope, start, &pads, kv);
        }
        cache.advance(t);
        last_column_logits(x, [b, t], &self.norm, &self.head)
    }
}
