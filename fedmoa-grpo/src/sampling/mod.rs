//! Batched, seeded sampling with temperature, top-k and top-p, reusing the prompt's KV cache.
//!
//! The prompts are prefilled once as a left-padded batch; the cache and last logits are
//! then repeated `num_generations` times, and each step decodes one column for all rows,
//! or, with a model that can drop rows without changing the others' logits
//! ([`Decode::retain_rows`]), for the rows whose completions have not ended.
//! Token choice is an inverse CDF over the probabilities sorted in descending order, after
//! the nucleus/top-k mask, with one uniform per row from the owned, seeded RNG
//! ([`choose_with_uniforms`], on the device). The sampler computes the same choice on the
//! host without sorting token ids, and leaves to the device the rare batch in which a
//! row's chosen probability is tied with another token's.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use fedmoa_core::ConfigError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::GrpoError;
#[cfg(doc)]
use crate::Policy;
use crate::batch::PromptBatch;
use crate::decode::Decode;

mod host_choice;

/// How completions are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    /// Nucleus mass in `(0, 1]`; 1 disables top-p.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens; 0 disables top-k.
    pub top_k: usize,
    /// Most tokens generated per completion (EOS included).
    pub max_new_tokens: usize,
    /// Completions per prompt (TRL's `num_generations`, G).
    pub num_generations: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            max_new_tokens: 48,
            num_generations: 8,
        }
    }
}

impl SamplingConfig {
    /// Greedy decoding of one completion per prompt.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            max_new_tokens,
            num_generations: 1,
        }
    }

    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(ConfigError::new("temperature", "must be finite and ≥ 0"));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ConfigError::new("top_p", "must be in (0, 1]"));
        }
        if self.max_new_tokens == 0 {
            return Err(ConfigError::new("max_new_tokens", "must be > 0"));
        }
        if self.num_generations == 0 {
            return Err(ConfigError::new("num_generations", "must be > 0"));
        }
        Ok(())
    }
}

/// One sampled completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Index of its prompt in the input batch.
    pub prompt_index: usize,
    /// Generated ids; ends with EOS when [`Completion::finished`].
    pub tokens: Vec<u32>,
    /// True when EOS was produced within `max_new_tokens`.
    pub finished: bool,
}

