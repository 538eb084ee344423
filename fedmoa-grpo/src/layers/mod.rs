//! Transformer building blocks shared by the policies: rotary embeddings, grouped-query
//! causal attention with a KV cache, SwiGLU MLP and the pre-norm decoder block.
//!
//! Padding convention: sequences in a batch are **left-padded** (`left_pad[b]` leading pad
//! tokens in row `b`). Every row's last prompt token then sits in the same column, so
//! batched decoding appends one column per step and completions start at one shared index.
//! Pad keys are hidden from real queries by [`attention_mask`]; RoPE uses absolute columns,
//! which leaves the relative positions of the real tokens unchanged.

mod attention;
mod block;
mod host_kv;
mod kv_cache;
mod linear;
mod mask;
mod mlp;
mod rope;
mod stack;

pub(crate) use attention::causal_attention;
pub use attention::{Attention, AttentionConfig};
pub use block::{DecoderBlock, DecoderBlockConfig};
pub(crate) use host_kv::HostLayerKv;
pub use kv_cache::{KvCache, LayerKv};
pub use linear::linear;
pub use mask::attention_mask;
pub use mlp::{SwiGlu, SwiGluConfig};
pub use rope::rotary_encoding;
pub use stack::run_blocks;
