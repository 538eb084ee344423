//! One GRPO step in named stages: sample and score (`sample_stage`),
//! advantages, the loss batch (`loss_batch`), the weighter's per-objective gradients
//! (`gradient_stage`), the update (`update_stage`), the weighter's step and the metrics.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_core::{GradientSignals, Prompt, StepSignals, axpy_slice};

use super::dynamic_sampling::SampledGroups;
use super::loss_pass::PassRows;
use super::objective_passes::{PassInputs, PrimaryKl, RowSubset, has_no_signal};
use super::row_chunks::row_chunks;
use super::step_metrics::{LossMetrics, ObjectiveStepMetrics, StepMetrics};
use super::{GrpoTrainer, ObjectiveGradientMode, ProximalAnchor, eval, score_completions};
use crate::batch::SequenceBatch;
use crate::decode::Decode;
use crate::grpo::{
    AdvantageSettings, Advantages, LossInputs, LossSettings, LossStats, LossType, OptimStep,
    compute_advantages, grpo_loss, tempered_logits, token_logprobs, unflatten_gradients,
};
use crate::sampling::{Completion, Sampler};
use crate::{GrpoError, Policy};

/// A generation batch ready for the loss: tokens, masks and per-completion data.
struct Rollout {
    batch: SequenceBatch,
    /// Loss mask (completion mask, with truncated completions zeroed when configured).
    mask: Vec<f32>,
    completions: Vec<Completion>,
}

/// Stage 1–2: the step's groups, sampled and scored, and how they were drawn.
struct Sampled {
    groups: SampledGroups,
    /// Fraction of the first draw's groups whose primary reward had no variance.
    frac_reward_zero_std: f64,
    /// Groups replaced by dynamic sampling.
    resampled_groups: usize,
    /// Seconds spent generating.
    secs: f64,
}

/// Stage 4: the rollout as the loss and the objective passes read it.
struct LossBatch {
    rollout: Rollout,
    /// Loss mask `[n, C]` on the training device.
    mask: Tensor<2>,
    /// Target token ids of the completion columns.
    targets: Tensor<2, Int>,
    /// The KL reference's token log-probs (detached), when β > 0.
    ref_logprobs: Option<Tensor<2>>,
    inv_temp: f64,
}

impl LossBatch {
    fn pass_inputs(&self) -> PassInputs<'_> {
        PassInputs {
            batch: &self.rollout.batch,
            targets: self.targets.clone(),
            mask: self.mask.clone(),
            host_mask: &self.rollout.mask,
            inv_temp: self.inv_temp,
        }
    }

    /// `advantages` as a `[n]` tensor on the mask's device.
    fn advantages(&self, advantages: &[f32]) -> Tensor<1> {
        Tensor::<1>::from_data(
            TensorData::new(advantages.to_vec(), [advantages.len()]),
            &self.mask.device(),
        )
    }
}

/// Stage 5: what the per-objective passes gave the weighter and the update.
#[derive(Default)]
struct ObjectiveGradients {
    /// The weighter's gradient signals, when it asked for them.
    signals: Option<GradientSignals>,
    /// `Σ_k w_k g_k` when it is exactly the update's gradient.
    update_gradient: Option<Vec<f32>>,
    /// Detached log-probs and entropy of the passes' first forward, when it covered every
    /// row.
    first_forward: Option<(Tensor<2>, f64)>,
    /// The step's loss `Σ_k w_k L_k` and the first pass's entropy, when the passes ran
    /// without KL (the loss is linear in the advantages at ρ = 1).
    pass_loss: Option<(f32, f64)>,
    secs: f64,
    passes: usize,
    rows: f64,
}

/// Stage 6: what the update did.
struct UpdateOutcome {
    /// The last loss and its statistics (none when no update ran).
    last: Option<LossMetrics>,
    entropy: f64,
    lr: f64,
    grad_norm: f64,
    /// Rows of the update's own pass, as a fraction of the batch.
    rows: f64,
}

