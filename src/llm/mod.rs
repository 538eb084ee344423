//! Federations of a pretrained instruct model (SmolLM2 and other Llama-family models)
//! with LoRA: [`LlamaFactory`] builds one [`fedmoa_grpo::GrpoTrainer`] per client for the
//! [`crate::experiment`] harness, and [`ChatPrompting`] says how task prompts become chat
//! conversations.
//!
//! `examples/smollm2_gsm8k.rs` runs GSM8K and MBPP clients on SmolLM2-135M-Instruct this
//! way.

mod factory;
mod prompting;

pub use factory::LlamaFactory;
pub use prompting::ChatPrompting;
