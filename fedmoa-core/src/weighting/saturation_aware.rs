//! [`SaturationAware`]: weights shrunk by each objective's reward saturation (the rule of the
//! GDPO repository), `w_k ∝ w_k^init · (1 − s̄_k)^γ`, then the floors.
//!
//! The factor multiplies the *initial* weights rather than the previous ones. Compounding
//! (`w_k ← w_k (1 − s_k)^γ` every step) can only shrink a weight, since the factor is at most
//! 1: an objective saturated for a few steps would sink to its floor and stay there after it
//! stops being saturated (e.g. once the global model drifts at the next round). Anchoring on
//! the initial weights makes the weights a function of the current (smoothed) saturation, so
//! they recover as soon as saturation drops; persistent saturation still drives a weight to
//! its floor.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, ObjectiveWeighter, Signals, StepSignals, WeighterError};

use super::config::require_non_negative;
use super::floors::{DEFAULT_W_MIN, DEFAULT_W0_MIN, FlooredStart, Floors};
use super::signals::check_step;
use super::simplex::narrow;
use super::state::{STATE_VERSION, SavedState, restore, to_json};

/// Default exponent γ: the weight is proportional to the unsaturated fraction `1 − s̄`.
pub const DEFAULT_GAMMA: f64 = 1.0;

/// Default smoothing α: no smoothing, the weights follow the batch saturation.
pub const DEFAULT_SMOOTHING: f64 = 1.0;

/// Configuration of [`SaturationAware`] (`type = "saturation_aware"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaturationAwareConfig {
    /// Exponent γ, finite and ≥ 0 (0 ignores saturation). Default [`DEFAULT_GAMMA`].
    pub gamma: f64,
    /// Weight α ∈ (0, 1] of the new batch in the moving average of saturation,
    /// `s̄ ← (1 − α) s̄ + α s`. Default [`DEFAULT_SMOOTHING`] (no averaging).
    pub smoothing: f64,
    /// Floor of every weight, in `[0, 1]`. Default [`DEFAULT_W_MIN`].
    pub w_min: f64,
    /// Floor of the primary weight, in `[0, 1]`. Default [`DEFAULT_W0_MIN`].
    pub w0_min: f64,
    /// The anchor weights `w^init` (non-negative, normalised). Default: uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_weights: Option<Vec<f64>>,
}

impl Default for SaturationAwareConfig {
    fn default() -> Self {
        Self {
            gamma: DEFAULT_GAMMA,
            smoothing: DEFAULT_SMOOTHING,
            w_min: DEFAULT_W_MIN,
            w0_min: DEFAULT_W0_MIN,
            initial_weights: None,
        }
    }
}

impl SaturationAwareConfig {
    /// Validates every field and builds the weighter for `n_objectives` objectives.
    ///
    /// # Errors
    /// [`ConfigError`] naming `gamma`, `smoothing`, `w_min`, `w0_min`, `initial_weights[k]`
    /// or `n_objectives`.
    pub fn build(&self, n_objectives: usize) -> Result<SaturationAware, ConfigError> {
        let start = FlooredStart::new(
            self.initial_weights.as_deref(),
            n_objectives,
            self.w_min,
            self.w0_min,
        )?;
        require_non_negative("gamma", self.gamma)?;
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return Err(ConfigError::new(
                "smoothing",
                format!("must be in (0, 1], got {}", self.smoothing),
            ));
        }
        Ok(SaturationAware {
            weights: start.weights,
            smoothed: vec![0.0; n_objectives],
            initial: start.initial,
            floors: start.floors,
            gamma: self.gamma,
            smoothing: self.smoothing,
            observed_steps: 0,
        })
    }
}

/// Saturation-aware weighter: needs no gradients, costs O(K) per step.
///
/// Saturation `s_k` is [`StepSignals::saturation`]; the first observation sets `s̄ = s`.
/// When every objective is fully saturated (every factor is 0) the weights stay.
#[derive(Debug, Clone, PartialEq)]
pub struct SaturationAware {
    weights: Vec<f32>,
    smoothed: Vec<f32>,
    initial: Vec<f64>,
    floors: Floors,
    gamma: f64,
    smoothing: f64,
    observed_steps: u64,
}

