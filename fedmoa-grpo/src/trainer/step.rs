//! One GRPO step: sample, score, advantages, (per-objective gradients,) loss, update.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_core::{Prompt, StepSignals, axpy_slice};

use super::dynamic_sampling::SampledGroups;
use super::objective_passes::{PassInputs, PrimaryKl};
use super::step_metrics::{LossMetrics, ObjectiveStepMetrics, StepMetrics};
use super::{GrpoTrainer, ProximalAnchor, score_completions};
use crate::batch::SequenceBatch;
use crate::grpo::{
    AdvantageSettings, LossInputs, LossSettings, LossStats, OptimStep, compute_advantages, entropy,
    grpo_loss, token_logprobs, unflatten_gradients,
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

impl<P: Policy> GrpoTrainer<P> {
    /// Runs one step and returns its metrics.
    pub(super) fn grpo_step(
        &mut self,
        sampler: &mut Sampler,
        reference: Option<&P>,
        anchor: Option<&ProximalAnchor>,
    ) -> Result<StepMetrics, GrpoError> {
        let t0 = Instant::now();
        let grpo = self.config.grpo.clone();
        let g = grpo.num_generations;
        let chosen = self.next_prompts(grpo.prompts_per_step);

        // 1. Sample G completions per prompt from the current policy (no autodiff), and
        // 2. score every objective; with dynamic sampling, replace the groups whose primary
        // reward has no variance by fresh prompts, up to `dynamic_sampling_rounds` times.
        let sampling_model = self.policy.inference_copy();
        let mut sample_secs = 0.0;
        let mut sampled =
            self.sample_groups(sampler, &sampling_model, &chosen, &mut sample_secs)?;
        let frac_zero_std = sampled.zero_variance_fraction(g);
        let mut resampled_groups = 0;
        for _ in 0..grpo.dynamic_sampling_rounds {
            let slots = sampled.zero_variance_groups(g);
            if slots.is_empty() {
                break;
            }
            let fresh_prompts = self.next_prompts(slots.len());
            let fresh =
                self.sample_groups(sampler, &sampling_model, &fresh_prompts, &mut sample_secs)?;
            resampled_groups += slots.len();
            sampled.replace(&slots, fresh, g);
        }
        let SampledGroups {
            prompt_ids,
            completions,
            scored,
        } = sampled;

        // 3. Advantages with the weighter's current weights.
        let weights = self.weighter.weights().to_vec();
        let maxima: Vec<f32> = self.rewards.iter().map(|r| r.range().max).collect();
        let adv = compute_advantages(
            &scored.rewards,
            &weights,
            &maxima,
            g,
            AdvantageSettings::from(&grpo),
        )?;

        // 4. The batch of prompt + completion tokens.
        let rollout = self.rollout(&prompt_ids, completions)?;
        let train_dev = self.device.clone().autodiff();
        let n = rollout.batch.n_rows();
        let c = rollout.batch.completion_width;
        let mask =
            Tensor::<2>::from_data(TensorData::new(rollout.mask.clone(), [n, c]), &train_dev);
        let targets = rollout.batch.target_tensor(&train_dev);
        let inv_temp = 1.0 / grpo.temperature;
        let ref_lp = match reference {
            Some(r) => {
                let logits = rollout
                    .batch
                    .completion_logits(r, &self.device)
                    .mul_scalar(inv_temp);
                let lp = token_logprobs(logits, rollout.batch.target_tensor(&self.device))?;
                Some(Tensor::<2>::from_data(lp.into_data(), &train_dev))
            }
            None => None,
        };
        let settings = LossSettings::from(&grpo);
        let advantages =
            |a: &[f32]| Tensor::<1>::from_data(TensorData::new(a.to_vec(), [n]), &train_dev);

        // 5. Per-objective gradients g_k(θ_t) for the weighter, only when it asks.
        let pass_inputs = PassInputs {
            batch: &rollout.batch,
            targets: targets.clone(),
            mask: mask.clone(),
            host_mask: &rollout.mask,
            inv_temp,
        };
        let mut grad_secs = 0.0;
        let mut objective_passes = 0;
        let mut objective_rows = 0.0;
        let mut update_gradient = None;
        let mut first_forward = None;
        // With β > 0 the KL term joins the primary pass (β / w_0) when configured and w_0 > 0,
        // so that Σ_k w_k g_k is the update's gradient.
        let primary_kl = match (&ref_lp, weights.first()) {
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
        let gradients = if self.weighter.needs().gradient_dots {
            let passes = self.objective_passes(
                &pass_inputs,
                &adv.per_objective,
                &settings,
                primary_kl.as_ref(),
            )?;
            grad_secs = passes.secs;
            objective_passes = passes.passes;
            objective_rows = passes.rows;
            first_forward = passes.first_forward;
            if gradients_are_the_update {
                let mut combined = vec![0.0f32; passes.grads.first().map_or(0, Vec::len)];
                for (w, g) in weights.iter().zip(&passes.grads) {
                    axpy_slice(&mut combined, *w, g);
                }
                update_gradient = Some(combined);
            }
            // The history keeps this step's gradients for the next step's lagged signals.
            Some(self.history.signals(passes.grads)?)
        } else {
            None
        };

        // 6a. With one inner iteration, and without KL or with the KL folded into g_0, the
        // update's gradient is exactly Σ_k w_k g_k (the loss is linear in the advantage and
        // ρ = 1): reuse it.
        let mut last = None;
        let mut entropy_value = 0.0;
        let mut lr = 0.0;
        let mut grad_norm = 0.0;
        let mut iterations = grpo.num_iterations;
        if let Some(combined) = update_gradient {
            let (lp, h) = match first_forward {
                Some(forward) => forward,
                None => self.detached_forward(&pass_inputs)?,
            };
            let out = grpo_loss(
                LossInputs {
                    logprobs: lp.clone(),
                    old_logprobs: lp,
                    ref_logprobs: ref_lp.clone(),
                    mask: mask.clone(),
                    advantages: advantages(&adv.total),
                    batch_totals: None,
                },
                &settings,
            )?;
            let step = self.apply_update(unflatten_gradients(&self.policy, &combined)?, anchor);
            lr = step.lr;
            grad_norm = step.grad_norm;
            entropy_value = h;
            last = Some((out.loss.into_scalar::<f32>(), out.stats));
            iterations = 0;
        }

        // 6b. Otherwise: the loss with the weighted advantages, μ inner iterations.
        let mut old_lp: Option<Tensor<2>> = None;
        for iteration in 0..iterations {
            let logits = rollout
                .batch
                .completion_logits(&self.policy, &train_dev)
                .mul_scalar(inv_temp);
            if iteration == 0 {
                entropy_value =
                    f64::from(entropy(logits.clone().detach(), mask.clone())?.into_scalar::<f32>());
            }
            let lp = token_logprobs(logits, targets.clone())?;
            let old = old_lp.get_or_insert_with(|| lp.clone().detach()).clone();
            let out = grpo_loss(
                LossInputs {
                    logprobs: lp,
                    old_logprobs: old,
                    ref_logprobs: ref_lp.clone(),
                    mask: mask.clone(),
                    advantages: advantages(&adv.total),
                    batch_totals: None,
                },
                &settings,
            )?;
            let loss_value: f32 = out.loss.clone().into_scalar::<f32>();
            if !loss_value.is_finite() {
                return Err(GrpoError::Diverged(format!("GRPO loss {loss_value}")));
            }
            let grads = GradientsParams::from_grads(out.loss.backward(), &self.policy);
            let step = self.apply_update(grads, anchor);
            lr = step.lr;
            grad_norm = step.grad_norm;
            last = Some((loss_value, out.stats));
        }

        // 7. The weighter sees this step's rewards (and gradients).
        let step_index = self.optimizer.steps_taken().saturating_sub(1);
        let observed = self.weighter.observe(&StepSignals {
            step: step_index,
            reward_means: adv.stats.reward_mean.clone(),
            saturation: adv.stats.saturation.clone(),
            gradients,
        });

        // 8. Metrics.
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
        let n_completions = rollout.completions.len().max(1) as f64;
        let total_len: usize = rollout.completions.iter().map(|c| c.tokens.len()).sum();
        let truncated = rollout.completions.iter().filter(|c| !c.finished).count();
        Ok(StepMetrics {
            step: step_index,
            objectives,
            zero_std_frac: f64::from(adv.stats.total_zero_std_fraction),
            frac_reward_zero_std: frac_zero_std,
            resampled_groups,
            loss: last.map(|(loss, stats)| loss_metrics(loss, &stats)),
            completion_len: total_len as f64 / n_completions,
            truncated_frac: truncated as f64 / n_completions,
            entropy: entropy_value,
            lr,
            grad_norm,
            weighter_error: observed.is_err(),
            sample_secs,
            objective_grad_secs: grad_secs,
            objective_passes,
            objective_pass_rows: objective_rows,
            step_secs: t0.elapsed().as_secs_f64(),
        })
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
        model: &P,
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
