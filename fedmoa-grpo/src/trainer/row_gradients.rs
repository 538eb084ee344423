//! Every objective's gradient `g_k(θ_t)` from one backward per completion
//! ([`ObjectiveGradientMode::PerRow`]).
//!
//! At ρ = 1 and without KL, row `i`'s part of the GRPO loss is its advantage times a loss
//! that does not depend on the advantage: each token's cotangent is `A_i` over the row's
//! normaliser, the same for every token of the row. So with `P_i` the gradient of row `i`'s
//! loss at advantage 1 (with the whole batch's normalisers), every objective's gradient is
//! `g_k = Σ_i A_{k,i} · P_i`: one forward and backward per row that carries any signal, for
//! any number of objectives, instead of one pass per objective. A row whose advantage is
//! non-zero for one objective only adds to that objective's gradient alone, so such rows
//! run in micro-batches per objective at their own advantages (as saturated auxiliary
//! objectives leave more of them, the passes batch better); the others run one by one at
//! advantage 1. `bnpo` normalises by the pass's own tokens and has no such split; it keeps
//! the per-objective passes.
//!
//! When the rows continue shared prompts ([`PromptPrefix`]), a row's backward stops at the
//! prompts' keys and values. Objective `k`'s part through the prompts is one backward of
//! their forward with the cache cotangent `Σ_i A_{k,i} · ∂ℓ_i/∂cache`: one short pass per
//! objective with signal (the prompts' tokens only).
//!
//! [`ObjectiveGradientMode::PerRow`]: super::ObjectiveGradientMode::PerRow

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_core::axpy_slice;

use super::GrpoTrainer;
use super::loss_pass::{PassRows, add_cotangents};
use super::objective_passes::{ObjectivePasses, PassInputs, RowSubset};
use super::row_chunks::{RowChunk, RowOrder, row_chunks_among};
use crate::batch::{PromptPrefix, SequenceBatch};
use crate::grpo::{LossSettings, flatten_gradients, trainable_len};
use crate::{GrpoError, Policy};

/// Whose gradient a chunk's backward is.
enum Share {
    /// Rows whose advantage is non-zero for this objective alone: its gradient part.
    Objective(usize),
    /// One row with several objectives' signal, at advantage 1: `P_i`.
    Row,
}

/// Running sums of one objective over the rows: `Σ_i A_{k,i} · P_i`, its loss, and the
/// cotangent of the shared prompts' cache.
struct ObjectiveSums {
    grad: Vec<f32>,
    loss: f32,
    cotangents: Vec<Option<Tensor<4>>>,
    has_signal: bool,
}

