//! Greedy evaluation of a policy on one of the client's splits.

use std::time::Instant;

use burn::prelude::*;
use fedmoa_core::{EvalReport, Prompt, Split};

use fedmoa_rewards::ScoreMatrix;

use super::{GrpoTrainer, score_completions};
use crate::decode::Decode;
use crate::sampling::{Sampler, SamplingConfig};
use crate::{GrpoError, Policy};

impl<P: Policy> GrpoTrainer<P> {
    /// Greedy-decodes every prompt of `split` (up to `max_eval_prompts`) with `model`
    /// (on the plain device) and scores every objective.
    pub(super) fn evaluate_policy(
        &self,
        model: &dyn Decode,
        split: Split,
    ) -> Result<EvalReport, GrpoError> {
        let start = Instant::now();
        let limit = self.config.max_eval_prompts.unwrap_or(usize::MAX);
        let prompts: Vec<&Prompt> = self.data.get(split).iter().take(limit).collect();
        let ids = &self.encoded.get(split)[..prompts.len()];
        if prompts.is_empty() {
            return Err(GrpoError::Input(format!("split {split:?} is empty")));
        }
        let (texts, lens) = greedy_texts(
            model,
            ids,
            &self.config.eval_sampling(),
            self.config.eval_batch_size,
            self.tokenizer(),
            &self.device,
        )?;
        let scored = score_completions(&self.rewards, &prompts, &texts);
        let mut report = report_from(&scored);
        report.metrics.insert(
            "completion_len".into(),
            lens.iter().sum::<usize>() as f64 / lens.len() as f64,
        );
        report
            .metrics
            .insert("eval_secs".into(), start.elapsed().as_secs_f64());
        Ok(report)
    }
}

/// The model that sampling and greedy evaluation run on: `policy`'s decode-specialised
/// copy ([`Policy::decode_model`]) when `use_decode_model` is on and it has one, otherwise
/// its [`Policy::inference_copy`].
pub(super) fn decoding_copy<P: Policy>(policy: &P, use_decode_model: bool) -> Box<dyn Decode> {
    match use_decode_model.then(|| policy.decode_model()).flatten() {
        Some(fast) => Box::new(fast),
        None => Box::new(policy.inference_copy()),
    }
}

/// The report of a scored split: the primary objective (index 0) gives the accuracy.
fn report_from(scored: &ScoreMatrix) -> EvalReport {
    let objectives = scored.stats();
    let mut report = EvalReport {
        accuracy: scored.normalized_mean(0),
        n_examples: scored.n_samples() as u64,
        objectives,
        ..Default::default()
    };
    for o in &report.objectives {
        report
            .metrics
            .insert(format!("satisfaction/{}", o.id), f64::from(o.satisfaction));
    }
    report
}

/// Greedy completions (EOS stripped) of `ids`, decoded in batches, and their token counts.
///
/// # Errors
/// Sampling or decoding errors.
pub fn greedy_texts<D: Decode + ?Sized>(
    model: &D,
    ids: &[Vec<u32>],
    sampling: &SamplingConfig,
    batch_size: usize,
    tokenizer: &dyn crate::PolicyTokenizer,
    device: &Device,
) -> Result<(Vec<String>, Vec<usize>), GrpoError> {
    let mut sampler = Sampler::new(0);
    let mut texts = Vec::with_capacity(ids.len());
    let mut lens = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(batch_size.max(1)) {
        let out = sampler.generate(
            model,
            chunk,
            sampling,
            tokenizer.eos_id(),
            tokenizer.pad_id(),
            device,
        )?;
        for c in out {
            let body: Vec<u32> = c
                .tokens
                .iter()
                .copied()
                .filter(|&t| t != tokenizer.eos_id())
                .collect();
            lens.push(c.tokens.len());
            texts.push(tokenizer.decode(&body)?);
        }
    }
    Ok((texts, lens))
}
