//! Policies: the [`Policy`] trait the trainer uses, the embedded [`TinyLm`], pretrained
//! [`Llama`] models (GGUF / safetensors, LoRA), and the
//! conversion between Burn modules and [`fedmoa_core::ParamSet`].

pub mod llama;
mod params;
mod policy;
mod tiny_lm;

pub use llama::{Llama, LlamaConfig, LoraConfig, LoraTarget};
pub use params::{load_param_set, to_param_set};
pub use policy::Policy;
pub use tiny_lm::{TinyLm, TinyLmConfig};
