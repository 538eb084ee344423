//! Builds a [`Llama`] from named checkpoint tensors, whatever the file format.
//!
//! A [`TensorSource`] hands out `f32` tensors in PyTorch order (`[out, in]` for
//! projections) under the checkpoint's own names; [`Naming`] maps each model weight to
//! that name. Projections are transposed once into Burn's `[in, out]` layout, and for
//! Hugging Face checkpoints `q_proj`/`k_proj` rows are permuted to interleaved RoPE.

use burn::module::Param;
use burn::nn::{EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::prelude::*;

use super::layout::{rope_rows_to_interleaved, transpose};
use super::{Llama, LlamaConfig};
use crate::GrpoError;
use crate::layers::{AttentionConfig, DecoderBlockConfig, SwiGluConfig, rotary_encoding};

/// A dense tensor: shape (outermost first) and row-major values.
pub(crate) type Dense = (Vec<usize>, Vec<f32>);

/// Named `f32` tensors of a checkpoint, row-major, outermost dimension first.
pub(crate) trait TensorSource {
    /// The tensor `name` as `(shape, values)`, or `None` when the checkpoint lacks it.
    /// `expected` is the shape the model needs (files ignore it; the loader checks what
    /// they return against it).
    fn read(&self, name: &str, expected: &[usize]) -> Result<Option<Dense>, GrpoError>;
}

/// Checkpoint naming scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// llama.cpp names (`blk.0.attn_q.weight`); Q/K rows already interleaved.
    Gguf,
    /// `transformers` names (`model.layers.0.self_attn.q_proj.weight`); Q/K in
    /// `rotate_half` order.
    HuggingFace,
}

/// A projection of a decoder block.
#[derive(Debug, Clone, Copy)]
enum Proj {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Naming {
    fn embed(self) -> &'static str {
        match self {
            Self::Gguf => "token_embd.weight",
            Self::HuggingFace => "model.embed_tokens.weight",
        }
    }

    fn output(self) -> &'static str {
        match self {
            Self::Gguf => "output.weight",
            Self::HuggingFace => "lm_head.weight",
        }
    }

    fn final_norm(self) -> &'static str {
        match self {
            Self::Gguf => "output_norm.weight",
            Self::HuggingFace => "model.norm.weight",
        }
    }

    fn norm(self, layer: usize, before_attention: bool) -> String {
        match (self, before_attention) {
            (Self::Gguf, true) => format!("blk.{layer}.attn_norm.weight"),
            (Self::Gguf, false) => format!("blk.{layer}.ffn_norm.weight"),
            (Self::HuggingFace, true) => format!("model.layers.{layer}.input_layernorm.weight"),
            (Self::HuggingFace, false) => {
                format!("model.layers.{layer}.post_attention_layernorm.weight")
            }
        }
    }

    fn proj(self, layer: usize, p: Proj) -> String {
        let (gguf, hf) = match p {
            Proj::Q => ("attn_q", "self_attn.q_proj"),
            Proj::K => ("attn_k", "self_attn.k_proj"),
            Proj::V => ("attn_v", "self_attn.v_proj"),
            Proj::O => ("attn_output", "self_attn.o_proj"),
            Proj::Gate => ("ffn_gate", "mlp.gate_proj"),
            Proj::Up => ("ffn_up", "mlp.up_proj"),
            Proj::Down => ("ffn_down", "mlp.down_proj"),
        };
        match self {
            Self::Gguf => format!("blk.{layer}.{gguf}.weight"),
            Self::HuggingFace => format!("model.layers.{layer}.{hf}.weight"),
        }
    }
}

struct Loader<'a> {
    source: &'a dyn TensorSource,
    naming: Naming,
    config: &'a LlamaConfig,
    device: &'a Device,
}

