//! [`GrpoConfig`]: every knob of a local GRPO run, with TRL's field names where TRL has one.

use fedmoa_core::{ConfigError, require_in_range, require_positive};
use serde::{Deserialize, Serialize};

/// How per-token losses are reduced to one scalar (TRL's `loss_type`).
///
/// All four agree when every completion has the same length and the batch is not split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Mean over each sequence's tokens, then mean over sequences (original GRPO; biased
    /// towards short completions, since each sequence weighs the same whatever its length).
    Grpo,
    /// Sum over the tokens of the (micro-)batch divided by its number of completion tokens.
    Bnpo,
    /// Sum divided by the number of completion tokens of the whole generation batch, so that
    /// micro-batch losses add up to the full-batch loss (DAPO's token-level loss).
    #[default]
    Dapo,
    /// Sum divided by `sequences × max_completion_length` (Dr. GRPO: no length normalisation).
    DrGrpo,
}

/// Which standard deviation divides the centred rewards (TRL's `scale_rewards`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    /// The standard deviation within the prompt's group (original GRPO).
    #[default]
    Group,
    /// The standard deviation over the whole batch (centring stays per group).
    Batch,
    /// No division at all (Dr. GRPO).
    #[serde(rename = "none")]
    Unscaled,
}

/// How several objectives become one advantage per completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvantageMode {
    /// Weighted sum of the rewards, then one group normalisation (TRL's default).
    SumThenNormalize,
    /// Normalise each objective within its group, then take the weighted sum (GDPO). The
    /// FedMOA default: it gives one clean advantage, hence one gradient, per objective.
    #[default]
    Decoupled,
}

/// Shape of the learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedulerType {
    /// Constant after warm-up. The default here, unlike TRL's linear decay: a federated client
    /// trains a few steps per round for an unknown number of rounds, so there is no horizon to
    /// decay towards unless `max_steps` is given.
    #[default]
    Constant,
    /// Linear decay to zero at `max_steps` (TRL's and transformers' default).
    Linear,
    /// Half-cosine decay to zero at `max_steps`.
    Cosine,
}

/// Configuration of local GRPO training on one client.
///
/// Field names follow TRL's `GRPOConfig` where TRL has the concept. Every field has a default,
/// so a TOML table may name only what it changes; unknown fields are rejected. Call
/// [`GrpoConfig::validate`] before use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpoConfig {
    /// Completions sampled per prompt, G (default 8; at least 2, or no group statistics).
    pub num_generations: usize,
    /// Prompts per optimisation step; the generation batch holds `prompts_per_step × G`
    /// completions (default 4).
    pub prompts_per_step: usize,
    /// Sampling temperature (default 1.0; > 0).
    pub temperature: f64,
    /// Nucleus-sampling mass (default 1.0 = off; in (0, 1]).
    pub top_p: f64,
    /// Keep only the k most likely tokens when sampling (default `None` = off; ≥ 1 when set).
    pub top_k: Option<usize>,
    /// Longest completion in tokens (default 256); also the divisor of `dr_grpo`.
    pub max_completion_length: usize,
    /// Peak learning rate of AdamW (default 1e-6, TRL's).
    pub learning_rate: f64,
    /// Weight of the k3 KL penalty to the reference policy (default 0.04; 0 keeps no
    /// reference model).
    pub beta: f64,
    /// Lower clipping range ε_low: ratios below `1 − epsilon` stop pushing down (default 0.2).
    pub epsilon: f64,
    /// Upper clipping range ε_high (default `None` = `epsilon`; DAPO uses 0.28).
    pub epsilon_high: Option<f64>,
    /// Optimisation passes over each generation batch, μ (default 1).
    pub num_iterations: usize,
    /// Token reduction of the loss (default `dapo`, as in current TRL).
    pub loss_type: LossType,
    /// Standard deviation used to scale advantages (default `group`).
    pub scale_rewards: ScaleRewards,
    /// Multi-objective advantage mode (default `decoupled`).
    pub advantage_mode: AdvantageMode,
    /// In `decoupled` mode, re-normalise the weighted sum of advantages over the batch
    /// (default true, as GDPO does). Ignored in `sum_then_normalize` mode.
    pub normalize_after_sum: bool,
    /// Leave completions cut at `max_completion_length` (no EOS) out of the loss (default false).
    pub mask_truncated_completions: bool,
    /// Global L2 norm the gradient is clipped to (default `Some(1.0)`; `None` = no clipping).
    pub max_grad_norm: Option<f64>,
    /// Steps of linear learning-rate warm-up (default 0).
    pub warmup_steps: u64,
    /// Schedule after warm-up (default `constant`).
    pub lr_scheduler_type: LrSchedulerType,
    /// Step at which `linear` and `cosine` reach zero (required by them, ignored otherwise).
    pub max_steps: Option<u64>,
    /// Decoupled weight decay of AdamW (default 0.0, as transformers).
    pub weight_decay: f64,
    /// AdamW β1 (default 0.9).
    pub adam_beta1: f64,
    /// AdamW β2 (default 0.999).
    pub adam_beta2: f64,
    /// AdamW ε (default 1e-8, as PyTorch; Burn's own default is 1e-5).
    pub adam_epsilon: f64,
    /// DAPO-style dynamic sampling: how many times, per step, the groups whose primary
    /// reward has no variance (no primary gradient) are replaced by groups of fresh prompts
    /// before the update (default 0: off). Only the replaced groups are sampled again;
    /// groups still without variance after the last round are kept, so every step trains on
    /// `prompts_per_step` groups. The step metrics log the fraction before replacement
    /// (`frac_reward_zero_std`) and the number replaced (`resampled_groups`); the other
    /// reward statistics describe the batch trained on, which the replacement selects (a
    /// sparse reward's `reward_mean` is then biased upwards: judge learning on held-out
    /// evaluation).
    pub dynamic_sampling_rounds: u32,
    /// Seed of the client's sampling RNG (default 42).
    pub seed: u64,
}

