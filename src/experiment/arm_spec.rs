//! [`ArmSpec`]: an arm of an experiment as data, either a built-in preset by name
//! (`"fedmoa"`) or an [`ArmConfig`] table naming any registered aggregator and weighter:
//!
//! ```toml
//! [experiment]
//! arms = [
//!   "fedavg",
//!   { name = "median_fixed", aggregator = { type = "coordinate_median" }, weighter = { type = "fixed" } },
//! ]
//! ```

use fedmoa_core::weighting::HypergradientConfig;
use fedmoa_core::{ConfigError, PluginConfig};
use serde::{Deserialize, Serialize};

use super::Arm;

/// One arm as data: its name (in tables, files and flags), the server's aggregator and the
/// clients' objective weighter, each a plugin table resolved by its registry. A weighter
/// table that leaves out its starting weights starts from each client's configured ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmConfig {
    /// Letters, digits, `_` and `-` (it names files).
    pub name: String,
    /// The server rule, e.g. `{ type = "task_accuracy", temperature = 0.1 }`.
    pub aggregator: PluginConfig,
    /// The client weighting rule, e.g. `{ type = "hypergradient", beta_w = 0.5 }`.
    pub weighter: PluginConfig,
}

impl ArmConfig {
    /// An arm named `name` with the given aggregator and weighter tables.
    pub fn new(name: &str, aggregator: PluginConfig, weighter: PluginConfig) -> Self {
        Self {
            name: name.to_string(),
            aggregator,
            weighter,
        }
    }
}

/// An arm in an experiment config: a preset's name or a full [`ArmConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArmSpec {
    /// A built-in arm; its aggregator and weighter take the experiment's `temperature`
    /// and `hypergradient` settings.
    Preset(Arm),
    /// An arm given as data.
    Custom(ArmConfig),
}

impl From<Arm> for ArmSpec {
    fn from(arm: Arm) -> Self {
        ArmSpec::Preset(arm)
    }
}

impl From<ArmConfig> for ArmSpec {
    fn from(arm: ArmConfig) -> Self {
        ArmSpec::Custom(arm)
    }
}

impl ArmSpec {
    /// The arm's name.
    pub fn name(&self) -> &str {
        match self {
            ArmSpec::Preset(arm) => arm.name(),
            ArmSpec::Custom(arm) => &arm.name,
        }
    }

    /// The arm as data, a preset taking the experiment's FedMOA `temperature` and
    /// `hypergradient` settings.
    ///
    /// # Errors
    /// [`ConfigError`] when a preset's settings cannot be written as a table.
    pub fn resolve(
        &self,
        temperature: f64,
        hypergradient: &HypergradientConfig,
    ) -> Result<ArmConfig, ConfigError> {
        match self {
            ArmSpec::Preset(arm) => arm.config(temperature, hypergradient),
            ArmSpec::Custom(arm) => Ok(arm.clone()),
        }
    }

    /// Checks the name.
    ///
    /// # Errors
    /// [`ConfigError`] on `name` when it is empty or holds other characters than letters,
    /// digits, `_` and `-`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = self.name();
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || !name.chars().all(plain) {
            return Err(ConfigError::new(
                "name",
                format!("must be letters, digits, `_` or `-`, got {name:?}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Experiment {
        arms: Vec<ArmSpec>,
    }

    #[test]
    fn arms_are_preset_names_or_tables() {
        let text = r#"arms = [
            "fedavg",
            { name = "median", aggregator = { type = "coordinate_median" }, weighter = { type = "fixed" } },
        ]"#;
        let parsed: Experiment = toml::from_str(text).unwrap();
        assert_eq!(parsed.arms[0], ArmSpec::Preset(Arm::Fedavg));
        assert_eq!(parsed.arms[1].name(), "median");
        let ArmSpec::Custom(c) = &parsed.arms[1] else {
            panic!("expected a table arm");
        };
        assert_eq!(c.aggregator.type_name(), "coordinate_median");
        assert!(toml::from_str::<Experiment>("arms = [\"fedsgd\"]").is_err());
        assert!(toml::from_str::<Experiment>("arms = [{ name = \"x\" }]").is_err());
    }

    #[test]
    fn presets_resolve_with_the_experiments_settings() {
        let hyper = HypergradientConfig::default();
        let c = ArmSpec::from(Arm::FedmoaNoAccuracy)
            .resolve(0.1, &hyper)
            .unwrap();
        assert_eq!(c.name, "fedmoa_no_accuracy");
        assert_eq!(c.aggregator.type_name(), "task_accuracy");
        let aggregator: fedmoa_agg::AggregatorConfig = c.aggregator.parse_tagged().unwrap();
        assert_eq!(aggregator, Arm::FedmoaNoAccuracy.aggregator(0.1));
        assert_eq!(c.weighter.type_name(), "hypergradient");
        assert!(!c.weighter.has("initial_weights"));
        let json = serde_json::to_string(&ArmSpec::from(c.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<ArmSpec>(&json).unwrap(),
            ArmSpec::Custom(c)
        );
    }

    #[test]
    fn names_must_be_plain() {
        let bad = ArmConfig::new(
            "a/b",
            PluginConfig::named("fedavg"),
            PluginConfig::named("fixed"),
        );
        assert_eq!(ArmSpec::from(bad).validate().unwrap_err().field, "name");
    }
}
