//! [`GrpoTrainerConfig`]: the GRPO settings plus the trainer's own.

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use crate::DeviceChoice;
use crate::grpo::GrpoConfig;
use crate::sampling::SamplingConfig;

use super::objective_gradient_mode::ObjectiveGradientMode;

/// Configuration of a [`super::GrpoTrainer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpoTrainerConfig {
    /// GRPO settings (TRL names: `num_generations`, `beta`, `epsilon`, …).
    pub grpo: GrpoConfig,
    /// Local steps per round when the round plan does not say (default 8).
    pub local_steps: u32,
    /// Prompts decoded together during evaluation (default 64).
    pub eval_batch_size: usize,
    /// Evaluate on at most this many prompts of a split (default: all).
    pub max_eval_prompts: Option<usize>,
    /// Compute backend (default Flex; `BURN_DEVICE` overrides it when set).
    pub device: DeviceChoice,
    /// With β > 0 and a weighter that asks for per-objective gradients, fold the KL term
    /// into the primary objective's gradient, `g_0 = ∇(L_0 + (β / w_0) · KL)`, so that
    /// `Σ_k w_k g_k` is the update's gradient and the step saves the forward and backward of
    /// a separate update pass (default false). The weighter then sees the KL-regularised
    /// primary loss: on a step where the primary reward has no variance, `g_0` is the KL's
    /// pull alone, and the cosine-normalised hypergradient treats it as full-size primary
    /// signal. The default keeps the paper's `g_0 = ∇L_0`. Only with
    /// [`ObjectiveGradientMode::PerObjective`] (validation rejects it with `PerRow`).
    pub kl_in_primary_gradient: bool,
    /// How the per-objective gradients a weighter asks for are computed (default
    /// [`ObjectiveGradientMode::PerObjective`]).
    pub objective_gradients: ObjectiveGradientMode,
    /// Run each forward and backward pass over the completions that carry signal only
    /// (default true). With one inner iteration, a completion whose advantage is zero adds
    /// nothing to a loss without KL, nor to its gradient, so the update (at β = 0) and the
    /// per-objective gradients skip groups without variance, with the whole batch's
    /// normalisers: the same gradient for less work. Not for `bnpo`, which normalises by
    /// the pass's own token count. `false` runs every row (to compare, or to measure).
    pub skip_rows_without_signal: bool,
    /// Sample and evaluate with the policy's decode-specialised copy
    /// ([`crate::Policy::decode_model`]) when its architecture has one (default true; Llama
    /// has one). It computes the same model up to float rounding; SmolLM2-135M decodes 8
    /// rows 1.6× as fast with it on a 2-core CPU. `false` decodes through the policy's own forward, as every run did
    /// before the option was added (2026-12-06); rounding differences flip a sampled token
    /// now and then, so a run reproduces an older one exactly only with the same setting.
    pub use_decode_model: bool,
    /// Run each prompt once for the completions of its group in the training, reference
    /// and per-objective forwards (default true): the prompt's keys and values are computed
    /// for one row and gathered to the G rows that continue it
    /// ([`crate::batch::SequenceBatch::shared_prompt_logits`]). The same logits and
    /// gradients up to float rounding, for about `P + G·C` tokens instead of `G·(P + C)`.
    /// `false` runs every row whole, as every run did before the option was added
    /// (2026-12-06); set it to reproduce such a run exactly.
    pub share_prompt_forward: bool,
    /// Rows (completions) per forward + backward pass (default: all rows in one pass). The
    /// gradients of the micro-batches are summed, each normalised by the whole batch's
    /// sizes, so the update is the same up to float rounding (`bnpo` normalises each
    /// micro-batch by its own tokens, as TRL's gradient accumulation does). A pass keeps
    /// one micro-batch's activations for its backward, so the step's peak memory drops,
    /// for more, smaller matmuls (TRL's `per_device_train_batch_size` with
    /// `gradient_accumulation_steps`). Each prompt's rows stay together, longest completion
    /// first, and a micro-batch drops the padding columns past its own longest completion;
    /// the KL reference's forward runs in the same micro-batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub micro_batch_rows: Option<usize>,
}

