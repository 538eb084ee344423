//! The probability simplex with per-objective floors, and the two ways a weighter puts a
//! candidate weight vector back onto it: exact Euclidean projection and log-domain
//! normalisation.
//!
//! The floored simplex is `{w : Σ_k w_k = 1, w_k ≥ l_k}` with `Σ_k l_k ≤ 1`.

use crate::WeighterError;

/// Euclidean projection of `v` onto the floored simplex `{w : Σw = 1, w_k ≥ lower_k}`.
///
/// Substituting `x = w − lower` turns the set into the plain simplex of mass
/// `m = 1 − Σ lower`, and the projection of `y = v − lower` onto it is `x_k = max(y_k − τ, 0)`
/// with the threshold τ chosen so that `Σ x = m`. Sorting `y` in decreasing order as `u`,
/// τ = (u_1 + … + u_ρ − m) / ρ, where ρ is the largest j with `u_j > (u_1 + … + u_j − m) / j`
/// (j = 1 always qualifies, since `m > 0`). Cost O(n log n).
///
/// `v` and `lower` must be finite and of equal length; when the floors use up the whole mass
/// (`Σ lower ≥ 1`) the result is `lower` itself.
pub(crate) fn project_floored(v: &[f64], lower: &[f64]) -> Vec<f64> {
    debug_assert_eq!(v.len(), lower.len());
    let mass = 1.0 - lower.iter().sum::<f64>();
    if mass <= 0.0 {
        return lower.to_vec();
    }
    let shifted: Vec<f64> = v.iter().zip(lower).map(|(vk, lk)| vk - lk).collect();
    let mut sorted = shifted.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut prefix = 0.0;
    let mut tau = 0.0;
    for (j, &uj) in sorted.iter().enumerate() {
        prefix += uj;
        let candidate = (prefix - mass) / (j + 1) as f64;
        if uj > candidate {
            tau = candidate;
        } else {
            // The condition holds on a prefix of the sorted order, so nothing later qualifies.
            break;
        }
    }
    shifted
        .iter()
        .zip(lower)
        .map(|(yk, lk)| lk + (yk - tau).max(0.0))
        .collect()
}

/// The exponentiated-gradient step `normalize(w ⊙ exp(s))`, computed as
/// `softmax(log w + s)` from the weights `w` and the already scaled scores `s`.
///
/// # Errors
/// [`WeighterError::NonFinite`] with message `overflow` when a logit is NaN or +∞ or the
/// result is not finite (the scores were too large); the caller's weights are untouched.
pub(crate) fn exponentiated_step(
    weights: &[f64],
    scores: impl IntoIterator<Item = f64>,
    overflow: &str,
) -> Result<Vec<f64>, WeighterError> {
    let logits: Vec<f64> = weights
        .iter()
        .zip(scores)
        .map(|(wk, sk)| wk.ln() + sk)
        .collect();
    let overflowed = || WeighterError::NonFinite(overflow.to_owned());
    if logits.iter().any(|z| z.is_nan() || *z == f64::INFINITY) {
        return Err(overflowed());
    }
    let moved = softmax(&logits);
    if moved.iter().any(|v| !v.is_finite()) {
        return Err(overflowed());
    }
    Ok(moved)
}

