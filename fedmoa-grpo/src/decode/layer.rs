//! [`DecodeLayer`]: one decoder block with fused, `[out, in]` projections.

use burn::nn::{RmsNorm, RotaryEncoding};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};

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
    /// `[wq; wk; wv]` stacked on the output axis: `[(H + 2·H_kv)·D, d_model]`.
    qkv: Tensor<2>,
    /// `[d_model, H·D]`.
    wo: Tensor<2>,
    ffn_norm: RmsNorm,
    /// `[gate; up]`: `[2·d_hidden, d_model]`.
    gate_up: Tensor<2>,
    /// `[d_model, d_hidden]`.
    down: Tensor<2>,
}

/// `x·W` for a weight held transposed as `[out, in]`: `(W·xᵀ)ᵀ`.
///
/// # Shapes
/// `x: [M, in]`, `w: [out, in]` → `[M, out]`.
pub(super) fn project(x: Tensor<2>, w: &Tensor<2>) -> Tensor<2> {
    w.clone().matmul(x.transpose()).transpose()
}

/// A contiguous `[out, in]` copy of a Burn `Linear` weight (`[in, out]`).
pub(super) fn out_in(weight: Tensor<2>) -> Tensor<2> {
    let device = weight.device();
    Tensor::from_data(weight.transpose().into_data(), &device)
}

impl DecodeLayer {
    /// Copies `block`'s weights; LoRA adapters are merged into them (`Param::val`).
    pub fn new(block: &DecoderBlock) -> Self {
        let attn = &block.attn;
        let mlp = &block.mlp;
        Self {
            attn_norm: block.attn_norm.clone(),
            qkv: Tensor::cat(
                vec![
                    out_in(attn.wq.weight.val()),
                    out_in(attn.wk.weight.val()),
                    out_in(attn.wv.weight.val()),
                ],
                0,
            ),
            wo: out_in(attn.wo.weight.val()),
            ffn_norm: block.ffn_norm.clone(),
            gate_up: Tensor::cat(
                vec![out_in(mlp.gate.weight.val()), out_in(mlp.up.weight.val())],
                0,
            ),
            down: out_in(mlp.down.weight.val()),
        }
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
        let qkv = project(self.attn_norm.forward(x.clone()), &self.qkv);
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
        let x = x + project(out, &self.wo);
        let gate_up = project(self.ffn_norm.forward(x.clone()), &self.gate_up);
        let hidden = self.down.dims()[1];
        let gate = gate_up.clone().slice([0..b * t, 0..hidden]);
        let up = gate_up.slice([0..b * t, hidden..2 * hidden]);
        x + project(silu(gate) * up, &self.down)
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
    head: &Tensor<2>,
) -> Tensor<2> {
    let [_, width] = x.dims();
    let last = x.reshape([b, t, width]).slice([0..b, t - 1..t, 0..width]);
    project(norm.forward(last.reshape([b, width])), head)
}
