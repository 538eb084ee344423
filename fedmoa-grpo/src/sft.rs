//! Warm start: teacher-forced next-token training on the worked solutions, cached on disk.
//!
//! GRPO learns only from reward variance within a group, so a policy that never solves a
//! problem (or always does) gets no signal. The warm start trains a fresh [`TinyLm`] on
//! `prompt → solution` pairs (loss on the completion tokens only) for a short, fixed
//! budget so that it solves some but not all problems. [`load_or_train`] caches the
//! tokenizer and the parameters under a key hashed from every config, the seed and the
//! training texts, so examples and tests pay for it once.

use std::path::PathBuf;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use fedmoa_core::{ConfigError, Prompt};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::batch::SequenceBatch;
use crate::checkpoint::{cache_dir, fnv1a64, load_params, save_params, write_atomic};
use crate::grpo::token_logprobs;
use crate::tokenizer::{TaskTokenizer, TokenizerTrainConfig};
use crate::{GrpoError, Policy, TinyLm, TinyLmConfig};

/// Optimisation settings of the warm start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftConfig {
    /// Passes over the examples.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Peak AdamW learning rate.
    pub learning_rate: f64,
    /// Linear warm-up steps before a cosine decay to 10% of the peak.
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Per-tensor gradient-norm clip; 0 disables it.
    pub max_grad_norm: f32,
    /// Seed of the weight initialisation and the shuffling.
    pub seed: u64,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self {
            epochs: 4,
            batch_size: 32,
            learning_rate: 3e-3,
            warmup_steps: 20,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 0,
        }
    }
}

impl SftConfig {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.epochs == 0 {
            return Err(ConfigError::new("epochs", "must be > 0"));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::new("batch_size", "must be > 0"));
        }
        fedmoa_core::require_positive("learning_rate", self.learning_rate)?;
        fedmoa_core::require_in_range("weight_decay", f64::from(self.weight_decay), 0.0, 1.0)?;
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return Err(ConfigError::new("max_grad_norm", "must be finite and ≥ 0"));
        }
        Ok(())
    }

    /// Learning rate at optimizer step `step` of `total`: linear warm-up, then cosine
    /// decay from the peak to 10% of it.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let peak = self.learning_rate;
        if step < self.warmup_steps {
            return peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = total.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

/// Everything that determines a warm-started model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarmStartConfig {
    /// Model sizes (`vocab_size` is replaced by the trained tokenizer's).
    pub model: TinyLmConfig,
    /// Tokenizer training.
    pub tokenizer: TokenizerTrainConfig,
    /// Optimisation.
    pub sft: SftConfig,
}

impl WarmStartConfig {
    /// Checks every part.
    ///
    /// # Errors
    /// [`ConfigError`] with the field path (`sft.epochs`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.model.validate().map_err(|e| e.within("model"))?;
        self.tokenizer
            .validate()
            .map_err(|e| e.within("tokenizer"))?;
        self.sft.validate().map_err(|e| e.within("sft"))
    }
}

/// What the warm start did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmStartReport {
    /// Optimizer steps.
    pub steps: usize,
    /// Mean completion-token cross-entropy of the first and the last step.
    pub first_loss: f32,
    /// Loss of the last step.
    pub last_loss: f32,
    /// Wall-clock seconds of training (not of loading from the cache).
    pub secs: f64,
    /// True when this call loaded the result from the cache.
    pub from_cache: bool,
    /// Cache directory of this warm start.
    pub cache_path: PathBuf,
}

impl std::fmt::Display for WarmStartReport {
    /// `trained (225 steps, loss 2.104 → 0.312, 156.8 s)` or `loaded from the cache (…)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.from_cache {
            "loaded from the cache"
        } else {
            "trained"
        };
        write!(
            f,
            "{how} ({} steps, loss {:.3} → {:.3}, {:.1} s)",
            self.steps, self.first_loss, self.last_loss, self.secs
        )
    }
}

/// `(prompt, solution)` pairs of the prompts that have a worked solution.
fn examples(prompts: &[Prompt]) -> Vec<(&str, &str)> {
    prompts
        .iter()
        .filter_map(|p| p.solution.as_deref().map(|s| (p.text.as_str(), s)))
        .collect()
}

