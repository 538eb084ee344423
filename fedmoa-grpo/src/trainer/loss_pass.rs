//! One loss pass (forward + backward) over a rollout's rows: whole, or in micro-batches
//! whose gradients are summed ([`GrpoTrainerConfig::micro_batch_rows`]).
//!
//! Micro-batches take the rows longest completion first within each prompt's run and
//! each drops the padding columns past its own longest completion ([`super::row_chunks`]).
//! With `share_prompt_forward`, the batch's shared prompts run once for all of them: each
//! micro-batch continues a detached copy of the prompts' keys and values
//! ([`PromptPrefix::detached`]), and the cache gradients the micro-batches leave go
//! through the prompts' forward in one backward after the last
//! ([`PromptPrefix::cotangent_loss`]).
//!
//! A pass's memory is the activations its backward keeps, which grow with the rows of the
//! pass: for SmolLM2-135M with 8 completions of 64 tokens they are about 1 GB. Split into
//! micro-batches, each forward keeps one micro-batch's activations; each micro-batch loss
//! is normalised by the whole batch's sizes ([`BatchTotals`]), so their sum is the whole
//! batch's loss and the summed gradient its gradient, up to float rounding (TRL's gradient
//! accumulation does the same; `bnpo` normalises each micro-batch by its own tokens, as in
//! TRL).
//!
//! [`GrpoTrainerConfig::micro_batch_rows`]: super::GrpoTrainerConfig::micro_batch_rows

use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_core::axpy_slice;

use super::GrpoTrainer;
use super::row_chunks::row_chunks;
use crate::batch::{PromptPrefix, SequenceBatch};
use crate::grpo::{
    BatchTotals, LossInputs, LossSettings, LossStats, flatten_gradients, grpo_loss, masked_mean,
    tempered_logits, token_logprobs, token_logprobs_and_entropy, trainable_len,
    unflatten_gradients,
};
use crate::{GrpoError, Policy};

/// The rows of one pass and what their loss needs, on the training device.
pub(super) struct PassRows<'a> {
    /// Prompt + completion tokens of the rows.
    pub batch: &'a SequenceBatch,
    /// Target token ids of the completion columns, `[n, C]`.
    pub targets: Tensor<2, Int>,
    /// Loss mask, `[n, C]`.
    pub mask: Tensor<2>,
    /// One advantage per row, `[n]`.
    pub advantages: Tensor<1>,
    /// The KL reference's token log-probs (detached), when the loss has a KL term.
    pub ref_logprobs: Option<Tensor<2>>,
    /// The whole batch's sizes when these rows are a subset of it.
    pub totals: Option<BatchTotals>,
    /// 1 / sampling temperature.
    pub inv_temp: f64,
}

/// The gradient of a pass: Burn's own for one forward, a flattened sum for several.
pub(super) enum PassGradient {
    /// From one backward.
    Params(GradientsParams),
    /// Summed over micro-batches, flattened over the trainable parameters.
    Flat(Vec<f32>),
}

impl PassGradient {
    /// As Burn gradients of `policy`'s parameters.
    pub fn into_params<P: Policy>(self, policy: &P) -> Result<GradientsParams, GrpoError> {
        match self {
            Self::Params(g) => Ok(g),
            Self::Flat(flat) => Ok(unflatten_gradients(policy, &flat)?),
        }
    }

    /// Flattened over `policy`'s trainable parameters.
    pub fn into_flat<P: Policy>(self, policy: &P) -> Vec<f32> {
        match self {
            Self::Params(g) => flatten_gradients(policy, &g),
            Self::Flat(flat) => flat,
        }
    }
}

/// What a pass measured, besides its gradient.
pub(super) struct PassOutput {
    /// The gradient of the pass's loss.
    pub gradient: PassGradient,
    /// The loss (the sum of the micro-batch losses).
    pub loss: f32,
    /// Loss statistics over every token of the pass.
    pub stats: LossStats,
    /// The policy's token log-probs on every row, detached, `[n, C]`.
    pub logprobs: Tensor<2>,
    /// Mean token entropy over the mask, when asked for.
    pub entropy: Option<f64>,
}

