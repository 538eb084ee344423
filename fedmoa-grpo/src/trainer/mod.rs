//! [`GrpoTrainer`]: one client's local GRPO training, a `fedmoa_core::LocalTrainer`.
//!
//! A round: load the global parameters, run the local steps (sample G completions per
//! prompt, score every objective, weighted advantages, clipped loss with KL to the round's
//! global model, FedProx pull when asked, AdamW), let the [`ObjectiveWeighter`] update its
//! weights, evaluate greedy accuracy on the validation split and return the delta.
//!
//! The KL reference is the global model received at the start of the round (the natural
//! federated analogue of TRL's frozen initial model). AdamW starts each round with fresh
//! moments, as client optimizers do in FedAvg/FedOpt (the moments of the last local
//! trajectory do not belong to the new global model); the step count, which drives the
//! learning-rate warm-up, lives across rounds. `state()` saves the weighter state and the
//! step count: that is everything a client carries between rounds, so a resumed federation
//! is identical to an uninterrupted one.

mod builder;
mod config;
mod data;
mod dynamic_sampling;
mod eval;
mod grads;
mod loss_pass;
mod objective_gradient_mode;
mod objective_passes;
mod row_chunks;
mod row_gradients;
mod scoring;
mod step;
mod step_metrics;

use std::time::Instant;

use burn::prelude::*;
use fedmoa_core::seeds::SeedStream;
use fedmoa_core::{
    ClientId, ClientUpdate, ConfigError, EvalReport, LocalTrainer, ObjectiveWeighter, ParamSet,
    RewardFn, RoundPlan, Split, TaskTag, Timings, TrainError,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use builder::GrpoTrainerBuilder;
pub use config::GrpoTrainerConfig;
pub use eval::greedy_texts;
pub use fedmoa_rewards::Dataset;
pub use grads::ProximalAnchor;
pub use objective_gradient_mode::ObjectiveGradientMode;
use scoring::score_completions;
pub use step_metrics::{LossMetrics, ObjectiveStepMetrics, StepMetrics};

use crate::grpo::{GradientHistory, GrpoOptimizer};
use crate::sampling::Sampler;
use crate::{DeviceChoice, GrpoError, Policy, PolicyTokenizer};
use data::EncodedData;

/// What a [`StepObserver`] is told after each local GRPO step.
#[derive(Debug, Clone, Copy)]
pub struct StepEvent<'a> {
    /// The client.
    pub client_id: &'a ClientId,
    /// 1-based index of the step just taken within this call (round).
    pub step: u32,
    /// Steps of this call (round).
    pub steps: u32,
    /// Wall-clock seconds of the step.
    pub secs: f64,
}

/// A callback run after every local step, e.g. to drive a progress bar.
pub type StepObserver = std::sync::Arc<dyn Fn(&StepEvent<'_>) + Send + Sync>;

/// The parts of a trainer that persist across rounds and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedState {
    /// Optimizer steps taken over the client's lifetime.
    steps_taken: u64,
    /// The weighter's own state.
    weighter: serde_json::Value,
}

/// A client's GRPO learner over a [`Policy`] (the embedded [`crate::TinyLm`] by default).
///
/// Objective 0 of `rewards` is the primary one (its mean is the reported accuracy).
pub struct GrpoTrainer<P: Policy> {
    client_id: ClientId,
    task: TaskTag,
    policy: P,
    /// Frozen KL reference on the plain device (the model at the start of the round).
    reference: Option<P>,
    tokenizer: std::sync::Arc<dyn PolicyTokenizer>,
    data: Dataset,
    encoded: EncodedData,
    rewards: Vec<Box<dyn RewardFn>>,
    weighter: Box<dyn ObjectiveWeighter>,
    config: GrpoTrainerConfig,
    device: Device,
    optimizer: GrpoOptimizer,
    history: GradientHistory,
    prompt_rng: ChaCha8Rng,
    prompt_order: Vec<usize>,
    prompt_cursor: usize,
    step_observer: Option<StepObserver>,
}

