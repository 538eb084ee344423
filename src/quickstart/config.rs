//! [`QuickstartConfig`]: the scenario, the policy and the experiment of the quickstart.

use fedmoa_core::ConfigError;
use fedmoa_grpo::GrpoTrainerConfig;
use fedmoa_grpo::sft::WarmStartConfig;
use serde::{Deserialize, Serialize};

use crate::experiment::{Arm, ExperimentConfig};

/// How many prompts each client gets per split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSizes {
    /// Training prompts per client (GRPO samples from these).
    pub train: usize,
    /// Held-out prompts per client (the accuracy sent to the server).
    pub validation: usize,
    /// Test prompts per client (global accuracy; never used for tuning).
    pub test: usize,
    /// Worked solutions per client mix for the shared SFT warm start.
    pub warm_start: usize,
}

impl Default for DataSizes {
    fn default() -> Self {
        Self {
            train: 64,
            validation: 24,
            test: 32,
            warm_start: 150,
        }
    }
}

/// Everything the quickstart runs; every field has a default and can be overridden from a
/// TOML file (`cargo run --release --example quickstart -- my.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuickstartConfig {
    /// Math clients (`math-0`, …).
    pub n_math: usize,
    /// Code clients (`code-0`, …).
    pub n_code: usize,
    /// Seed of the clients' specs and data.
    pub scenario_seed: u64,
    /// Prompts per client and split.
    pub data: DataSizes,
    /// The shared TinyLm warm start (model size, tokenizer, SFT).
    pub warm_start: WarmStartConfig,
    /// Each client's GRPO trainer.
    pub trainer: GrpoTrainerConfig,
    /// Arms, seeds, rounds and output location.
    pub experiment: ExperimentConfig,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        let mut experiment = ExperimentConfig {
            name: "quickstart".into(),
            arms: vec![Arm::Fedavg, Arm::Fedmoa],
            ..ExperimentConfig::default()
        };
        experiment.federation.rounds = 4;
        experiment.federation.local_steps = Some(2);
        experiment.federation.max_parallel = 2;
        let mut trainer = GrpoTrainerConfig::default();
        trainer.grpo.num_generations = 8;
        trainer.grpo.prompts_per_step = 4;
        // Worked solutions are about 20-35 tokens; leave room for the prompt in TinyLm's
        // 256-token context.
        trainer.grpo.max_completion_length = 48;
        Self {
            n_math: 4,
            n_code: 4,
            scenario_seed: 7,
            data: DataSizes::default(),
            warm_start: WarmStartConfig::default(),
            trainer,
            experiment,
        }
    }
}

impl QuickstartConfig {
    /// The `--quick` variant of this config: a short warm start (at most 48 worked
    /// solutions per client, 2 epochs: a smoke test, not a policy that learns), fewer
    /// rounds, steps and evaluation prompts, so the default becomes a run of under 2
    /// minutes even on a fresh machine; written under `<name>-quick`.
    #[must_use]
    pub fn quick(mut self) -> Self {
        self.data.warm_start = self.data.warm_start.min(48);
        self.warm_start.sft.epochs = self.warm_start.sft.epochs.min(2);
        self.experiment.name = format!("{}-quick", self.experiment.name);
        self.experiment.federation.rounds = self.experiment.federation.rounds.min(2);
        self.experiment.federation.local_steps = Some(2);
        self.data.validation = self.data.validation.min(8);
        self.data.test = self.data.test.min(8);
        self.trainer.grpo.prompts_per_step = self.trainer.grpo.prompts_per_step.min(2);
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field (`trainer.grpo.beta`, `experiment.seeds`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.n_math + self.n_code == 0 {
            return Err(ConfigError::new(
                "n_math",
                "n_math + n_code must be at least 1",
            ));
        }
        if self.data.train == 0 || self.data.validation == 0 || self.data.test == 0 {
            return Err(ConfigError::new(
                "data",
                "every split needs at least one prompt",
            ));
        }
        self.warm_start
            .validate()
            .map_err(|e| e.within("warm_start"))?;
        self.trainer.validate().map_err(|e| e.within("trainer"))?;
        self.experiment
            .validate()
            .map_err(|e| e.within("experiment"))
    }

    /// Parses a TOML override file (missing fields keep their defaults) and validates it.
    ///
    /// # Errors
    /// [`ConfigError`] for a syntax error, an unknown field or an invalid value.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self =
            toml::from_str(text).map_err(|e| ConfigError::new("toml", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}
