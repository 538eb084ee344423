//! [`TinyLm`]: a small Llama-style decoder trained from scratch on the synthetic tasks.
//!
//! RoPE (interleaved pairs), RMSNorm, SwiGLU, grouped-query attention, tied input/output
//! embeddings. Parameter paths follow the Llama loaders' names: `embed.weight`,
//! `blocks.{i}.attn_norm.gamma`, `blocks.{i}.attn.{wq,wk,wv,wo}.weight`,
//! `blocks.{i}.ffn_norm.gamma`, `blocks.{i}.mlp.{gate,up,down}.weight`, `norm.gamma`.

use burn::nn::{Embedding, EmbeddingConfig, Initializer, RmsNorm, RmsNormConfig, RotaryEncoding};
use burn::prelude::*;
use fedmoa_core::ConfigError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Policy;
use crate::GrpoError;
use crate::layers::{
    AttentionConfig, DecoderBlock, DecoderBlockConfig, KvCache, SwiGluConfig, rotary_encoding,
    run_blocks,
};

/// Sizes of a [`TinyLm`]; the defaults give about 1M parameters with a 512-token vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TinyLmConfig {
    /// Vocabulary size; must match the tokenizer.
    pub vocab_size: usize,
    /// Model width.
    pub d_model: usize,
    /// Decoder blocks.
    pub n_layers: usize,
    /// Query heads; divides `d_model`.
    pub n_heads: usize,
    /// Key/value heads; divides `n_heads`.
    pub n_kv_heads: usize,
    /// SwiGLU hidden width.
    pub d_hidden: usize,
    /// Longest prompt + completion, in tokens.
    pub max_seq_len: usize,
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    pub norm_eps: f64,
    /// Standard deviation of the normal initialiser of every weight matrix.
    pub init_std: f64,
}

impl Default for TinyLmConfig {
    fn default() -> Self {
        Self {
            vocab_size: 512,
            d_model: 128,
            n_layers: 4,
            n_heads: 4,
            n_kv_heads: 2,
            d_hidden: 512,
            max_seq_len: 256,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            init_std: 0.02,
        }
    }
}

impl TinyLmConfig {
    /// Checks every size.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_nonzero(&[
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("d_hidden", self.d_hidden),
            ("max_seq_len", self.max_seq_len),
        ])?;
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(ConfigError::new("n_heads", "must divide d_model"));
        }
        if !(self.d_model / self.n_heads).is_multiple_of(2) {
            return Err(ConfigError::new(
                "n_heads",
                "d_model / n_heads (the head width) must be even for RoPE",
            ));
        }
        if self.n_kv_heads > self.n_heads || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(ConfigError::new("n_kv_heads", "must divide n_heads"));
        }
        fedmoa_core::require_positive("rope_theta", f64::from(self.rope_theta))?;
        fedmoa_core::require_positive("norm_eps", self.norm_eps)?;
        fedmoa_core::require_positive("init_std", self.init_std)?;
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Builds a randomly initialised model on `device` (use an autodiff device to train).
    ///
    /// # Errors
    /// [`ConfigError`] from [`TinyLmConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<TinyLm, ConfigError> {
        self.validate()?;
        let block = DecoderBlockConfig {
            attention: AttentionConfig {
                d_model: self.d_model,
                n_heads: self.n_heads,
                n_kv_heads: self.n_kv_heads,
                head_dim: self.head_dim(),
                init_std: self.init_std,
            },
            mlp: SwiGluConfig {
                d_model: self.d_model,
                d_hidden: self.d_hidden,
                init_std: self.init_std,
            },
            norm_eps: self.norm_eps,
        };
        Ok(TinyLm {
            embed: EmbeddingConfig::new(self.vocab_size, self.d_model)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: self.init_std,
                })
                .init(device),
            blocks: (0..self.n_layers).map(|_| block.init(device)).collect(),
            norm: RmsNormConfig::new(self.d_model)
                .with_epsilon(self.norm_eps)
                .init(device),
            rope: rotary_encoding(self.max_seq_len, self.head_dim(), self.rope_theta, device),
            config: self.clone(),
        })
    }
}

/// Standard normal draws from a seeded RNG (Box–Muller), for reproducible initialisation.
fn normal_fill(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random_range(0.0..1.0); // (0, 1]
            let u2: f64 = rng.random_range(0.0..1.0);
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (z * std) as f32
        })
        .collect()
}

impl TinyLmConfig {
    /// Like [`TinyLmConfig::init`], but every weight matrix is drawn from
    /// `N(0, init_std²)` with an RNG seeded by `seed` (norm gains are 1), so the same seed
    /// gives the same model whatever else uses the device's RNG.
    ///
    /// # Errors
    /// [`GrpoError::Config`] from [`TinyLmConfig::validate`].
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Result<TinyLm, GrpoError> {
        let model = self.init(device)?;
        let mut params = model.to_param_set()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (name, t) in params.iter_mut() {
            if !name.ends_with(".gamma") {
                let values = normal_fill(&mut rng, t.numel(), self.init_std);
                t.data_mut().copy_from_slice(&values);
            }
        }
        model.load_param_set(&params)
    }
}

/// The embedded default policy; see the module docs.
#[derive(Module, Debug)]
pub struct TinyLm {
    /// Token embeddings `[vocab, d_model]`, also the output head (tied).
    pub embed: Embedding,
    /// Decoder blocks.
    pub blocks: Vec<DecoderBlock>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Rotary table (a constant, not a parameter).
    pub rope: RotaryEncoding,
    #[module(skip)]
    config: TinyLmConfig,
}

impl TinyLm {
    /// The configuration the model was built from.
    pub fn config(&self) -> &TinyLmConfig {
        &self.config
    }
}

impl Policy for TinyLm {
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
        let x = run_blocks(
            &self.blocks,
            &self.rope,
            self.embed.forward(tokens),
            left_pad,
            cache,
        );
        let h = self.norm.forward(x).reshape([b * t, self.config.d_model]);
        let logits = h.matmul(self.embed.weight.val().transpose());
        logits.reshape([b, t, self.config.vocab_size])
    }
}
