//! The weighted-mean driver shared by every rule of the form `base + η·Σ p_i·Δ_i`.

use fedmoa_core::{AggError, Aggregated, ParamSet};

use crate::Threads;
use crate::batch::{Member, UpdateBatch};
use crate::mix::mix_same_layout;

/// What the weighted sum is added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// The global parameters: the result is the new global model.
    Global,
    /// Zeros: the result is the aggregated delta itself (a server optimizer's pseudo-gradient).
    Zero,
}

/// Computes `base + step·Σ_k p_k·s_k·Δ_k` over the batch's members, with `p = weigh(members)`
/// and `s_k` each member's delta factor. A member whose delta turns out non-finite during
/// the pass is rejected, the weights are recomputed without it and the sum is redone.
///
/// Returns the result and the weights `p` of the final members (aligned with
/// `batch.members()`).
///
/// # Errors
/// [`AggError::NoValidUpdates`] when no member is left.
pub(crate) fn weighted_mean(
    global: &ParamSet,
    batch: &mut UpdateBatch<'_>,
    base: Base,
    step: f64,
    weigh: impl Fn(&[Member<'_>]) -> Vec<f64>,
) -> Result<(ParamSet, Vec<f64>), AggError> {
    loop {
        batch.require_members(global)?;
        let weights = weigh(batch.members());
        let mut out = match base {
            Base::Global => global.clone(),
            Base::Zero => global.zeros_like(),
        };
        let terms: Vec<(&ParamSet, f32)> = batch
            .members()
            .iter()
            .zip(&weights)
            .map(|(m, p)| (&m.update().delta, (step * p * f64::from(m.scale())) as f32))
            .collect();
        let bad = mix_same_layout(&mut out, &terms, Threads::Auto);
        if bad.is_empty() {
            batch.mark_finite_checked();
            return Ok((out, weights));
        }
        batch.reject_non_finite(&bad);
    }
}

/// The whole aggregation of a weighted-mean rule: `global + step·Σ_k p_k·s_k·Δ_k` by
/// [`weighted_mean`] with `p = weigh(members)`, reporting the weights `p`.
///
/// # Errors
/// [`AggError::NoValidUpdates`] when no member is left.
pub(crate) fn aggregate_weighted(
    global: &ParamSet,
    mut batch: UpdateBatch<'_>,
    step: f64,
    weigh: impl Fn(&[Member<'_>]) -> Vec<f64>,
) -> Result<Aggregated, AggError> {
    let (params, weights) = weighted_mean(global, &mut batch, Base::Global, step, weigh)?;
    Ok(batch.finish(params, &weights))
}

/// FedAvg's weights: `p_i = n_i / Σ_j n_j` over the members.
pub(crate) fn sample_weights(members: &[Member<'_>]) -> Vec<f64> {
    let total: f64 = members.iter().map(|m| m.update().n_samples as f64).sum();
    members
        .iter()
        .map(|m| m.update().n_samples as f64 / total)
        .collect()
}

/// Uniform weights `1/n`.
pub(crate) fn uniform_weights(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}
