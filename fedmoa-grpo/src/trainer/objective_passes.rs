//! Stage 5 of a step: the per-objective gradients `g_k(θ_t)` a weighter asks for.
//!
//! `g_k` is the gradient of the GRPO loss (without KL, ρ = 1) with objective k's advantage
//! components alone. The loss is linear in the advantages, so an objective whose advantages
//! are all zero (every group saturated, or no variance at all) has `g_k = 0` exactly and
//! needs no forward and backward pass; likewise a completion whose advantage for objective k
//! is zero adds nothing to `g_k`, so objective k's pass runs over the rows where its
//! advantage is non-zero only, with the whole batch's normalisers ([`BatchTotals`]).
//! Objectives saturate as training goes on (that is what the hypergradient weighter
//! exploits), so their passes shrink to the few groups that still have variance.

use std::time::Instant;

use burn::prelude::*;

use super::GrpoTrainer;
use super::loss_pass::PassRows;
use crate::batch::SequenceBatch;
use crate::grpo::{
    BatchTotals, LossSettings, LossType, masked_mean, tempered_logits, token_logprobs_and_entropy,
    trainable_len,
};
use crate::{GrpoError, Policy};

/// The per-objective gradients of one step and what their first forward measured.
pub(super) struct ObjectivePasses {
    /// `g_k(θ_t)` per objective, flattened over the trainable parameters (zeros for an
    /// objective without advantage).
    pub grads: Vec<Vec<f32>>,
    /// The detached token log-probs and mean entropy of the first forward, when it covered
    /// every row.
    pub first_forward: Option<(Tensor<2>, f64)>,
    /// Mean token entropy over the rows of the first pass that ran (all rows or a subset).
    pub first_entropy: Option<f64>,
    /// The loss of each objective's pass (0 for an objective without a pass): at ρ = 1
    /// without KL the step's loss is `Σ_k w_k · losses[k]`.
    pub losses: Vec<f32>,
    /// Forward + backward passes run (objectives with a non-zero advantage).
    pub passes: usize,
    /// Rows processed by the passes, in units of the whole batch (1.0 = one full pass).
    pub rows: f64,
    /// Wall-clock seconds of the passes.
    pub secs: f64,
}

/// Whether an advantage column is all zeros, so that its gradient is exactly zero.
pub(crate) fn has_no_signal(advantages: &[f32]) -> bool {
    advantages.iter().all(|&a| a == 0.0)
}

/// The tensors a loss pass over one rollout needs, on the autodiff device.
pub(super) struct PassInputs<'a> {
    /// The prompt + completion tokens.
    pub batch: &'a SequenceBatch,
    /// Target token ids of the completion columns.
    pub targets: Tensor<2, Int>,
    /// Loss mask, `[n_rows, C]`.
    pub mask: Tensor<2>,
    /// The same loss mask on the host, row-major.
    pub host_mask: &'a [f32],
    /// 1 / sampling temperature.
    pub inv_temp: f64,
}

impl PassInputs<'_> {
    /// The loss mask's tokens: the rollout's normaliser of token-level losses.
    pub fn loss_tokens(&self) -> f64 {
        self.host_mask.iter().map(|&m| f64::from(m)).sum()
    }
}

/// The rows of a rollout that carry one objective's signal.
pub(super) struct RowSubset {
    /// Their indices in the rollout.
    pub rows: Vec<usize>,
    /// The sub-batch of those rows.
    pub batch: SequenceBatch,
    /// Their loss mask, row-major.
    pub mask: Vec<f32>,
    /// The whole rollout's normalisers.
    pub totals: BatchTotals,
}

impl RowSubset {
    /// Rows `rows` of `inputs` (in that order), with the whole rollout's loss normalisers.
    ///
    /// # Errors
    /// [`GrpoError::Input`] for no rows (from [`SequenceBatch::select_rows`]).
    pub fn of(inputs: &PassInputs<'_>, rows: Vec<usize>) -> Result<Self, GrpoError> {
        let c = inputs.batch.completion_width;
        Ok(Self {
            batch: inputs.batch.select_rows(&rows)?,
            mask: rows
                .iter()
                .flat_map(|&r| inputs.host_mask[r * c..(r + 1) * c].iter().copied())
                .collect(),
            totals: BatchTotals {
                sequences: inputs.batch.n_rows(),
                tokens: inputs.loss_tokens(),
            },
            rows,
        })
    }

    /// The loss mask of these rows as a tensor on `device`.
    pub fn mask_tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::<2>::from_data(
            TensorData::new(
                self.mask.clone(),
                [self.rows.len(), self.batch.completion_width],
            ),
            device,
        )
    }

    /// `values` at these rows.
    pub fn pick(&self, values: &[f32]) -> Vec<f32> {
        self.rows.iter().map(|&r| values[r]).collect()
    }
}

/// The KL term folded into the primary objective's pass: the reference log-probs and its
/// weight `β / w_0` there.
pub(super) struct PrimaryKl {
    /// Token log-probs of the reference model on the rollout (detached).
    pub ref_logprobs: Tensor<2>,
    /// `β / w_0`.
    pub beta: f64,
}

