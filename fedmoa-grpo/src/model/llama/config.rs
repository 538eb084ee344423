//! [`LlamaConfig`]: the resolved sizes of a Llama-architecture model, read from GGUF
//! metadata or from a Hugging Face `config.json` ([`HfLlamaConfig`]).

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use crate::GrpoError;
use crate::gguf::{GgufError, GgufFile};

/// Sizes of a Llama model (SmolLM2-135M: 30 layers, width 576, 9/3 heads of 64, MLP
/// 1536, vocabulary 49152, θ = 100000, ε = 1e-5, tied embeddings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub d_model: usize,
    /// Decoder blocks.
    pub n_layers: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    pub n_kv_heads: usize,
    /// Width of one head (even, for RoPE).
    pub head_dim: usize,
    /// SwiGLU hidden width.
    pub d_hidden: usize,
    /// Longest sequence accepted (the RoPE table size).
    pub max_seq_len: usize,
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    pub norm_eps: f64,
    /// Output head shares the token embedding.
    pub tie_embeddings: bool,
}

impl LlamaConfig {
    /// Checks the sizes.
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
            ("head_dim", self.head_dim),
            ("d_hidden", self.d_hidden),
            ("max_seq_len", self.max_seq_len),
        ])?;
        if !self.head_dim.is_multiple_of(2) {
            return Err(ConfigError::new("head_dim", "must be even for RoPE"));
        }
        if self.n_kv_heads > self.n_heads || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(ConfigError::new("n_kv_heads", "must divide n_heads"));
        }
        fedmoa_core::require_positive("rope_theta", f64::from(self.rope_theta))?;
        fedmoa_core::require_positive("norm_eps", self.norm_eps)?;
        Ok(())
    }

    /// Reads the `{arch}.*` keys of a GGUF file (`general.architecture` must be `llama`).
    /// The head width is `rope.dimension_count` when present, else `d_model / n_heads`;
    /// embeddings are tied when the file has no `output.weight`. `max_seq_len` caps the
    /// file's `context_length` (the RoPE table is allocated for it).
    ///
    /// # Errors
    /// [`GrpoError::Gguf`] for a missing key or another architecture,
    /// [`GrpoError::Config`] when the sizes are inconsistent.
    pub fn from_gguf(file: &GgufFile, max_seq_len: Option<usize>) -> Result<Self, GrpoError> {
        let arch = file.get_str("general.architecture")?;
        if arch != "llama" {
            return Err(GgufError::metadata(
                "general.architecture",
                format!("unsupported architecture {arch:?} (only \"llama\")"),
            )
            .into());
        }
        let size = |key: &str| -> Result<usize, GrpoError> {
            let full = format!("llama.{key}");
            let v = file.get_u64(&full)?;
            usize::try_from(v).map_err(|_| GgufError::metadata(&full, "too large").into())
        };
        let d_model = size("embedding_length")?;
        let n_heads = size("attention.head_count")?;
        if n_heads == 0 {
            return Err(ConfigError::new("n_heads", "must be > 0").into());
        }
        let head_dim = match size("rope.dimension_count") {
            Ok(d) => d,
            Err(_) => d_model / n_heads,
        };
        let vocab_size = match size("vocab_size") {
            Ok(v) => v,
            Err(_) => file.get_str_array("tokenizer.ggml.tokens")?.len(),
        };
        let context = size("context_length")?;
        let config = Self {
            vocab_size,
            d_model,
            n_layers: size("block_count")?,
            n_heads,
            n_kv_heads: size("attention.head_count_kv").unwrap_or(n_heads),
            head_dim,
            d_hidden: size("feed_forward_length")?,
            max_seq_len: max_seq_len.map_or(context, |m| m.min(context)),
            rope_theta: file.get_f64("llama.rope.freq_base").unwrap_or(10_000.0) as f32,
            norm_eps: file.get_f64("llama.attention.layer_norm_rms_epsilon")?,
            tie_embeddings: file.tensor("output.weight").is_none(),
        };
        config.validate()?;
        Ok(config)
    }
}

/// The fields of a Hugging Face Llama `config.json` that define the architecture.
///
/// Unknown fields are ignored on purpose (not `deny_unknown_fields`): the file is
/// written by `transformers` and carries many training and generation settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HfLlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (defaults to `num_attention_heads`).
    pub num_key_value_heads: Option<usize>,
    /// Head width (defaults to `hidden_size / num_attention_heads`).
    pub head_dim: Option<usize>,
    /// Context length.
    pub max_position_embeddings: usize,
    /// RoPE base frequency (default 10000).
    pub rope_theta: Option<f32>,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Output head shares the embedding (default false, as in `transformers`).
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Must be `"llama"` when present.
    pub model_type: Option<String>,
}

impl HfLlamaConfig {
    /// The resolved config; `max_seq_len` caps `max_position_embeddings`.
    ///
    /// # Errors
    /// [`ConfigError`] for another `model_type` or inconsistent sizes.
    pub fn resolve(&self, max_seq_len: Option<usize>) -> Result<LlamaConfig, ConfigError> {
        if let Some(t) = self.model_type.as_deref().filter(|t| *t != "llama") {
            return Err(ConfigError::new(
                "model_type",
                format!("unsupported {t:?} (only \"llama\")"),
            ));
        }
        if self.num_attention_heads == 0 {
            return Err(ConfigError::new("num_attention_heads", "must be > 0"));
        }
        let config = LlamaConfig {
            vocab_size: self.vocab_size,
            d_model: self.hidden_size,
            n_layers: self.num_hidden_layers,
            n_heads: self.num_attention_heads,
            n_kv_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self
                .head_dim
                .unwrap_or(self.hidden_size / self.num_attention_heads),
            d_hidden: self.intermediate_size,
            max_seq_len: max_seq_len.map_or(self.max_position_embeddings, |m| {
                m.min(self.max_position_embeddings)
            }),
            rope_theta: self.rope_theta.unwrap_or(10_000.0),
            norm_eps: self.rms_norm_eps,
            tie_embeddings: self.tie_word_embeddings,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_smollm2_hf_config() {
        // The architecture fields of HuggingFaceTB/SmolLM2-135M-Instruct's config.json.
        let json = r#"{"architectures": ["LlamaForCausalLM"], "bos_token_id": 1,
            "hidden_size": 576, "intermediate_size": 1536, "max_position_embeddings": 8192,
            "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
            "num_key_value_heads": 3, "rms_norm_eps": 1e-05, "rope_theta": 100000,
            "tie_word_embeddings": true, "vocab_size": 49152}"#;
        let hf: HfLlamaConfig = serde_json::from_str(json).unwrap();
        let c = hf.resolve(Some(1024)).unwrap();
        assert_eq!(
            (c.n_layers, c.d_model, c.head_dim, c.n_kv_heads),
            (30, 576, 64, 3)
        );
        assert_eq!(
            (c.max_seq_len, c.rope_theta, c.tie_embeddings),
            (1024, 100_000.0, true)
        );
    }

    #[test]
    fn names_the_bad_field() {
        let hf: HfLlamaConfig = serde_json::from_str(
            r#"{"hidden_size": 8, "intermediate_size": 8, "max_position_embeddings": 8,
                "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 3,
                "rms_norm_eps": 1e-5, "vocab_size": 4}"#,
        )
        .unwrap();
        assert_eq!(hf.resolve(None).unwrap_err().field, "n_kv_heads");
        let mistral = HfLlamaConfig {
            model_type: Some("mistral".into()),
            ..hf
        };
        assert_eq!(mistral.resolve(None).unwrap_err().field, "model_type");
    }
}
