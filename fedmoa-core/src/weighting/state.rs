//! The persisted state of the weighters and its validation on restore.
//!
//! Everything a weighter carries from one step to the next is stored in `f32`, in memory and
//! in the saved state alike, so restoring a saved state and continuing gives bit-for-bit the
//! weights of a run that never stopped (an `f32` survives a JSON round trip exactly).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::WeighterError;

/// Version of the saved-state layout; bumped when a field changes meaning.
pub(crate) const STATE_VERSION: u32 = 1;

/// Tolerance on `Σ w = 1` for restored `f32` weights (each entry carries a rounding error of
/// at most 2⁻²⁵ relative).
const SUM_TOLERANCE: f64 = 1e-5;

/// Tolerance below a floor for restored weights, to accept hand-edited decimal values.
const FLOOR_TOLERANCE: f64 = 1e-6;

/// State of a weighter whose only memory is its weights and how many steps it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeightsState {
    /// Name of the weighter that wrote it.
    pub weighter: String,
    /// Layout version, [`STATE_VERSION`].
    pub version: u32,
    /// The weights, one per objective.
    pub weights: Vec<f32>,
    /// Calls to `observe` that succeeded so far.
    pub observed_steps: u64,
}

/// A saved weighter state: a header (the weighter that wrote it and the layout version)
/// and the weights, plus whatever else the weighter remembers.
pub(crate) trait SavedState: DeserializeOwned {
    /// The name of the weighter that wrote the state and its layout version.
    fn header(&self) -> (&str, u32);
    /// The saved weights, one per objective.
    fn weights(&self) -> &[f32];
}

impl SavedState for WeightsState {
    fn header(&self) -> (&str, u32) {
        (&self.weighter, self.version)
    }

    fn weights(&self) -> &[f32] {
        &self.weights
    }
}

/// Parses a saved state and checks what every weighter's state must satisfy: weighter
/// `name` wrote it in layout [`STATE_VERSION`], and its weights lie on the floored simplex
/// with floors `lower` (see [`check_header`] and [`check_weights`]).
///
/// # Errors
/// [`WeighterError::BadState`] naming the first problem.
pub(crate) fn restore<T: SavedState>(
    name: &str,
    value: &serde_json::Value,
    lower: &[f64],
) -> Result<T, WeighterError> {
    let saved: T = from_json(value)?;
    let (weighter, version) = saved.header();
    check_header(name, weighter, version)?;
    check_weights(saved.weights(), lower)?;
    Ok(saved)
}

/// The saved state of weighter `name` whose only memory is `weights` and the number of
/// steps it has observed (a [`WeightsState`]).
pub(crate) fn save_weights(name: &str, weights: &[f32], observed_steps: u64) -> serde_json::Value {
    to_json(&WeightsState {
        weighter: name.to_owned(),
        version: STATE_VERSION,
        weights: weights.to_vec(),
        observed_steps,
    })
}

/// Restores what [`save_weights`] wrote for weighter `name`, checking the weights against
/// the floors `lower` (see [`restore`]); returns the weights and the observed steps.
///
/// # Errors
/// [`WeighterError::BadState`] naming the first problem.
pub(crate) fn restore_weights(
    name: &str,
    value: &serde_json::Value,
    lower: &[f64],
) -> Result<(Vec<f32>, u64), WeighterError> {
    let saved: WeightsState = restore(name, value, lower)?;
    Ok((saved.weights, saved.observed_steps))
}

/// Serialises a state struct into a JSON value.
pub(crate) fn to_json<T: Serialize>(state: &T) -> serde_json::Value {
    // The state structs hold only strings, integers and finite f32 vectors, which always
    // serialise; `Null` would only surface as a `BadState` error on restore.
    serde_json::to_value(state).unwrap_or(serde_json::Value::Null)
}

/// Parses a state struct from a JSON value.
///
/// # Errors
/// [`WeighterError::BadState`] with serde's message when the shape does not fit.
fn from_json<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, WeighterError> {
    T::deserialize(value).map_err(|e| WeighterError::BadState(e.to_string()))
}

