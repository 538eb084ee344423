//! [`ObjectiveGradientMode`]: how a step computes the weighter's per-objective gradients.

use serde::{Deserialize, Serialize};

/// How a step computes the per-objective gradients `g_k(θ_t)` of a weighter that asks for
/// them (the hypergradient weighter). Both give the same gradients up to float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveGradientMode {
    /// One forward + backward per objective with signal, each over the rows where its
    /// advantage is non-zero (with `kl_in_primary_gradient`, the primary's pass also
    /// carries the KL term).
    #[default]
    PerObjective,
    /// One forward + backward per completion with any signal: every objective's gradient
    /// is then a weighted sum of the rows' gradients, whatever the number of objectives,
    /// plus one backward of the shared prompts per objective. Rows with one objective's
    /// signal alone run together in micro-batches; rows with several run one by one. At
    /// β = 0 the update reuses `Σ_k w_k g_k`, so a hypergradient step costs about one
    /// fixed-weight pass (SmolLM2: 1.04–1.18× the fixed step, against 1.41–1.86× with
    /// `PerObjective`); at β > 0 the update's own pass follows (the KL term is never
    /// folded into `g_0`). `bnpo`, which normalises by a pass's own tokens, keeps the
    /// per-objective passes. Not the default only so that earlier runs reproduce exactly.
    PerRow,
}
