//! [`UpdateBatch`]: the screened client updates a rule aggregates, and the
//! [`BatchAggregator`] trait that consumes one.
//!
//! Screening applies exactly the checks of [`fedmoa_core::check_update`], in the same order,
//! and reports the same [`RejectReason`]s. Two constructors exist because the finiteness
//! check reads every delta value, as much memory traffic as the aggregation itself:
//! [`UpdateBatch::screen`] runs every check up front (the robust rules use it), while
//! [`UpdateBatch::screen_metadata`] leaves finiteness to the weighted-sum kernel, which
//! detects a NaN or ±∞ during its single pass (see [`crate::weighted_sum_into`]) and then
//! rejects the culprit and sums again without it.

use std::collections::BTreeMap;

use fedmoa_core::{
    AggError, Aggregated, Aggregator, ClientId, ClientUpdate, ParamSet, RejectReason, Rejection,
    check_update,
};

/// One accepted update and the factor its delta is multiplied by before aggregation
/// (1 unless a wrapper such as [`crate::NormClip`] rescaled it).
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    index: usize,
    update: &'a ClientUpdate,
    scale: f32,
}

impl<'a> Member<'a> {
    /// Position of the update in the slice given to the aggregator.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The update itself.
    pub fn update(&self) -> &'a ClientUpdate {
        self.update
    }

    /// Factor applied to the update's delta (in `(0, 1]`).
    pub fn scale(&self) -> f32 {
        self.scale
    }
}

/// Updates that passed screening, plus the rejections so far.
#[derive(Debug, Clone)]
pub struct UpdateBatch<'a> {
    members: Vec<Member<'a>>,
    rejected: Vec<(usize, Rejection)>,
    finite_checked: bool,
}

impl<'a> UpdateBatch<'a> {
    /// Runs every check of [`fedmoa_core::check_update`] on every update.
    pub fn screen(global: &ParamSet, updates: &'a [ClientUpdate]) -> Self {
        Self::build(updates, true, |u| check_update(global, u))
    }

    /// Runs the checks that do not read delta values: `n_samples > 0`, `accuracy ∈ [0, 1]`
    /// and the layout against `global`, in [`fedmoa_core::check_update`]'s order. The
    /// finiteness check is left to the aggregation pass
    /// ([`UpdateBatch::finite_checked`] is false).
    pub fn screen_metadata(global: &ParamSet, updates: &'a [ClientUpdate]) -> Self {
        Self::build(updates, false, |u| check_metadata(global, u))
    }

    fn build(
        updates: &'a [ClientUpdate],
        finite_checked: bool,
        check: impl Fn(&ClientUpdate) -> Result<(), RejectReason>,
    ) -> Self {
        let mut members = Vec::with_capacity(updates.len());
        let mut rejected = Vec::new();
        for (index, update) in updates.iter().enumerate() {
            match check(update) {
                Ok(()) => members.push(Member {
                    index,
                    update,
                    scale: 1.0,
                }),
                Err(reason) => rejected.push((index, rejection(update, reason))),
            }
        }
        Self {
            members,
            rejected,
            finite_checked,
        }
    }

    /// The accepted updates, in input order.
    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    /// Number of accepted updates.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no update is accepted.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// True when every accepted delta is known to be finite.
    pub fn finite_checked(&self) -> bool {
        self.finite_checked
    }

    /// Scans the accepted deltas for NaN or ±∞ (if not done yet) and rejects those that
    /// have one.
    pub fn ensure_finite(&mut self) {
        if self.finite_checked {
            return;
        }
        let bad: Vec<usize> = (0..self.members.len())
            .filter(|&k| self.members[k].update.delta.check_finite().is_err())
            .collect();
        self.reject_non_finite(&bad);
        self.finite_checked = true;
    }

    /// The rejections so far, in input order.
    pub fn rejections(&self) -> Vec<Rejection> {
        let mut sorted = self.rejected.clone();
        sorted.sort_by_key(|(index, _)| *index);
        sorted.into_iter().map(|(_, r)| r).collect()
    }

