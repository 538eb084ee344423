//! [`Hypergradient`]: FedMOA's client-side weighting by hypergradient descent.
//!
//! With decoupled advantages the GRPO gradient splits as `Σ_k w_k g_k`, so each `w_k` acts as
//! a per-objective learning rate, and the derivative of the primary loss after the step with
//! respect to `w_k` is `−η ⟨g_0(θ_{t+1}), g_k(θ_t)⟩` (Baydin et al., "Online Learning Rate
//! Adaptation with Hypergradient Descent", 2018; the same step weights auxiliary tasks in
//! OL-AUX). A descent step on the weights is therefore
//! `w_k ← Π(w_k + β_w · h_k)` with `h_k = ⟨g_0(θ_{t+1}), g_k(θ_t)⟩`, one step lagged so that no
//! extra forward pass is needed (see `docs/WEIGHTING.md`).

use serde::{Deserialize, Serialize};

use crate::{ConfigError, GradientSignals, ObjectiveWeighter, Signals, StepSignals, WeighterError};

use super::config::require_non_negative;
use super::floors::{DEFAULT_W_MIN, DEFAULT_W0_MIN, FlooredStart, Floors};
use super::signals::{check_step, require_gradients};
use super::simplex::{exponentiated_step, narrow, widen};
use super::state::{restore_weights, save_weights};

/// Default hypergradient step β_w. With cosine-normalised `h ∈ [−1, 1]` one step changes a
/// log-weight ratio by at most `2 β_w = 0.2` (a factor of about 1.22), so a consistent signal
/// moves the weights by an order of magnitude within a few dozen local steps while the noise
/// of a single GRPO batch cannot.
pub const DEFAULT_BETA_W: f64 = 0.1;

/// How the hypergradient `h_k` is scaled before the step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DotProduct {
    /// `h_k = ⟨g_0(θ_{t+1}), g_k(θ_t)⟩` as is; β_w then depends on the gradient scale.
    Raw,
    /// `h_k / (‖g_0(θ_{t+1})‖ ‖g_k(θ_t)‖)`, in `[−1, 1]` (0 when a norm is 0): scale-free.
    #[default]
    Cosine,
}

/// How the step is applied to the weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateRule {
    /// `w ← Π(w + β_w h)`: plain hypergradient descent, then Euclidean projection.
    Additive,
    /// `w ← Π(normalize(w ⊙ exp(β_w h)))`: exponentiated gradient, then projection.
    #[default]
    Multiplicative,
}

/// Configuration of [`Hypergradient`] (`type = "hypergradient"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HypergradientConfig {
    /// Hypergradient step β_w, finite and ≥ 0 (0 freezes the weights). Default
    /// [`DEFAULT_BETA_W`].
    pub beta_w: f64,
    /// Raw or cosine-normalised dot products. Default cosine.
    pub dot: DotProduct,
    /// Additive or multiplicative step. Default multiplicative.
    pub update: UpdateRule,
    /// Floor of every weight, in `[0, 1]`. Default [`DEFAULT_W_MIN`].
    pub w_min: f64,
    /// Floor of the primary weight, in `[0, 1]`. Default [`DEFAULT_W0_MIN`].
    pub w0_min: f64,
    /// Observed steps during which the weights stay at their initial values. Default 0.
    pub warmup_steps: u64,
    /// Initial weights (non-negative, normalised, then projected onto the floors).
    /// Default: uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_weights: Option<Vec<f64>>,
}

impl Default for HypergradientConfig {
    fn default() -> Self {
        Self {
            beta_w: DEFAULT_BETA_W,
            dot: DotProduct::default(),
            update: UpdateRule::default(),
            w_min: DEFAULT_W_MIN,
            w0_min: DEFAULT_W0_MIN,
            warmup_steps: 0,
            initial_weights: None,
        }
    }
}

impl HypergradientConfig {
    /// Validates every field and builds the weighter for `n_objectives` objectives.
    ///
    /// # Errors
    /// [`ConfigError`] naming `beta_w`, `w_min`, `w0_min`, `initial_weights[k]` or
    /// `n_objectives`.
    pub fn build(&self, n_objectives: usize) -> Result<Hypergradient, ConfigError> {
        let start = FlooredStart::new(
            self.initial_weights.as_deref(),
            n_objectives,
            self.w_min,
            self.w0_min,
        )?;
        require_non_negative("beta_w", self.beta_w)?;
        Ok(Hypergradient {
            weights: start.weights,
            floors: start.floors,
            beta_w: self.beta_w,
            dot: self.dot,
            update: self.update,
            warmup_steps: self.warmup_steps,
            observed_steps: 0,
        })
    }
}

/// FedMOA's hypergradient weighter (needs the per-objective gradient dot products).
///
/// Each step: `h_k = ⟨g_0(θ_{t+1}), g_k(θ_t)⟩` from [`GradientSignals::lagged_primary_dots`]
/// (cosine-normalised with `‖g_0(θ_{t+1})‖ = sqrt(gram[0][0])` and
/// [`GradientSignals::previous_norms`] by default), then the additive or multiplicative step
/// and the Euclidean projection onto `{Σw = 1, w_k ≥ w_min, w_0 ≥ w0_min}`. The weights do not
/// move on a step without lagged dots (the first step of a round) or during the warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypergradient {
    weights: Vec<f32>,
    floors: Floors,
    beta_w: f64,
    dot: DotProduct,
    update: UpdateRule,
    warmup_steps: u64,
    observed_steps: u64,
}