impl Default for GrpoConfig {
    fn default() -> Self {
        Self {
            num_generations: 8,
            prompts_per_step: 4,
            temperature: 1.0,
            top_p: 1.0,
            top_k: None,
            max_completion_length: 256,
            learning_rate: 1e-6,
            beta: 0.04,
            epsilon: 0.2,
            epsilon_high: None,
            num_iterations: 1,
            loss_type: LossType::default(),
            scale_rewards: ScaleRewards::default(),
            advantage_mode: AdvantageMode::default(),
            normalize_after_sum: true,
            mask_truncated_completions: false,
            max_grad_norm: Some(1.0),
            warmup_steps: 0,
            lr_scheduler_type: LrSchedulerType::default(),
            max_steps: None,
            weight_decay: 0.0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            dynamic_sampling_rounds: 0,
            seed: 42,
        }
    }
}

impl GrpoConfig {
    /// The clipping range `(ε_low, ε_high)`, with `epsilon_high` defaulting to `epsilon`.
    pub fn clip_range(&self) -> (f64, f64) {
        (self.epsilon, self.epsilon_high.unwrap_or(self.epsilon))
    }

    /// Completions per step: `prompts_per_step × num_generations`.
    pub fn completions_per_step(&self) -> usize {
        self.prompts_per_step.saturating_mul(self.num_generations)
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        require_at_least("num_generations", self.num_generations, 2)?;
        require_at_least("prompts_per_step", self.prompts_per_step, 1)?;
        require_positive("temperature", self.temperature)?;
        require_positive("top_p", self.top_p)?;
        require_in_range("top_p", self.top_p, 0.0, 1.0)?;
        if let Some(k) = self.top_k {
            require_at_least("top_k", k, 1)?;
        }
        require_at_least("max_completion_length", self.max_completion_length, 1)?;
        require_positive("learning_rate", self.learning_rate)?;
        require_in_range("beta", self.beta, 0.0, f64::MAX)?;
        require_open_unit("epsilon", self.epsilon)?;
        if let Some(eps_high) = self.epsilon_high {
            require_positive("epsilon_high", eps_high)?;
        }
        require_at_least("num_iterations", self.num_iterations, 1)?;
        if let Some(norm) = self.max_grad_norm {
            require_positive("max_grad_norm", norm)?;
        }
        match (self.lr_scheduler_type, self.max_steps) {
            (LrSchedulerType::Constant, _) => {}
            (_, None) => {
                return Err(ConfigError::new(
                    "max_steps",
                    "required by the linear and cosine learning-rate schedules",
                ));
            }
            (_, Some(max)) if max <= self.warmup_steps => {
                return Err(ConfigError::new(
                    "max_steps",
                    format!(
                        "must exceed warmup_steps = {}, got {max}",
                        self.warmup_steps
                    ),
                ));
            }
            _ => {}
        }
        require_in_range("weight_decay", self.weight_decay, 0.0, f64::MAX)?;
        require_half_open_unit("adam_beta1", self.adam_beta1)?;
        require_half_open_unit("adam_beta2", self.adam_beta2)?;
        require_positive("adam_epsilon", self.adam_epsilon)?;
        Ok(())
    }
}

fn require_at_least(field: &str, value: usize, min: usize) -> Result<(), ConfigError> {
    if value >= min {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be at least {min}, got {value}"),
        ))
    }
}

/// Strictly inside (0, 1).
fn require_open_unit(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in (0, 1), got {value}"),
        ))
    }
}

