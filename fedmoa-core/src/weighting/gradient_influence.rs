//! [`GradientInfluence`]: same-step weighting from the Gram matrix of the per-objective
//! gradients (arXiv 2509.11452): `w ← Π(softmax(log w + η · Σ_j ⟨g_k, g_j⟩ / λ))`.
//!
//! `Σ_j ⟨g_k, g_j⟩ = ⟨g_k, Σ_j g_j⟩` is how much a step along objective k's gradient also
//! helps the other objectives (first order); objectives that conflict with the rest lose weight.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, ObjectiveWeighter, Signals, StepSignals, WeighterError};

use super::config::require_non_negative;
use super::floors::{DEFAULT_W_MIN, DEFAULT_W0_MIN, FlooredStart, Floors};
use super::signals::{check_step, require_gradients};
use super::simplex::{exponentiated_step, narrow, widen};
use super::state::{restore_weights, save_weights};

/// Default step η. With the automatic λ an objective orthogonal to the others and of average
/// norm scores 1, so η = 0.1 moves its log-weight by 0.1 a step, like the hypergradient
/// default.
pub const DEFAULT_ETA: f64 = 0.1;

/// Configuration of [`GradientInfluence`] (`type = "gradient_influence"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradientInfluenceConfig {
    /// Step η, finite and ≥ 0. Default [`DEFAULT_ETA`].
    pub eta: f64,
    /// Scale λ of the dot products, finite and > 0. Left out (the default): the mean of the
    /// Gram diagonal, `mean_k ‖g_k‖²`, recomputed each step, which makes the rule scale-free.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// Floor of every weight, in `[0, 1]`. Default [`DEFAULT_W_MIN`].
    pub w_min: f64,
    /// Floor of the primary weight, in `[0, 1]`. Default [`DEFAULT_W0_MIN`].
    pub w0_min: f64,
    /// Initial weights (non-negative, normalised, then projected onto the floors).
    /// Default: uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_weights: Option<Vec<f64>>,
}

impl Default for GradientInfluenceConfig {
    fn default() -> Self {
        Self {
            eta: DEFAULT_ETA,
            lambda: None,
            w_min: DEFAULT_W_MIN,
            w0_min: DEFAULT_W0_MIN,
            initial_weights: None,
        }
    }
}

impl GradientInfluenceConfig {
    /// Validates every field and builds the weighter for `n_objectives` objectives.
    ///
    /// # Errors
    /// [`ConfigError`] naming `eta`, `lambda`, `w_min`, `w0_min`, `initial_weights[k]` or
    /// `n_objectives`.
    pub fn build(&self, n_objectives: usize) -> Result<GradientInfluence, ConfigError> {
        let start = FlooredStart::new(
            self.initial_weights.as_deref(),
            n_objectives,
            self.w_min,
            self.w0_min,
        )?;
        require_non_negative("eta", self.eta)?;
        if let Some(lambda) = self.lambda {
            crate::require_positive("lambda", lambda)?;
        }
        Ok(GradientInfluence {
            weights: start.weights,
            floors: start.floors,
            eta: self.eta,
            lambda: self.lambda,
            observed_steps: 0,
        })
    }
}

/// Gradient-influence weighter (needs the same-step Gram matrix of the per-objective
/// gradients; no lag).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientInfluence {
    weights: Vec<f32>,
    floors: Floors,
    eta: f64,
    lambda: Option<f64>,
    observed_steps: u64,
}

impl GradientInfluence {
    const NAME: &'static str = "gradient_influence";

    /// Steps observed so far.
    pub fn observed_steps(&self) -> u64 {
        self.observed_steps
    }

    /// The new weights for Gram matrix `gram`, or `None` when every gradient is zero under
    /// the automatic scale (no information: the weights stay).
    fn step(&self, gram: &[Vec<f64>]) -> Result<Option<Vec<f64>>, WeighterError> {
        let lambda = match self.lambda {
            Some(lambda) => lambda,
            None => {
                let trace: f64 = gram.iter().enumerate().map(|(k, row)| row[k]).sum();
                let mean = trace / gram.len() as f64;
                if mean <= 0.0 {
                    return Ok(None);
                }
                mean
            }
        };
        let moved = exponentiated_step(
            &widen(&self.weights),
            gram.iter()
                .map(|row| self.eta * (row.iter().sum::<f64>() / lambda)),
            "eta × Gram row sum / lambda overflowed",
        )?;
        Ok(Some(self.floors.project(&moved)))
    }
}

