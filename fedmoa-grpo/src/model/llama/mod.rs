//! The Llama architecture (SmolLM2 and similar) loaded from GGUF or safetensors, with
//! optional LoRA adapters.

mod config;
mod gguf;
mod init;
mod layout;
mod load;
mod lora;
mod model;
mod safetensors;

pub use config::{HfLlamaConfig, LlamaConfig};
pub use lora::{LoraConfig, LoraTarget};
pub use model::Llama;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trainer_tests;