/// In [0, 1).
fn require_half_open_unit(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in [0, 1), got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(config: &GrpoConfig) -> String {
        config.validate().unwrap_err().field
    }

    #[test]
    fn defaults_are_valid_and_match_documentation() {
        let c = GrpoConfig::default();
        c.validate().unwrap();
        assert_eq!(c.num_generations, 8);
        assert_eq!(c.beta, 0.04);
        assert_eq!(c.clip_range(), (0.2, 0.2));
        assert_eq!(c.loss_type, LossType::Dapo);
        assert_eq!(c.advantage_mode, AdvantageMode::Decoupled);
        assert!(c.normalize_after_sum);
        assert_eq!(c.completions_per_step(), 32);
    }

    #[test]
    fn epsilon_high_defaults_to_epsilon_and_can_differ() {
        let c = GrpoConfig {
            epsilon: 0.1,
            epsilon_high: Some(0.28),
            ..GrpoConfig::default()
        };
        assert_eq!(c.clip_range(), (0.1, 0.28));
        let c = GrpoConfig {
            epsilon: 0.1,
            ..GrpoConfig::default()
        };
        assert_eq!(c.clip_range(), (0.1, 0.1));
    }

    #[test]
    fn each_bad_field_is_named() {
        let d = GrpoConfig::default;
        let cases: Vec<(GrpoConfig, &str)> = vec![
            (
                GrpoConfig {
                    num_generations: 1,
                    ..d()
                },
                "num_generations",
            ),
            (
                GrpoConfig {
                    prompts_per_step: 0,
                    ..d()
                },
                "prompts_per_step",
            ),
            (
                GrpoConfig {
                    temperature: 0.0,
                    ..d()
                },
                "temperature",
            ),
            (
                GrpoConfig {
                    temperature: f64::NAN,
                    ..d()
                },
                "temperature",
            ),
            (GrpoConfig { top_p: 0.0, ..d() }, "top_p"),
            (GrpoConfig { top_p: 1.01, ..d() }, "top_p"),
            (
                GrpoConfig {
                    top_k: Some(0),
                    ..d()
                },
                "top_k",
            ),
            (
                GrpoConfig {
                    max_completion_length: 0,
                    ..d()
                },
                "max_completion_length",
            ),
            (
                GrpoConfig {
                    learning_rate: -1e-5,
                    ..d()
                },
                "learning_rate",
            ),
            (GrpoConfig { beta: -0.1, ..d() }, "beta"),
            (
                GrpoConfig {
                    epsilon: 0.0,
                    ..d()
                },
                "epsilon",
            ),
            (
                GrpoConfig {
                    epsilon: 1.0,
                    ..d()
                },
                "epsilon",
            ),
            (
                GrpoConfig {
                    epsilon_high: Some(0.0),
                    ..d()
                },
                "epsilon_high",
            ),
            (
                GrpoConfig {
                    num_iterations: 0,
                    ..d()
                },
                "num_iterations",
            ),
            (
                GrpoConfig {
                    max_grad_norm: Some(0.0),
                    ..d()
                },
                "max_grad_norm",
            ),
            (
                GrpoConfig {
                    lr_scheduler_type: LrSchedulerType::Cosine,
                    ..d()
                },
                "max_steps",
            ),
            (
                GrpoConfig {
                    lr_scheduler_type: LrSchedulerType::Linear,
                    warmup_steps: 10,
                    max_steps: Some(10),
                    ..d()
                },
                "max_steps",
            ),
            (
                GrpoConfig {
                    weight_decay: -0.01,
                    ..d()
                },
                "weight_decay",
            ),
            (
                GrpoConfig {
                    adam_beta1: 1.0,
                    ..d()
                },
                "adam_beta1",
            ),
            (
                GrpoConfig {
                    adam_beta2: -0.5,
                    ..d()
                },
                "adam_beta2",
            ),
            (
                GrpoConfig {
                    adam_epsilon: 0.0,
                    ..d()
                },
                "adam_epsilon",
            ),
        ];
        for (config, field) in cases {
            assert_eq!(field_of(&config), field, "{config:?}");
        }
    }

    #[test]
    fn beta_zero_and_top_p_one_are_allowed() {
        let c = GrpoConfig {
            beta: 0.0,
            top_p: 1.0,
            top_k: Some(1),
            ..GrpoConfig::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn partial_json_uses_defaults_and_trl_names() {
        let c: GrpoConfig = serde_json::from_str(
            r#"{"num_generations": 4, "loss_type": "dr_grpo", "scale_rewards": "none",
                "advantage_mode": "sum_then_normalize", "epsilon_high": 0.28}"#,
        )
        .unwrap();
        assert_eq!(c.num_generations, 4);
        assert_eq!(c.loss_type, LossType::DrGrpo);
        assert_eq!(c.scale_rewards, ScaleRewards::Unscaled);
        assert_eq!(c.advantage_mode, AdvantageMode::SumThenNormalize);
        assert_eq!(c.clip_range(), (0.2, 0.28));
        assert_eq!(c.temperature, 1.0);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = serde_json::from_str::<GrpoConfig>(r#"{"num_generation": 4}"#).unwrap_err();
        assert!(err.to_string().contains("num_generation"), "{err}");
    }

    #[test]
    fn json_round_trip_is_exact() {
        let c = GrpoConfig {
            epsilon_high: Some(0.28),
            top_k: Some(50),
            loss_type: LossType::Bnpo,
            ..GrpoConfig::default()
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains(r#""loss_type":"bnpo""#), "{text}");
        assert!(text.contains(r#""scale_rewards":"group""#), "{text}");
        let back: GrpoConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
