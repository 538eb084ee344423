//! [`ExperimentConfig`]: what an experiment runs and where it writes.

use std::path::PathBuf;

use fedmoa_core::ConfigError;
use fedmoa_core::federation::FederationConfig;
use fedmoa_core::weighting::HypergradientConfig;
use serde::{Deserialize, Serialize};

use super::{Arm, ArmSpec};

/// Settings of a comparison of arms over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// Run name: outputs go to `<out_dir>/<name>/`.
    pub name: String,
    /// Where runs are written.
    pub out_dir: PathBuf,
    /// The federation loop (rounds, sampling, local steps, base seed).
    pub federation: FederationConfig,
    /// Arms to compare, each with identical seeds and data: preset names (`"fedavg"`,
    /// `"fedmoa"`, the ablations of [`Arm::ALL`]) or tables naming any registered
    /// aggregator and weighter (see [`ArmSpec`]).
    pub arms: Vec<ArmSpec>,
    /// How many seeds to repeat every arm over (results as mean ± std).
    pub seeds: u32,
    /// FedMOA's accuracy temperature T.
    pub temperature: f64,
    /// FedMOA's client weighting settings (initial weights come from each client's spec).
    pub hypergradient: HypergradientConfig,
    /// Continue from the checkpoints in `<run_dir>/checkpoints/` (written after every
    /// round) instead of starting afresh: finished arm × seed runs are not run again, an
    /// interrupted one continues after its last completed round and ends with exactly the
    /// metrics and parameters of an uninterrupted run. Refused when the checkpoints were
    /// written with other settings; starts afresh when there are none.
    pub resume: bool,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            name: "experiment".into(),
            out_dir: PathBuf::from("runs"),
            federation: FederationConfig::default(),
            arms: vec![Arm::Fedavg.into(), Arm::Fedmoa.into()],
            seeds: 1,
            temperature: 0.1,
            hypergradient: HypergradientConfig::default(),
            resume: false,
        }
    }
}

impl ExperimentConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field (`federation.rounds`, `seeds`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return Err(ConfigError::new(
                "name",
                format!("must be a plain directory name, got {:?}", self.name),
            ));
        }
        self.federation
            .validate()
            .map_err(|e| e.within("federation"))?;
        if self.arms.is_empty() {
            return Err(ConfigError::new("arms", "list at least one arm"));
        }
        for (i, arm) in self.arms.iter().enumerate() {
            arm.validate()
                .map_err(|e| e.within(&format!("arms[{i}]")))?;
            if self.arms[..i].iter().any(|a| a.name() == arm.name()) {
                return Err(ConfigError::new(
                    format!("arms[{i}].name"),
                    format!("{:?} names two arms", arm.name()),
                ));
            }
        }
        if self.seeds == 0 {
            return Err(ConfigError::new("seeds", "must be at least 1"));
        }
        if self.temperature.is_nan() || self.temperature <= 0.0 {
            return Err(ConfigError::new(
                "temperature",
                format!("must be > 0 (or inf), got {}", self.temperature),
            ));
        }
        Ok(())
    }

    /// The run's output directory, `<out_dir>/<name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.out_dir.join(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_name_the_full_path() {
        let mut c = ExperimentConfig::default();
        c.federation.rounds = 0;
        assert_eq!(c.validate().unwrap_err().field, "federation.rounds");
        let c = ExperimentConfig {
            seeds: 0,
            ..ExperimentConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "seeds");
        let c = ExperimentConfig {
            name: "../x".into(),
            ..ExperimentConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "name");
        let c = ExperimentConfig {
            arms: vec![Arm::Fedavg.into(), Arm::Fedavg.into()],
            ..ExperimentConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "arms[1].name");
    }
}
