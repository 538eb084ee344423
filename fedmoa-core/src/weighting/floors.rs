//! Lower bounds on the weights of the adaptive weighters (`w_min` for all, `w0_min` for the
//! primary objective), validated for feasibility.

use crate::ConfigError;

use super::simplex::project_floored;

/// Default floor `w_min` of every weight: an objective never drops below 2 % of the
/// weight, so it can recover when its gradient becomes useful again (FedMOA's default).
pub const DEFAULT_W_MIN: f64 = 0.02;

/// Default floor `w0_min` of the primary weight: the primary objective keeps at least 20 %
/// of the weight even when auxiliary objectives look more helpful for a while.
pub const DEFAULT_W0_MIN: f64 = 0.2;

/// Slack allowed when checking that the floors fit, for decimal values such as
/// `0.2 + 40 · 0.02` that are 1 in exact arithmetic.
const FEASIBILITY_SLACK: f64 = 1e-9;

/// The per-objective floors `l_k`: `l_0 = max(w_min, w0_min)`, `l_k = w_min` for `k ≥ 1`.
///
/// Each floor is rounded to the nearest `f32`, so weights stored in `f32` that sit on a
/// floor compare equal to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Floors {
    lower: Vec<f64>,
}

/// A floored weighter's starting point: its configured (or equal) initial weights, its
/// floors, and the initial weights projected onto the floored simplex.
pub(crate) struct FlooredStart {
    /// The initial weights as configured, normalised.
    pub initial: Vec<f64>,
    /// The floors.
    pub floors: Floors,
    /// `initial` projected onto `{Σ w = 1, w ≥ floors}`, in `f32`.
    pub weights: Vec<f32>,
}

impl FlooredStart {
    /// Resolves `initial_weights` (equal weights when `None`) and the floors for
    /// `n_objectives` objectives.
    ///
    /// # Errors
    /// [`ConfigError`] naming `initial_weights[k]`, `n_objectives`, `w_min` or `w0_min`.
    pub(crate) fn new(
        initial_weights: Option<&[f64]>,
        n_objectives: usize,
        w_min: f64,
        w0_min: f64,
    ) -> Result<Self, ConfigError> {
        let initial =
            super::config::resolve_weights("initial_weights", initial_weights, n_objectives)?;
        let floors = Floors::new(n_objectives, w_min, w0_min)?;
        let weights = super::simplex::narrow(&floors.project(&initial));
        Ok(Self {
            initial,
            floors,
            weights,
        })
    }
}

impl Floors {
    /// Validates `w_min` and `w0_min` for `n_objectives` objectives.
    ///
    /// # Errors
    /// [`ConfigError`] naming `w_min` or `w0_min` when one is not in `[0, 1]` or the floors
    /// sum to more than 1.
    pub(crate) fn new(n_objectives: usize, w_min: f64, w0_min: f64) -> Result<Self, ConfigError> {
        crate::require_in_range("w_min", w_min, 0.0, 1.0)?;
        crate::require_in_range("w0_min", w0_min, 0.0, 1.0)?;
        let n = n_objectives as f64;
        if n * w_min > 1.0 + FEASIBILITY_SLACK {
            return Err(ConfigError::new(
                "w_min",
                format!(
                    "{n_objectives} objectives × w_min = {} exceeds 1",
                    n * w_min
                ),
            ));
        }
        let primary = w_min.max(w0_min);
        let total = primary + (n - 1.0) * w_min;
        if total > 1.0 + FEASIBILITY_SLACK {
            return Err(ConfigError::new(
                "w0_min",
                format!(
                    "max(w0_min, w_min) + {} × w_min = {total} exceeds 1",
                    n_objectives - 1
                ),
            ));
        }
        let round = |x: f64| f64::from(x as f32);
        let mut lower = vec![round(w_min); n_objectives];
        if let Some(first) = lower.first_mut() {
            *first = round(primary);
        }
        Ok(Self { lower })
    }

    /// The floors, one per objective.
    pub(crate) fn lower(&self) -> &[f64] {
        &self.lower
    }

    /// Euclidean projection of finite `v` onto the floored simplex.
    pub(crate) fn project(&self, v: &[f64]) -> Vec<f64> {
        project_floored(v, &self.lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_put_the_primary_bound_first() {
        let floors = Floors::new(3, 0.02, 0.2).unwrap();
        assert_eq!(
            floors.lower(),
            &[f64::from(0.2f32), f64::from(0.02f32), f64::from(0.02f32)]
        );
        // w0_min below w_min: the primary still gets w_min.
        let floors = Floors::new(2, 0.1, 0.0).unwrap();
        assert_eq!(floors.lower(), &[f64::from(0.1f32), f64::from(0.1f32)]);
    }

    #[test]
    fn floors_that_exactly_fill_the_simplex_are_accepted() {
        // 0.2 + 40 × 0.02 = 1.
        assert!(Floors::new(41, 0.02, 0.2).is_ok());
        let err = Floors::new(42, 0.02, 0.2).unwrap_err();
        assert_eq!(err.field, "w0_min");
    }

    #[test]
    fn infeasible_or_out_of_range_floors_name_the_field() {
        assert_eq!(Floors::new(3, 0.4, 0.0).unwrap_err().field, "w_min");
        assert_eq!(Floors::new(3, 0.1, 0.9).unwrap_err().field, "w0_min");
        assert_eq!(Floors::new(3, -0.1, 0.2).unwrap_err().field, "w_min");
        assert_eq!(Floors::new(3, f64::NAN, 0.2).unwrap_err().field, "w_min");
        assert_eq!(Floors::new(3, 0.02, 1.5).unwrap_err().field, "w0_min");
    }
}