impl<P: Policy> GrpoTrainer<P> {
    /// The per-objective gradients of `per_objective`'s advantage columns from one
    /// backward per row with signal (see the module docs); `settings` must not be `bnpo`.
    pub(super) fn row_passes(
        &self,
        inputs: &PassInputs<'_>,
        per_objective: &[Vec<f32>],
        settings: &LossSettings,
    ) -> Result<ObjectivePasses, GrpoError> {
        let start = Instant::now();
        let train_dev = self.device.clone().autodiff();
        let n = inputs.batch.n_rows();
        let len = trainable_len(&self.policy);
        let mut sums: Vec<ObjectiveSums> = per_objective
            .iter()
            .map(|_| ObjectiveSums {
                grad: vec![0.0; len],
                loss: 0.0,
                cotangents: Vec::new(),
                has_signal: false,
            })
            .collect();
        let rows: Vec<usize> = (0..n)
            .filter(|&r| {
                !self.config.skip_rows_without_signal
                    || per_objective.iter().any(|column| column[r] != 0.0)
            })
            .collect();
        if rows.is_empty() || inputs.loss_tokens() <= 0.0 {
            return Ok(finish(sums, None, None, 0, 0.0, start));
        }
        // The trainer's loss mask travels with the rows (it may leave out truncated
        // completions), with the whole rollout's normalisers.
        let selected = RowSubset::of(inputs, rows)?;
        let mask = selected.mask_tensor(&train_dev);
        let (rows, subset, totals) = (&selected.rows, &selected.batch, selected.totals);
        let chunks = self.planned_chunks(subset, rows, per_objective, &train_dev)?;
        let prompts = if self.config.share_prompt_forward {
            subset.prefill_prompts(&self.policy, &train_dev)
        } else {
            None
        };
        let leaves = prompts.as_ref().map(PromptPrefix::detached);
        let targets = subset.target_tensor(&train_dev);
        let pass_settings = settings.without_kl();
        let mut logprobs = Vec::with_capacity(chunks.len());
        let (mut entropy_sum, mut n_tokens) = (0.0f64, 0.0f64);
        for (chunk, share) in &chunks {
            // A chunk of one objective's rows runs at their advantages for that objective;
            // a row with several runs at advantage 1 and is weighted afterwards.
            let advantages: Vec<f32> = match share {
                Share::Objective(k) => chunk
                    .indices
                    .iter()
                    .map(|&i| per_objective[*k][rows[i]])
                    .collect(),
                Share::Row => vec![1.0; chunk.indices.len()],
            };
            let part = PassRows {
                batch: &chunk.batch,
                targets: chunk.cut_ids(targets.clone()),
                mask: chunk.cut(mask.clone()),
                advantages: Tensor::<1>::from_data(
                    TensorData::new(advantages, [chunk.indices.len()]),
                    &train_dev,
                ),
                ref_logprobs: None,
                totals: Some(totals),
                inv_temp: inputs.inv_temp,
            };
            let (out, cache_grads) =
                self.forward_backward(part, None, &pass_settings, true, leaves.as_ref())?;
            let chunk_grad = out.gradient.into_flat(&self.policy);
            for (k, (sum, column)) in sums.iter_mut().zip(per_objective).enumerate() {
                let a = match share {
                    Share::Objective(j) if *j == k => 1.0,
                    Share::Objective(_) => 0.0,
                    Share::Row => column[rows[chunk.indices[0]]],
                };
                if a == 0.0 {
                    continue;
                }
                sum.has_signal = true;
                axpy_slice(&mut sum.grad, a, &chunk_grad);
                sum.loss += a * out.loss;
                let scaled = cache_grads.iter().map(|g| g.clone().map(|g| g * a));
                add_cotangents(&mut sum.cotangents, scaled.collect());
            }
            let chunk_tokens = f64::from(out.stats.n_tokens);
            entropy_sum += out.entropy.unwrap_or(0.0) * chunk_tokens;
            n_tokens += chunk_tokens;
            logprobs.push(out.logprobs);
        }
        let order = RowOrder::of(chunks.iter().map(|(c, _)| c), subset.completion_width);
        // Each objective's part through the shared prompts: one backward of their forward
        // per objective (the first reuses the forward the rows continued).
        let mut forward = prompts;
        let continued_prompts = leaves.is_some();
        for sum in sums
            .iter_mut()
            .filter(|s| continued_prompts && s.has_signal)
        {
            let Some(prefix) = forward
                .take()
                .or_else(|| subset.prefill_prompts(&self.policy, &train_dev))
            else {
                break;
            };
            if let Some(loss) = prefix.cotangent_loss(&sum.cotangents) {
                let grads = GradientsParams::from_grads(loss.backward(), &self.policy);
                axpy_slice(&mut sum.grad, 1.0, &flatten_gradients(&self.policy, &grads));
            }
        }
        let entropy = if n_tokens > 0.0 {
            entropy_sum / n_tokens
        } else {
            0.0
        };
        let first_forward =
            (rows.len() == n).then(|| (order.reassemble(logprobs, &train_dev), entropy));
        Ok(finish(
            sums,
            first_forward,
            Some(entropy),
            1,
            rows.len() as f64 / n as f64,
            start,
        ))
    }
}

impl<P: Policy> GrpoTrainer<P> {
    /// The passes over `subset` (the rows `rows` of the rollout): the rows that carry one
    /// objective's signal alone in micro-batches per objective
    /// ([`super::GrpoTrainerConfig::micro_batch_rows`]), every other row alone.
    fn planned_chunks(
        &self,
        subset: &SequenceBatch,
        rows: &[usize],
        per_objective: &[Vec<f32>],
        device: &Device,
    ) -> Result<Vec<(RowChunk, Share)>, GrpoError> {
        let mut single: Vec<Vec<usize>> = vec![Vec::new(); per_objective.len()];
        let mut several = Vec::new();
        for (i, &row) in rows.iter().enumerate() {
            let mut active = per_objective
                .iter()
                .enumerate()
                .filter(|(_, column)| column[row] != 0.0);
            match (active.next(), active.next()) {
                (Some((k, _)), None) => single[k].push(i),
                // Rows without signal (`skip_rows_without_signal = false`) add zero to g_0.
                (None, _) => single.iter_mut().take(1).for_each(|own| own.push(i)),
                _ => several.push(i),
            }
        }
        let size = self.config.micro_batch_rows.unwrap_or(rows.len()).max(1);
        let mut chunks = Vec::new();
        for (k, own) in single.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            for chunk in row_chunks_among(subset, own, size, device)? {
                chunks.push((chunk, Share::Objective(k)));
            }
        }
        if !several.is_empty() {
            for chunk in row_chunks_among(subset, &several, 1, device)? {
                chunks.push((chunk, Share::Row));
            }
        }
        Ok(chunks)
    }
}

/// The passes' result from the objectives' sums.
fn finish(
    sums: Vec<ObjectiveSums>,
    first_forward: Option<(Tensor<2>, f64)>,
    first_entropy: Option<f64>,
    passes: usize,
    rows: f64,
    start: Instant,
) -> ObjectivePasses {
    let (grads, losses): (Vec<Vec<f32>>, Vec<f32>) =
        sums.into_iter().map(|s| (s.grad, s.loss)).unzip();
    ObjectivePasses {
        grads,
        first_forward,
        first_entropy,
        losses,
        passes,
        rows,
        secs: start.elapsed().as_secs_f64(),
    }
}
