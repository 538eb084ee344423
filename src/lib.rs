//! fedmoa: federated multi-objective GRPO alignment of language models.
//!
//! This facade re-exports the workspace crates.

pub use fedmoa_agg as agg;
pub use fedmoa_core as core;
pub use fedmoa_rewards as rewards;