impl<P: Policy> GrpoTrainer<P> {
    /// Runs one step and returns its metrics: sample and score, advantages, the loss
    /// batch, the weighter's per-objective gradients, the update, the weighter's step.
    pub(super) fn grpo_step(
        &mut self,
        sampler: &mut Sampler,
        reference: Option<&P>,
        anchor: Option<&ProximalAnchor>,
    ) -> Result<StepMetrics, GrpoError> {
        let t0 = Instant::now();
        let sampled = self.sample_stage(sampler)?;
        let weights = self.weighter.weights().to_vec();
        let maxima: Vec<f32> = self.rewards.iter().map(|r| r.range().max).collect();
        let adv = compute_advantages(
            &sampled.groups.scored.rewards,
            &weights,
            &maxima,
            self.config.grpo.num_generations,
            AdvantageSettings::from(&self.config.grpo),
        )?;
        let SampledGroups {
            prompt_ids,
            completions,
            scored,
        } = sampled.groups;
        let t_batch = Instant::now();
        let batch = self.loss_batch(&prompt_ids, completions, reference)?;
        let batch_secs = t_batch.elapsed().as_secs_f64();
        let mut gradients = self.gradient_stage(&batch, &adv, &weights)?;
        let t_update = Instant::now();
        let update = self.update_stage(&batch, &adv, &mut gradients, anchor)?;
        let update_secs = t_update.elapsed().as_secs_f64();
        let step_index = self.optimizer.steps_taken().saturating_sub(1);
        let observed = self.weighter.observe(&StepSignals {
            step: step_index,
            reward_means: adv.stats.reward_mean.clone(),
            saturation: adv.stats.saturation.clone(),
            gradients: gradients.signals.take(),
        });
        let objectives = self
            .rewards
            .iter()
            .enumerate()
            .map(|(k, reward)| ObjectiveStepMetrics {
                id: reward.id().as_str().to_owned(),
                reward_mean: f64::from(adv.stats.reward_mean[k]),
                reward_std: f64::from(adv.stats.reward_std[k]),
                zero_std_frac: f64::from(adv.stats.zero_std_fraction[k]),
                reward_errors: scored.errors[k],
                weight: f64::from(self.weighter.weights()[k]),
            })
            .collect();
        let completions = &batch.rollout.completions;
        let n_completions = completions.len().max(1) as f64;
        let total_len: usize = completions.iter().map(|c| c.tokens.len()).sum();
        let truncated = completions.iter().filter(|c| !c.finished).count();
        Ok(StepMetrics {
            step: step_index,
            objectives,
            zero_std_frac: f64::from(adv.stats.total_zero_std_fraction),
            frac_reward_zero_std: sampled.frac_reward_zero_std,
            resampled_groups: sampled.resampled_groups,
            loss: update.last,
            completion_len: total_len as f64 / n_completions,
            truncated_frac: truncated as f64 / n_completions,
            entropy: update.entropy,
            lr: update.lr,
            grad_norm: update.grad_norm,
            weighter_error: observed.is_err(),
            sample_secs: sampled.secs,
            batch_secs,
            objective_grad_secs: gradients.secs,
            objective_passes: gradients.passes,
            objective_pass_rows: gradients.rows,
            update_rows: update.rows,
            update_secs,
            step_secs: t0.elapsed().as_secs_f64(),
        })
    }