impl<P: Policy> GrpoTrainer<P> {
    /// One forward + backward per objective with a non-zero advantage column, and always
    /// one for the primary objective when `primary_kl` folds the KL term into it.
    pub(super) fn objective_passes(
        &self,
        inputs: &PassInputs<'_>,
        per_objective: &[Vec<f32>],
        settings: &LossSettings,
        primary_kl: Option<&PrimaryKl>,
    ) -> Result<ObjectivePasses, GrpoError> {
        let start = Instant::now();
        let train_dev = self.device.clone().autodiff();
        let n = inputs.batch.n_rows();
        let len = trainable_len(&self.policy);
        let mut first_forward = None;
        let mut first_entropy = None;
        let mut losses = vec![0.0; per_objective.len()];
        let mut passes = 0;
        let mut rows = 0.0;
        let mut grads = Vec::with_capacity(per_objective.len());
        for (k, a_k) in per_objective.iter().enumerate() {
            let kl = primary_kl.filter(|_| k == 0);
            if kl.is_none() && has_no_signal(a_k) {
                grads.push(vec![0.0; len]);
                continue;
            }
            // A pass covers only the rows that carry the objective's signal (all of them when
            // it carries the KL term too).
            let subset = kl
                .is_none()
                .then(|| self.signal_rows(inputs, a_k, settings))
                .transpose()?
                .flatten();
            let (batch, targets, mask, advantages, totals) = match &subset {
                Some(sub) => (
                    &sub.batch,
                    sub.batch.target_tensor(&train_dev),
                    sub.mask_tensor(&train_dev),
                    sub.pick(a_k),
                    Some(sub.totals),
                ),
                None => (
                    inputs.batch,
                    inputs.targets.clone(),
                    inputs.mask.clone(),
                    a_k.clone(),
                    None,
                ),
            };
            let n_rows = batch.n_rows();
            let pass_rows = PassRows {
                batch,
                targets,
                mask,
                advantages: Tensor::<1>::from_data(
                    TensorData::new(advantages, [n_rows]),
                    &train_dev,
                ),
                ref_logprobs: kl.map(|kl| kl.ref_logprobs.clone()),
                totals,
                inv_temp: inputs.inv_temp,
            };
            let pass_settings = match kl {
                Some(kl) => LossSettings {
                    beta: kl.beta,
                    ..*settings
                },
                None => settings.without_kl(),
            };
            let pass = self.loss_pass(pass_rows, None, &pass_settings, first_entropy.is_none())?;
            if let Some(h) = pass.entropy {
                first_entropy = Some(h);
                if subset.is_none() {
                    first_forward = Some((pass.logprobs, h));
                }
            }
            losses[k] = pass.loss;
            grads.push(pass.gradient.into_flat(&self.policy));
            passes += 1;
            rows += n_rows as f64 / n as f64;
        }
        Ok(ObjectivePasses {
            grads,
            first_forward,
            first_entropy,
            losses,
            passes,
            rows,
            secs: start.elapsed().as_secs_f64(),
        })
    }

    /// The rows of `inputs` where `advantages` is non-zero, as a sub-batch with the whole
    /// batch's loss normalisers; `None` when every row carries signal, when the loss type
    /// normalises by this (micro-)batch's own token count (`bnpo`), which a subset would
    /// change, or when `skip_rows_without_signal` is off.
    pub(super) fn signal_rows(
        &self,
        inputs: &PassInputs<'_>,
        advantages: &[f32],
        settings: &LossSettings,
    ) -> Result<Option<RowSubset>, GrpoError> {
        let rows: Vec<usize> = (0..advantages.len())
            .filter(|&r| advantages[r] != 0.0)
            .collect();
        if !self.config.skip_rows_without_signal
            || rows.len() == advantages.len()
            || settings.loss_type == LossType::Bnpo
            || inputs.loss_tokens() <= 0.0
        {
            return Ok(None);
        }
        Ok(Some(RowSubset::of(inputs, rows)?))
    }

    /// The detached token log-probs and mean entropy of the current policy on `inputs`,
    /// without a backward pass (for a step whose objectives all lack signal).
    pub(super) fn detached_forward(
        &self,
        inputs: &PassInputs<'_>,
    ) -> Result<(Tensor<2>, f64), GrpoError> {
        let train_dev = self.device.clone().autodiff();
        let logits = tempered_logits(
            self.completion_logits(inputs.batch, &self.policy, &train_dev),
            inputs.inv_temp,
        )
        .detach();
        let (lp, h) = token_logprobs_and_entropy(logits, inputs.targets.clone())?;
        let h = masked_mean(h, inputs.mask.clone())?;
        Ok((lp, f64::from(h.into_scalar::<f32>())))
    }
}

#[cfg(test)]
mod tests {
    use super::has_no_signal;

    #[test]
    fn only_an_all_zero_column_has_no_signal() {
        assert!(has_no_signal(&[0.0, 0.0, -0.0]));
        assert!(has_no_signal(&[]));
        assert!(!has_no_signal(&[0.0, 1e-30, 0.0]));
        assert!(!has_no_signal(&[f32::NAN]));
    }
}
