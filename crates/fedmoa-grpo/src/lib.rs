//! GRPO local training for fedmoa, on Burn 0.22.
//!
//! - [`device`]: explicit backend choice (Flex CPU by default, never `Device::default()`).
//! - [`layers`]: RoPE, grouped-query causal attention with a KV cache, SwiGLU, decoder block.
//! - [`model`]: the [`Policy`] trait, the embedded [`TinyLm`], Burn module ⇄ `ParamSet`.
//! - [`tokenizer`]: a byte-level BPE vocabulary trained on the task texts (`tokenizer.json`).
//! - [`sampling`]: batched, seeded temperature / top-k / top-p sampling reusing the
//!   prompt's KV cache.
//! - [`batch`]: left-padded prompt + completion batches (one forward gives the completion logits).
//! - [`sft`]: teacher-forced warm start, cached on disk.
//! - [`grpo`]: GRPO config, advantages, loss, per-objective gradient signals, optimizer.
//! - [`trainer`]: [`GrpoTrainer`], the `fedmoa_core::LocalTrainer` of a client.

#![warn(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod device;
mod error;
pub mod grpo;
pub mod layers;
pub mod model;
pub mod sampling;
pub mod sft;
pub mod tokenizer;
pub mod trainer;

pub use device::DeviceChoice;
pub use error::GrpoError;
pub use model::{Policy, TinyLm, TinyLmConfig};
pub use tokenizer::TaskTokenizer;
pub use trainer::{ClientData, GrpoTrainer, GrpoTrainerConfig};

/// The Burn version this crate is built on, re-exported so users name the same types.
pub use burn;
