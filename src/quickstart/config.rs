//! [`QuickstartConfig`]: the scenario, the policy and the experiment of the quickstart.

use fedmoa_core::ConfigError;
use fedmoa_grpo::GrpoTrainerConfig;
use fedmoa_grpo::sft::WarmStartConfig;
use fedmoa_rewards::math::MathFamily;
use fedmoa_rewards::{Scenario, ScenarioDifficulty, TeacherConfig};
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
            warm_start: 300,
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
    /// How hard the clients' generated tasks are (`[difficulty]`).
    pub difficulty: ScenarioDifficulty,
    /// Prompts per client and split.
    pub data: DataSizes,
    /// Label noise of client i (math clients first, then code), see
    /// `fedmoa_rewards::ClientSpec::label_noise`; clients past the end of the list have
    /// clean labels.
    pub client_label_noise: Vec<f32>,
    /// The shared TinyLm warm start (model size, tokenizer, SFT).
    pub warm_start: WarmStartConfig,
    /// Who writes the warm start's worked solutions (`[teacher]`; default: a perfect
    /// teacher, the solutions as generated). See `fedmoa_rewards::TeacherConfig`.
    pub teacher: TeacherConfig,
    /// Each client's GRPO trainer.
    pub trainer: GrpoTrainerConfig,
    /// Arms, seeds, rounds and output location.
    pub experiment: ExperimentConfig,
}

impl Default for QuickstartConfig {
    /// The fallible-teacher scenario (`docs/REWARDS.md`, "The quickstart scenario"): six
    /// math clients on one-digit add/sub and mul/div word problems, warm-started on a
    /// teacher that works 65 % of its multiplications and divisions with the wrong
    /// operation and writes `<answer>` tags on half of its solutions; client `math-5`
    /// has half of its labels wrong.
    fn default() -> Self {
        let mut experiment = ExperimentConfig {
            name: "quickstart".into(),
            arms: vec![Arm::Fedavg.into(), Arm::Fedmoa.into()],
            ..ExperimentConfig::default()
        };
        experiment.federation.rounds = 12;
        experiment.federation.local_steps = Some(10);
        experiment.federation.max_parallel = 2;
        let mut warm_start = WarmStartConfig::default();
        // 500 solutions per client × 8 epochs: 744 SFT steps, long enough for TinyLm to copy
        // the operands reliably; about 3.5 minutes on 2 cores, cached afterwards.
        warm_start.sft.epochs = 8;
        let mut trainer = GrpoTrainerConfig::default();
        trainer.grpo.num_generations = 8;
        trainer.grpo.prompts_per_step = 8;
        // Worked solutions are about 20-35 tokens; leave room for the prompt in TinyLm's
        // 256-token context.
        trainer.grpo.max_completion_length = 48;
        // TRL's defaults (lr 1e-6, T = 1) are tuned for billion-parameter models; TinyLm
        // learns at 2e-4 and samples best at 0.7 (see `grpo_single_client`).
        trainer.grpo.learning_rate = 2e-4;
        trainer.grpo.temperature = 0.7;
        // No KL term (TRL's default, β = 0.0): no reference forward, and
        // the update skips the groups without variance (`skip_rows_without_signal`).
        trainer.grpo.beta = 0.0;
        let difficulty = ScenarioDifficulty {
            math_families: vec![MathFamily::AddSub, MathFamily::MulDiv],
            ..ScenarioDifficulty::default()
        };
        let teacher = TeacherConfig {
            operator_confusion: 0.65,
            answer_tag_rate: 0.5,
            ..TeacherConfig::default()
        };
        Self {
            n_math: 6,
            n_code: 0,
            scenario_seed: 7,
            difficulty,
            data: DataSizes {
                warm_start: 500,
                ..DataSizes::default()
            },
            client_label_noise: vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.5],
            warm_start,
            teacher,
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

    /// The scenario: [`Scenario::heterogeneous_with`] over this config's sizes, seed and
    /// difficulty, with `client_label_noise` applied.
    pub fn scenario(&self) -> Scenario {
        let mut scenario = Scenario::heterogeneous_with(
            self.n_math,
            self.n_code,
            self.scenario_seed,
            &self.difficulty,
        );
        for (client, noise) in scenario.clients.iter_mut().zip(&self.client_label_noise) {
            client.label_noise = *noise;
        }
        scenario
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
        self.difficulty
            .validate()
            .map_err(|e| e.within("difficulty"))?;
        for (i, noise) in self.client_label_noise.iter().enumerate() {
            fedmoa_core::require_in_range(
                &format!("client_label_noise[{i}]"),
                f64::from(*noise),
                0.0,
                1.0,
            )?;
        }
        self.warm_start
            .validate()
            .map_err(|e| e.within("warm_start"))?;
        self.teacher.validate().map_err(|e| e.within("teacher"))?;
        self.trainer.validate().map_err(|e| e.within("trainer"))?;
        self.experiment
            .validate()
            .map_err(|e| e.within("experiment"))
    }

    /// Parses a TOML override file and validates it. The file is laid over the defaults
    /// key by key, so `[experiment]` with only `name = "x"` keeps the quickstart's rounds
    /// and local steps.
    ///
    /// # Errors
    /// [`ConfigError`] for a syntax error, an unknown field or an invalid value.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config = crate::toml_overlay::overlay(&Self::default(), text)?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_keep_the_other_defaults() {
        let config = QuickstartConfig::from_toml_str(
            "[experiment]\nname = \"x\"\n[difficulty]\ncode_difficulties = [1, 2]\n",
        )
        .unwrap();
        let default = QuickstartConfig::default();
        assert_eq!(config.experiment.name, "x");
        assert_eq!(config.experiment.federation.rounds, 12);
        assert_eq!(config.experiment.federation.local_steps, Some(10));
        assert_eq!(config.difficulty.code_difficulties, [1, 2]);
        assert_eq!(
            config.difficulty.math_digits,
            default.difficulty.math_digits
        );
        assert_eq!(config.trainer, default.trainer);
    }

    #[test]
    fn toml_errors_name_the_field() {
        let err = QuickstartConfig::from_toml_str("[data]\ntrian = 3\n").unwrap_err();
        assert!(err.to_string().contains("trian"), "{err}");
        let err =
            QuickstartConfig::from_toml_str("[difficulty]\nmath_max_steps = 9\n").unwrap_err();
        assert_eq!(err.field, "difficulty.math_max_steps");
        let err =
            QuickstartConfig::from_toml_str("[teacher]\nanswer_tag_rate = 2.0\n").unwrap_err();
        assert_eq!(err.field, "teacher.answer_tag_rate");
        let err = QuickstartConfig::from_toml_str("n_math = [").unwrap_err();
        assert_eq!(err.field, "toml");
    }
}