/// Owns the sampling RNG; the same seed, model and prompts give the same completions.
#[derive(Debug, Clone)]
pub struct Sampler {
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Samples `num_generations` completions for every prompt, grouped by prompt:
    /// completions `i*G .. i*G+G` belong to prompt `i`.
    ///
    /// `model` is any [`Policy`] or a [`crate::decode::DecodeModel`], on a plain
    /// (non-autodiff) device, e.g. `policy.inference_copy()`.
    ///
    /// # Errors
    /// [`GrpoError::Config`] for a bad config, [`GrpoError::Input`] for an empty batch, a
    /// prompt too long for `max_new_tokens` within the model's `max_seq_len`, or a model
    /// whose [`Decode::retain_rows`] names rows it does not have.
    pub fn generate<D: Decode + ?Sized>(
        &mut self,
        model: &D,
        prompts: &[Vec<u32>],
        config: &SamplingConfig,
        eos_id: u32,
        pad_id: u32,
        device: &Device,
    ) -> Result<Vec<Completion>, GrpoError> {
        config.validate()?;
        let batch = PromptBatch::new(prompts, pad_id)?;
        if batch.width + config.max_new_tokens > model.max_seq_len() {
            return Err(GrpoError::Input(format!(
                "prompt width {} + max_new_tokens {} exceeds max_seq_len {}",
                batch.width,
                config.max_new_tokens,
                model.max_seq_len()
            )));
        }
        let g = config.num_generations;
        let n = batch.n_rows() * g;
        let mut cache = model.new_cache();
        let mut last = model.last_logits(batch.tensor(device), &batch.left_pad, &mut cache);
        let [b, v] = last.dims();
        if g > 1 {
            cache.repeat_rows(g);
            last = last.unsqueeze_dim::<3>(1).expand([b, g, v]).reshape([n, v]);
        }
        let mut out: Vec<Completion> = (0..n)
            .map(|r| Completion {
                prompt_index: r / g,
                tokens: Vec::new(),
                finished: false,
            })
            .collect();
        // The rows still in the model's batch (indices into `out`): the model may drop
        // finished completions ([`Decode::retain_rows`]).
        let mut active: Vec<usize> = (0..n).collect();
        for step in 0..config.max_new_tokens {
            // One uniform per row of the whole batch every step, dropped rows included, so
            // the draws of the rows that remain do not depend on what was dropped.
            let uniforms = self.uniforms(n, config);
            let uniforms: Vec<f32> = if uniforms.is_empty() {
                uniforms
            } else {
                active.iter().map(|&row| uniforms[row]).collect()
            };
            let next = self.choose(last, &uniforms, config, device);
            let ids: Vec<i64> = next.into_data().iter::<i64>().collect();
            for (&row, &id) in active.iter().zip(&ids) {
                let c = &mut out[row];
                if !c.finished {
                    let id = u32::try_from(id).unwrap_or(pad_id);
                    c.tokens.push(id);
                    c.finished = id == eos_id;
                }
            }
            if step + 1 == config.max_new_tokens || out.iter().all(|c| c.finished) {
                break;
            }
            let unfinished: Vec<usize> = (0..active.len())
                .filter(|&p| !out[active[p]].finished)
                .collect();
            let mut next_ids = ids;
            if unfinished.len() < active.len()
                && let Some(kept) = model.retain_rows(&mut cache, &unfinished)
            {
                match (pick(&next_ids, &kept), pick(&active, &kept)) {
                    (Some(ids), Some(rows)) => (next_ids, active) = (ids, rows),
                    _ => {
                        return Err(GrpoError::Input(format!(
                            "the model kept rows {kept:?} of {}",
                            active.len()
                        )));
                    }
                }
            }
            let rows = next_ids.len();
            let next = Tensor::<2, Int>::from_data(TensorData::new(next_ids, [rows, 1]), device);
            last = model.last_logits(next, &[], &mut cache);
        }
        Ok(out)
    }

    /// One uniform in `[0, 1)` per row for a step that samples (none for greedy
    /// decoding), drawn in row order from the owned RNG.
    fn uniforms(&mut self, n: usize, config: &SamplingConfig) -> Vec<f32> {
        if config.temperature == 0.0 {
            return Vec::new();
        }
        (0..n).map(|_| self.rng.random_range(0.0..1.0)).collect()
    }

    /// Picks one token per row of `logits` (`[N, V]`) → `[N]`, with `uniforms` (one per
    /// row; none for greedy decoding).
    fn choose(
        &mut self,
        logits: Tensor<2>,
        uniforms: &[f32],
        config: &SamplingConfig,
        device: &Device,
    ) -> Tensor<1, Int> {
        let [n, _] = logits.dims();
        if config.temperature == 0.0 {
            return logits.argmax(1).reshape([n]);
        }
        // The same choice on the host, without sorting token ids, unless a row needs the
        // device's order of tied probabilities (`host_choice`).
        let probs = sampling_probs(logits.clone(), config).into_data();
        if let Ok(values) = probs.as_slice::<f32>()
            && let Some(ids) = host_choice::choose_on_host(
                values,
                logits.dims()[1],
                uniforms,
                config.top_p,
                config.top_k,
            )
        {
            return Tensor::from_data(TensorData::new(ids, [n]), device);
        }
        let u = Tensor::<2>::from_data(TensorData::new(uniforms.to_vec(), [n, 1]), device);
        choose_with_uniforms(logits, u, config)
    }
}

/// `values` at positions `kept`; `None` when one is out of range.
fn pick<T: Copy>(values: &[T], kept: &[usize]) -> Option<Vec<T>> {
    kept.iter().map(|&p| values.get(p).copied()).collect()
}

