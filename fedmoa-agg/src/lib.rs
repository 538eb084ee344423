//! Server-side aggregation rules for fedmoa, each an implementation of
//! [`fedmoa_core::Aggregator`]:
//!
//! - weighted means: [`FedAvg`], [`FedProx`] (FedAvg plus the clients' proximal term) and
//!   FedMOA's task- and accuracy-aware [`TaskAccuracy`];
//! - server optimizers on the FedAvg pseudo-gradient: [`FedAvgM`], [`FedAdam`],
//!   [`FedYogi`], [`FedAdagrad`] (their moments are checkpointed through
//!   `state()`/`load_state()`);
//! - robust rules: [`CoordinateMedian`], [`TrimmedMean`], [`Krum`] (and Multi-Krum), and
//!   [`NormClip`], which clips deltas before any other rule.
//!
//! [`AggregatorConfig`] picks one from TOML. Every rule screens the updates first
//! (non-finite values, wrong names or shapes, zero samples, accuracy outside `[0, 1]`),
//! aggregates the rest and reports each rejection; weighted rules stream each delta once
//! through [`weighted_sum_into`] without copying it. `docs/AGGREGATORS.md` explains every
//! rule and `docs/PERFORMANCE.md` gives measured throughput.
//!
//! # Example
//!
//! ```
//! use fedmoa_agg::AggregatorConfig;
//! use fedmoa_core::{ClientUpdate, ParamSet};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: AggregatorConfig = toml::from_str(
//!     r#"
//!     type = "task_accuracy"
//!     temperature = inf          # accuracies ignored: per-task FedAvg
//!     "#,
//! )?;
//! let mut aggregator = config.build()?;
//!
//! let global = ParamSet::new().with("w", vec![2], vec![1.0, 1.0])?;
//! let delta = |v: Vec<f32>| ParamSet::new().with("w", vec![2], v);
//! let updates = [
//!     ClientUpdate::new("math-0", "math", 30, delta(vec![4.0, 0.0])?, 0.5),
//!     ClientUpdate::new("math-1", "math", 10, delta(vec![0.0, 8.0])?, 0.9),
//! ];
//! let out = aggregator.aggregate(&global, &updates)?;
//! // One task, T = ∞: p = 30/40 and 10/40, so Δ = [0.75·4, 0.25·8] = [3, 2].
//! assert_eq!(out.params.flatten(), vec![4.0, 3.0]);
//! assert!(out.rejected.is_empty());
//! # Ok(())
//! # }
//! ```

mod batch;
mod config;
mod coordinates;
mod distances;
mod fedavg;
mod fedprox;
mod krum;
mod median;
mod mix;
mod norm_clip;
mod parallel;
mod registry;
mod server_opt;
mod task_accuracy;
mod temperature;
mod trimmed_mean;
mod weighted;

#[cfg(test)]
mod test_util;

pub use batch::{BatchAggregator, Member, UpdateBatch};
pub use config::AggregatorConfig;
pub use fedavg::{FedAvg, FedAvgConfig};
pub use fedprox::{FedProx, FedProxConfig};
pub use krum::{Krum, KrumConfig};
pub use median::{CoordinateMedian, CoordinateMedianConfig};
pub use mix::{MIX_CHUNK, weighted_sum_into};
pub use norm_clip::{NormClip, NormClipConfig};
pub use parallel::Threads;
pub use registry::{AggregatorConstructor, AggregatorRegistry};
pub use server_opt::{
    FedAdagrad, FedAdagradConfig, FedAdam, FedAdamConfig, FedAvgM, FedAvgMConfig, FedYogi,
    FedYogiConfig,
};
pub use task_accuracy::{TaskAccuracy, TaskAccuracyConfig, TaskWeighting};
pub use temperature::Temperature;
pub use trimmed_mean::{TrimmedMean, TrimmedMeanConfig};
