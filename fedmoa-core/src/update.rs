//! [`ClientUpdate`]: what a client returns to the server after local training.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ClientId, ObjectiveId, ParamSet, TaskTag};

/// Reward statistics of one objective over a batch or an evaluation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveStats {
    /// Which objective.
    pub id: ObjectiveId,
    /// Mean reward.
    pub mean: f32,
    /// Standard deviation of the reward.
    pub std: f32,
    /// Fraction of samples that reached the objective's maximum ("satisfied").
    pub satisfaction: f32,
    /// Number of samples where the reward plugin failed (panic, NaN, error).
    pub errors: u64,
}

/// Wall-clock seconds spent by a client in one round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Local training, all steps.
    pub train_secs: f64,
    /// Evaluation on the held-out split.
    pub eval_secs: f64,
}

/// A client's reply for one round.
///
/// `delta` is `θ_local − θ_global` over the trainable parameters; `accuracy` is the
/// mean primary reward on the client's held-out split after local training, in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientUpdate {
    /// Which client sent it.
    pub client_id: ClientId,
    /// The client's task family.
    pub task: TaskTag,
    /// Number of training prompts behind the update (FedAvg's `n_i`).
    pub n_samples: u64,
    /// Parameter change `θ_local − θ_global`.
    pub delta: ParamSet,
    /// Held-out accuracy after local training, in `[0, 1]`.
    pub accuracy: f32,
    /// Per-objective statistics of the last local training phase.
    pub objectives: Vec<ObjectiveStats>,
    /// Objective weights the client ended the round with (same order as `objectives`).
    pub weights: Vec<f32>,
    /// Time spent.
    pub timings: Timings,
    /// Free-form numeric metrics (loss, KL, …) for logging.
    pub metrics: BTreeMap<String, f64>,
    /// One map of metrics per local step, for the JSONL log.
    pub step_metrics: Vec<BTreeMap<String, f64>>,
}

impl ClientUpdate {
    /// A minimal update with the required fields; the rest empty.
    pub fn new(
        client_id: impl Into<ClientId>,
        task: impl Into<TaskTag>,
        n_samples: u64,
        delta: ParamSet,
        accuracy: f32,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            task: task.into(),
            n_samples,
            delta,
            accuracy,
            objectives: Vec::new(),
            weights: Vec::new(),
            timings: Timings::default(),
            metrics: BTreeMap::new(),
            step_metrics: Vec::new(),
        }
    }
}