    /// Rejects members whose layout differs from `global` (possible only when a batch
    /// screened against other parameters is passed to
    /// [`BatchAggregator::aggregate_batch`]), then fails with
    /// [`AggError::NoValidUpdates`] when no member is left. Every kernel relies on this
    /// check to index the deltas safely.
    pub(crate) fn require_members(&mut self, global: &ParamSet) -> Result<(), AggError> {
        let stray: Vec<usize> = (0..self.members.len())
            .filter(|&k| {
                global
                    .check_same_layout(&self.members[k].update.delta)
                    .is_err()
            })
            .collect();
        if !stray.is_empty() {
            self.reject_with(&stray, |m| match check_metadata(global, m.update) {
                Err(reason) => reason,
                Ok(()) => RejectReason::Layout {
                    detail: "layout differs from the global parameters".into(),
                },
            });
        }
        if self.members.is_empty() {
            Err(AggError::NoValidUpdates {
                rejected: self.rejections(),
            })
        } else {
            Ok(())
        }
    }

    /// The prologue of the rules that read every delta value before weighting any: rejects
    /// the members with a NaN or ±∞ ([`UpdateBatch::ensure_finite`]), then those of another
    /// layout, and fails when none is left ([`UpdateBatch::require_members`]).
    pub(crate) fn require_finite_members(&mut self, global: &ParamSet) -> Result<(), AggError> {
        self.ensure_finite();
        self.require_members(global)
    }

    /// Marks every accepted delta as known to be finite.
    pub(crate) fn mark_finite_checked(&mut self) {
        self.finite_checked = true;
    }

    /// Sets the delta factor of the member at `position`.
    pub(crate) fn set_scale(&mut self, position: usize, scale: f32) {
        if let Some(m) = self.members.get_mut(position) {
            m.scale = scale;
        }
    }

    /// Rejects the members at `positions` (ascending) because their delta holds a NaN or
    /// ±∞; the reason names the first such value, as [`fedmoa_core::check_update`] does.
    pub(crate) fn reject_non_finite(&mut self, positions: &[usize]) {
        self.reject_with(positions, |m| match m.update.delta.check_finite() {
            Err(fedmoa_core::ParamError::NonFinite { name, index }) => {
                RejectReason::NonFinite { name, index }
            }
            _ => RejectReason::Outlier {
                detail: "its scaled delta is not finite".into(),
            },
        });
    }

    /// Rejects the members at `positions` (ascending) with the reason `reason(member)`.
    pub(crate) fn reject_with(
        &mut self,
        positions: &[usize],
        reason: impl Fn(&Member<'a>) -> RejectReason,
    ) {
        let mut drop = vec![false; self.members.len()];
        for &p in positions {
            if let Some(flag) = drop.get_mut(p) {
                *flag = true;
            }
        }
        let mut kept = Vec::with_capacity(self.members.len());
        for (m, gone) in self.members.drain(..).zip(drop) {
            if gone {
                self.rejected
                    .push((m.index, rejection(m.update, reason(&m))));
            } else {
                kept.push(m);
            }
        }
        self.members = kept;
    }

    /// Packs the result: `weights[k]` is the weight reported for member `k`.
    pub(crate) fn finish(&self, params: ParamSet, weights: &[f64]) -> Aggregated {
        let mut map: BTreeMap<ClientId, f32> = BTreeMap::new();
        for (m, w) in self.members.iter().zip(weights) {
            // A client id sent twice gets the sum of its updates' weights.
            *map.entry(m.update.client_id.clone()).or_insert(0.0) += *w as f32;
        }
        Aggregated {
            params,
            weights: map,
            rejected: self.rejections(),
        }
    }
}

fn rejection(update: &ClientUpdate, reason: RejectReason) -> Rejection {
    Rejection {
        client_id: update.client_id.clone(),
        reason,
    }
}

/// The checks of [`fedmoa_core::check_update`] that do not read delta values, in its order.
fn check_metadata(global: &ParamSet, update: &ClientUpdate) -> Result<(), RejectReason> {
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
        })
}

/// An [`Aggregator`] that can consume an already screened [`UpdateBatch`], whose members may
/// carry delta factors. Wrappers such as [`crate::NormClip`] use it to rescale deltas
/// without copying them; every aggregator of this crate implements it.
///
/// Unless [`UpdateBatch::finite_checked`] is true, a member's delta may still hold a NaN or
/// ±∞: an implementation must either call [`UpdateBatch::ensure_finite`] or detect and
/// reject such members itself.
pub trait BatchAggregator: Aggregator {
    /// Aggregates the batch's members against `global`.
    ///
    /// # Errors
    /// [`AggError::NoValidUpdates`] when no member remains, or the rule's own errors.
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError>;
}