/// Trains the tokenizer and a fresh model on `prompts`' solutions (no caching).
///
/// The model is returned on `device.autodiff()`, ready for GRPO.
///
/// # Errors
/// [`GrpoError::Config`], [`GrpoError::Input`] when no prompt has a solution or a pair
/// exceeds `max_seq_len`, [`GrpoError::Diverged`] on a non-finite loss.
pub fn train_warm_start(
    prompts: &[Prompt],
    config: &WarmStartConfig,
    device: &Device,
) -> Result<(TinyLm, TaskTokenizer, WarmStartReport), GrpoError> {
    config.validate()?;
    let pairs = examples(prompts);
    if pairs.is_empty() {
        return Err(GrpoError::Input("no prompt has a worked solution".into()));
    }
    let texts = pairs.iter().flat_map(|(p, s)| [*p, *s]);
    let tokenizer = TaskTokenizer::train(texts, &config.tokenizer)?;
    let mut encoded = Vec::with_capacity(pairs.len());
    for (p, s) in &pairs {
        let (p, s) = (tokenizer.encode_prompt(p)?, tokenizer.encode_completion(s)?);
        if p.len() + s.len() > config.model.max_seq_len {
            return Err(GrpoError::Input(format!(
                "example of {} tokens exceeds max_seq_len {}",
                p.len() + s.len(),
                config.model.max_seq_len
            )));
        }
        encoded.push((p, s));
    }
    let model_config = TinyLmConfig {
        vocab_size: tokenizer.vocab_size(),
        ..config.model.clone()
    };
    let train_device = device.clone().autodiff();
    let start = Instant::now();
    let model = model_config.init_seeded(&train_device, config.sft.seed)?;
    let (model, report) = run_sft(
        model,
        &encoded,
        &config.sft,
        tokenizer.pad_id(),
        &train_device,
    )?;
    let report = WarmStartReport {
        secs: start.elapsed().as_secs_f64(),
        ..report
    };
    Ok((model, tokenizer, report))
}

/// Runs the optimisation; `model` must live on an autodiff device.
fn run_sft(
    mut model: TinyLm,
    encoded: &[(Vec<u32>, Vec<u32>)],
    config: &SftConfig,
    pad_id: u32,
    device: &Device,
) -> Result<(TinyLm, WarmStartReport), GrpoError> {
    let mut adamw = AdamWConfig::new()
        .with_weight_decay(config.weight_decay)
        .with_epsilon(1e-8);
    if config.max_grad_norm > 0.0 {
        adamw = adamw.with_grad_clipping(Some(GradientClippingConfig::Norm(config.max_grad_norm)));
    }
    let mut optim = adamw.init();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    let steps_per_epoch = encoded.len().div_ceil(config.batch_size);
    let total = steps_per_epoch * config.epochs;
    let (mut first_loss, mut last_loss) = (f32::NAN, f32::NAN);
    let mut step = 0;
    for _ in 0..config.epochs {
        order.shuffle(&mut rng);
        let lengths: Vec<usize> = encoded.iter().map(|(p, c)| p.len() + c.len()).collect();
        for chunk in length_grouped_batches(&order, &lengths, config.batch_size, &mut rng) {
            let prompts: Vec<&[u32]> = chunk.iter().map(|&i| encoded[i].0.as_slice()).collect();
            let completions: Vec<&[u32]> = chunk.iter().map(|&i| encoded[i].1.as_slice()).collect();
            let batch = SequenceBatch::new(&prompts, &completions, pad_id)?;
            let logits = batch.completion_logits(&model, device);
            let lp = token_logprobs(logits, batch.target_tensor(device))?;
            let mask = batch.mask_tensor(device);
            let loss = (lp * mask.clone()).sum().neg() / mask.sum();
            let value: f32 = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(GrpoError::Diverged(format!(
                    "SFT loss {value} at step {step}"
                )));
            }
            if step == 0 {
                first_loss = value;
            }
            last_loss = value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.lr_at(step, total), model, grads);
            step += 1;
        }
    }
    Ok((
        model,
        WarmStartReport {
            steps: step,
            first_loss,
            last_loss,
            secs: 0.0,
            from_cache: false,
            cache_path: PathBuf::new(),
        },
    ))
}

/// Examples per sorting window of [`length_grouped_batches`], in batches.
const LENGTH_WINDOW_BATCHES: usize = 16;