impl Hypergradient {
    const NAME: &'static str = "hypergradient";

    /// Steps observed so far (the warm-up counts these).
    pub fn observed_steps(&self) -> u64 {
        self.observed_steps
    }

    /// The hypergradients `h_k`, raw or cosine-normalised.
    fn hypergradients(
        &self,
        g: &GradientSignals,
        lagged: &[f64],
    ) -> Result<Vec<f64>, WeighterError> {
        match self.dot {
            DotProduct::Raw => Ok(lagged.to_vec()),
            DotProduct::Cosine => {
                let norms = g.previous_norms.as_deref().ok_or_else(|| {
                    WeighterError::MissingSignal("gradients.previous_norms".to_owned())
                })?;
                let primary_norm = g.gram[0][0].sqrt();
                Ok(lagged
                    .iter()
                    .zip(norms)
                    .map(|(&dot, &norm)| cosine(dot, primary_norm, norm))
                    .collect())
            }
        }
    }

    /// The new weights after a step with hypergradients `h`.
    fn step(&self, h: &[f64]) -> Result<Vec<f64>, WeighterError> {
        let w = widen(&self.weights);
        let moved: Vec<f64> = match self.update {
            UpdateRule::Additive => w
                .iter()
                .zip(h)
                .map(|(wk, hk)| wk + self.beta_w * hk)
                .collect(),
            UpdateRule::Multiplicative => {
                exponentiated_step(&w, h.iter().map(|hk| self.beta_w * hk), OVERFLOW)?
            }
        };
        if moved.iter().any(|v| !v.is_finite()) {
            return Err(WeighterError::NonFinite(OVERFLOW.to_owned()));
        }
        Ok(self.floors.project(&moved))
    }
}

/// `dot / (a · b)` clamped to `[−1, 1]` (rounding can push it past), 0 when a norm is 0.
fn cosine(dot: f64, a: f64, b: f64) -> f64 {
    if a > 0.0 && b > 0.0 {
        // Divide in two steps so that `a · b` cannot overflow.
        let c = dot / a / b;
        if c.is_finite() {
            c.clamp(-1.0, 1.0)
        } else {
            0.0
        }
    } else {
        0.0
    }
}

/// The [`WeighterError::NonFinite`] message of a step that overflowed.
const OVERFLOW: &str = "beta_w × hypergradient overflowed";

