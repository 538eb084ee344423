//! The GRPO policy loss: clipped importance-weighted surrogate plus a k3 KL penalty.
//!
//! Per completion token t of sequence i, with ρ = exp(log π_θ − log π_old):
//!
//! ```text
//! ℓ_{i,t} = −min(ρ·A_i, clip(ρ, 1 − ε_low, 1 + ε_high)·A_i) + β·k3,
//! k3      = exp(log π_ref − log π_θ) − (log π_ref − log π_θ) − 1   (≥ 0; only when β > 0)
//! ```
//!
//! then reduced over the completion mask by [`LossType`]. Where ρ·A and clip(ρ)·A tie (for
//! instance ρ = 1 when μ = 1), the unclipped branch carries the gradient, which is then
//! −A·∇ρ. When a batch is split into micro-batches, pass [`BatchTotals`] so that the
//! micro-batch losses add up to the full-batch loss (`grpo`, `dapo`, `dr_grpo`); `bnpo`
//! always normalises by the micro-batch's own token count, as in TRL.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::{GrpoConfig, LossType};
use super::error::GrpoInputError;

/// The parts of a [`GrpoConfig`] the loss needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossSettings {
    /// Token reduction.
    pub loss_type: LossType,
    /// ε_low: ratios below `1 − epsilon_low` are clipped (when A < 0).
    pub epsilon_low: f64,
    /// ε_high: ratios above `1 + epsilon_high` are clipped (when A > 0).
    pub epsilon_high: f64,
    /// KL weight β (0: no KL term, no reference log-probs needed).
    pub beta: f64,
    /// Divisor of `dr_grpo` per sequence.
    pub max_completion_length: usize,
}

impl From<&GrpoConfig> for LossSettings {
    fn from(config: &GrpoConfig) -> Self {
        let (epsilon_low, epsilon_high) = config.clip_range();
        Self {
            loss_type: config.loss_type,
            epsilon_low,
            epsilon_high,
            beta: config.beta,
            max_completion_length: config.max_completion_length,
        }
    }
}

impl LossSettings {
    /// The same settings without the KL term: for the per-objective policy gradients g_k.
    #[must_use]
    pub fn without_kl(self) -> Self {
        Self { beta: 0.0, ..self }
    }
}

/// Sizes of the whole generation batch when the loss is computed one micro-batch at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchTotals {
    /// Sequences in the whole batch (divisor of `grpo`; `dr_grpo` uses it × max length).
    pub sequences: usize,
    /// Completion tokens (mask sum) in the whole batch: TRL's `num_items_in_batch` (`dapo`).
    pub tokens: f64,
}

/// One (micro-)batch of inputs to [`grpo_loss`].
///
/// # Shapes
/// `logprobs`, `old_logprobs`, `ref_logprobs`, `mask`: `[B, T]`; `advantages`: `[B]`.
#[derive(Debug, Clone)]
pub struct LossInputs {
    /// log π_θ of each sampled token; tracked (gradients flow through it).
    pub logprobs: Tensor<2>,
    /// log π_old, detached (for μ = 1: `logprobs.clone().detach()`).
    pub old_logprobs: Tensor<2>,
    /// log π_ref, detached; required when β > 0, ignored otherwise.
    pub ref_logprobs: Option<Tensor<2>>,
    /// 1.0 on completion tokens up to and including EOS, 0.0 on prompt and padding.
    pub mask: Tensor<2>,
    /// One advantage per sequence.
    pub advantages: Tensor<1>,
    /// Whole-batch sizes when this is one micro-batch of several; `None` = not split.
    pub batch_totals: Option<BatchTotals>,
}

/// The loss and its detached statistics.
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// Scalar loss `[1]`, differentiable with respect to `logprobs`.
    pub loss: Tensor<1>,
    /// Statistics for logging.
    pub stats: LossStats,
}

/// Statistics of one loss evaluation, all means over the completion tokens of this batch.
///
/// Clip fractions follow TRL's definitions: a token is *low-clipped* when ρ < 1 − ε_low and
/// A < 0, *high-clipped* when ρ > 1 + ε_high and A > 0 (exactly the tokens whose gradient the
/// clip removes); the *region* fraction counts either.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossStats {
    /// Completion tokens in this batch (mask sum).
    pub n_tokens: f32,
    /// Mean k3 KL to the reference; `None` when β = 0.
    pub kl: Option<f32>,
    /// Fraction of low-clipped tokens.
    pub clip_low: f32,
    /// Fraction of high-clipped tokens.
    pub clip_high: f32,
    /// Fraction of tokens clipped either way.
    pub clip_region: f32,
    /// Mean importance ratio ρ.
    pub ratio_mean: f32,
}