impl<P: Policy> GrpoTrainer<P> {
    /// One forward + backward of the GRPO loss over `rows` (in micro-batches when
    /// configured). `old_logprobs` are log π_old (`None`: the pass's own log-probs, ρ = 1).
    pub(super) fn loss_pass(
        &self,
        rows: PassRows<'_>,
        old_logprobs: Option<&Tensor<2>>,
        settings: &LossSettings,
        with_entropy: bool,
    ) -> Result<PassOutput, GrpoError> {
        let n = rows.batch.n_rows();
        let size = self.config.micro_batch_rows.unwrap_or(n).max(1);
        if size >= n {
            let (out, _) =
                self.forward_backward(rows, old_logprobs.cloned(), settings, with_entropy, None)?;
            return Ok(out);
        }
        let totals = rows.totals.unwrap_or_else(|| BatchTotals {
            sequences: n,
            tokens: f64::from(rows.mask.clone().sum().into_scalar::<f32>()),
        });
        let mut flat = vec![0.0f32; trainable_len(&self.policy)];
        let mut loss = 0.0f32;
        let mut parts: Vec<LossStats> = Vec::new();
        let mut logprobs = Vec::new();
        let mut entropy_sum = 0.0f64;
        let device = rows.mask.device();
        let (chunks, order) = row_chunks(rows.batch, size, &device)?;
        // The shared prompts run once for every micro-batch: each continues a detached copy
        // of their keys and values, and the cache gradients they leave go through the
        // prompts' forward in one backward at the end.
        let prompts = if self.config.share_prompt_forward {
            rows.batch
                .prefill_prompts(&self.policy, &self.device.clone().autodiff())
        } else {
            None
        };
        let leaves = prompts.as_ref().map(PromptPrefix::detached);
        let mut cotangents: Vec<Option<Tensor<4>>> = Vec::new();
        for chunk in &chunks {
            let part = PassRows {
                batch: &chunk.batch,
                targets: chunk.cut_ids(rows.targets.clone()),
                mask: chunk.cut(rows.mask.clone()),
                advantages: rows.advantages.clone().select(0, chunk.rows.clone()),
                ref_logprobs: rows.ref_logprobs.clone().map(|r| chunk.cut(r)),
                totals: Some(totals),
                inv_temp: rows.inv_temp,
            };
            let old = old_logprobs.map(|o| chunk.cut(o.clone()));
            let (out, cache_grads) =
                self.forward_backward(part, old, settings, with_entropy, leaves.as_ref())?;
            add_cotangents(&mut cotangents, cache_grads);
            axpy_slice(&mut flat, 1.0, &out.gradient.into_flat(&self.policy));
            loss += out.loss;
            entropy_sum += out.entropy.unwrap_or(0.0) * f64::from(out.stats.n_tokens);
            parts.push(out.stats);
            logprobs.push(out.logprobs);
        }
        if let Some(loss) = prompts.and_then(|p| p.cotangent_loss(&cotangents)) {
            let prompt_grads = GradientsParams::from_grads(loss.backward(), &self.policy);
            axpy_slice(
                &mut flat,
                1.0,
                &flatten_gradients(&self.policy, &prompt_grads),
            );
        }
        let logprobs = order.reassemble(logprobs, &device);
        Ok(PassOutput {
            gradient: PassGradient::Flat(flat),
            loss,
            stats: combined_stats(&parts),
            logprobs,
            entropy: with_entropy.then(|| {
                let n_tokens: f64 = parts.iter().map(|s| f64::from(s.n_tokens)).sum();
                if n_tokens > 0.0 {
                    entropy_sum / n_tokens
                } else {
                    0.0
                }
            }),
        })
    }