impl ObjectiveWeighter for GradientInfluence {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn weights(&self) -> &[f32] {
        &self.weights
    }

    fn needs(&self) -> Signals {
        Signals {
            gradient_dots: true,
        }
    }

    fn observe(&mut self, step: &StepSignals) -> Result<(), WeighterError> {
        check_step(step, self.weights.len())?;
        let g = require_gradients(step)?;
        if let Some(new) = self.step(&g.gram)? {
            self.weights = narrow(&new);
        }
        self.observed_steps += 1;
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        save_weights(Self::NAME, &self.weights, self.observed_steps)
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), WeighterError> {
        (self.weights, self.observed_steps) =
            restore_weights(Self::NAME, state, self.floors.lower())?;
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn ObjectiveWeighter> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GradientSignals;
    use crate::weighting::test_util::assert_weights;

    fn signals(gram: Vec<Vec<f64>>) -> StepSignals {
        let n = gram.len();
        StepSignals {
            step: 0,
            reward_means: vec![0.0; n],
            saturation: vec![0.0; n],
            gradients: Some(GradientSignals {
                gram,
                lagged_primary_dots: None,
                previous_norms: None,
            }),
        }
    }

    #[test]
    fn automatic_scale_step_matches_hand_computation() {
        // w = (0.5, 0.5), gram = [[4, −1], [−1, 2]]: λ = (4 + 2)/2 = 3, row sums (3, 1),
        // η = 0.3 → scores (0.3, 0.1); w_0 = 1 / (1 + e^{−0.2}) = 0.549834.
        let config = GradientInfluenceConfig {
            eta: 0.3,
            ..GradientInfluenceConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(vec![vec![4.0, -1.0], vec![-1.0, 2.0]]))
            .unwrap();
        assert_weights(&w, &[0.549_834, 0.450_166]);
    }

    #[test]
    fn fixed_scale_step_matches_hand_computation() {
        // w = (0.25, 0.75), gram = [[2, 1], [1, 1]], λ = 2, η = 0.5: row sums (3, 2) →
        // scores (0.75, 0.5); w ∝ (0.25 e^{0.75}, 0.75 e^{0.5}) = (0.529250, 1.236541)
        // → (0.299724, 0.700276).
        let config = GradientInfluenceConfig {
            eta: 0.5,
            lambda: Some(2.0),
            initial_weights: Some(vec![0.25, 0.75]),
            ..GradientInfluenceConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(vec![vec![2.0, 1.0], vec![1.0, 1.0]]))
            .unwrap();
        assert_weights(&w, &[0.299_724, 0.700_276]);
    }

    #[test]
    fn all_zero_gradients_leave_the_weights() {
        let mut w = GradientInfluenceConfig::default().build(2).unwrap();
        w.observe(&signals(vec![vec![0.0; 2]; 2])).unwrap();
        assert_eq!(w.weights(), &[0.5, 0.5]);
        assert_eq!(w.observed_steps(), 1);
    }

    #[test]
    fn the_primary_floor_holds_under_a_large_step() {
        // gram = [[1, −1], [−1, 4]]: row sums (0, 3), λ = 2.5, η = 100 → scores (0, 120), so
        // softmax ≈ (e^{−120}, 1); the projection lifts the primary to w0_min = 0.2 and
        // leaves 1 − 0.2 = 0.8 to objective 1.
        let config = GradientInfluenceConfig {
            eta: 100.0,
            ..GradientInfluenceConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(vec![vec![1.0, -1.0], vec![-1.0, 4.0]]))
            .unwrap();
        assert_eq!(w.weights(), &[0.2f32, 0.8f32]);
    }
}