/// Saved state of [`SaturationAware`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaturationState {
    weighter: String,
    version: u32,
    weights: Vec<f32>,
    smoothed_saturation: Vec<f32>,
    observed_steps: u64,
}

impl SavedState for SaturationState {
    fn header(&self) -> (&str, u32) {
        (&self.weighter, self.version)
    }

    fn weights(&self) -> &[f32] {
        &self.weights
    }
}

impl SaturationAware {
    const NAME: &'static str = "saturation_aware";

    /// Steps observed so far.
    pub fn observed_steps(&self) -> u64 {
        self.observed_steps
    }

    /// The smoothed saturation `s̄`, one per objective (zeros before the first step).
    pub fn smoothed_saturation(&self) -> &[f32] {
        &self.smoothed
    }

    /// `s̄` after observing batch saturation `s`.
    fn smooth(&self, saturation: &[f32]) -> Vec<f32> {
        if self.observed_steps == 0 {
            return saturation.to_vec();
        }
        self.smoothed
            .iter()
            .zip(saturation)
            .map(|(&old, &new)| {
                let (old, new) = (f64::from(old), f64::from(new));
                (old + self.smoothing * (new - old)).clamp(0.0, 1.0) as f32
            })
            .collect()
    }

    /// `Π(normalize(w^init ⊙ (1 − s̄)^γ))`, or `None` when every factor is 0.
    fn weights_for(&self, smoothed: &[f32]) -> Option<Vec<f64>> {
        let raw: Vec<f64> = self
            .initial
            .iter()
            .zip(smoothed)
            .map(|(w, &s)| w * (1.0 - f64::from(s)).powf(self.gamma))
            .collect();
        let total: f64 = raw.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let normalised: Vec<f64> = raw.iter().map(|r| r / total).collect();
        Some(self.floors.project(&normalised))
    }
}

impl ObjectiveWeighter for SaturationAware {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn weights(&self) -> &[f32] {
        &self.weights
    }

    fn needs(&self) -> Signals {
        Signals {
            gradient_dots: false,
        }
    }

