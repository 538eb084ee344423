//! The [`ObjectiveWeighter`] plugin trait: how a client weights its objectives.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a weighter needs the trainer to compute each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Per-objective GRPO gradients and their dot products (up to one extra forward and
    /// backward pass per objective with signal; see `docs/WEIGHTING.md`).
    pub gradient_dots: bool,
}

/// Gradient information for one local step, over the trainable parameters.
///
/// `g_k` is the GRPO policy gradient computed with objective k's advantages alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientSignals {
    /// Same-step Gram matrix `gram[k][j] = ⟨g_k(θ_t), g_j(θ_t)⟩` (so `gram[k][k]` is ‖g_k‖²).
    pub gram: Vec<Vec<f64>>,
    /// One-step-lagged hypergradients `⟨g_0(θ_t), g_k(θ_{t-1})⟩` for each k; `None` on the first step.
    pub lagged_primary_dots: Option<Vec<f64>>,
    /// Norms ‖g_k(θ_{t-1})‖ of the previous step's gradients; `None` on the first step.
    pub previous_norms: Option<Vec<f64>>,
}

/// What the trainer tells the weighter after computing a step's rewards (and gradients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSignals {
    /// Local step index within the client's lifetime (0-based).
    pub step: u64,
    /// Mean reward of each objective over the batch.
    pub reward_means: Vec<f32>,
    /// Saturation of each objective: fraction of groups in which every completion reached
    /// the objective's maximum (so its group std is zero and its advantage vanishes).
    pub saturation: Vec<f32>,
    /// Gradient signals when [`Signals::gradient_dots`] was asked for.
    pub gradients: Option<GradientSignals>,
}

/// A weighter could not take a step or restore its state.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WeighterError {
    /// Signals had the wrong number of objectives.
    #[error("expected signals for {expected} objectives, got {got}")]
    ObjectiveCount {
        /// Objectives the weighter manages.
        expected: usize,
        /// Objectives in the signal.
        got: usize,
    },
    /// A required signal is missing (e.g. gradients for the hypergradient weighter).
    #[error("missing signal: {0}")]
    MissingSignal(String),
    /// A signal held NaN or ±∞.
    #[error("non-finite value in signal {0}")]
    NonFinite(String),
    /// A finite signal outside its domain (a saturation outside `[0, 1]`, a negative norm).
    #[error("invalid signal: {0}")]
    InvalidSignal(String),
    /// Saved state could not be restored.
    #[error("cannot restore weighter state: {0}")]
    BadState(String),
}

/// Adapts the weights `w_k` a client gives its objectives (objective 0 is the primary).
///
/// Invariant: [`ObjectiveWeighter::weights`] is always on the probability simplex
/// (non-negative, sums to 1) with one entry per objective.
pub trait ObjectiveWeighter: Send + Sync {
    /// Short name for logs (`"hypergradient"`, `"fixed"`, …).
    fn name(&self) -> &str;

    /// The current weights, one per objective.
    fn weights(&self) -> &[f32];

    /// What the trainer must compute for [`ObjectiveWeighter::observe`].
    fn needs(&self) -> Signals;

    /// Updates the weights from one step's signals.
    ///
    /// # Errors
    /// [`WeighterError`] on malformed signals; the weights are then left unchanged.
    fn observe(&mut self, step: &StepSignals) -> Result<(), WeighterError>;

    /// Serialisable state, so weights persist across rounds and checkpoints.
    fn state(&self) -> serde_json::Value;

    /// Restores state produced by [`ObjectiveWeighter::state`].
    ///
    /// # Errors
    /// [`WeighterError::BadState`] when the value does not fit this weighter.
    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), WeighterError>;

    /// Clones into a box (one weighter per client).
    fn clone_box(&self) -> Box<dyn ObjectiveWeighter>;
}

impl Clone for Box<dyn ObjectiveWeighter> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}
