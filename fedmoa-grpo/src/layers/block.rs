//! Pre-norm decoder block: `x + attn(norm(x))`, then `x + mlp(norm(x))`.

use burn::nn::{RmsNorm, RmsNormConfig, RotaryEncoding};
use burn::prelude::*;

use super::{Attention, AttentionConfig, LayerKv, SwiGlu, SwiGluConfig};

/// Sizes of a [`DecoderBlock`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecoderBlockConfig {
    /// Attention sizes.
    pub attention: AttentionConfig,
    /// MLP sizes.
    pub mlp: SwiGluConfig,
    /// RMSNorm epsilon.
    pub norm_eps: f64,
}

impl DecoderBlockConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> DecoderBlock {
        let d = self.attention.d_model;
        DecoderBlock {
            attn_norm: RmsNormConfig::new(d)
                .with_epsilon(self.norm_eps)
                .init(device),
            attn: self.attention.init(device),
            ffn_norm: RmsNormConfig::new(d)
                .with_epsilon(self.norm_eps)
                .init(device),
            mlp: self.mlp.init(device),
        }
    }
}

/// One transformer layer of a Llama-style decoder.
#[derive(Module, Debug)]
pub struct DecoderBlock {
    /// Norm before attention (`gamma`: `[d_model]`).
    pub attn_norm: RmsNorm,
    /// Self-attention.
    pub attn: Attention,
    /// Norm before the MLP.
    pub ffn_norm: RmsNorm,
    /// SwiGLU MLP.
    pub mlp: SwiGlu,
}

impl DecoderBlock {
    /// # Shapes
    /// `x: [B, T, d_model]` → `[B, T, d_model]`; see [`Attention::forward`] for the rest.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryEncoding,
        start: usize,
        mask: Option<Tensor<4, Bool>>,
        kv: Option<&mut Option<LayerKv>>,
    ) -> Tensor<3> {
        let h = x.clone()
            + self
                .attn
                .forward(self.attn_norm.forward(x), rope, start, mask, kv);
        h.clone() + self.mlp.forward(self.ffn_norm.forward(h))
    }
}
