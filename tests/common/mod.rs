//! Shared by the integration tests: a tiny random LoRA Llama with a ChatML tokenizer and
//! two math clients, small enough for a federation to run in about a second.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use fedmoa::llm::{ChatPrompting, LlamaFactory};
use fedmoa_core::{Prompt, Reference};
use fedmoa_grpo::burn::prelude::Device;
use fedmoa_grpo::gguf::{GgufBuilder, GgufFile, MetadataValue};
use fedmoa_grpo::{Dataset, GrpoTrainerConfig, Llama, LlamaConfig, LlmTokenizer, LoraConfig};
use fedmoa_rewards::ClientSpec;

/// ChatML specials, the digits, space, newline, `#`, `+`, `=`, `##` (byte-level symbols).
pub fn tokenizer() -> LlmTokenizer {
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .map(String::from)
        .to_vec();
    tokens.extend((0..10).map(|d| d.to_string()));
    tokens.extend(["Ġ", "Ċ", "#", "+", "=", "##"].map(String::from));
    let mut types = vec![MetadataValue::I32(3); 3];
    types.extend(vec![MetadataValue::I32(1); tokens.len() - 3]);
    let strings = |v: &[String]| {
        MetadataValue::Array(v.iter().map(|s| MetadataValue::String(s.clone())).collect())
    };
    let bytes = GgufBuilder::new()
        .metadata("tokenizer.ggml.model", MetadataValue::String("gpt2".into()))
        .metadata("tokenizer.ggml.pre", MetadataValue::String("smollm".into()))
        .metadata("tokenizer.ggml.tokens", strings(&tokens))
        .metadata("tokenizer.ggml.token_type", MetadataValue::Array(types))
        .metadata("tokenizer.ggml.merges", strings(&["# #".to_string()]))
        .metadata("tokenizer.ggml.bos_token_id", MetadataValue::U32(1))
        .metadata("tokenizer.ggml.eos_token_id", MetadataValue::U32(2))
        .to_bytes();
    let file = GgufFile::parse(bytes).expect("tokenizer metadata");
    LlmTokenizer::from_gguf(&file).expect("tiny tokenizer")
}

/// `n` one-digit additions for client `client`.
pub fn problems(client: usize, n: usize) -> Vec<Prompt> {
    (0..n)
        .map(|i| {
            let (a, b) = ((i + client) % 5, (2 * i + 1) % 4);
            Prompt {
                id: format!("c{client}-{i}"),
                task: "math".into(),
                text: format!("{a} + {b} ="),
                reference: Reference::Number {
                    value: (a + b) as f64,
                },
                solution: None,
            }
        })
        .collect()
}

/// Math client `m{i}`: accuracy (0.6) and a hard length budget of 3 tokens (0.4).
pub fn spec(i: usize) -> ClientSpec {
    ClientSpec::from_toml_str(&format!(
        "id = \"m{i}\"\ntask = \"math\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"math\", families = [\"add_sub\"] }} }}]\n\
         rewards = [{{ type = \"math_accuracy\", weight = 0.6 }}, \
         {{ type = \"length\", weight = 0.4, max = 3, mode = \"hard\" }}]\n"
    ))
    .expect("client spec")
}

/// A 2-layer Llama (d = 16) over [`tokenizer`]'s vocabulary, without adapters.
pub fn base_model(tok: &LlmTokenizer) -> Llama {
    let config = LlamaConfig {
        vocab_size: tok.vocab_size(),
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 8,
        d_hidden: 24,
        max_seq_len: 96,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: true,
    };
    Llama::init(&config, 1, &Device::flex()).unwrap()
}

/// Rank-2 adapters.
pub fn lora() -> LoraConfig {
    LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    }
}

/// G = 4 completions of at most 4 tokens for 2 prompts per step, lr 1e-2.
pub fn trainer() -> GrpoTrainerConfig {
    let mut trainer = GrpoTrainerConfig::default();
    trainer.grpo.num_generations = 4;
    trainer.grpo.prompts_per_step = 2;
    trainer.grpo.max_completion_length = 4;
    trainer.grpo.learning_rate = 1e-2;
    trainer
}

/// Client `c`'s 12 prompts: 6 train, 3 validation, 3 test.
pub fn data(clients: usize) -> Vec<Dataset> {
    (0..clients)
        .map(|c| Dataset::from_prompts(problems(c, 12), 3, 3).unwrap())
        .collect()
}

/// A [`LlamaFactory`] over the tiny LoRA Llama for [`spec`]`(0)` and `(1)`.
pub fn factory() -> LlamaFactory {
    let tok = tokenizer();
    let policy = base_model(&tok).with_lora(&lora()).unwrap();
    LlamaFactory::new(policy, tok, ChatPrompting::default(), trainer(), data(2)).unwrap()
}