/// Splits the shuffled `order` into batches of similar lengths (less padding, so less
/// wasted compute): each window of [`LENGTH_WINDOW_BATCHES`] batches is sorted by length
/// and cut into batches, then the batch order is shuffled.
fn length_grouped_batches(
    order: &[usize],
    lengths: &[usize],
    batch_size: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let mut batches = Vec::with_capacity(order.len().div_ceil(batch_size));
    for window in order.chunks(batch_size * LENGTH_WINDOW_BATCHES) {
        let mut window = window.to_vec();
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Version of the warm-start procedure, part of the cache key: bump it whenever training
/// changes so stale cache entries are not reused.
const PROCEDURE_VERSION: &str = "sft-v2-length-grouped";

/// Cache key of a warm start: procedure version, configs, seed and every training text.
pub fn cache_key(prompts: &[Prompt], config: &WarmStartConfig) -> String {
    let mut bytes = PROCEDURE_VERSION.as_bytes().to_vec();
    bytes.extend(serde_json::to_vec(config).unwrap_or_default());
    for (p, s) in examples(prompts) {
        bytes.extend_from_slice(p.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
    }
    format!("{:016x}", fnv1a64(&bytes))
}

/// [`train_warm_start`] with an on-disk cache under [`cache_dir`]`/warm_start/<key>/`
/// (`tokenizer.json`, `params.bin`, `report.json`).
///
/// # Errors
/// As [`train_warm_start`], plus [`GrpoError::Io`] when the cache cannot be written. A
/// corrupt cache entry is retrained and overwritten.
pub fn load_or_train(
    prompts: &[Prompt],
    config: &WarmStartConfig,
    device: &Device,
) -> Result<(TinyLm, TaskTokenizer, WarmStartReport), GrpoError> {
    config.validate()?;
    let dir = cache_dir()
        .join("warm_start")
        .join(cache_key(prompts, config));
    if let Ok(hit) = load_cached(&dir, config, device) {
        return Ok(hit);
    }
    let (model, tokenizer, report) = train_warm_start(prompts, config, device)?;
    let report = WarmStartReport {
        cache_path: dir.clone(),
        ..report
    };
    std::fs::create_dir_all(&dir).map_err(|e| GrpoError::io(&dir, e))?;
    tokenizer.save(dir.join("tokenizer.json"))?;
    save_params(&dir.join("params.bin"), &model.to_param_set()?)?;
    let json = serde_json::to_vec_pretty(&report).map_err(|e| GrpoError::Checkpoint {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.join("report.json"), &json)?;
    Ok((model, tokenizer, report))
}

fn load_cached(
    dir: &std::path::Path,
    config: &WarmStartConfig,
    device: &Device,
) -> Result<(TinyLm, TaskTokenizer, WarmStartReport), GrpoError> {
    let report_path = dir.join("report.json");
    let bytes = std::fs::read(&report_path).map_err(|e| GrpoError::io(&report_path, e))?;
    let report: WarmStartReport =
        serde_json::from_slice(&bytes).map_err(|e| GrpoError::Checkpoint {
            path: report_path.clone(),
            reason: e.to_string(),
        })?;
    let tokenizer = TaskTokenizer::from_file(dir.join("tokenizer.json"))?;
    let params = load_params(&dir.join("params.bin"))?;
    let model_config = TinyLmConfig {
        vocab_size: tokenizer.vocab_size(),
        ..config.model.clone()
    };
    let model = model_config
        .init(&device.clone().autodiff())?
        .load_param_set(&params)?;
    Ok((
        model,
        tokenizer,
        WarmStartReport {
            from_cache: true,
            cache_path: dir.to_path_buf(),
            ..report
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_schedule_warms_up_then_decays_to_a_tenth() {
        let c = SftConfig {
            learning_rate: 1.0,
            warmup_steps: 4,
            ..Default::default()
        };
        // warm-up: (step+1)/4
        assert!((c.lr_at(0, 14) - 0.25).abs() < 1e-12);
        assert!((c.lr_at(3, 14) - 1.0).abs() < 1e-12);
        // after warm-up: 0.1 + 0.45 (1 + cos(π p)), p = (step − 4)/10
        assert!((c.lr_at(4, 14) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(9, 14) - 0.55).abs() < 1e-12);
        assert!((c.lr_at(14, 14) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn validation_names_nested_fields() {
        let c = WarmStartConfig {
            sft: SftConfig {
                epochs: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "sft.epochs");
    }

    #[test]
    fn length_grouped_batches_cover_every_example_once_with_little_padding() {
        // 100 examples of lengths 0..99 in a shuffled order, batches of 4, windows of 64.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut order: Vec<usize> = (0..100).collect();
        order.shuffle(&mut rng);
        let lengths: Vec<usize> = (0..100).collect();
        let batches = length_grouped_batches(&order, &lengths, 4, &mut rng);
        assert_eq!(batches.len(), 25);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        // Padding per batch = Σ (max − len). Random batches of 4 from lengths uniform on
        // 0..99 pad about 4·E[max] − 4·E[len] = 4·80 − 4·50 = 120 per batch (3000 in all);
        // sorted windows of 64 leave gaps of ~1.5–3 between neighbours, ~10–20 per batch.
        let padding: usize = batches
            .iter()
            .map(|b| {
                let max = b.iter().map(|&i| lengths[i]).max().unwrap_or(0);
                b.iter().map(|&i| max - lengths[i]).sum::<usize>()
            })
            .sum();
        assert!(padding < 25 * 30, "padding {padding}");
        // Deterministic per seed.
        let again = length_grouped_batches(&order, &lengths, 4, &mut ChaCha8Rng::seed_from_u64(6));
        let twice = length_grouped_batches(&order, &lengths, 4, &mut ChaCha8Rng::seed_from_u64(6));
        assert_eq!(again, twice);
    }
}