impl Default for GrpoTrainerConfig {
    fn default() -> Self {
        Self {
            grpo: GrpoConfig::default(),
            local_steps: 8,
            eval_batch_size: 64,
            max_eval_prompts: None,
            device: DeviceChoice::Flex,
            kl_in_primary_gradient: false,
            objective_gradients: ObjectiveGradientMode::PerObjective,
            skip_rows_without_signal: true,
            use_decode_model: true,
            share_prompt_forward: true,
            micro_batch_rows: None,
        }
    }
}

impl GrpoTrainerConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] with the field path (`grpo.beta`, `local_steps`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.grpo.validate().map_err(|e| e.within("grpo"))?;
        if self.local_steps == 0 {
            return Err(ConfigError::new("local_steps", "must be > 0"));
        }
        if self.eval_batch_size == 0 {
            return Err(ConfigError::new("eval_batch_size", "must be > 0"));
        }
        if self.max_eval_prompts == Some(0) {
            return Err(ConfigError::new("max_eval_prompts", "must be > 0 when set"));
        }
        if self.micro_batch_rows == Some(0) {
            return Err(ConfigError::new("micro_batch_rows", "must be > 0 when set"));
        }
        if self.kl_in_primary_gradient && self.objective_gradients == ObjectiveGradientMode::PerRow
        {
            return Err(ConfigError::new(
                "kl_in_primary_gradient",
                "folds the KL term into the primary objective's pass, which objective_gradients \
                 = \"per_row\" does not run; set one of them",
            ));
        }
        Ok(())
    }

    /// The sampling settings of a GRPO step.
    pub fn sampling(&self) -> SamplingConfig {
        SamplingConfig {
            temperature: self.grpo.temperature as f32,
            top_p: self.grpo.top_p as f32,
            top_k: self.grpo.top_k.unwrap_or(0),
            max_new_tokens: self.grpo.max_completion_length,
            num_generations: self.grpo.num_generations,
        }
    }

    /// Greedy decoding for evaluation.
    pub fn eval_sampling(&self) -> SamplingConfig {
        SamplingConfig::greedy(self.grpo.max_completion_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_name_the_path() {
        let mut c = GrpoTrainerConfig::default();
        c.grpo.num_generations = 1;
        assert_eq!(c.validate().unwrap_err().field, "grpo.num_generations");
        let c = GrpoTrainerConfig {
            local_steps: 0,
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "local_steps");
        let c = GrpoTrainerConfig {
            micro_batch_rows: Some(0),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "micro_batch_rows");
        let c = GrpoTrainerConfig {
            kl_in_primary_gradient: true,
            objective_gradients: ObjectiveGradientMode::PerRow,
            ..Default::default()
        };
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "kl_in_primary_gradient");
        assert!(err.to_string().contains("per_row"), "{err}");
    }

    #[test]
    fn toml_style_json_with_unknown_field_is_rejected() {
        let err = serde_json::from_str::<GrpoTrainerConfig>(r#"{"local_step": 3}"#).unwrap_err();
        assert!(err.to_string().contains("local_step"), "{err}");
        let ok: GrpoTrainerConfig =
            serde_json::from_str(r#"{"local_steps": 3, "grpo": {"beta": 0.0}}"#).unwrap();
        assert_eq!(ok.local_steps, 3);
        assert_eq!(ok.grpo.beta, 0.0);
        assert_eq!(ok.micro_batch_rows, None);
        let split: GrpoTrainerConfig = serde_json::from_str(r#"{"micro_batch_rows": 2}"#).unwrap();
        assert_eq!(split.micro_batch_rows, Some(2));
        assert_eq!(ok.objective_gradients, ObjectiveGradientMode::PerObjective);
        let rows: GrpoTrainerConfig =
            serde_json::from_str(r#"{"objective_gradients": "per_row"}"#).unwrap();
        assert_eq!(rows.objective_gradients, ObjectiveGradientMode::PerRow);
        let err = serde_json::from_str::<GrpoTrainerConfig>(r#"{"objective_gradients": "rows"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("per_row"), "{err}");
    }
}
