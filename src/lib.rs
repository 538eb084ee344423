//! fedmoa: federated multi-objective GRPO alignment of language models.
//!
//! This facade re-exports the workspace crates and adds [`experiment`], the harness that
//! compares FedMOA with FedAvg on heterogeneous clients (used by the `quickstart` example).

pub mod cli;
pub mod experiment;
pub mod llm;
pub mod plugins;
pub mod quickstart;
mod toml_overlay;

pub use fedmoa_agg as agg;
pub use fedmoa_core as core;
pub use fedmoa_flower as flower;
pub use fedmoa_grpo as grpo;
pub use fedmoa_rewards as rewards;
