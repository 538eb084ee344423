//! [`Federation`]: the round loop on the server.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpoint::Checkpoint;
use super::dispatch::train_all;
use super::metrics::{Dropped, MetricsLog, RoundSummary};
use super::sampling::sample_clients;
use super::{Client, FederationConfig, FederationError};
use crate::seeds::SeedStream;
use crate::{Aggregator, ParamSet, RoundPlan, TrainError};

/// Evaluates the global parameters after each round (e.g. on each task's test set).
pub trait GlobalEvaluator: Send {
    /// Returns named metrics for the parameters after `round`.
    ///
    /// # Errors
    /// [`TrainError`]; the loop records it in the round summary and goes on.
    fn evaluate(
        &mut self,
        round: u32,
        params: &ParamSet,
    ) -> Result<BTreeMap<String, f64>, TrainError>;
}

impl<F> GlobalEvaluator for F
where
    F: FnMut(u32, &ParamSet) -> Result<BTreeMap<String, f64>, TrainError> + Send,
{
    fn evaluate(
        &mut self,
        round: u32,
        params: &ParamSet,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        self(round, params)
    }
}

type Observer = Box<dyn FnMut(&RoundSummary) + Send>;

/// A federation: clients, an aggregator and the global parameters, run round by round.
///
/// Each round samples clients (seeded), sends them the global parameters and a
/// [`RoundPlan`], drops those that fail or time out, aggregates the rest, runs the global
/// evaluation hook, appends JSONL metrics and writes an atomic [`Checkpoint`].
pub struct Federation {
    config: FederationConfig,
    clients: Vec<Arc<dyn Client>>,
    aggregator: Box<dyn Aggregator>,
    params: ParamSet,
    round: u32,
    evaluator: Option<Box<dyn GlobalEvaluator>>,
    metrics_path: Option<PathBuf>,
    metrics: Option<MetricsLog>,
    checkpoint_path: Option<PathBuf>,
    observer: Option<Observer>,
    history: Vec<RoundSummary>,
    initial_eval: Option<BTreeMap<String, f64>>,
    /// Length of the metrics file at the last checkpoint (restored on resume).
    metrics_offset: Option<u64>,
}

impl Federation {
    /// Builds a federation starting from `initial` parameters.
    ///
    /// # Errors
    /// [`FederationError::Config`] for an invalid config, no clients, duplicate client ids or
    /// non-finite initial parameters.
    pub fn new(
        config: FederationConfig,
        clients: Vec<Arc<dyn Client>>,
        aggregator: Box<dyn Aggregator>,
        initial: ParamSet,
    ) -> Result<Self, FederationError> {
        config.validate()?;
        if clients.is_empty() {
            return Err(crate::ConfigError::new("clients", "at least one client is needed").into());
        }
        let mut seen = HashSet::new();
        if let Some(dup) = clients.iter().find(|c| !seen.insert(c.id().clone())) {
            return Err(crate::ConfigError::new(
                "clients",
                format!("duplicate client id {:?}", dup.id().as_str()),
            )
            .into());
        }
        initial
            .check_finite()
            .map_err(|e| crate::ConfigError::new("initial_params", e.to_string()))?;
        Ok(Self {
            config,
            clients,
            aggregator,
            params: initial,
            round: 0,
            evaluator: None,
            metrics_path: None,
            metrics: None,
            checkpoint_path: None,
            observer: None,
            history: Vec::new(),
            initial_eval: None,
            metrics_offset: None,
        })
    }

    /// Adds a global evaluation hook, run after every round.
    #[must_use]
    pub fn with_evaluator(mut self, evaluator: impl GlobalEvaluator + 'static) -> Self {
        self.evaluator = Some(Box::new(evaluator));
        self
    }

    /// Appends JSONL metrics to `path` (one line per client step, client reply and round).
    #[must_use]
    pub fn with_metrics(mut self, path: impl Into<PathBuf>) -> Self {
        self.metrics_path = Some(path.into());
        self
    }