    /// Samples G completions per prompt from the current policy (no autodiff) and scores
    /// every objective; with dynamic sampling, replaces the groups whose primary reward has
    /// no variance by fresh prompts, up to `dynamic_sampling_rounds` times.
    fn sample_stage(&mut self, sampler: &mut Sampler) -> Result<Sampled, GrpoError> {
        let g = self.config.grpo.num_generations;
        let chosen = self.next_prompts(self.config.grpo.prompts_per_step);
        let model = eval::decoding_copy(&self.policy, self.config.use_decode_model);
        let mut secs = 0.0;
        let mut groups = self.sample_groups(sampler, model.as_ref(), &chosen, &mut secs)?;
        let frac_reward_zero_std = groups.zero_variance_fraction(g);
        let mut resampled_groups = 0;
        for _ in 0..self.config.grpo.dynamic_sampling_rounds {
            let slots = groups.zero_variance_groups(g);
            if slots.is_empty() {
                break;
            }
            let fresh_prompts = self.next_prompts(slots.len());
            let fresh = self.sample_groups(sampler, model.as_ref(), &fresh_prompts, &mut secs)?;
            resampled_groups += slots.len();
            groups.replace(&slots, fresh, g);
        }
        Ok(Sampled {
            groups,
            frac_reward_zero_std,
            resampled_groups,
            secs,
        })
    }

    /// The logits predicting `batch`'s completion tokens under `policy`; with
    /// `share_prompt_forward`, each prompt that consecutive rows share runs once.
    pub(super) fn completion_logits(
        &self,
        batch: &SequenceBatch,
        policy: &P,
        device: &Device,
    ) -> Tensor<3> {
        if self.config.share_prompt_forward {
            batch.shared_prompt_logits(policy, device)
        } else {
            batch.completion_logits(policy, device)
        }
    }

