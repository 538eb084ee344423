//! [`Plugins`]: the registries an experiment draws its rewards, aggregators and weighters
//! from. Register a plugin by name, then name it in TOML like a built-in:
//!
//! ```
//! use fedmoa::agg::FedAvgConfig;
//! use fedmoa::core::{Aggregator, PluginConfig};
//! use fedmoa::plugins::Plugins;
//!
//! let mut plugins = Plugins::with_builtins();
//! plugins.aggregators.register("plain_mean", |table: &PluginConfig| {
//!     let config: FedAvgConfig = table.parse()?;
//!     Ok(Box::new(config.build()?) as Box<dyn Aggregator>)
//! })?;
//! assert!(plugins.aggregators.contains("plain_mean"));
//! # Ok::<(), fedmoa::core::ConfigError>(())
//! ```

use fedmoa_agg::AggregatorRegistry;
use fedmoa_core::weighting::WeighterRegistry;
use fedmoa_rewards::{ClientSpec, RewardRegistry};

use crate::experiment::{ArmConfig, ExperimentConfig, ExperimentError, resolve_arms};

/// The reward, aggregator and weighter registries of an experiment.
#[derive(Clone, Debug)]
pub struct Plugins {
    /// Reward plugins, named by a client's `rewards = [{ type = … }]`.
    pub rewards: RewardRegistry,
    /// Server rules, named by an arm's `aggregator = { type = … }`.
    pub aggregators: AggregatorRegistry,
    /// Objective weighters, named by an arm's `weighter = { type = … }`.
    pub weighters: WeighterRegistry,
}

impl Default for Plugins {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl Plugins {
    /// Every built-in reward, aggregator and weighter.
    pub fn with_builtins() -> Self {
        Self {
            rewards: RewardRegistry::with_builtins(),
            aggregators: AggregatorRegistry::with_builtins(),
            weighters: WeighterRegistry::with_builtins(),
        }
    }

    /// The arms of `experiment`, each checked by building its aggregator and its weighter
    /// for every client in `clients` from these registries ([`resolve_arms`]), so that an
    /// unknown name fails before a model is loaded or warm-started.
    ///
    /// # Errors
    /// [`ExperimentError::Config`] naming the field, e.g. `experiment.arms[1].aggregator.type`.
    pub fn check_arms(
        &self,
        experiment: &ExperimentConfig,
        clients: &[ClientSpec],
    ) -> Result<Vec<ArmConfig>, ExperimentError> {
        resolve_arms(experiment, clients, &self.aggregators, &self.weighters)
            .map_err(|e| e.within("experiment"))
    }
}