    /// Writes an atomic checkpoint to `path` after every round.
    #[must_use]
    pub fn with_checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint_path = Some(path.into());
        self
    }

    /// Takes `eval` as the evaluation of the initial parameters instead of running the
    /// evaluator on them (e.g. when several federations start from the same parameters
    /// and evaluate them the same way); [`Federation::resume`] replaces it with the
    /// checkpoint's.
    #[must_use]
    pub fn with_initial_eval(mut self, eval: BTreeMap<String, f64>) -> Self {
        self.initial_eval = Some(eval);
        self
    }

    /// Calls `f` with each round's summary (e.g. to print a progress line).
    #[must_use]
    pub fn on_round(mut self, f: impl FnMut(&RoundSummary) + Send + 'static) -> Self {
        self.observer = Some(Box::new(f));
        self
    }

    /// The current global parameters.
    pub fn params(&self) -> &ParamSet {
        &self.params
    }

    /// Rounds completed so far (including those before a resume).
    pub fn round(&self) -> u32 {
        self.round
    }

    /// The config.
    pub fn config(&self) -> &FederationConfig {
        &self.config
    }

    /// The clients.
    pub fn clients(&self) -> &[Arc<dyn Client>] {
        &self.clients
    }

    /// Summaries of every round so far, including those restored by
    /// [`Federation::resume`].
    pub fn history(&self) -> &[RoundSummary] {
        &self.history
    }

    /// The evaluation of the initial parameters, once [`Federation::evaluate_initial`] ran
    /// (in this process or before the checkpoint it resumed from).
    pub fn initial_eval(&self) -> Option<&BTreeMap<String, f64>> {
        self.initial_eval.as_ref()
    }

    /// Evaluates the initial parameters with the evaluator (round 0, as Flower's server
    /// does before its first round) and checkpoints; a federation resumed from a checkpoint
    /// that holds this evaluation returns it without running the evaluator again. Without
    /// an evaluator the evaluation is empty.
    ///
    /// # Errors
    /// [`FederationError::InitialEvaluation`] when the evaluator fails or when rounds have
    /// already run without it (a version 1 checkpoint); [`FederationError::Io`] when the
    /// checkpoint cannot be written.
    pub fn evaluate_initial(&mut self) -> Result<BTreeMap<String, f64>, FederationError> {
        let eval = match &self.initial_eval {
            Some(eval) => eval.clone(),
            None if self.round > 0 => {
                return Err(FederationError::InitialEvaluation(TrainError::msg(
                    format!(
                        "the parameters are those after round {}, not the initial ones (the \
                     checkpoint resumed from predates initial evaluations)",
                        self.round
                    ),
                )));
            }
            None => match self.evaluator.as_mut() {
                Some(ev) => ev
                    .evaluate(0, &self.params)
                    .map_err(FederationError::InitialEvaluation)?,
                None => BTreeMap::new(),
            },
        };
        self.initial_eval = Some(eval.clone());
        if self.round == 0
            && let Some(path) = &self.checkpoint_path
        {
            self.checkpoint()?.save(path)?;
        }
        Ok(eval)
    }

    /// The aggregator.
    pub fn aggregator(&self) -> &dyn Aggregator {
        self.aggregator.as_ref()
    }

    /// If the checkpoint file set by [`Federation::with_checkpoint`] exists, restores the
    /// global parameters, round, aggregator state, client states, round summaries and
    /// initial evaluation from it; the metrics file (if any) is cut to the length it had
    /// then when the next round starts. Returns whether it resumed.
    ///
    /// # Errors
    /// [`FederationError`] when the checkpoint is unreadable or belongs to a different
    /// federation (other seed, aggregator, parameter layout or clients).
    pub fn resume(&mut self) -> Result<bool, FederationError> {
        let Some(path) = self.checkpoint_path.clone() else {
            return Ok(false);
        };
        if !path.exists() {
            return Ok(false);
        }
        let ck = Checkpoint::load(&path)?;
        self.restore(&path, ck)?;
        Ok(true)
    }

    fn restore(&mut self, path: &Path, ck: Checkpoint) -> Result<(), FederationError> {
        let bad = |reason: String| FederationError::BadCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        if ck.seed != self.config.seed {
            return Err(bad(format!(
                "written with seed {}, config has seed {}",
                ck.seed, self.config.seed
            )));
        }
        if ck.aggregator != self.aggregator.name() {
            return Err(bad(format!(
                "written by aggregator {:?}, this federation uses {:?}",
                ck.aggregator,
                self.aggregator.name()
            )));
        }
        self.params
            .check_same_layout(&ck.params)
            .map_err(|e| bad(format!("parameters do not fit: {e}")))?;
        ck.params
            .check_finite()
            .map_err(|e| bad(format!("parameters: {e}")))?;
        self.aggregator
            .load_state(&ck.aggregator_state)
            .map_err(|e| FederationError::Restore {
                who: "aggregator".into(),
                reason: e.to_string(),
            })?;
        for (id, state) in &ck.clients {
            let client = self
                .clients
                .iter()
                .find(|c| c.id().as_str() == id)
                .ok_or_else(|| bad(format!("unknown client {id:?}")))?;
            client
                .load_state(state)
                .map_err(|e| FederationError::Restore {
                    who: id.clone(),
                    reason: e.to_string(),
                })?;
        }
        self.params = ck.params;
        self.round = ck.round;
        self.history = ck.history;
        if ck.initial_eval.is_some() {
            self.initial_eval = ck.initial_eval;
        }
        self.metrics_offset = ck.metrics_offset;
        Ok(())
    }

    /// Runs rounds until `config.rounds` are complete; returns their summaries.
    ///
    /// # Errors
    /// [`FederationError`] when metrics or checkpoints cannot be written.
    pub fn run(&mut self) -> Result<Vec<RoundSummary>, FederationError> {
        self.run_until(self.config.rounds)
    }

    /// Runs rounds until `last_round` is complete (at most `config.rounds`).
    ///
    /// # Errors
    /// As [`Federation::run`].
    pub fn run_until(&mut self, last_round: u32) -> Result<Vec<RoundSummary>, FederationError> {
        let last = last_round.min(self.config.rounds);
        let mut out = Vec::new();
        while self.round < last {
            out.push(self.run_round()?);
        }
        Ok(out)
    }

    /// The checkpoint describing the current state.
    ///
    /// # Errors
    /// [`FederationError::Restore`] when a client cannot report its state.
    pub fn checkpoint(&self) -> Result<Checkpoint, FederationError> {
        let mut clients = BTreeMap::new();
        for c in &self.clients {
            let state = c.state().map_err(|e| FederationError::Restore {
                who: c.id().to_string(),
                reason: e.to_string(),
            })?;
            if let Some(s) = state {
                clients.insert(c.id().to_string(), s);
            }
        }
        Ok(Checkpoint {
            round: self.round,
            seed: self.config.seed,
            aggregator: self.aggregator.name().to_string(),
            params: self.params.clone(),
            aggregator_state: self.aggregator.state(),
            clients,
            history: self.history.clone(),
            initial_eval: self.initial_eval.clone(),
            metrics_offset: self.metrics_offset,
        })
    }

    /// Runs the next round.
    ///
    /// # Errors
    /// As [`Federation::run`].
    pub fn run_round(&mut self) -> Result<RoundSummary, FederationError> {
        let start = Instant::now();
        let round = self.round + 1;
        if self.metrics.is_none()
            && let Some(path) = &self.metrics_path
        {
            self.metrics = Some(match self.metrics_offset {
                Some(offset) => MetricsLog::open_at(path, offset)?,
                None => MetricsLog::open(path, self.round)?,
            });
        }

        let cfg = &self.config;
        let picked = sample_clients(
            cfg.seed,
            round,
            self.clients.len(),
            cfg.fraction,
            cfg.min_clients,
        );
        let mut base_plan = RoundPlan::new(round, 0);
        base_plan.local_steps = cfg.local_steps;
        self.aggregator.configure_round(&mut base_plan);
        let jobs: Vec<_> = picked
            .iter()
            .map(|&i| {
                let mut plan = base_plan.clone();
                plan.seed = SeedStream::RoundPlan {
                    round,
                    client: i as u64,
                }
                .seed(cfg.seed);
                (Arc::clone(&self.clients[i]), plan)
            })
            .collect();
        let timeout = cfg.client_timeout_secs.map(Duration::from_secs_f64);
        let results = train_all(jobs, &self.params, cfg.max_parallel, timeout);

        let sampled: Vec<_> = picked
            .iter()
            .map(|&i| self.clients[i].id().clone())
            .collect();
        let mut updates = Vec::new();
        let mut dropped = Vec::new();
        for (id, res) in sampled.iter().zip(results) {
            match res {
                Ok(u) => updates.push(u),
                Err(e) => dropped.push(Dropped {
                    client_id: id.clone(),
                    error: e.to_string(),
                }),
            }
        }

        let mut summary = RoundSummary {
            round,
            sampled,
            replied: updates.iter().map(|u| u.client_id.clone()).collect(),
            dropped,
            rejected: Vec::new(),
            aggregated: false,
            skip_reason: None,
            weights: BTreeMap::new(),
            mean_client_accuracy: mean(updates.iter().map(|u| u.accuracy)),
            client_accuracy: updates
                .iter()
                .map(|u| (u.client_id.clone(), u.accuracy))
                .collect(),
            client_weights: updates
                .iter()
                .map(|u| (u.client_id.clone(), u.weights.clone()))
                .collect(),
            eval: BTreeMap::new(),
            eval_error: None,
            secs: 0.0,
        };
        if updates.len() < self.config.min_replies {
            summary.skip_reason = Some(format!(
                "{} replies, min_replies is {}",
                updates.len(),
                self.config.min_replies
            ));
        } else {
            match self.aggregator.aggregate(&self.params, &updates) {
                Ok(agg) => {
                    self.params = agg.params;
                    summary.weights = agg.weights;
                    summary.rejected = agg.rejected;
                    summary.aggregated = true;
                }
                Err(e) => {
                    if let crate::AggError::NoValidUpdates { rejected } = &e {
                        summary.rejected.clone_from(rejected);
                    }
                    summary.skip_reason = Some(e.to_string());
                }
            }
        }
        if let Some(ev) = self.evaluator.as_mut() {
            match ev.evaluate(round, &self.params) {
                Ok(m) => summary.eval = m,
                Err(e) => summary.eval_error = Some(e.to_string()),
            }
        }
        summary.secs = start.elapsed().as_secs_f64();

        if let Some(log) = self.metrics.as_mut() {
            for u in &updates {
                log.write_client(round, u)?;
            }
            log.write_round(&summary)?;
            self.metrics_offset = Some(log.flushed_len()?);
        }
        self.round = round;
        self.history.push(summary.clone());
        if let Some(path) = &self.checkpoint_path {
            self.checkpoint()?.save(path)?;
        }
        if let Some(f) = self.observer.as_mut() {
            f(&summary);
        }
        Ok(summary)
    }
}

fn mean(values: impl Iterator<Item = f32>) -> Option<f32> {
    let (sum, n) = values.fold((0.0f64, 0usize), |(s, n), v| (s + f64::from(v), n + 1));
    (n > 0).then(|| (sum / n as f64) as f32)
}
