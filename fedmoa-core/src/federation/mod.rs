//! The federation loop: rounds, seeded client sampling, clients on a thread pool, global
//! evaluation, JSONL metrics and atomic checkpoints with exact resume.

mod checkpoint;
mod client;
mod config;
mod dispatch;
mod error;
mod metrics;
mod non_finite;
mod runner;
mod sampling;

pub use checkpoint::{Checkpoint, tmp_path};
pub use client::{Client, InProcessClient, panic_message};
pub use config::FederationConfig;
pub use error::{ClientError, FederationError};
pub use metrics::{Dropped, MetricsLog, RoundSummary};
pub use runner::{Federation, GlobalEvaluator};
pub use sampling::{derive_seed, sample_clients, sample_size, splitmix64};