    fn observe(&mut self, step: &StepSignals) -> Result<(), WeighterError> {
        check_step(step, self.weights.len())?;
        let smoothed = self.smooth(&step.saturation);
        if let Some(new) = self.weights_for(&smoothed) {
            self.weights = narrow(&new);
        }
        self.smoothed = smoothed;
        self.observed_steps += 1;
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        to_json(&SaturationState {
            weighter: Self::NAME.to_owned(),
            version: STATE_VERSION,
            weights: self.weights.clone(),
            smoothed_saturation: self.smoothed.clone(),
            observed_steps: self.observed_steps,
        })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), WeighterError> {
        let saved: SaturationState = restore(Self::NAME, state, self.floors.lower())?;
        if saved.smoothed_saturation.len() != self.weights.len() {
            return Err(WeighterError::BadState(format!(
                "state has {} saturations for {} objectives",
                saved.smoothed_saturation.len(),
                self.weights.len()
            )));
        }
        if let Some((k, s)) = saved
            .smoothed_saturation
            .iter()
            .enumerate()
            .find(|(_, s)| !(0.0..=1.0).contains(*s))
        {
            return Err(WeighterError::BadState(format!(
                "smoothed saturation {k} = {s} is outside [0, 1]"
            )));
        }
        self.weights = saved.weights;
        self.smoothed = saved.smoothed_saturation;
        self.observed_steps = saved.observed_steps;
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

    fn step(saturation: &[f32]) -> StepSignals {
        StepSignals {
            step: 0,
            reward_means: vec![0.5; saturation.len()],
            saturation: saturation.to_vec(),
            gradients: None,
        }
    }

    #[test]
    fn one_step_matches_hand_computation() {
        // w^init = (0.5, 0.3, 0.2), s = (0, 0.5, 1), γ = 2 → (0.5, 0.3 · 0.25, 0) =
        // (0.5, 0.075, 0), Σ = 0.575 → (20/23, 3/23, 0) = (0.869565, 0.130435, 0).
        // Floors l = (0.2, 0.02, 0.02): y = (0.669565, 0.110435, −0.02), m = 0.76; prefix sums
        // (0.669565, 0.78, 0.76): j=2: 0.110435 > 0.02/2 ✓, j=3: −0.02 > 0 ✗ → τ = 0.01,
        // w = (20/23 − 0.01, 3/23 − 0.01, 0.02) = (0.859565, 0.120435, 0.02).
        let config = SaturationAwareConfig {
            gamma: 2.0,
            initial_weights: Some(vec![0.5, 0.3, 0.2]),
            ..SaturationAwareConfig::default()
        };
        let mut w = config.build(3).unwrap();
        w.observe(&step(&[0.0, 0.5, 1.0])).unwrap();
        assert_weights(&w, &[0.859_565, 0.120_435, 0.02]);
        assert!(!w.needs().gradient_dots);
    }

    #[test]
    fn weights_recover_when_saturation_drops() {
        let mut w = SaturationAwareConfig::default().build(2).unwrap();
        // Saturated auxiliary: (0.5, 0) → projected (0.98, 0.02).
        for _ in 0..5 {
            w.observe(&step(&[0.0, 1.0])).unwrap();
        }
        assert_weights(&w, &[0.98, 0.02]);
        // Saturation gone: straight back to the anchor, not stuck at the floor.
        w.observe(&step(&[0.0, 0.0])).unwrap();
        assert_eq!(w.weights(), &[0.5, 0.5]);
    }

    #[test]
    fn smoothing_matches_hand_computation() {
        // α = 0.5, γ = 1, no floors, w^init = (0.5, 0.5).
        // s = (0, 1): first step, s̄ = (0, 1) → (0.5, 0) → (1, 0).
        // s = (0, 0): s̄ = (0, 0.5) → (0.5, 0.25) → (2/3, 1/3).
        // s = (0, 0): s̄ = (0, 0.25) → (0.5, 0.375) → (4/7, 3/7).
        let config = SaturationAwareConfig {
            smoothing: 0.5,
            w_min: 0.0,
            w0_min: 0.0,
            ..SaturationAwareConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&step(&[0.0, 1.0])).unwrap();
        assert_weights(&w, &[1.0, 0.0]);
        w.observe(&step(&[0.0, 0.0])).unwrap();
        assert_weights(&w, &[2.0 / 3.0, 1.0 / 3.0]);
        w.observe(&step(&[0.0, 0.0])).unwrap();
        assert_weights(&w, &[4.0 / 7.0, 3.0 / 7.0]);
        assert_eq!(w.smoothed_saturation(), &[0.0, 0.25]);
    }

    #[test]
    fn all_saturated_leaves_the_weights() {
        let config = SaturationAwareConfig {
            initial_weights: Some(vec![3.0, 1.0]),
            ..SaturationAwareConfig::default()
        };
        let mut w = config.build(2).unwrap();
        w.observe(&step(&[1.0, 1.0])).unwrap();
        assert_eq!(w.weights(), &[0.75, 0.25]);
        assert_eq!(w.observed_steps(), 1);
    }

    #[test]
    fn restoring_rejects_bad_saturations() {
        let mut w = SaturationAwareConfig::default().build(2).unwrap();
        let mut state = w.state();
        state["smoothed_saturation"] = serde_json::json!([0.5, 1.5]);
        assert!(matches!(
            w.load_state(&state),
            Err(WeighterError::BadState(_))
        ));
        state["smoothed_saturation"] = serde_json::json!([0.5]);
        assert!(matches!(
            w.load_state(&state),
            Err(WeighterError::BadState(_))
        ));
    }
}
