//! Federations of a pretrained instruct model (SmolLM2 and other Llama-family models)
//! with LoRA: [`run_federation`] runs one from a GGUF file and an [`LlmFederationConfig`]
//! (TOML); underneath, [`LlamaFactory`] builds one [`fedmoa_grpo::GrpoTrainer`] per client
//! for the [`crate::experiment`] harness, and [`ChatPrompting`] says how task prompts
//! become chat conversations.
//!
//! `examples/smollm2_federation.rs` is the command line over [`run_federation`].

mod config;
mod factory;
mod federation;
mod prompting;

pub use config::{LlmFederationConfig, ModelSettings, SplitSizes};
pub use factory::LlamaFactory;
pub use federation::{LlmFederationOutput, run_federation, run_federation_with_plugins};
pub use prompting::ChatPrompting;