/// Implements [`Aggregator`] for a [`BatchAggregator`] whose `name` is `$name`:
/// `aggregate` screens the updates with [`UpdateBatch::screen_metadata`] (the weighted
/// rules, which find non-finite deltas in their own pass) or, given `screen` first,
/// [`UpdateBatch::screen`], and hands the batch to `aggregate_batch`. Further
/// `Aggregator` items (`configure_round`, `state`, `load_state`) go in the braces.
macro_rules! aggregator_via_batch {
    (screen $ty:ty, $name:literal { $($items:tt)* }) => {
        crate::batch::aggregator_via_batch!(@impl $ty, $name, screen { $($items)* });
    };
    ($ty:ty, $name:literal { $($items:tt)* }) => {
        crate::batch::aggregator_via_batch!(@impl $ty, $name, screen_metadata { $($items)* });
    };
    (@impl $ty:ty, $name:literal, $screen:ident { $($items:tt)* }) => {
        impl ::fedmoa_core::Aggregator for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn aggregate(
                &mut self,
                global: &::fedmoa_core::ParamSet,
                updates: &[::fedmoa_core::ClientUpdate],
            ) -> Result<::fedmoa_core::Aggregated, ::fedmoa_core::AggError> {
                crate::batch::BatchAggregator::aggregate_batch(
                    self,
                    global,
                    crate::batch::UpdateBatch::$screen(global, updates),
                )
            }

            $($items)*
        }
    };
}
pub(crate) use aggregator_via_batch;

#[cfg(test)]
mod tests {
    use super::*;
    use fedmoa_core::screen_updates;

    fn update(id: &str, delta: Vec<f32>, n: u64, acc: f32) -> ClientUpdate {
        let d = ParamSet::new().with("w", vec![delta.len()], delta).unwrap();
        ClientUpdate::new(id, "math", n, d, acc)
    }

    fn bad_mix() -> Vec<ClientUpdate> {
        vec![
            update("ok", vec![1.0, 2.0], 3, 0.5),
            update("nan", vec![0.0, f32::NAN], 3, 0.5),
            update("shape", vec![1.0, 2.0, 3.0], 3, 0.5),
            update("zero", vec![1.0, 2.0], 0, 0.5),
            update("acc", vec![1.0, 2.0], 3, -0.1),
            update("nan_and_zero", vec![f32::NAN, 2.0], 0, 0.5),
            update("ok2", vec![1.0, 2.0], 1, 1.0),
        ]
    }

    #[test]
    fn both_screens_end_with_core_rejections() {
        let g = ParamSet::new().with("w", vec![2], vec![0.0; 2]).unwrap();
        let updates = bad_mix();
        let (valid, core) = screen_updates(&g, &updates);
        let full = UpdateBatch::screen(&g, &updates);
        assert_eq!(full.rejections(), core);
        assert_eq!(full.len(), valid.len());
        let mut lazy = UpdateBatch::screen_metadata(&g, &updates);
        assert_eq!(lazy.len(), 3, "the NaN delta passes the metadata checks");
        lazy.ensure_finite();
        assert_eq!(lazy.rejections(), core);
        let ids: Vec<_> = lazy.members().iter().map(|m| m.index()).collect();
        assert_eq!(ids, vec![0, 6]);
    }

    #[test]
    fn duplicate_client_ids_sum_their_weights() {
        let g = ParamSet::new().with("w", vec![2], vec![0.0; 2]).unwrap();
        let updates = vec![
            update("a", vec![0.0; 2], 1, 0.5),
            update("a", vec![0.0; 2], 1, 0.5),
        ];
        let batch = UpdateBatch::screen(&g, &updates);
        let out = batch.finish(g.clone(), &[0.25, 0.75]);
        assert_eq!(out.weights.len(), 1);
        assert_eq!(out.weights[&ClientId::new("a")], 1.0);
    }

    #[test]
    fn a_batch_screened_for_other_parameters_is_caught() {
        let small = ParamSet::new().with("w", vec![2], vec![0.0; 2]).unwrap();
        let large = ParamSet::new().with("w", vec![3], vec![0.0; 3]).unwrap();
        let updates = vec![update("a", vec![1.0, 2.0], 1, 0.5)];
        let mut batch = UpdateBatch::screen(&small, &updates);
        let err = batch.require_members(&large).unwrap_err();
        let AggError::NoValidUpdates { rejected } = err else {
            panic!("wrong error");
        };
        assert!(matches!(rejected[0].reason, RejectReason::Layout { .. }));
        // Every rule goes through that check before touching the deltas.
        let mut batch = UpdateBatch::screen(&small, &updates);
        assert!(batch.require_members(&small).is_ok());
    }
}