impl Loader<'_> {
    fn required(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, GrpoError> {
        let (got, data) = self
            .source
            .read(name, shape)?
            .ok_or_else(|| GrpoError::Weights {
                tensor: name.to_string(),
                reason: "missing from the checkpoint".to_string(),
            })?;
        if got != shape {
            return Err(GrpoError::Weights {
                tensor: name.to_string(),
                reason: format!("shape {got:?}, expected {shape:?}"),
            });
        }
        Ok(data)
    }

    fn norm(&self, name: &str) -> Result<RmsNorm, GrpoError> {
        let d = self.config.d_model;
        let g = self.required(name, &[d])?;
        let mut norm = RmsNormConfig::new(d)
            .with_epsilon(self.config.norm_eps)
            .init(self.device);
        norm.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(g, [d]), self.device));
        Ok(norm)
    }

    /// A `[d_out, d_in]` checkpoint matrix as a Burn `Linear` (`[d_in, d_out]`).
    fn linear(
        &self,
        name: &str,
        d_out: usize,
        d_in: usize,
        rope_heads: Option<usize>,
    ) -> Result<Linear, GrpoError> {
        let mut w = self.required(name, &[d_out, d_in])?;
        if let (Naming::HuggingFace, Some(heads)) = (self.naming, rope_heads) {
            w = rope_rows_to_interleaved(&w, heads, self.config.head_dim, d_in);
        }
        let w = transpose(&w, d_out, d_in);
        Ok(linear_from(w, d_in, d_out, self.device))
    }

    fn proj(&self, layer: usize, p: Proj) -> Result<Linear, GrpoError> {
        let c = self.config;
        let (q, kv) = (c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim);
        let name = self.naming.proj(layer, p);
        match p {
            Proj::Q => self.linear(&name, q, c.d_model, Some(c.n_heads)),
            Proj::K => self.linear(&name, kv, c.d_model, Some(c.n_kv_heads)),
            Proj::V => self.linear(&name, kv, c.d_model, None),
            Proj::O => self.linear(&name, c.d_model, q, None),
            Proj::Gate | Proj::Up => self.linear(&name, c.d_hidden, c.d_model, None),
            Proj::Down => self.linear(&name, c.d_model, c.d_hidden, None),
        }
    }
}

/// A bias-free `Linear` holding `w` (`[d_in, d_out]`, row-major).
fn linear_from(w: Vec<f32>, d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut lin = LinearConfig::new(d_in, d_out).with_bias(false).init(device);
    lin.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device));
    lin
}

/// Builds the model from `source`; see the module docs.
pub(crate) fn build(
    config: &LlamaConfig,
    source: &dyn TensorSource,
    naming: Naming,
    device: &Device,
) -> Result<Llama, GrpoError> {
    config.validate()?;
    let l = Loader {
        source,
        naming,
        config,
        device,
    };
    let c = config;
    let embed_w = l.required(naming.embed(), &[c.vocab_size, c.d_model])?;
    let mut embed = EmbeddingConfig::new(c.vocab_size, c.d_model).init(device);
    embed.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(embed_w, [c.vocab_size, c.d_model]),
        device,
    ));
    let block_config = DecoderBlockConfig {
        attention: AttentionConfig {
            d_model: c.d_model,
            n_heads: c.n_heads,
            n_kv_heads: c.n_kv_heads,
            head_dim: c.head_dim,
            init_std: 0.02,
        },
        mlp: SwiGluConfig {
            d_model: c.d_model,
            d_hidden: c.d_hidden,
            init_std: 0.02,
        },
        norm_eps: c.norm_eps,
    };
    let mut blocks = Vec::with_capacity(c.n_layers);
    for i in 0..c.n_layers {
        // Burn parameters are initialised lazily, so the random weights `init` declares are
        // never computed: every one is replaced below.
        let mut b = block_config.init(device);
        b.attn_norm = l.norm(&naming.norm(i, true))?;
        b.ffn_norm = l.norm(&naming.norm(i, false))?;
        b.attn.wq = l.proj(i, Proj::Q)?;
        b.attn.wk = l.proj(i, Proj::K)?;
        b.attn.wv = l.proj(i, Proj::V)?;
        b.attn.wo = l.proj(i, Proj::O)?;
        b.mlp.gate = l.proj(i, Proj::Gate)?;
        b.mlp.up = l.proj(i, Proj::Up)?;
        b.mlp.down = l.proj(i, Proj::Down)?;
        blocks.push(b);
    }
    let lm_head = if c.tie_embeddings {
        None
    } else {
        Some(l.linear(naming.output(), c.vocab_size, c.d_model, None)?)
    };
    Ok(Llama {
        embed,
        blocks,
        norm: l.norm(naming.final_norm())?,
        lm_head,
        rope: rotary_encoding(c.max_seq_len, c.head_dim, c.rope_theta, device),
        config: c.clone(),
        lora: None,
        packed_cache: Default::default(),
    })
}
