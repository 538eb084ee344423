//! Core of fedmoa: the plugin traits, the parameter and update types, and the federation
//! loop. No Burn here: a server that only aggregates, or a reward-plugin author, compiles
//! only this crate.
//!
//! The four plugin traits are [`RewardFn`], [`ObjectiveWeighter`], [`Aggregator`] and
//! [`LocalTrainer`]; [`ParamSet`] crosses the client/server boundary, and
//! [`federation::Federation`] runs the rounds.

mod aggregator;
mod error;
mod ids;
mod param_set;
mod plugin;
mod plugin_registry;
mod reward;
mod trainer;
mod update;
mod weighter;

pub mod federation;
pub mod seeds;
pub mod weighting;

pub use aggregator::{
    AggError, Aggregated, Aggregator, AggregatorState, RejectReason, Rejection, check_update,
    screen_updates,
};
pub use error::{
    ConfigError, ParamError, require_in_range, require_nonzero, require_not_empty,
    require_positive, require_within,
};
pub use ids::{ClientId, ObjectiveId, TaskTag};
pub use param_set::{ParamSet, ParamTensor, axpy_slice, dot_slice};
pub use plugin::PluginConfig;
pub use plugin_registry::PluginRegistry;
pub use reward::{FnReward, Prompt, Reference, RewardError, RewardFn, RewardRange};
pub use trainer::{EvalReport, LocalTrainer, RoundPlan, Split, TrainError};
pub use update::{ClientUpdate, ObjectiveStats, Timings};
pub use weighter::{GradientSignals, ObjectiveWeighter, Signals, StepSignals, WeighterError};
pub use weighting::WeighterConfig;
