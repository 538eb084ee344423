//! [`DecodeLayer`]: one decoder block with fused, `[out, in]` projections.

use burn::nn::{RmsNorm, RotaryEncoding};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};

use super::packed_cache::PackedCache;
use super::packed_projection::PackedProjection;
use super::projection::Projection;
use crate::layers::{DecoderBlock, LayerKv, attention_mask, causal_attention};

/// Head counts and width shared by every layer.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeadShape {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

/// One pre-norm decoder block laid out for generation.
#[derive(Debug, Clone)]
pub(super) struct DecodeLayer {
    attn_norm: RmsNorm,
    /// `q|k|v` side by side: `d_model → (H + 2·H_kv)·D`.
    qkv: Projection,
    /// `H·D → d_model`.
    wo: Projection,
    ffn_norm: RmsNorm,
    /// `gate|up` side by side: `d_model → 2·d_hidden`.
    gate_up: Projection,
    /// `d_hidden → d_model`.
    down: Projection,
}

impl DecodeLayer {
    /// Copies `block`'s weights: packed through `pack` when it is given and they are
    /// exactly block values ([`Projection::new`]), otherwise dense with LoRA adapters
    /// merged.
    pub fn new(block: &DecoderBlock, pack: Option<&PackedCache>) -> Self {
        let attn = &block.attn;
        let mlp = &block.mlp;
        Self {
            attn_norm: block.attn_norm.clone(),
            qkv: Projection::new(&[&attn.wq, &attn.wk, &attn.wv], pack),
            wo: Projection::new(&[&attn.wo], pack),
            ffn_norm: block.ffn_norm.clone(),
            gate_up: Projection::new(&[&mlp.gate, &mlp.up], pack),
            down: Projection::new(&[&mlp.down], pack),
        }
    }

    /// The layer's projections.
    pub fn projections(&self) -> [&Projection; 4] {
        [&self.qkv, &self.wo, &self.gate_up, &self.down]
    }

    /// The layer's projections when every one is packed: `qkv`, `wo`, `gate_up`, `down`.
    pub fn packed_projections(&self) -> Option<[&PackedProjection; 4]> {
        Some([
            self.qkv.packed()?,
            self.wo.packed()?,
            self.gate_up.packed()?,
            self.down.packed()?,
        ])
    }

    /// The attention norm and the MLP norm.
    pub fn norms(&self) -> [&RmsNorm; 2] {
        [&self.attn_norm, &self.ffn_norm]
    }

    /// Runs the block over `T` new columns of `B` rows that start at column `start`,
    /// appending their keys and values to `kv`.
    ///
    /// # Shapes
    /// `x: [B·T, d_model]` (row-major over `B`, then `T`) → `[B·T, d_model]`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        x: Tensor<2>,
        [b, t]: [usize; 2],
        heads: HeadShape,
        rope: &RotaryEncoding,
        start: usize,
        pads: &[usize],
        kv: &mut Option<LayerKv>,
    ) -> Tensor<2> {
        let HeadShape {
            n_heads: h,
            n_kv_heads: h_kv,
            head_dim: d,
        } = heads;
        let qkv = self.qkv.forward(self.attn_norm.forward(x.clone()));
        let split = |from: usize, n: usize| {
            qkv.clone()
                .slice([0..b * t, from * d..(from + n) * d])
                .reshape([b, t, n, d])
                .swap_dims(1, 2)
        };
        let q = rope.apply(split(0, h), start);
        let k = rope.apply(split(h, h_kv), start);
        let v = split(h + h_kv, h_kv);
        let (k, v) = LayerKv::append(kv, k, v);
        let out = if t == 1 {
            grouped_step_attention(q, k, v, heads, pads)
        } else {
            causal_attention(q, k, v, attention_mask(pads, start, t, &x.device()))
        };
        let out = out.swap_dims(1, 2).reshape([b * t, h * d]);
        let x = x + self.wo.forward(out);
        let gate_up = self.gate_up.forward(self.ffn_norm.forward(x.clone()));
        let hidden = gate_up.dims()[1] / 2;
        let gate = gate_up.clone().slice([0..b * t, 0..hidden]);
        let up = gate_up.slice([0..b * t, hidden..2 * hidden]);
        x + self.down.forward(silu(gate) * up)
    }
}

/// Attention of one new query column to every cached key, with the query heads of a
/// key/value head grouped into one matmul instead of repeating the keys and values.
/// Keys in a row's pad prefix are hidden ([`attention_mask`]; the new column is never a pad).
///
/// # Shapes
/// `q: [B, H, 1, D]`, `k`, `v: [B, H_kv, T_k, D]` → `[B, H, 1, D]`.
fn grouped_step_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    heads: HeadShape,
    pads: &[usize],
) -> Tensor<4> {
    let [b, h_kv, t_k, d] = k.dims();
    let group = heads.n_heads / h_kv;
    let q = q.reshape([b, h_kv, group, d]);
    let scores = q
        .matmul(k.swap_dims(2, 3))
        .mul_scalar(1.0 / (d as f64).sqrt());
    let scores = match attention_mask(pads, t_k - 1, 1, &scores.device()) {
        Some(mask) => scores.mask_fill(mask.expand([b, h_kv, group, t_k]), f32::NEG_INFINITY),
        None => scores,
    };
    softmax(scores, 3)
        .matmul(v)
        .reshape([b, heads.n_heads, 1, d])
}

/// The final norm, then the output head on the last column of every row.
///
/// # Shapes
/// `x: [B·T, d_model]` → `[B, vocab]`.
pub(super) fn last_column_logits(
    x: Tensor<2>,
    [b, t]: [usize; 2],
    norm: &RmsNorm,
    head: &Projection,
) -> Tensor<2> {
    let [_, width] = x.dims();
    let last = x.reshape([b, t, width]).slice([0..b, t - 1..t, 0..width]);
    head.forward(norm.forward(last.reshape([b, width])))
}