/// Inverse-CDF choice over the tokens kept by top-k and top-p.
///
/// Tokens are sorted by probability; rank `r` is kept when `r < top_k` (if set) and the
/// mass strictly before it is below `top_p` (so the most likely token is always kept).
/// The row's uniform `u` then selects the first kept rank whose cumulative kept mass
/// exceeds `u · total`.
///
/// # Shapes
/// `logits: [N, V]`, `u: [N, 1]` in `[0, 1)` → `[N]`.
pub fn choose_with_uniforms(
    logits: Tensor<2>,
    u: Tensor<2>,
    config: &SamplingConfig,
) -> Tensor<1, Int> {
    let [n, v] = logits.dims();
    let device = logits.device();
    let probs = sampling_probs(logits, config);
    let (sorted, order) = probs.sort_descending_with_indices(1);
    let before = sorted.clone().cumsum(1) - sorted.clone();
    let mut keep = before.lower_elem(config.top_p);
    if config.top_k > 0 && config.top_k < v {
        let rank = Tensor::<1, Int>::arange(0..v as i64, &device)
            .reshape([1, v])
            .expand([n, v]);
        keep = keep.bool_and(rank.lower_elem(config.top_k as i64));
    }
    let n_kept = keep.clone().int().sum_dim(1); // [N, 1], ≥ 1
    let kept = sorted.mask_fill(keep.bool_not(), 0.0);
    let cdf = kept.cumsum(1);
    let total = cdf.clone().slice([0..n, v - 1..v]);
    let threshold = u.mul(total).expand([n, v]);
    let below = cdf.lower(threshold).int().sum_dim(1);
    let rank = below.min_pair(n_kept.sub_scalar(1));
    order.gather(1, rank).reshape([n])
}

/// The probabilities tokens are drawn from: softmax of the logits over the temperature.
fn sampling_probs(logits: Tensor<2>, config: &SamplingConfig) -> Tensor<2> {
    softmax(logits.div_scalar(config.temperature), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(temperature: f32, top_p: f32, top_k: usize) -> SamplingConfig {
        SamplingConfig {
            temperature,
            top_p,
            top_k,
            ..Default::default()
        }
    }

    fn pick(probs: [f32; 4], u: f32, c: &SamplingConfig) -> i64 {
        let dev = Device::flex();
        let logits = Tensor::<2>::from_floats([probs.map(f32::ln)], &dev);
        let u = Tensor::<2>::from_floats([[u]], &dev);
        choose_with_uniforms(logits, u, c)
            .into_data()
            .iter::<i64>()
            .next()
            .unwrap()
    }

    #[test]
    fn inverse_cdf_follows_sorted_probabilities() {
        // probs [0.1, 0.4, 0.2, 0.3] sorted: ids 1 (0.4), 3 (0.3), 2 (0.2), 0 (0.1);
        // cdf 0.4, 0.7, 0.9, 1.0.
        let c = cfg(1.0, 1.0, 0);
        let p = [0.1, 0.4, 0.2, 0.3];
        assert_eq!(pick(p, 0.05, &c), 1);
        assert_eq!(pick(p, 0.5, &c), 3);
        assert_eq!(pick(p, 0.8, &c), 2);
        assert_eq!(pick(p, 0.95, &c), 0);
    }

    #[test]
    fn top_p_and_top_k_truncate_the_tail() {
        let p = [0.1, 0.4, 0.2, 0.3];
        // top_p 0.6: mass before ranks = 0, 0.4, 0.7, 0.9 → keep ids 1, 3 (cdf 0.4, 0.7).
        // u = 0.95 → threshold 0.665 → rank 1 → id 3.
        assert_eq!(pick(p, 0.95, &cfg(1.0, 0.6, 0)), 3);
        // u = 0.5 → threshold 0.35 → rank 0 → id 1.
        assert_eq!(pick(p, 0.5, &cfg(1.0, 0.6, 0)), 1);
        // top_k 1 always keeps the argmax.
        assert_eq!(pick(p, 0.99, &cfg(1.0, 1.0, 1)), 1);
    }

    #[test]
    fn config_validation_names_the_field() {
        let err = cfg(-1.0, 1.0, 0).validate().unwrap_err();
        assert_eq!(err.field, "temperature");
        let err = cfg(1.0, 0.0, 0).validate().unwrap_err();
        assert_eq!(err.field, "top_p");
    }
}
