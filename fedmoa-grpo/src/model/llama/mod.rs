//! The Llama architecture (SmolLM2 and similar) loaded from GGUF or safetensors, with
//! optional LoRA adapters, which export as a PEFT adapter (`Llama::save_peft_adapter`).

mod config;
mod gguf;
mod init;
mod layout;
mod load;
mod lora;
mod model;
mod peft;
mod safetensors;

pub use config::{HfLlamaConfig, LlamaConfig};
pub use lora::{LoraConfig, LoraTarget};
pub use model::Llama;
pub use peft::{PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trainer_tests;