impl<P: Policy> GrpoTrainer<P> {
    /// Builds a trainer. The policy is moved to the configured device (with autodiff).
    ///
    /// # Errors
    /// [`GrpoError::Config`] for a bad config, no reward, a weighter with the wrong number
    /// of weights or an empty train split; [`GrpoError::Input`] for a prompt too long to
    /// leave `max_completion_length` tokens; [`GrpoError::Device`] for a backend not
    /// compiled in.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client_id: impl Into<ClientId>,
        task: impl Into<TaskTag>,
        policy: P,
        tokenizer: impl PolicyTokenizer + 'static,
        data: Dataset,
        rewards: Vec<Box<dyn RewardFn>>,
        weighter: Box<dyn ObjectiveWeighter>,
        config: GrpoTrainerConfig,
    ) -> Result<Self, GrpoError> {
        config.validate()?;
        if rewards.is_empty() {
            return Err(ConfigError::new("rewards", "at least one objective is needed").into());
        }
        if weighter.weights().len() != rewards.len() {
            return Err(ConfigError::new(
                "weighter",
                format!(
                    "has {} weights for {} objectives",
                    weighter.weights().len(),
                    rewards.len()
                ),
            )
            .into());
        }
        if data.train.is_empty() {
            return Err(ConfigError::new("data.train", "no training prompt").into());
        }
        if policy.vocab_size() != tokenizer.vocab_size() {
            return Err(ConfigError::new(
                "policy.vocab_size",
                format!(
                    "{} does not match the tokenizer's {}",
                    policy.vocab_size(),
                    tokenizer.vocab_size()
                ),
            )
            .into());
        }
        let room = policy
            .max_seq_len()
            .checked_sub(config.grpo.max_completion_length)
            .filter(|&r| r > 0)
            .ok_or_else(|| {
                ConfigError::new(
                    "grpo.max_completion_length",
                    "leaves no room for the prompt within the model's max_seq_len",
                )
            })?;
        let encoded = EncodedData::new(&data, &tokenizer, room)?;
        let device = DeviceChoice::from_env_or(config.device)?.device()?;
        // `fork` alone leaves a plain-device model untracked; `train` re-enables gradients.
        let policy = policy.fork(&device.clone().autodiff()).train();
        let optimizer = GrpoOptimizer::new(&config.grpo)?;
        let seed = config.grpo.seed;
        let reference = (config.grpo.beta > 0.0).then(|| policy.reference_copy());
        Ok(Self {
            client_id: client_id.into(),
            task: task.into(),
            policy,
            reference,
            tokenizer: std::sync::Arc::new(tokenizer),
            encoded,
            data,
            rewards,
            weighter,
            config,
            device,
            optimizer,
            history: GradientHistory::new(),
            prompt_rng: ChaCha8Rng::seed_from_u64(seed),
            prompt_order: Vec::new(),
            prompt_cursor: 0,
            step_observer: None,
        })
    }

    /// Calls `observer` after every local step (progress reporting).
    #[must_use]
    pub fn with_step_observer(mut self, observer: StepObserver) -> Self {
        self.step_observer = Some(observer);
        self
    }

    /// The current (trained) policy, on the autodiff device.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The client's data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &dyn PolicyTokenizer {
        self.tokenizer.as_ref()
    }

    /// The weighter's current weights.
    pub fn weights(&self) -> &[f32] {
        self.weighter.weights()
    }

    /// The plain (non-autodiff) compute device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Evaluates the current policy on `split` (greedy decoding).
    ///
    /// # Errors
    /// [`GrpoError::Input`] when the split is empty.
    pub fn evaluate_current(&self, split: Split) -> Result<EvalReport, GrpoError> {
        let model = eval::decoding_copy(&self.policy, self.config.use_decode_model);
        self.evaluate_policy(model.as_ref(), split)
    }

    /// Runs `n_steps` GRPO steps from the current parameters (no loading, no evaluation)
    /// and returns one metrics map per step. The KL reference is the model at the start
    /// of the last round (or at construction).
    ///
    /// # Errors
    /// As [`LocalTrainer::train`].
    pub fn run_steps(
        &mut self,
        n_steps: u32,
        seed: u64,
        anchor: Option<&ProximalAnchor>,
    ) -> Result<Vec<std::collections::BTreeMap<String, f64>>, GrpoError> {
        Ok(self
            .steps(n_steps, seed, anchor)?
            .iter()
            .map(StepMetrics::to_map)
            .collect())
    }

    /// [`run_steps`](Self::run_steps) with typed metrics.
    fn steps(
        &mut self,
        n_steps: u32,
        seed: u64,
        anchor: Option<&ProximalAnchor>,
    ) -> Result<Vec<StepMetrics>, GrpoError> {
        let reference = self.reference.clone();
        let mut sampler = Sampler::new(seed);
        (0..n_steps)
            .map(|i| {
                let start = Instant::now();
                let metrics = self.grpo_step(&mut sampler, reference.as_ref(), anchor)?;
                if let Some(observer) = &self.step_observer {
                    observer(&StepEvent {
                        client_id: &self.client_id,
                        step: i + 1,
                        steps: n_steps,
                        secs: start.elapsed().as_secs_f64(),
                    });
                }
                Ok(metrics)
            })
            .collect()
    }

    /// Trains this client alone for `steps` GRPO steps (no federation: no global model to
    /// load, no evaluation) and returns each step's [`StepMetrics`]. Successive calls go on
    /// where the last one stopped, with a fresh sampling stream derived from the GRPO seed
    /// and the steps taken so far, so the same seed and calls give the same run.
    ///
    /// # Errors
    /// As [`LocalTrainer::train`].
    pub fn fit(&mut self, steps: u32) -> Result<Vec<StepMetrics>, GrpoError> {
        let seed = SeedStream::Fit(self.optimizer.steps_taken()).seed(self.config.grpo.seed);
        self.steps(steps, seed, None)
    }

    /// The next `n` training prompt indices, cycling through seeded shuffles.
    fn next_prompts(&mut self, n: usize) -> Vec<usize> {
        use rand::seq::SliceRandom;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.prompt_cursor >= self.prompt_order.len() {
                self.prompt_order = (0..self.data.train.len()).collect();
                self.prompt_order.shuffle(&mut self.prompt_rng);
                self.prompt_cursor = 0;
            }
            out.push(self.prompt_order[self.prompt_cursor]);
            self.prompt_cursor += 1;
        }
        out
    }

    fn train_round(
        &mut self,
        global: &ParamSet,
        plan: &RoundPlan,
    ) -> Result<ClientUpdate, GrpoError> {
        let start = Instant::now();
        self.policy = self.policy.clone().load_param_set(global)?;
        self.reference = (self.config.grpo.beta > 0.0).then(|| self.policy.reference_copy());
        self.history.reset();
        self.optimizer.reset_moments();
        self.prompt_rng = ChaCha8Rng::seed_from_u64(plan.seed);
        self.prompt_order.clear();
        let anchor = (plan.proximal_mu > 0.0)
            .then(|| ProximalAnchor::new(global, plan.proximal_mu, &self.device));
        let n_steps = plan.local_steps.unwrap_or(self.config.local_steps);
        let step_metrics = self.run_steps(
            n_steps,
            SeedStream::RoundSampler.seed(plan.seed),
            anchor.as_ref(),
        )?;
        let train_secs = start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let eval = self.evaluate_current(Split::Validation)?;
        let eval_secs = eval_start.elapsed().as_secs_f64();
        let local = self.policy.to_param_set()?;
        local.check_finite()?;
        let delta = local.sub(global)?;
        let mut metrics = eval.metrics.clone();
        for key in [
            "loss",
            "kl",
            "entropy",
            "clip_region",
            "completion_len",
            "zero_std_frac",
        ] {
            let values: Vec<f64> = step_metrics
                .iter()
                .filter_map(|m| m.get(key).copied())
                .collect();
            if !values.is_empty() {
                metrics.insert(
                    format!("train/{key}"),
                    values.iter().sum::<f64>() / values.len() as f64,
                );
            }
        }
        Ok(ClientUpdate {
            client_id: self.client_id.clone(),
            task: self.task.clone(),
            n_samples: self.data.train.len() as u64,
            delta,
            accuracy: eval.accuracy,
            objectives: eval.objectives,
            weights: self.weighter.weights().to_vec(),
            timings: Timings {
                train_secs,
                eval_secs,
            },
            metrics,
            step_metrics,
        })
    }
}

impl<P: Policy> LocalTrainer for GrpoTrainer<P>
where
    GrpoTrainer<P>: Send + Sync,
{
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        Ok(self.train_round(global, plan)?)
    }

    fn evaluate(&mut self, params: &ParamSet, split: Split) -> Result<EvalReport, TrainError> {
        if self.data.get(split).is_empty() {
            return Err(TrainError::NoData(split));
        }
        let policy = self.policy.valid().load_param_set(params)?;
        let model = eval::decoding_copy(&policy, self.config.use_decode_model);
        drop(policy);
        Ok(self.evaluate_policy(model.as_ref(), split)?)
    }

    fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(SavedState {
            steps_taken: self.optimizer.steps_taken(),
            weighter: self.weighter.state(),
        })
        .ok()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        let saved: SavedState = serde_json::from_value(state.clone())
            .map_err(|e| TrainError::msg(format!("trainer state: {e}")))?;
        self.weighter
            .load_state(&saved.weighter)
            .map_err(|e| TrainError::msg(format!("weighter state: {e}")))?;
        self.optimizer.set_steps_taken(saved.steps_taken);
        Ok(())
    }
}