    /// One forward and one backward over all of `rows`; with `prompts`, rows whose prompts
    /// it holds continue it, and the gradient of its cache comes back beside the output.
    pub(super) fn forward_backward(
        &self,
        rows: PassRows<'_>,
        old_logprobs: Option<Tensor<2>>,
        settings: &LossSettings,
        with_entropy: bool,
        prompts: Option<&PromptPrefix>,
    ) -> Result<(PassOutput, Vec<Option<Tensor<4>>>), GrpoError> {
        let train_dev = self.device.clone().autodiff();
        let continued = prompts.and_then(|p| {
            rows.batch
                .logits_after_prefix(p, &self.policy, &train_dev)
                .map(|logits| (p, logits))
        });
        let (prompts, logits) = match continued {
            Some((p, logits)) => (Some(p), logits),
            None => (
                None,
                self.completion_logits(rows.batch, &self.policy, &train_dev),
            ),
        };
        let logits = tempered_logits(logits, rows.inv_temp);
        let (lp, entropy) = if with_entropy {
            let (lp, h) = token_logprobs_and_entropy(logits, rows.targets)?;
            let h = masked_mean(h, rows.mask.clone())?;
            (lp, Some(f64::from(h.into_scalar::<f32>())))
        } else {
            (token_logprobs(logits, rows.targets)?, None)
        };
        let detached = lp.clone().detach();
        let out = grpo_loss(
            LossInputs {
                old_logprobs: old_logprobs.unwrap_or_else(|| detached.clone()),
                logprobs: lp,
                ref_logprobs: rows.ref_logprobs,
                mask: rows.mask,
                advantages: rows.advantages,
                batch_totals: rows.totals,
            },
            settings,
        )?;
        let loss = out.loss.clone().into_scalar::<f32>();
        let grads = out.loss.backward();
        let cache_grads = prompts.map(|p| p.cache_grads(&grads)).unwrap_or_default();
        let gradient = GradientsParams::from_grads(grads, &self.policy);
        Ok((
            PassOutput {
                gradient: PassGradient::Params(gradient),
                loss,
                stats: out.stats,
                logprobs: detached,
                entropy,
            },
            cache_grads,
        ))
    }
}

/// Adds a micro-batch's cache gradients to the sums `total` (in
/// [`PromptPrefix::cache_grads`] order; empty until the first).
pub(super) fn add_cotangents(total: &mut Vec<Option<Tensor<4>>>, grads: Vec<Option<Tensor<4>>>) {
    if total.is_empty() {
        *total = grads;
        return;
    }
    for (sum, g) in total.iter_mut().zip(grads) {
        *sum = match (sum.take(), g) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

/// The statistics of several micro-batches as those of one batch: token-weighted means.
fn combined_stats(parts: &[LossStats]) -> LossStats {
    let n_tokens: f32 = parts.iter().map(|s| s.n_tokens).sum();
    let mean = |value: &dyn Fn(&LossStats) -> f32| -> f32 {
        if n_tokens > 0.0 {
            parts.iter().map(|s| value(s) * s.n_tokens).sum::<f32>() / n_tokens
        } else {
            0.0
        }
    };
    let has_kl = parts.iter().all(|s| s.kl.is_some());
    LossStats {
        n_tokens,
        kl: has_kl.then(|| mean(&|s| s.kl.unwrap_or(0.0))),
        clip_low: mean(&|s| s.clip_low),
        clip_high: mean(&|s| s.clip_high),
        clip_region: mean(&|s| s.clip_region),
        ratio_mean: mean(&|s| s.ratio_mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n_tokens: f32, clip: f32, kl: Option<f32>) -> LossStats {
        LossStats {
            n_tokens,
            kl,
            clip_low: clip,
            clip_high: 0.0,
            clip_region: clip,
            ratio_mean: 1.0 + clip,
        }
    }

    #[test]
    fn combined_statistics_weigh_each_part_by_its_tokens() {
        // 10 tokens at clip 0.1 and 30 at clip 0.5: (1 + 15) / 40 = 0.4; KL (10·0.2 +
        // 30·0.6) / 40 = 0.5; ratio (10·1.1 + 30·1.5) / 40 = 1.4.
        let c = combined_stats(&[stats(10.0, 0.1, Some(0.2)), stats(30.0, 0.5, Some(0.6))]);
        assert_eq!(c.n_tokens, 40.0);
        assert!((c.clip_low - 0.4).abs() < 1e-6, "{c:?}");
        assert!((c.clip_region - 0.4).abs() < 1e-6, "{c:?}");
        assert!((c.kl.unwrap() - 0.5).abs() < 1e-6, "{c:?}");
        assert!((c.ratio_mean - 1.4).abs() < 1e-6, "{c:?}");
        let none = combined_stats(&[stats(0.0, 0.3, None), stats(0.0, 0.2, None)]);
        assert_eq!((none.n_tokens, none.clip_low, none.kl), (0.0, 0.0, None));
    }
}