impl ObjectiveWeighter for Hypergradient {
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
        let in_warmup = self.observed_steps < self.warmup_steps;
        if let (Some(lagged), false) = (g.lagged_primary_dots.as_deref(), in_warmup) {
            let h = self.hypergradients(g, lagged)?;
            self.weights = narrow(&self.step(&h)?);
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
    use crate::weighting::test_util::assert_weights;

    fn signals(gram00: f64, lagged: Option<Vec<f64>>, norms: Option<Vec<f64>>) -> StepSignals {
        let n = lagged.as_ref().map_or(2, Vec::len);
        let mut gram = vec![vec![0.0; n]; n];
        gram[0][0] = gram00;
        StepSignals {
            step: 0,
            reward_means: vec![0.0; n],
            saturation: vec![0.0; n],
            gradients: Some(GradientSignals {
                gram,
                lagged_primary_dots: lagged,
                previous_norms: norms,
            }),
        }
    }

    #[test]
    fn multiplicative_cosine_step_matches_hand_computation() {
        // w = (0.5, 0.5), β_w = 0.5, ‖g_0(θ_{t+1})‖ = sqrt(4) = 2, ‖g_k(θ_t)‖ = (1, 1),
        // lagged dots (2, −1) → cos = (2/2, −1/2) = (1, −0.5).
        // w ∝ (0.5 e^{0.5}, 0.5 e^{−0.25}) → w_0 = 1 / (1 + e^{−0.75}) = 0.679179, w_1 = 0.320821.
        // Both above the floors (0.2, 0.02), so the projection leaves them.
        let config = HypergradientConfig {
            beta_w: 0.5,
            ..HypergradientConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(4.0, Some(vec![2.0, -1.0]), Some(vec![1.0, 1.0])))
            .unwrap();
        assert_weights(&w, &[0.679_179, 0.320_821]);
    }

    #[test]
    fn additive_raw_step_matches_hand_computation() {
        // w = (0.5, 0.3, 0.2), β_w = 0.1, h = (1, −1, 0.5) → v = (0.6, 0.2, 0.25), Σ = 1.05.
        // Floors l = (0.2, 0.02, 0.02): y = (0.4, 0.18, 0.23), m = 0.76; sorted (0.4, 0.23, 0.18)
        // with prefix sums (0.4, 0.63, 0.81): j=3: 0.18 > (0.81 − 0.76)/3 = 0.016667 ✓, so
        // τ = 0.016667 and w = v − τ = (0.583333, 0.183333, 0.233333).
        let config = HypergradientConfig {
            beta_w: 0.1,
            dot: DotProduct::Raw,
            update: UpdateRule::Additive,
            initial_weights: Some(vec![0.5, 0.3, 0.2]),
            ..HypergradientConfig::default()
        };
        let mut w = config.build(3).unwrap();
        w.observe(&signals(1.0, Some(vec![1.0, -1.0, 0.5]), None))
            .unwrap();
        assert_weights(&w, &[0.583_333, 0.183_333, 0.233_333]);
    }

    #[test]
    fn additive_step_stops_at_the_floor() {
        // w = (0.5, 0.5), β_w = 1, h = (1, −1) → v = (1.5, −0.5). l = (0.2, 0.02):
        // y = (1.3, −0.52), m = 0.78; j=2: −0.52 > (0.78 − 0.78)/2 = 0 ✗, so τ = 1.3 − 0.78 = 0.52
        // and w = (0.2 + 0.78, 0.02 + 0) = (0.98, 0.02).
        let config = HypergradientConfig {
            beta_w: 1.0,
            dot: DotProduct::Raw,
            update: UpdateRule::Additive,
            ..HypergradientConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(1.0, Some(vec![1.0, -1.0]), None))
            .unwrap();
        assert_weights(&w, &[0.98, 0.02]);
        assert_eq!(w.weights()[1], 0.02f32);
    }

    #[test]
    fn no_lagged_dots_or_warmup_means_no_move() {
        let config = HypergradientConfig {
            beta_w: 1.0,
            warmup_steps: 2,
            ..HypergradientConfig::default()
        };
        let mut w = config.build(2).unwrap();
        // First step: no lag.
        w.observe(&signals(1.0, None, None)).unwrap();
        assert_eq!(w.weights(), &[0.5, 0.5]);
        // Second step: lag available but still in the warm-up.
        let moving = signals(1.0, Some(vec![1.0, -1.0]), Some(vec![1.0, 1.0]));
        w.observe(&moving).unwrap();
        assert_eq!(w.weights(), &[0.5, 0.5]);
        // Third step moves.
        w.observe(&moving).unwrap();
        assert!(w.weights()[0] > 0.5);
        assert_eq!(w.observed_steps(), 3);
    }

    #[test]
    fn zero_norms_give_zero_cosine() {
        // ‖g_1(θ_t)‖ = 0 (saturated): h_1 = 0; h_0 = 1 → w ∝ (0.5 e^{0.5}, 0.5) →
        // w_0 = 1 / (1 + e^{−0.5}) = 0.622459.
        let config = HypergradientConfig {
            beta_w: 0.5,
            ..HypergradientConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&signals(1.0, Some(vec![1.0, 0.0]), Some(vec![1.0, 0.0])))
            .unwrap();
        assert_weights(&w, &[0.622_459, 0.377_541]);
        // A zero primary gradient: every cosine is 0, nothing moves.
        let before = w.weights().to_vec();
        w.observe(&signals(0.0, Some(vec![0.0, 0.0]), Some(vec![1.0, 1.0])))
            .unwrap();
        assert_eq!(w.weights(), &before[..]);
        assert_eq!(cosine(3.0, 1.0, 2.0), 1.0, "rounding past 1 is clamped");
    }

    #[test]
    fn missing_gradients_or_norms_are_errors_and_leave_the_weights() {
        let mut w = HypergradientConfig::default().build(2).unwrap();
        let mut no_gradients = signals(1.0, None, None);
        no_gradients.gradients = None;
        assert!(matches!(
            w.observe(&no_gradients),
            Err(WeighterError::MissingSignal(_))
        ));
        assert!(matches!(
            w.observe(&signals(1.0, Some(vec![1.0, 1.0]), None)),
            Err(WeighterError::MissingSignal(_))
        ));
        assert_eq!(w.weights(), &[0.5, 0.5]);
        assert_eq!(w.observed_steps(), 0);
    }

    #[test]
    fn overflowing_raw_steps_are_errors() {
        let config = HypergradientConfig {
            beta_w: 1e300,
            dot: DotProduct::Raw,
            update: UpdateRule::Additive,
            ..HypergradientConfig::default()
        };
        let mut w = config.build(2).unwrap();
        assert!(matches!(
            w.observe(&signals(1.0, Some(vec![1e300, 0.0]), None)),
            Err(WeighterError::NonFinite(_))
        ));
        assert_eq!(w.weights(), &[0.5, 0.5]);
    }

    #[test]
    fn initial_weights_are_projected_onto_the_floors() {
        // (1, 0, 0) with l = (0.2, 0.02, 0.02): y = (0.8, −0.02, −0.02), m = 0.76, τ = 0.04
        // → (0.96, 0.02, 0.02).
        let config = HypergradientConfig {
            initial_weights: Some(vec![1.0, 0.0, 0.0]),
            ..HypergradientConfig::default()
        };
        let w = config.build(3).unwrap();
        assert_weights(&w, &[0.96, 0.02, 0.02]);
    }
}
