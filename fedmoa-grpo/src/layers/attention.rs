//! Causal multi-head attention with grouped-query heads, RoPE and a KV cache.

use burn::nn::{Initializer, Linear, LinearConfig, RotaryEncoding};
use burn::prelude::*;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::{LayerKv, linear};

/// Sizes of an [`Attention`] layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionConfig {
    /// Model width.
    pub d_model: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads; divides `n_heads` (grouped-query attention when smaller).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Standard deviation of the normal weight initialiser.
    pub init_std: f64,
}

impl AttentionConfig {
    /// Builds the layer with normal-initialised, bias-free projections.
    pub fn init(&self, device: &Device) -> Attention {
        let lin = |i, o| {
            LinearConfig::new(i, o)
                .with_bias(false)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: self.init_std,
                })
                .init(device)
        };
        Attention {
            wq: lin(self.d_model, self.n_heads * self.head_dim),
            wk: lin(self.d_model, self.n_kv_heads * self.head_dim),
            wv: lin(self.d_model, self.n_kv_heads * self.head_dim),
            wo: lin(self.n_heads * self.head_dim, self.d_model),
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            head_dim: self.head_dim,
        }
    }
}

/// Grouped-query causal self-attention (Ainslie et al. 2023, arXiv 2305.13245).
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection `[d_model, n_heads·head_dim]`.
    pub wq: Linear,
    /// Key projection `[d_model, n_kv_heads·head_dim]`.
    pub wk: Linear,
    /// Value projection `[d_model, n_kv_heads·head_dim]`.
    pub wv: Linear,
    /// Output projection `[n_heads·head_dim, d_model]`.
    pub wo: Linear,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Attends the new positions `start..start+T` to every cached and new position.
    ///
    /// `mask` hides padding (see [`super::attention_mask`]); causality is applied by the
    /// kernel, aligned bottom-right so it is correct with a cache. When `kv` is given, the
    /// new keys and values are appended to it.
    ///
    /// # Shapes
    /// `x: [B, T, d_model]`, `mask: [B, 1, T, start+T]` → `[B, T, d_model]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryEncoding,
        start: usize,
        mask: Option<Tensor<4, Bool>>,
        kv: Option<&mut Option<LayerKv>>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let heads = |y: Tensor<3>, h: usize| y.reshape([b, t, h, self.head_dim]).swap_dims(1, 2);
        let q = rope.apply(heads(linear(&self.wq, x.clone()), self.n_heads), start);
        let k = rope.apply(heads(linear(&self.wk, x.clone()), self.n_kv_heads), start);
        let v = heads(linear(&self.wv, x), self.n_kv_heads);
        let (k, v) = match kv {
            Some(slot) => LayerKv::append(slot, k, v),
            None => (k, v),
        };
        let out = causal_attention(q, k, v, mask);
        let out = out
            .swap_dims(1, 2)
            .reshape([b, t, self.n_heads * self.head_dim]);
        linear(&self.wo, out)
    }
}

/// Causal attention of `q` to `k`, `v` with grouped-query heads: each key/value head
/// serves `H / H_kv` query heads; `mask` (`[B, 1, T_q, T_k]`, `true` = hidden) hides
/// padding, and causality is aligned bottom-right (correct with a cache).
///
/// # Shapes
/// `q: [B, H, T_q, D]`, `k`, `v: [B, H_kv, T_k, D]` → `[B, H, T_q, D]`.
pub(crate) fn causal_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Option<Tensor<4, Bool>>,
) -> Tensor<4> {
    let n_heads = q.dims()[1];
    let group = n_heads / k.dims()[1];
    let mask = mask.map(|m| {
        let [mb, _, mq, mk] = m.dims();
        m.expand([mb, n_heads, mq, mk])
    });
    let options = AttentionModuleOptions {
        is_causal: true,
        ..Default::default()
    };
    attention(
        q,
        repeat_kv(k, group),
        repeat_kv(v, group),
        mask,
        None,
        options,
    )
}

/// Repeats each key/value head `group` times: `[B, H_kv, T, D]` → `[B, H_kv·group, T, D]`.
fn repeat_kv(x: Tensor<4>, group: usize) -> Tensor<4> {
    if group == 1 {
        return x;
    }
    let [b, h, t, d] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, h, group, t, d])
        .reshape([b, h * group, t, d])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_kv_duplicates_each_head_in_place() {
        let dev = Device::flex();
        // heads [a, b] with T = D = 1 → [a, a, b, b]
        let x = Tensor::<4>::from_floats([[[[1.0]], [[2.0]]]], &dev);
        let y: Vec<f32> = repeat_kv(x, 2).into_data().try_to_vec().unwrap();
        assert_eq!(y, [1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn single_position_attends_to_itself() {
        // With one position the softmax weight is 1, so the output is wo(wv(x)).
        let dev = Device::flex();
        let attn = AttentionConfig {
            d_model: 4,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 2,
            init_std: 0.5,
        }
        .init(&dev);
        let rope = super::super::rotary_encoding(8, 2, 10_000.0, &dev);
        let x = Tensor::<3>::from_floats([[[0.1, -0.2, 0.3, 0.4]]], &dev);
        let y = attn.forward(x.clone(), &rope, 0, None, None);
        let v = attn.wv.forward(x); // [1, 1, 2], shared by both query heads
        let want = attn.wo.forward(Tensor::cat(vec![v.clone(), v], 2));
        let diff: f32 = (y - want).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-6, "{diff}");
    }
}