    /// The KL reference's token log-probs of `batch`, `[n, C]`: in one forward, or in the
    /// micro-batches of the loss passes when `micro_batch_rows` splits the batch (each cut
    /// to its own completion width, [`super::row_chunks`]). Micro-batches continue the
    /// batch's shared prompts, prefilled once ([`SequenceBatch::prefill_prompts`]), when
    /// `share_prompt_forward` is on: no gradient flows here, so one prefill serves them
    /// all.
    fn reference_logprobs(
        &self,
        batch: &SequenceBatch,
        reference: &P,
        inv_temp: f64,
    ) -> Result<Tensor<2>, GrpoError> {
        let logprobs = |b: &SequenceBatch| {
            let logits =
                tempered_logits(self.completion_logits(b, reference, &self.device), inv_temp);
            token_logprobs(logits, b.target_tensor(&self.device))
        };
        match self.config.micro_batch_rows {
            Some(size) if size < batch.n_rows() => {
                let (chunks, order) = row_chunks(batch, size, &self.device)?;
                let prefix = if self.config.share_prompt_forward {
                    batch.prefill_prompts(reference, &self.device)
                } else {
                    None
                };
                let parts = chunks
                    .iter()
                    .map(|c| {
                        let after = prefix.as_ref().and_then(|prefix| {
                            c.batch.logits_after_prefix(prefix, reference, &self.device)
                        });
                        match after {
                            Some(logits) => token_logprobs(
                                tempered_logits(logits, inv_temp),
                                c.batch.target_tensor(&self.device),
                            ),
                            None => logprobs(&c.batch),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(order.reassemble(parts, &self.device))
            }
            _ => Ok(logprobs(batch)?),
        }
    }

    /// The prompt + completion tokens on the training device, with the KL reference's
    /// token log-probs when there is a reference.
    fn loss_batch(
        &self,
        prompt_ids: &[Vec<u32>],
        completions: Vec<Completion>,
        reference: Option<&P>,
    ) -> Result<LossBatch, GrpoError> {
        let rollout = self.rollout(prompt_ids, completions)?;
        let train_dev = self.device.clone().autodiff();
        let n = rollout.batch.n_rows();
        let c = rollout.batch.completion_width;
        let mask =
            Tensor::<2>::from_data(TensorData::new(rollout.mask.clone(), [n, c]), &train_dev);
        let targets = rollout.batch.target_tensor(&train_dev);
        let inv_temp = 1.0 / self.config.grpo.temperature;
        let ref_logprobs = match reference {
            Some(r) => {
                let lp = self.reference_logprobs(&rollout.batch, r, inv_temp)?;
                Some(Tensor::<2>::from_data(lp.into_data(), &train_dev))
            }
            None => None,
        };
        Ok(LossBatch {
            rollout,
            mask,
            targets,
            ref_logprobs,
            inv_temp,
        })
    }

    /// Per-objective gradients `g_k(θ_t)` for the weighter, only when it asks; their
    /// weighted sum is kept when it is exactly the update's gradient (one inner iteration,
    /// and no KL term or the KL folded into the primary's pass).
    fn gradient_stage(
        &mut self,
        batch: &LossBatch,
        adv: &Advantages,
        weights: &[f32],
    ) -> Result<ObjectiveGradients, GrpoError> {
        if !self.weighter.needs().gradient_dots {
            return Ok(ObjectiveGradients::default());
        }
        let grpo = &self.config.grpo;
        let settings = LossSettings::from(grpo);
        let per_row = self.config.objective_gradients == ObjectiveGradientMode::PerRow
            && settings.loss_type != LossType::Bnpo;
        // With β > 0 the KL term joins the primary pass (β / w_0) when configured and
        // w_0 > 0, so that Σ_k w_k g_k is the update's gradient (validation allows it with
        // the per-objective passes only).
        let primary_kl = match (&batch.ref_logprobs, weights.first()) {
            (Some(ref_logprobs), Some(&w0)) if self.config.kl_in_primary_gradient && w0 > 0.0 => {
                Some(PrimaryKl {
                    ref_logprobs: ref_logprobs.clone(),
                    beta: grpo.beta / f64::from(w0),
                })
            }
            _ => None,
        };
        let gradients_are_the_update =
            grpo.num_iterations == 1 && (grpo.beta == 0.0 || primary_kl.is_some());
        let passes = if per_row {
            self.row_passes(&batch.pass_inputs(), &adv.per_objective, &settings)?
        } else {
            self.objective_passes(
                &batch.pass_inputs(),
                &adv.per_objective,
                &settings,
                primary_kl.as_ref(),
            )?
        };
        let update_gradient = gradients_are_the_update.then(|| {
            let mut combined = vec![0.0f32; passes.grads.first().map_or(0, Vec::len)];
            for (w, g) in weights.iter().zip(&passes.grads) {
                axpy_slice(&mut combined, *w, g);
            }
            combined
        });
        let pass_loss = passes
            .first_entropy
            .filter(|_| primary_kl.is_none() && gradients_are_the_update)
            .map(|h| {
                let loss = weights.iter().zip(&passes.losses).map(|(w, l)| w * l).sum();
                (loss, h)
            });
        Ok(ObjectiveGradients {
            update_gradient,
            pass_loss,
            first_forward: passes.first_forward,
            secs: passes.secs,
            passes: passes.passes,
            rows: passes.rows,
            // The history keeps this step's gradients for the next step's lagged signals.
            signals: Some(self.history.signals(passes.grads)?),
        })
    }

    /// The optimizer step: from `Σ_k w_k g_k` when the gradient stage computed it (the
    /// loss is linear in the advantages at ρ = 1), else μ inner iterations of the loss with
    /// the weighted advantages.
    fn update_stage(
        &mut self,
        batch: &LossBatch,
        adv: &Advantages,
        gradients: &mut ObjectiveGradients,
        anchor: Option<&ProximalAnchor>,
    ) -> Result<UpdateOutcome, GrpoError> {
        let settings = LossSettings::from(&self.config.grpo);
        let loss_inputs = |logprobs: Tensor<2>, old_logprobs: Tensor<2>| LossInputs {
            logprobs,
            old_logprobs,
            ref_logprobs: batch.ref_logprobs.clone(),
            mask: batch.mask.clone(),
            advantages: batch.advantages(&adv.total),
            batch_totals: None,
        };
        if let Some(combined) = gradients.update_gradient.take() {
            let (last, entropy) = match (gradients.first_forward.take(), gradients.pass_loss) {
                // At ρ = 1 nothing is clipped and, without KL, the loss is Σ_k w_k L_k.
                (None, Some((loss, entropy))) => (unclipped_loss(loss), entropy),
                (forward, _) => {
                    let (lp, entropy) = match forward {
                        Some(forward) => forward,
                        None => self.detached_forward(&batch.pass_inputs())?,
                    };
                    let out = grpo_loss(loss_inputs(lp.clone(), lp), &settings)?;
                    (
                        loss_metrics(out.loss.into_scalar::<f32>(), &out.stats),
                        entropy,
                    )
                }
            };
            let step = self.apply_update(unflatten_gradients(&self.policy, &combined)?, anchor);
            return Ok(UpdateOutcome {
                last: Some(last),
                entropy,
                lr: step.lr,
                grad_norm: step.grad_norm,
                rows: 0.0,
            });
        }
        // The rows the update's pass covers: the whole batch, or only the rows with signal.
        let subset = self.update_rows(batch, adv, &settings)?;
        let train_dev = self.device.clone().autodiff();
        let n_rows = batch.rollout.batch.n_rows();
        let (rows, mask, targets, advantages, batch_totals) = match &subset {
            Some(sub) => (
                &sub.batch,
                sub.mask_tensor(&train_dev),
                sub.batch.target_tensor(&train_dev),
                sub.pick(&adv.total),
                Some(sub.totals),
            ),
            None => (
                &batch.rollout.batch,
                batch.mask.clone(),
                batch.targets.clone(),
                adv.total.clone(),
                None,
            ),
        };
        let advantages = batch.advantages(&advantages);
        let mut outcome = UpdateOutcome {
            last: None,
            entropy: 0.0,
            lr: 0.0,
            grad_norm: 0.0,
            rows: rows.n_rows() as f64 / n_rows as f64,
        };
        let mut old_lp: Option<Tensor<2>> = None;
        for iteration in 0..self.config.grpo.num_iterations {
            let pass_rows = PassRows {
                batch: rows,
                targets: targets.clone(),
                mask: mask.clone(),
                advantages: advantages.clone(),
                ref_logprobs: batch.ref_logprobs.clone(),
                totals: batch_totals,
                inv_temp: batch.inv_temp,
            };
            let pass = self.loss_pass(pass_rows, old_lp.as_ref(), &settings, iteration == 0)?;
            if let Some(h) = pass.entropy {
                outcome.entropy = h;
            }
            if !pass.loss.is_finite() {
                return Err(GrpoError::Diverged(format!("GRPO loss {}", pass.loss)));
            }
            old_lp.get_or_insert(pass.logprobs);
            let grads = pass.gradient.into_params(&self.policy)?;
            let step = self.apply_update(grads, anchor);
            outcome.lr = step.lr;
            outcome.grad_norm = step.grad_norm;
            outcome.last = Some(loss_metrics(pass.loss, &pass.stats));
        }
        Ok(outcome)
    }

    /// The rows the update's pass must cover, when that is fewer than all: with one inner
    /// iteration and no KL term, a completion whose advantage components are all zero (its
    /// group had no variance in any objective) adds nothing to the loss or its gradient.
    fn update_rows(
        &self,
        batch: &LossBatch,
        adv: &Advantages,
        settings: &LossSettings,
    ) -> Result<Option<RowSubset>, GrpoError> {
        if self.config.grpo.num_iterations != 1 || batch.ref_logprobs.is_some() {
            return Ok(None);
        }
        // The batch normalisation leaves a rounding residue of its mean (≈ 1e-17) on rows
        // without signal; their exact advantage is 0.
        let signal: Vec<f32> = (0..adv.total.len())
            .map(|j| {
                let carries = adv.per_objective.iter().any(|column| column[j] != 0.0);
                if carries { adv.total[j] } else { 0.0 }
            })
            .collect();
        if has_no_signal(&signal) {
            // No gradient at all; the full pass keeps the optimizer's step as it was.
            return Ok(None);
        }
        self.signal_rows(&batch.pass_inputs(), &signal, settings)
    }

    /// Adds the FedProx pull (when asked) to `grads` and takes the optimizer step.
    fn apply_update(
        &mut self,
        mut grads: GradientsParams,
        anchor: Option<&ProximalAnchor>,
    ) -> OptimStep {
        if let Some(anchor) = anchor {
            anchor.add_to(&self.policy, &mut grads);
        }
        let (policy, step) = self.optimizer.step(self.policy.clone(), grads);
        self.policy = policy;
        step
    }

    /// Samples G completions for each of `chosen` (indices into the training split) with
    /// `model`, decodes and scores them; adds the generation time to `sample_secs`.
    fn sample_groups(
        &self,
        sampler: &mut Sampler,
        model: &dyn Decode,
        chosen: &[usize],
        sample_secs: &mut f64,
    ) -> Result<SampledGroups, GrpoError> {
        let start = Instant::now();
        let prompt_ids: Vec<Vec<u32>> = chosen
            .iter()
            .map(|&i| self.encoded.train[i].clone())
            .collect();
        let completions = sampler.generate(
            model,
            &prompt_ids,
            &self.config.sampling(),
            self.tokenizer.eos_id(),
            self.tokenizer.pad_id(),
            &self.device,
        )?;
        *sample_secs += start.elapsed().as_secs_f64();
        let eos = self.tokenizer.eos_id();
        let texts = completions
            .iter()
            .map(|c| {
                let body: Vec<u32> = c.tokens.iter().copied().filter(|&t| t != eos).collect();
                self.tokenizer.decode(&body)
            })
            .collect::<Result<Vec<String>, GrpoError>>()?;
        let prompts: Vec<&Prompt> = completions
            .iter()
            .map(|c| &self.data.train[chosen[c.prompt_index]])
            .collect();
        let scored = score_completions(&self.rewards, &prompts, &texts);
        Ok(SampledGroups {
            prompt_ids,
            completions,
            scored,
        })
    }

    /// Lays out the sampled completions behind their prompts.
    fn rollout(
        &self,
        prompt_ids: &[Vec<u32>],
        completions: Vec<Completion>,
    ) -> Result<Rollout, GrpoError> {
        let prompts: Vec<&[u32]> = completions
            .iter()
            .map(|c| prompt_ids[c.prompt_index].as_slice())
            .collect();
        let bodies: Vec<&[u32]> = completions.iter().map(|c| c.tokens.as_slice()).collect();
        let batch = SequenceBatch::new(&prompts, &bodies, self.tokenizer.pad_id())?;
        let c = batch.completion_width;
        let mut mask = batch.completion_mask.clone();
        if self.config.grpo.mask_truncated_completions {
            for (row, comp) in completions.iter().enumerate() {
                if !comp.finished {
                    mask[row * c..(row + 1) * c].fill(0.0);
                }
            }
        }
        Ok(Rollout {
            batch,
            mask,
            completions,
        })
    }
}

/// The metrics of a loss at ρ = 1 without KL: nothing clipped.
fn unclipped_loss(loss: f32) -> LossMetrics {
    LossMetrics {
        loss: f64::from(loss),
        clip_region: 0.0,
        clip_low: 0.0,
        clip_high: 0.0,
        kl: None,
    }
}

/// The loss figures of the step's last update.
fn loss_metrics(loss: f32, stats: &LossStats) -> LossMetrics {
    LossMetrics {
        loss: f64::from(loss),
        clip_region: f64::from(stats.clip_region),
        clip_low: f64::from(stats.clip_low),
        clip_high: f64::from(stats.clip_high),
        kl: stats.kl.map(f64::from),
    }
}
