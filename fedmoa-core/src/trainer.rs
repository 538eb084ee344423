//! The [`LocalTrainer`] plugin trait: one client's local training and evaluation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ClientUpdate, ObjectiveStats, ParamError, ParamSet};

/// What the server asks of a client for one round (Flower's "config record").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundPlan {
    /// Round number, starting at 1 (Flower's `server_round`).
    pub server_round: u32,
    /// Seed for this client in this round, derived from the federation seed.
    pub seed: u64,
    /// Local steps to run (`None`: the trainer's own default).
    pub local_steps: Option<u32>,
    /// FedProx proximal coefficient μ; 0 disables the proximal term.
    pub proximal_mu: f32,
    /// Further settings for custom trainers.
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl RoundPlan {
    /// A plan for `server_round` with the given seed and defaults elsewhere.
    pub fn new(server_round: u32, seed: u64) -> Self {
        Self {
            server_round,
            seed,
            local_steps: None,
            proximal_mu: 0.0,
            extra: BTreeMap::new(),
        }
    }
}

/// Which of a client's data splits to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training prompts.
    Train,
    /// Held-out local split (used for the accuracy sent to the server).
    Validation,
    /// Test split (used for final reporting only, never for tuning).
    Test,
}

/// The result of evaluating parameters on a split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Mean primary reward, in `[0, 1]`.
    pub accuracy: f32,
    /// Number of prompts evaluated.
    pub n_examples: u64,
    /// Per-objective statistics.
    pub objectives: Vec<ObjectiveStats>,
    /// Further numeric metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// Local training or evaluation failed.
#[derive(Debug, Error)]
pub enum TrainError {
    /// The global parameters do not fit the client's model.
    #[error("parameters do not fit the model: {0}")]
    Params(#[from] ParamError),
    /// The trainer's configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// Training diverged (non-finite loss, …).
    #[error("training diverged: {0}")]
    Diverged(String),
    /// The client has no data for the requested split.
    #[error("no data for split {0:?}")]
    NoData(Split),
    /// Any other failure, with its source.
    #[error("{context}")]
    Other {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl TrainError {
    /// An error with only a message.
    pub fn msg(context: impl Into<String>) -> Self {
        Self::Other {
            context: context.into(),
            source: None,
        }
    }
}

/// A client's local learner: trains on private data and evaluates.
///
/// One instance lives per client; it may keep state across rounds (objective weights,
/// optimizer moments), exposed by [`LocalTrainer::state`] for checkpoints.
pub trait LocalTrainer: Send + Sync {
    /// Runs local training starting from `global` and returns the update.
    ///
    /// # Errors
    /// [`TrainError`]; the federation drops this client from the round.
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError>;

    /// Evaluates `params` on one of the client's splits.
    ///
    /// # Errors
    /// [`TrainError`] when the split is empty or the parameters do not fit.
    fn evaluate(&mut self, params: &ParamSet, split: Split) -> Result<EvalReport, TrainError>;

    /// State that must survive a checkpoint (default: none).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores state from [`LocalTrainer::state`].
    ///
    /// # Errors
    /// [`TrainError`] when the state does not fit.
    fn load_state(&mut self, _state: &serde_json::Value) -> Result<(), TrainError> {
        Ok(())
    }
}
