//! [`PromptPrefix`]: the shared prompts of a batch prefilled once, which the batch's rows,
//! or the rows of any of its micro-batches, continue.

use burn::prelude::*;
use burn::tensor::Gradients;

use super::{SequenceBatch, int_tensor};
use crate::Policy;
use crate::layers::KvCache;

/// The prompts of a batch's runs of rows that share one, each prefilled once but for its
/// last column, one cache row per run ([`SequenceBatch::prefill_prompts`]).
///
/// A micro-batch of the batch continues it with [`SequenceBatch::logits_after_prefix`],
/// so that its prompts are not run again.
#[derive(Debug, Clone)]
pub struct PromptPrefix {
    /// Each cache row's prompt columns but the last, and its left padding.
    prompts: Vec<(Vec<u32>, usize)>,
    /// Prompt columns `P` of the batch.
    prompt_width: usize,
    /// The keys and values of the prefilled rows.
    cache: KvCache,
    /// The cache row of each row of the batch.
    owner: Vec<usize>,
}

impl PromptPrefix {
    /// The cache and the cache row of each row of the batch it came from.
    pub(super) fn into_parts(self) -> (KvCache, Vec<usize>) {
        (self.cache, self.owner)
    }

    /// This prefix with its keys and values as new leaves that require gradients: the
    /// backward of rows that continue it stops at the cache, whose gradient
    /// [`PromptPrefix::cache_grads`] reads. Micro-batches of a training pass continue this
    /// copy, and one backward of [`PromptPrefix::cotangent_loss`] carries their summed
    /// cache gradient through the prompts' forward once.
    pub fn detached(&self) -> Self {
        Self {
            cache: self.cache.detached_leaves(),
            ..self.clone()
        }
    }

    /// The gradient in `grads` of each cached key and value tensor, layer by layer (`None`
    /// where it has none).
    pub fn cache_grads(&self, grads: &Gradients) -> Vec<Option<Tensor<4>>> {
        self.cache.tensors().iter().map(|t| t.grad(grads)).collect()
    }

    /// `Σ ⟨t, g⟩` over the cached tensors `t` and their cotangents `g` (in
    /// [`PromptPrefix::cache_grads`] order, on the training device's inner device): its
    /// backward gives the parameters' gradient through the prompts' forward. `None` when no
    /// tensor has a cotangent.
    pub fn cotangent_loss(&self, cotangents: &[Option<Tensor<4>>]) -> Option<Tensor<1>> {
        self.cache
            .tensors()
            .into_iter()
            .zip(cotangents)
            .filter_map(|(t, g)| {
                let g = g.as_ref()?.clone().to_device(&t.device());
                Some((t * g).sum())
            })
            .reduce(|a, b| a + b)
    }

    /// The cache row holding each row's prompt of `batch`; `None` when a prompt is not
    /// here or the prompt widths differ.
    fn owners_of(&self, batch: &SequenceBatch) -> Option<Vec<usize>> {
        if batch.prompt_width != self.prompt_width {
            return None;
        }
        let p = self.prompt_width;
        let width = p + batch.completion_width;
        (0..batch.n_rows())
            .map(|r| {
                let prompt = &batch.tokens[r * width..r * width + p - 1];
                let pad = batch.left_pad[r];
                self.prompts
                    .iter()
                    .position(|(tokens, left)| tokens == prompt && *left == pad)
            })
            .collect()
    }
}

impl SequenceBatch {
    /// The prompts that runs of consecutive rows share, prefilled once each but for their
    /// last column; `None` when no two consecutive rows share a prompt or the prompt has
    /// one column (nothing to share).
    pub fn prefill_prompts<P: Policy>(&self, policy: &P, device: &Device) -> Option<PromptPrefix> {
        let runs = self.prompt_runs();
        let p = self.prompt_width;
        if runs.len() == self.n_rows() || p < 2 {
            return None;
        }
        let width = p + self.completion_width;
        let prompts: Vec<(Vec<u32>, usize)> = runs
            .iter()
            .map(|&(first, _)| {
                (
                    self.tokens[first * width..first * width + p - 1].to_vec(),
                    self.left_pad[first],
                )
            })
            .collect();
        let prefix: Vec<u32> = prompts
            .iter()
            .flat_map(|(t, _)| t.iter())
            .copied()
            .collect();
        let pads: Vec<usize> = prompts.iter().map(|&(_, pad)| pad).collect();
        let mut cache = policy.new_cache();
        // Only the cache is needed, not the prefix's logits.
        policy.prefill(
            int_tensor(&prefix, [runs.len(), p - 1], device),
            &pads,
            &mut cache,
        );
        let owner = runs
            .iter()
            .enumerate()
            .flat_map(|(u, &(_, len))| std::iter::repeat_n(u, len))
            .collect();
        Some(PromptPrefix {
            prompts,
            prompt_width: p,
            cache,
            owner,
        })
    }

    /// The logits of [`SequenceBatch::shared_prompt_logits`] for rows whose prompts
    /// `prefix` holds (a micro-batch of the batch it came from), continuing a copy of its
    /// cache instead of running the prompts again; `None` when a row's prompt is not in
    /// `prefix`.
    pub fn logits_after_prefix<P: Policy>(
        &self,
        prefix: &PromptPrefix,
        policy: &P,
        device: &Device,
    ) -> Option<Tensor<3>> {
        let owner = prefix.owners_of(self)?;
        Some(self.continue_prompts(prefix.cache.clone(), &owner, policy, device))
    }

    /// One forward over the last prompt column and the completion columns of every row,
    /// continuing `cache`'s row `owner[r]` for row `r`.
    pub(super) fn continue_prompts<P: Policy>(
        &self,
        mut cache: KvCache,
        owner: &[usize],
        policy: &P,
        device: &Device,
    ) -> Tensor<3> {
        let p = self.prompt_width;
        let width = p + self.completion_width;
        cache.select_rows(owner);
        let suffix: Vec<u32> = self
            .tokens
            .chunks(width)
            .flat_map(|row| row[p - 1..width - 1].iter().copied())
            .collect();
        policy.forward(
            int_tensor(&suffix, [self.n_rows(), self.completion_width], device),
            &[],
            Some(&mut cache),
        )
    }
}
