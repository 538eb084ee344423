//! The [`Aggregator`] plugin trait: how the server merges client updates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ClientId, ClientUpdate, ParamError, ParamSet, RoundPlan};

/// Why an update was left out of aggregation.
#[derive(Debug, Clone, PartialEq, Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RejectReason {
    /// The delta has NaN or ±∞.
    #[error("non-finite value in tensor {name:?} at index {index}")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// Flat index.
        index: usize,
    },
    /// The delta's names or shapes differ from the global parameters.
    #[error("layout mismatch: {detail}")]
    Layout {
        /// Which tensor and how.
        detail: String,
    },
    /// `n_samples` is zero.
    #[error("zero samples")]
    ZeroSamples,
    /// `accuracy` is not in `[0, 1]` (or is NaN).
    #[error("accuracy {accuracy} outside [0, 1]")]
    AccuracyOutOfRange {
        /// The reported accuracy.
        accuracy: f32,
    },
    /// A robust aggregator discarded it as an outlier (e.g. not selected by Krum).
    #[error("discarded as an outlier: {detail}")]
    Outlier {
        /// Why.
        detail: String,
    },
}

/// One rejected update and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Which client.
    pub client_id: ClientId,
    /// Why.
    #[serde(flatten)]
    pub reason: RejectReason,
}

/// The result of one aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregated {
    /// The new global parameters.
    pub params: ParamSet,
    /// The weight each accepted client's delta received (sums to 1 for weighted-mean rules).
    pub weights: BTreeMap<ClientId, f32>,
    /// Updates left out, with reasons.
    pub rejected: Vec<Rejection>,
}

/// Aggregation failed as a whole (the round keeps the old global parameters).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AggError {
    /// Every update was rejected, or none arrived.
    #[error("no valid update to aggregate ({} rejected)", rejected.len())]
    NoValidUpdates {
        /// The rejections, if any.
        rejected: Vec<Rejection>,
    },
    /// Too few valid updates for this rule (e.g. Krum needs n > 2f + 2).
    #[error("{rule} needs at least {needed} valid updates, got {got}")]
    TooFewUpdates {
        /// The aggregation rule.
        rule: String,
        /// Minimum it needs.
        needed: usize,
        /// Valid updates available.
        got: usize,
    },
    /// A parameter-set operation failed.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// Saved state could not be restored.
    #[error("cannot restore aggregator state: {0}")]
    BadState(String),
}

/// Serialisable aggregator state (server-optimizer moments, step counters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregatorState {
    /// Scalars and small values.
    pub scalars: serde_json::Value,
    /// Large tensors (e.g. Adam's `m` and `v`), stored in binary in checkpoints.
    pub tensors: BTreeMap<String, ParamSet>,
}

/// Merges client updates into new global parameters.
///
/// Implementations validate every update (see `fedmoa_core::screen_updates`), aggregate the
/// valid ones and report the rest as [`Rejection`]s; they never panic on bad updates.
pub trait Aggregator: Send + Sync {
    /// Short name (`"fedavg"`, `"task_accuracy"`, …).
    fn name(&self) -> &str;

    /// Adds this rule's client-side settings to the round plan (e.g. FedProx's μ).
    fn configure_round(&self, _plan: &mut RoundPlan) {}

    /// Aggregates `updates` against the current `global` parameters.
    ///
    /// # Errors
    /// [`AggError`] when nothing valid remains; the caller keeps the old parameters.
    fn aggregate(
        &mut self,
        global: &ParamSet,
        updates: &[ClientUpdate],
    ) -> Result<Aggregated, AggError>;

    /// State to checkpoint (default: stateless).
    fn state(&self) -> AggregatorState {
        AggregatorState::default()
    }

    /// Restores state from [`Aggregator::state`].
    ///
    /// # Errors
    /// [`AggError::BadState`] when the state does not fit.
    fn load_state(&mut self, _state: &AggregatorState) -> Result<(), AggError> {
        Ok(())
    }
}

/// Splits updates into the valid ones and [`Rejection`]s, checking finiteness, layout
/// against `global`, `n_samples > 0` and `accuracy ∈ [0, 1]`.
pub fn screen_updates<'a>(
    global: &ParamSet,
    updates: &'a [ClientUpdate],
) -> (Vec<&'a ClientUpdate>, Vec<Rejection>) {
    let mut valid = Vec::with_capacity(updates.len());
    let mut rejected = Vec::new();
    for u in updates {
        match check_update(global, u) {
            Ok(()) => valid.push(u),
            Err(reason) => rejected.push(Rejection {
                client_id: u.client_id.clone(),
                reason,
            }),
        }
    }
    (valid, rejected)
}

/// Validates one update against the global parameters.
///
/// # Errors
/// The first [`RejectReason`] that applies.
pub fn check_update(global: &ParamSet, update: &ClientUpdate) -> Result<(), RejectReason> {
    if update.n_samples == 0 {
        return Err(RejectReason::ZeroSamples);
    }
    if !(0.0..=1.0).contains(&update.accuracy) {
        return Err(RejectReason::AccuracyOutOfRange {
            accuracy: update.accuracy,
        });
    }
    global
        .check_same_layout(&update.delta)
        .map_err(|e| RejectReason::Layout {
            detail: e.to_string(),
        })?;
    update.delta.check_finite().map_err(|e| match e {
        ParamError::NonFinite { name, index } => RejectReason::NonFinite { name, index },
        other => RejectReason::Layout {
            detail: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> ParamSet {
        ParamSet::new().with("w", vec![2], vec![0.0, 0.0]).unwrap()
    }

    fn update(id: &str, delta: Vec<f32>, n: u64, acc: f32) -> ClientUpdate {
        let d = ParamSet::new().with("w", vec![delta.len()], delta).unwrap();
        ClientUpdate::new(id, "math", n, d, acc)
    }

    #[test]
    fn screen_rejects_each_kind_of_bad_update() {
        let g = global();
        let updates = vec![
            update("ok", vec![1.0, 2.0], 3, 0.5),
            update("nan", vec![f32::NAN, 0.0], 3, 0.5),
            update("shape", vec![1.0, 2.0, 3.0], 3, 0.5),
            update("zero", vec![1.0, 2.0], 0, 0.5),
            update("acc", vec![1.0, 2.0], 3, 1.5),
            update("accnan", vec![1.0, 2.0], 3, f32::NAN),
        ];
        let (valid, rejected) = screen_updates(&g, &updates);
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].client_id.as_str(), "ok");
        let reasons: Vec<_> = rejected.iter().map(|r| r.reason.clone()).collect();
        assert_eq!(
            reasons[0],
            RejectReason::NonFinite {
                name: "w".into(),
                index: 0
            }
        );
        assert!(matches!(reasons[1], RejectReason::Layout { .. }));
        assert_eq!(reasons[2], RejectReason::ZeroSamples);
        assert!(matches!(
            reasons[3],
            RejectReason::AccuracyOutOfRange { .. }
        ));
        assert!(matches!(
            reasons[4],
            RejectReason::AccuracyOutOfRange { .. }
        ));
    }
}