/// `exp(z_k) / Σ_j exp(z_j)`, computed stably by subtracting the largest `z` first.
///
/// Entries may be `−∞` (a zero weight in log space) as long as one entry is finite; the
/// caller guarantees this (weights on the simplex always have a positive entry).
pub(crate) fn softmax(z: &[f64]) -> Vec<f64> {
    let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = z.iter().map(|zk| (zk - top).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// The weights in `f64`, for arithmetic.
pub(crate) fn widen(weights: &[f32]) -> Vec<f64> {
    weights.iter().map(|&w| f64::from(w)).collect()
}

/// The weights rounded to `f32`, the precision they are stored and reported in.
pub(crate) fn narrow(weights: &[f64]) -> Vec<f32> {
    weights.iter().map(|&w| w as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn a_point_on_the_simplex_is_its_own_projection() {
        assert_close(&project_floored(&[0.5, 0.5], &[0.0, 0.0]), &[0.5, 0.5]);
        assert_close(&project_floored(&[1.0, 0.0], &[0.0, 0.0]), &[1.0, 0.0]);
    }

    #[test]
    fn projection_without_floors_matches_hand_computation() {
        // v = (2, 0), m = 1. Sorted (2, 0): j=1: 2 > (2−1)/1 = 1 ✓; j=2: 0 > (2−1)/2 = 0.5 ✗.
        // τ = 1 → (2−1, max(0−1, 0)) = (1, 0).
        assert_close(&project_floored(&[2.0, 0.0], &[0.0, 0.0]), &[1.0, 0.0]);
        // v = (0.6, 0.6, 0.1): j=1: 0.6 > −0.4 ✓; j=2: 0.6 > (1.2−1)/2 = 0.1 ✓;
        // j=3: 0.1 > (1.3−1)/3 = 0.1 ✗ (equal). τ = 0.1 → (0.5, 0.5, 0).
        assert_close(
            &project_floored(&[0.6, 0.6, 0.1], &[0.0; 3]),
            &[0.5, 0.5, 0.0],
        );
        // v = (−1, −1): j=1: −1 > (−1−1)/1 = −2 ✓; j=2: −1 > (−2−1)/2 = −1.5 ✓. τ = −1.5
        // → (0.5, 0.5).
        assert_close(&project_floored(&[-1.0, -1.0], &[0.0, 0.0]), &[0.5, 0.5]);
    }

    #[test]
    fn projection_with_floors_matches_hand_computation() {
        // v = (0.9, 0.1, 0.0), l = (0.2, 0.05, 0.05): y = v − l = (0.7, 0.05, −0.05),
        // m = 1 − 0.3 = 0.7. Sorted (0.7, 0.05, −0.05), prefix sums (0.7, 0.75, 0.7):
        // j=1: 0.7 > 0 ✓; j=2: 0.05 > 0.05/2 = 0.025 ✓; j=3: −0.05 > 0 ✗. τ = 0.025
        // x = (0.675, 0.025, 0) → w = x + l = (0.875, 0.075, 0.05).
        assert_close(
            &project_floored(&[0.9, 0.1, 0.0], &[0.2, 0.05, 0.05]),
            &[0.875, 0.075, 0.05],
        );
        // Floors that use up the mass leave no freedom.
        assert_close(&project_floored(&[3.0, -2.0], &[0.75, 0.25]), &[0.75, 0.25]);
    }

    #[test]
    fn softmax_matches_hand_computation() {
        // z = (ln 1, ln 3) → (1/4, 3/4); adding a constant changes nothing.
        let z = [0.0, 3f64.ln()];
        assert_close(&softmax(&z), &[0.25, 0.75]);
        let shifted = [1000.0, 1000.0 + 3f64.ln()];
        assert_close(&softmax(&shifted), &[0.25, 0.75]);
        // A zero weight (−∞ in log space) stays zero.
        assert_close(&softmax(&[f64::NEG_INFINITY, 0.0]), &[0.0, 1.0]);
    }

    proptest! {
        /// The KKT conditions of the projection: feasibility, and one threshold τ with
        /// `v_k − w_k = τ` where `w_k` is above its floor and `v_k − w_k ≤ τ` where it sits on it.
        #[test]
        fn projection_satisfies_the_optimality_conditions(
            (v, lower) in (1usize..7).prop_flat_map(|n| (
                proptest::collection::vec(-5.0f64..5.0, n),
                proptest::collection::vec(0.0f64..(0.9 / n as f64), n),
            )),
        ) {
            let w = project_floored(&v, &lower);
            let total: f64 = w.iter().sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "sum {total}");
            for (wk, lk) in w.iter().zip(&lower) {
                prop_assert!(wk >= lk, "w {w:?} below floors {lower:?}");
            }
            let free: Vec<f64> = (0..w.len())
                .filter(|&k| w[k] > lower[k] + 1e-12)
                .map(|k| v[k] - w[k])
                .collect();
            prop_assert!(!free.is_empty());
            let tau = free[0];
            for t in &free {
                prop_assert!((t - tau).abs() < 1e-9, "thresholds differ: {free:?}");
            }
            for k in 0..w.len() {
                if w[k] <= lower[k] + 1e-12 {
                    prop_assert!(v[k] - w[k] <= tau + 1e-9);
                }
            }
        }
    }
}
