//! The arms of the FedMOA-vs-FedAvg comparison and its ablations.

use fedmoa_agg::{AggregatorConfig, FedAvgConfig, TaskAccuracyConfig, Temperature};
use fedmoa_core::weighting::{FixedConfig, HypergradientConfig};
use fedmoa_core::{ConfigError, PluginConfig, WeighterConfig};
use serde::{Deserialize, Serialize};

use super::ArmConfig;

/// A built-in arm: one way of running the federation (a server rule and a client
/// weighting rule). [`super::ArmSpec`] also takes arms given as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Baseline: FedAvg on the server, fixed objective weights on the clients.
    Fedavg,
    /// FedMOA: task- and accuracy-aware aggregation + hypergradient weighting.
    Fedmoa,
    /// Ablation: FedMOA's server rule with fixed client weights.
    FedmoaNoHypergradient,
    /// Ablation: hypergradient weighting with accuracies ignored (T = ∞, per-task FedAvg).
    FedmoaNoAccuracy,
    /// Ablation: accuracy-aware softmax over all clients at once, ignoring task tags.
    FedmoaNoTask,
}

impl Arm {
    /// Every arm, baseline first.
    pub const ALL: [Arm; 5] = [
        Arm::Fedavg,
        Arm::Fedmoa,
        Arm::FedmoaNoHypergradient,
        Arm::FedmoaNoAccuracy,
        Arm::FedmoaNoTask,
    ];

    /// The arm's name in tables, files and flags (`fedavg`, `fedmoa`, `fedmoa_no_task`, …).
    pub fn name(self) -> &'static str {
        match self {
            Arm::Fedavg => "fedavg",
            Arm::Fedmoa => "fedmoa",
            Arm::FedmoaNoHypergradient => "fedmoa_no_hypergradient",
            Arm::FedmoaNoAccuracy => "fedmoa_no_accuracy",
            Arm::FedmoaNoTask => "fedmoa_no_task",
        }
    }

    /// Parses [`Arm::name`].
    ///
    /// # Errors
    /// [`ConfigError`] on `arms` listing the valid names.
    pub fn parse(name: &str) -> Result<Arm, ConfigError> {
        Arm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let valid: Vec<_> = Arm::ALL.iter().map(|a| a.name()).collect();
                ConfigError::new("arms", format!("unknown arm {name:?}; valid: {valid:?}"))
            })
    }

    /// The server rule, with FedMOA's temperature `temperature` where it applies.
    pub fn aggregator(self, temperature: f64) -> AggregatorConfig {
        let task_accuracy = |temperature: f64, task_aware: bool| {
            AggregatorConfig::TaskAccuracy(TaskAccuracyConfig {
                temperature: Temperature::new(temperature),
                task_aware,
                ..TaskAccuracyConfig::default()
            })
        };
        match self {
            Arm::Fedavg => AggregatorConfig::FedAvg(FedAvgConfig::default()),
            Arm::Fedmoa | Arm::FedmoaNoHypergradient => task_accuracy(temperature, true),
            Arm::FedmoaNoAccuracy => task_accuracy(f64::INFINITY, true),
            Arm::FedmoaNoTask => task_accuracy(temperature, false),
        }
    }

    /// The client weighting rule; its starting weights are left out, so each client
    /// starts from its configured ones.
    pub fn weighter(self, hypergradient: &HypergradientConfig) -> WeighterConfig {
        match self {
            Arm::Fedavg | Arm::FedmoaNoHypergradient => {
                WeighterConfig::Fixed(FixedConfig { weights: None })
            }
            Arm::Fedmoa | Arm::FedmoaNoAccuracy | Arm::FedmoaNoTask => {
                WeighterConfig::Hypergradient(HypergradientConfig {
                    initial_weights: None,
                    ..hypergradient.clone()
                })
            }
        }
    }

    /// The arm as data, with FedMOA's `temperature` and `hypergradient` settings.
    ///
    /// # Errors
    /// [`ConfigError`] when the settings cannot be written as a table.
    pub fn config(
        self,
        temperature: f64,
        hypergradient: &HypergradientConfig,
    ) -> Result<ArmConfig, ConfigError> {
        Ok(ArmConfig::new(
            self.name(),
            PluginConfig::from_tagged(&self.aggregator(temperature))?,
            PluginConfig::from_tagged(&self.weighter(hypergradient))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for arm in Arm::ALL {
            assert_eq!(Arm::parse(arm.name()).unwrap(), arm);
        }
        assert_eq!(Arm::parse("fedsgd").unwrap_err().field, "arms");
    }

    #[test]
    fn baseline_uses_fedavg_and_fixed_weights() {
        assert!(matches!(
            Arm::Fedavg.aggregator(0.1),
            AggregatorConfig::FedAvg(_)
        ));
        let w = Arm::Fedavg.weighter(&HypergradientConfig::default());
        assert!(matches!(
            w,
            WeighterConfig::Fixed(FixedConfig { weights: None })
        ));
        let hyper = HypergradientConfig {
            initial_weights: Some(vec![0.5, 0.5]),
            ..HypergradientConfig::default()
        };
        let w = Arm::Fedmoa.weighter(&hyper);
        assert!(matches!(w, WeighterConfig::Hypergradient(ref h) if h.initial_weights.is_none()));
    }
}