/// Computes the GRPO loss of one (micro-)batch.
///
/// # Errors
/// [`GrpoInputError`] when shapes disagree, when β > 0 without reference log-probs, or when
/// [`BatchTotals`] has zero sequences or a non-positive token count.
pub fn grpo_loss(
    inputs: LossInputs,
    settings: &LossSettings,
) -> Result<LossOutput, GrpoInputError> {
    let [b, t] = inputs.logprobs.dims();
    check_shapes(&inputs, [b, t])?;
    let use_kl = settings.beta > 0.0;
    let reference = match (use_kl, inputs.ref_logprobs) {
        (true, None) => return Err(GrpoInputError::Missing("ref_logprobs (beta > 0)")),
        (true, Some(r)) => Some(r),
        (false, _) => None,
    };
    let (seq_total, tok_total) = totals(inputs.batch_totals, b)?;

    let lp = inputs.logprobs;
    let mask = inputs.mask;
    let adv = inputs.advantages.reshape([b, 1]).expand([b, t]);
    let ratio = (lp.clone() - inputs.old_logprobs).exp();
    let clipped = ratio
        .clone()
        .clamp(1.0 - settings.epsilon_low, 1.0 + settings.epsilon_high);
    let surrogate = (ratio.clone() * adv.clone()).min_pair(clipped * adv.clone());
    let mut per_token = surrogate.neg();
    let mut k3_detached = None;
    if let Some(reference) = reference {
        let d = reference - lp;
        let k3 = d.clone().exp() - d - 1.0;
        k3_detached = Some(k3.clone().detach());
        per_token = per_token + k3.mul_scalar(settings.beta);
    }

    let n_tokens: f32 = mask.clone().sum().into_scalar();
    let masked = per_token * mask.clone();
    let masked_sum = masked.clone().sum();
    let loss = match settings.loss_type {
        LossType::Grpo => {
            let per_sequence = masked.sum_dim(1) / mask.clone().sum_dim(1).clamp_min(1.0);
            per_sequence.sum().div_scalar(seq_total as f64)
        }
        LossType::Bnpo => masked_sum.div_scalar(f64::from(n_tokens).max(1.0)),
        LossType::Dapo => masked_sum.div_scalar(tok_total.unwrap_or(f64::from(n_tokens).max(1.0))),
        LossType::DrGrpo => {
            masked_sum.div_scalar(seq_total as f64 * settings.max_completion_length as f64)
        }
    };

    let stats = statistics(ratio.detach(), adv, mask, k3_detached, n_tokens, settings);
    Ok(LossOutput { loss, stats })
}

fn check_shapes(inputs: &LossInputs, bt: [usize; 2]) -> Result<(), GrpoInputError> {
    let mut two_d = vec![
        ("old_logprobs", inputs.old_logprobs.dims()),
        ("mask", inputs.mask.dims()),
    ];
    if let Some(r) = &inputs.ref_logprobs {
        two_d.push(("ref_logprobs", r.dims()));
    }
    for (what, dims) in two_d {
        if dims != bt {
            return Err(GrpoInputError::Shape {
                what,
                expected: bt.to_vec(),
                got: dims.to_vec(),
            });
        }
    }
    let adv = inputs.advantages.dims();
    if adv != [bt[0]] {
        return Err(GrpoInputError::Shape {
            what: "advantages",
            expected: vec![bt[0]],
            got: adv.to_vec(),
        });
    }
    Ok(())
}

/// `(sequences, Some(tokens))` of the whole batch, or of this batch when it is not split.
fn totals(
    totals: Option<BatchTotals>,
    batch: usize,
) -> Result<(usize, Option<f64>), GrpoInputError> {
    let Some(totals) = totals else {
        return Ok((batch.max(1), None));
    };
    if totals.sequences == 0 {
        return Err(GrpoInputError::OutOfRange {
            what: "batch_totals.sequences",
            value: 0.0,
            reason: "must be positive",
        });
    }
    if !(totals.tokens.is_finite() && totals.tokens > 0.0) {
        return Err(GrpoInputError::OutOfRange {
            what: "batch_totals.tokens",
            value: totals.tokens,
            reason: "must be a finite number > 0",
        });
    }
    Ok((totals.sequences, Some(totals.tokens)))
}

fn statistics(
    ratio: Tensor<2>,
    adv: Tensor<2>,
    mask: Tensor<2>,
    k3: Option<Tensor<2>>,
    n_tokens: f32,
    settings: &LossSettings,
) -> LossStats {
    let denominator = n_tokens.max(1.0);
    let mean = |values: Tensor<2>| -> f32 {
        let sum: f32 = (values * mask.clone()).sum().into_scalar();
        sum / denominator
    };
    let low = ratio
        .clone()
        .lower_scalar(1.0 - settings.epsilon_low)
        .bool_and(adv.clone().lower_scalar(0.0))
        .float();
    let high = ratio
        .clone()
        .greater_scalar(1.0 + settings.epsilon_high)
        .bool_and(adv.greater_scalar(0.0))
        .float();
    // The two events are disjoint (A cannot be both < 0 and > 0), so region = low + high.
    let clip_low = mean(low);
    let clip_high = mean(high);
    LossStats {
        n_tokens,
        kl: k3.map(mean),
        clip_low,
        clip_high,
        clip_region: clip_low + clip_high,
        ratio_mean: mean(ratio),
    }
}

#[cfg(test)]
#[path = "loss_tests.rs"]
mod tests;
