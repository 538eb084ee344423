//! GRPO local training for fedmoa, on Burn 0.22.
//!
//! - [`device`]: explicit backend choice (Flex CPU by default, never `Device::default()`).
//! - [`gguf`]: GGUF reader and dequantisation (F32, F16, BF16, Q8_0, Q4_0, Q4_1).
//! - [`llm_tokenizer`]: pretrained tokenizers (from GGUF metadata or `tokenizer.json`), ChatML.
//! - [`layers`]: RoPE, grouped-query causal attention with a KV cache, SwiGLU, decoder block,
//!   LoRA-aware projections.
//! - [`decode`]: what sampling runs on ([`decode::Decode`]) and [`decode::DecodeModel`], a
//!   model's weights laid out for generation.
//! - [`model`]: the [`Policy`] trait, the embedded [`TinyLm`], pretrained [`Llama`] models
//!   (SmolLM2 from GGUF or safetensors, LoRA), Burn module ⇄ `ParamSet`.
//! - [`tokenizer`]: a byte-level BPE vocabulary trained on the task texts (`tokenizer.json`).
//! - [`sampling`]: batched, seeded temperature / top-k / top-p sampling reusing the
//!   prompt's KV cache.
//! - [`batch`]: left-padded prompt + completion batches (one forward gives the completion
//!   logits; a prompt shared by a group of rows can run once).
//! - [`sft`]: teacher-forced warm start, cached on disk.
//! - [`grpo`]: GRPO config, advantages, loss, per-objective gradient signals, optimizer.
//! - [`trainer`]: [`GrpoTrainer`], the `fedmoa_core::LocalTrainer` of a client.
//!
//! # One client in a few lines
//!
//! [`GrpoTrainer::builder`] takes a policy and its tokenizer; add rewards (the first is the
//! primary objective) and data, and [`GrpoTrainer::fit`] trains with no federation around
//! it. The weighter defaults to fixed equal weights, the settings to TRL's.
//!
//! ```
//! use fedmoa_grpo::{burn::prelude::Device, Dataset, GrpoConfig, GrpoTrainer, TaskTokenizer, TinyLmConfig};
//! use fedmoa_rewards::{math::{MathFamily, MathGenerator, MathTaskConfig}, rewards::MathAccuracy};
//!
//! let prompts = MathGenerator::new(MathTaskConfig::new(vec![MathFamily::AddSub]))?.prompts(40, 0);
//! let tokenizer = TaskTokenizer::train(prompts.iter().map(|p| &p.text), &Default::default())?;
//! let model = TinyLmConfig { vocab_size: tokenizer.vocab_size(), ..Default::default() };
//! let mut trainer = GrpoTrainer::builder(model.init(&Device::flex())?, tokenizer)
//!     .reward(MathAccuracy::default())
//!     .data(Dataset::from_prompts(prompts, 4, 4)?)
//!     .grpo(GrpoConfig { max_completion_length: 16, ..Default::default() })
//!     .build()?;
//! let metrics = trainer.fit(2)?; // per step: rewards, loss, KL, timings, …
//! assert_eq!(metrics[1].objectives[0].id, "math_accuracy");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tutorial: one client, one round
//!
//! Warm-start a policy on worked solutions, give it reward plugins (objective 0 is the
//! primary one) and an objective weighter, and train one federated round. The result is the
//! [`fedmoa_core::ClientUpdate`] a server aggregates. Sizes here are tiny so the example runs
//! in seconds; `fedmoa::quickstart` shows a realistic setup.
//!
//! ```
//! use fedmoa_core::weighting::{HypergradientConfig, WeighterConfig};
//! use fedmoa_core::{FnReward, LocalTrainer, Prompt, Reference, RewardFn, RewardRange, RoundPlan};
//! use fedmoa_grpo::burn::prelude::Device;
//! use fedmoa_grpo::sft::{SftConfig, WarmStartConfig, train_warm_start};
//! use fedmoa_grpo::tokenizer::TokenizerTrainConfig;
//! use fedmoa_grpo::{Dataset, GrpoTrainer, GrpoTrainerConfig, Policy, TinyLmConfig};
//!
//! // 1. Prompts with worked solutions (here: "say a digit", answered by a digit).
//! let prompts: Vec<Prompt> = (0..40)
//!     .map(|i| Prompt {
//!         id: format!("p{i}"),
//!         task: "toy".into(),
//!         text: format!("say a digit for {} :", ["ann", "bob", "eva"][i % 3]),
//!         reference: Reference::None,
//!         solution: Some(format!(" {}", (i * 7) % 10)),
//!     })
//!     .collect();
//!
//! // 2. A small TinyLm and a BPE tokenizer trained on the prompts, then supervised
//! //    fine-tuning on the solutions (`sft::load_or_train` caches this on disk).
//! let warm = WarmStartConfig {
//!     model: TinyLmConfig {
//!         d_model: 32,
//!         n_layers: 1,
//!         n_heads: 2,
//!         n_kv_heads: 1,
//!         d_hidden: 64,
//!         max_seq_len: 32,
//!         ..Default::default()
//!     },
//!     tokenizer: TokenizerTrainConfig { vocab_size: 300, ..Default::default() },
//!     sft: SftConfig { epochs: 2, batch_size: 16, ..Default::default() },
//! };
//! let (model, tokenizer, _report) = train_warm_start(&prompts, &warm, &Device::flex())?;
//!
//! // 3. Objectives: the primary one first, then the auxiliaries.
//! let rewards: Vec<Box<dyn RewardFn>> = vec![
//!     Box::new(FnReward::new("seven", RewardRange::UNIT, |_: &Prompt, c: &str| {
//!         f32::from(u8::from(c.trim() == "7"))
//!     })),
//!     Box::new(FnReward::new("short", RewardRange::UNIT, |_: &Prompt, c: &str| {
//!         f32::from(u8::from(c.trim().len() <= 2))
//!     })),
//! ];
//!
//! // 4. FedMOA's hypergradient weighter adapts the objective weights online.
//! let weighter = WeighterConfig::Hypergradient(HypergradientConfig::default()).build(2)?;
//!
//! // 5. GRPO settings use TRL's names: G completions per prompt, β for the KL, ….
//! let mut config = GrpoTrainerConfig { local_steps: 2, ..Default::default() };
//! config.grpo.num_generations = 4;
//! config.grpo.prompts_per_step = 2;
//! config.grpo.max_completion_length = 4;
//!
//! let data = Dataset::from_prompts(prompts, 8, 0)?; // 8 validation prompts, no test split
//! let mut trainer =
//!     GrpoTrainer::new("client-0", "toy", model, tokenizer, data, rewards, weighter, config)?;
//!
//! // 6. One round from the global parameters: the update carries the parameter delta,
//! //    the validation accuracy, per-objective rates, the weights and per-step metrics.
//! let global = trainer.policy().to_param_set()?;
//! let update = trainer.train(&global, &RoundPlan::new(1, 42))?;
//! assert_eq!(update.step_metrics.len(), 2);
//! assert!((update.weights.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! assert!(update.delta.norm() > 0.0);
//! println!("accuracy {:.2}, weights {:?}", update.accuracy, update.weights);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The backend is chosen explicitly: [`DeviceChoice`] (`flex` by default; `wgpu`, `vulkan`
//! and `cuda` behind the crate features of the same names), or `BURN_DEVICE` at run time.

#![warn(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod decode;
pub mod device;
mod error;
pub mod gguf;
pub mod grpo;
pub mod layers;
pub mod llm_tokenizer;
pub mod model;
mod policy_tokenizer;
pub mod sampling;
pub mod sft;
pub mod tokenizer;
pub mod trainer;

pub use device::DeviceChoice;
pub use error::GrpoError;
pub use grpo::GrpoConfig;
pub use llm_tokenizer::{ChatPromptTokenizer, LlmTokenizer};
pub use model::{Llama, LlamaConfig, LoraConfig, Policy, TinyLm, TinyLmConfig};
pub use policy_tokenizer::PolicyTokenizer;
pub use tokenizer::TaskTokenizer;
pub use trainer::{
    Dataset, GrpoTrainer, GrpoTrainerBuilder, GrpoTrainerConfig, ObjectiveGradientMode, StepEvent,
    StepMetrics, StepObserver,
};

/// The Burn version this crate is built on, re-exported so users name the same types.
pub use burn;
