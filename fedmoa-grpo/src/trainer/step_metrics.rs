//! [`StepMetrics`]: what one local GRPO step measured, typed; [`StepMetrics::to_map`] gives
//! the flat `name → value` map of the JSONL logs (TRL's names where TRL has one).

use std::collections::BTreeMap;

/// One objective's figures in a step.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveStepMetrics {
    /// The reward's id (`reward_mean/<id>`, … in the map).
    pub id: String,
    /// Mean reward over the batch.
    pub reward_mean: f64,
    /// Standard deviation of the reward over the batch.
    pub reward_std: f64,
    /// Fraction of groups whose rewards are all equal (no advantage signal).
    pub zero_std_frac: f64,
    /// Completions the reward failed to score.
    pub reward_errors: u64,
    /// The weighter's weight after the step.
    pub weight: f64,
}

/// The loss of the step's last update and its clipping and KL statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossMetrics {
    /// The GRPO loss.
    pub loss: f64,
    /// Fraction of tokens clipped either way.
    pub clip_region: f64,
    /// Fraction of low-clipped tokens.
    pub clip_low: f64,
    /// Fraction of high-clipped tokens.
    pub clip_high: f64,
    /// Mean k3 KL to the reference (`None` when β = 0).
    pub kl: Option<f64>,
}

/// What one local GRPO step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetrics {
    /// The optimizer step's index over the client's lifetime (0-based).
    pub step: u64,
    /// One entry per objective, the primary first.
    pub objectives: Vec<ObjectiveStepMetrics>,
    /// Fraction of groups whose weighted total reward has no variance.
    pub zero_std_frac: f64,
    /// The same for the primary reward as first drawn, before dynamic sampling
    /// (TRL's `frac_reward_zero_std`).
    pub frac_reward_zero_std: f64,
    /// Groups replaced by dynamic sampling.
    pub resampled_groups: usize,
    /// The last update's loss (absent when no update ran).
    pub loss: Option<LossMetrics>,
    /// Mean completion length in tokens.
    pub completion_len: f64,
    /// Fraction of completions cut at the length limit.
    pub truncated_frac: f64,
    /// Mean token entropy of the policy on the completions of the step's first training
    /// forward: all of them, or those with signal when rows without signal were skipped.
    pub entropy: f64,
    /// Learning rate of the update.
    pub lr: f64,
    /// Gradient norm of the update (before clipping).
    pub grad_norm: f64,
    /// Whether the weighter rejected the step's signals (its weights then stay).
    pub weighter_error: bool,
    /// Seconds spent sampling.
    pub sample_secs: f64,
    /// Seconds spent building the loss batch: tokens, masks and, with β > 0, the KL
    /// reference's forward.
    pub batch_secs: f64,
    /// Seconds spent on the per-objective gradients.
    pub objective_grad_secs: f64,
    /// Per-objective forward + backward passes run (with
    /// [`crate::ObjectiveGradientMode::PerRow`]: 1 for the rows' passes together, 0 when no
    /// row had signal).
    pub objective_passes: usize,
    /// Rows those passes processed, in whole batches.
    pub objective_pass_rows: f64,
    /// Rows the update's own forward and backward processed, as a fraction of the batch
    /// (0 when the update came from the per-objective gradients; below 1 when rows without
    /// signal were skipped, see `GrpoTrainerConfig::skip_rows_without_signal`).
    pub update_rows: f64,
    /// Seconds spent on the update: its own forward and backward when it needs them, then
    /// the optimizer step.
    pub update_secs: f64,
    /// Seconds of the whole step.
    pub step_secs: f64,
}

impl StepMetrics {
    /// The flat map of the JSONL logs: `reward_mean/<id>`, `loss`, `kl`, `step_secs`, ….
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for o in &self.objectives {
            let id = &o.id;
            m.insert(format!("reward_mean/{id}"), o.reward_mean);
            m.insert(format!("reward_std/{id}"), o.reward_std);
            m.insert(format!("zero_std_frac/{id}"), o.zero_std_frac);
            m.insert(format!("reward_errors/{id}"), o.reward_errors as f64);
            m.insert(format!("weight/{id}"), o.weight);
        }
        let mut put = |key: &str, value: f64| {
            m.insert(key.to_owned(), value);
        };
        put("zero_std_frac", self.zero_std_frac);
        put("frac_reward_zero_std", self.frac_reward_zero_std);
        put("resampled_groups", self.resampled_groups as f64);
        if let Some(loss) = &self.loss {
            put("loss", loss.loss);
            put("clip_region", loss.clip_region);
            put("clip_low", loss.clip_low);
            put("clip_high", loss.clip_high);
            if let Some(kl) = loss.kl {
                put("kl", kl);
            }
        }
        put("completion_len", self.completion_len);
        put("truncated_frac", self.truncated_frac);
        put("entropy", self.entropy);
        put("lr", self.lr);
        put("grad_norm", self.grad_norm);
        put("weighter_error", f64::from(u8::from(self.weighter_error)));
        put("sample_secs", self.sample_secs);
        put("batch_secs", self.batch_secs);
        put("objective_grad_secs", self.objective_grad_secs);
        put("objective_passes", self.objective_passes as f64);
        put("objective_pass_rows", self.objective_pass_rows);
        put("update_rows", self.update_rows);
        put("update_secs", self.update_secs);
        put("step_secs", self.step_secs);
        put("step", self.step as f64);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_has_the_log_names() {
        let metrics = StepMetrics {
            step: 3,
            objectives: vec![ObjectiveStepMetrics {
                id: "format".into(),
                reward_mean: 0.5,
                reward_std: 0.25,
                zero_std_frac: 0.75,
                reward_errors: 1,
                weight: 0.4,
            }],
            zero_std_frac: 0.5,
            frac_reward_zero_std: 0.625,
            resampled_groups: 2,
            loss: Some(LossMetrics {
                loss: -0.1,
                clip_region: 0.3,
                clip_low: 0.1,
                clip_high: 0.2,
                kl: None,
            }),
            completion_len: 12.0,
            truncated_frac: 0.125,
            entropy: 0.7,
            lr: 1e-4,
            grad_norm: 0.9,
            weighter_error: true,
            sample_secs: 1.5,
            batch_secs: 0.25,
            objective_grad_secs: 2.5,
            objective_passes: 2,
            objective_pass_rows: 1.25,
            update_rows: 0.5,
            update_secs: 0.75,
            step_secs: 4.5,
        };
        let m = metrics.to_map();
        assert_eq!(m["reward_mean/format"], 0.5);
        assert_eq!(m["reward_errors/format"], 1.0);
        assert_eq!(m["weight/format"], 0.4);
        assert_eq!(m["frac_reward_zero_std"], 0.625);
        assert_eq!(m["clip_high"], 0.2);
        assert!(!m.contains_key("kl"), "no KL key at β = 0");
        assert_eq!(m["weighter_error"], 1.0);
        assert_eq!(m["objective_pass_rows"], 1.25);
        assert_eq!(m["update_rows"], 0.5);
        assert_eq!((m["batch_secs"], m["update_secs"]), (0.25, 0.75));
        assert_eq!(m["step"], 3.0);
        assert_eq!(m.len(), 5 + 22);
        let without_loss = StepMetrics {
            loss: None,
            ..metrics
        };
        assert!(!without_loss.to_map().contains_key("loss"));
    }
}
