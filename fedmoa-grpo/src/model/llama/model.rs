//! [`Llama`]: a Llama-architecture decoder (GQA attention with RoPE, RMSNorm, SwiGLU,
//! tied or untied output head) built from pretrained weights, implementing [`Policy`].
//!
//! Parameter paths: `embed.weight`, `blocks.{i}.attn_norm.gamma`,
//! `blocks.{i}.attn.{wq,wk,wv,wo}.weight`, `blocks.{i}.ffn_norm.gamma`,
//! `blocks.{i}.mlp.{gate,up,down}.weight`, `norm.gamma`, `lm_head.weight` (untied only);
//! LoRA factors add `.lora.a` / `.lora.b` to an adapted weight's path.

use burn::nn::{Embedding, Linear, RmsNorm, RotaryEncoding};
use burn::prelude::*;

use super::{LlamaConfig, LoraConfig};
use crate::decode::{DecodeModel, DecoderParts, PackedCache};
use crate::layers::{DecoderBlock, KvCache, run_blocks};
use crate::model::Policy;

/// A pretrained Llama-family model; build it with [`Llama::from_gguf`] or
/// [`Llama::from_safetensors`].
#[derive(Module, Debug)]
pub struct Llama {
    /// Token embeddings `[vocab, d_model]` (also the output head when tied).
    pub embed: Embedding,
    /// Decoder blocks.
    pub blocks: Vec<DecoderBlock>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Untied output head `[d_model, vocab]`; `None` when tied to `embed`.
    pub lm_head: Option<Linear>,
    /// Rotary table (a constant, not a parameter).
    pub rope: RotaryEncoding,
    #[module(skip)]
    pub(super) config: LlamaConfig,
    #[module(skip)]
    pub(super) lora: Option<LoraConfig>,
    /// Packed frozen weights shared by the decode models of this model and its copies.
    #[module(skip)]
    pub(super) packed_cache: PackedCache,
}

impl Llama {
    /// The model's sizes.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// The LoRA adapters' configuration, when [`Llama::with_lora`] attached them.
    pub fn lora(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// [`Policy::decode_model`] with every weight in `f32` and the adapters merged
    /// ([`DecodeModel::new_dense`]): the layout before packed weights, for comparisons.
    pub fn dense_decode_model(&self) -> DecodeModel {
        self.decode_model_with(DecodeModel::new_dense)
    }

    fn decode_model_with(
        &self,
        build: impl FnOnce(DecoderParts<'_>) -> DecodeModel,
    ) -> DecodeModel {
        let plain = self.valid();
        let c = &plain.config;
        build(DecoderParts {
            embed: &plain.embed,
            blocks: &plain.blocks,
            norm: &plain.norm,
            lm_head: plain.lm_head.as_ref(),
            rope: &plain.rope,
            heads: [c.n_heads, c.n_kv_heads, c.head_dim],
            max_seq_len: c.max_seq_len,
        })
    }

    /// Final hidden states (after the last norm).
    ///
    /// # Shapes
    /// `tokens: [B, T]` → `[B, T, d_model]`.
    pub fn hidden(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let x = run_blocks(
            &self.blocks,
            &self.rope,
            self.embed.forward(tokens),
            left_pad,
            cache,
        );
        self.norm.forward(x)
    }
}

impl Policy for Llama {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn max_seq_len(&self) -> usize {
        self.config.max_seq_len
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len())
    }

    fn forward(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let h = self.hidden(tokens, left_pad, cache);
        let logits = match &self.lm_head {
            Some(head) => head.forward(h.reshape([b * t, self.config.d_model])),
            None => h
                .reshape([b * t, self.config.d_model])
                .matmul(self.embed.weight.val().transpose()),
        };
        logits.reshape([b, t, self.config.vocab_size])
    }

    /// [`Llama::hidden`] only: the head (49,152 outputs for SmolLM2) is skipped, since
    /// only the cache is kept.
    fn prefill(&self, tokens: Tensor<2, Int>, left_pad: &[usize], cache: &mut KvCache) {
        let _ = self.hidden(tokens, left_pad, Some(cache));
    }

    /// With LoRA attached, the adapters merged into dense weights ([`Llama::merged`]).
    fn inference_copy(&self) -> Self {
        if self.lora.is_some() {
            self.merged()
        } else {
            self.valid()
        }
    }

    /// The weights in the decoding layout (fused, `[out, in]` projections). Frozen weights
    /// read from a quantised GGUF file stay in their block format with the adapters
    /// unmerged ([`DecodeModel::new`]), packed once for this model and its copies (they
    /// share a [`PackedCache`]); other weights are copied with each adapter merged on its
    /// own, so no dense merged model is built on the way.
    fn decode_model(&self) -> Option<DecodeModel> {
        Some(self.decode_model_with(|parts| DecodeModel::with_cache(parts, &self.packed_cache)))
    }

    /// The unmerged plain-device model: the base weights are shared, the adapters copied.
    fn reference_copy(&self) -> Self {
        self.valid()
    }

    /// With LoRA attached, only the adapter factors (`….lora.a`, `….lora.b`) are trained
    /// and exchanged; without, every parameter is.
    fn is_trainable(&self, path: &str) -> bool {
        self.lora.is_none() || path.contains(".lora.")
    }
}