/// Checks the header of a saved state: the weighter that wrote it and the layout version.
///
/// # Errors
/// [`WeighterError::BadState`] when either differs.
fn check_header(expected: &str, weighter: &str, version: u32) -> Result<(), WeighterError> {
    if weighter != expected {
        return Err(WeighterError::BadState(format!(
            "state was written by the {weighter:?} weighter, not {expected:?}"
        )));
    }
    if version != STATE_VERSION {
        return Err(WeighterError::BadState(format!(
            "state layout version {version} is not the supported version {STATE_VERSION}"
        )));
    }
    Ok(())
}

/// Checks restored weights: one per floor, finite, at or above their floors, summing to 1.
///
/// # Errors
/// [`WeighterError::BadState`] naming the first problem.
fn check_weights(weights: &[f32], lower: &[f64]) -> Result<(), WeighterError> {
    if weights.len() != lower.len() {
        return Err(WeighterError::BadState(format!(
            "state has {} weights for {} objectives",
            weights.len(),
            lower.len()
        )));
    }
    for (k, (&w, &l)) in weights.iter().zip(lower).enumerate() {
        let w = f64::from(w);
        if !w.is_finite() || w < 0.0 {
            return Err(WeighterError::BadState(format!(
                "weight {k} = {w} is not a finite non-negative number"
            )));
        }
        if w < l - FLOOR_TOLERANCE {
            return Err(WeighterError::BadState(format!(
                "weight {k} = {w} is below its floor {l}"
            )));
        }
    }
    let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    if (total - 1.0).abs() > SUM_TOLERANCE {
        return Err(WeighterError::BadState(format!(
            "weights sum to {total}, not 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(result: Result<(), WeighterError>) -> bool {
        matches!(result, Err(WeighterError::BadState(_)))
    }

    #[test]
    fn weights_on_the_floored_simplex_are_accepted() {
        assert_eq!(
            check_weights(&[0.5, 0.25, 0.25], &[0.2, 0.02, 0.02]),
            Ok(())
        );
        assert_eq!(check_weights(&[1.0], &[0.0]), Ok(()));
    }

    #[test]
    fn weights_off_the_floored_simplex_are_rejected() {
        let lower = [0.2, 0.02, 0.02];
        assert!(bad(check_weights(&[0.5, 0.5], &lower)));
        assert!(bad(check_weights(&[0.5, 0.3, 0.1], &lower)));
        assert!(bad(check_weights(&[0.5, 0.6, -0.1], &[0.0; 3])));
        assert!(bad(check_weights(&[0.1, 0.45, 0.45], &lower)));
        assert!(bad(check_weights(&[f32::NAN, 0.5, 0.5], &lower)));
    }

    #[test]
    fn header_must_match() {
        assert_eq!(check_header("fixed", "fixed", STATE_VERSION), Ok(()));
        assert!(bad(check_header("fixed", "hypergradient", STATE_VERSION)));
        assert!(bad(check_header("fixed", "fixed", STATE_VERSION + 1)));
    }

    #[test]
    fn state_serialises_to_the_documented_json() {
        let state = WeightsState {
            weighter: "fixed".to_owned(),
            version: STATE_VERSION,
            weights: vec![0.75, 0.25],
            observed_steps: 3,
        };
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"weighter":"fixed","version":1,"weights":[0.75,0.25],"observed_steps":3}"#
        );
        let json = to_json(&state);
        assert_eq!(
            json,
            serde_json::json!({
                "weighter": "fixed", "version": 1, "weights": [0.75, 0.25], "observed_steps": 3
            })
        );
        assert_eq!(from_json::<WeightsState>(&json), Ok(state));
        let extra = serde_json::json!({
            "weighter": "fixed", "version": 1, "weights": [1.0], "observed_steps": 0, "x": 1
        });
        assert!(matches!(
            from_json::<WeightsState>(&extra),
            Err(WeighterError::BadState(_))
        ));
    }
}
