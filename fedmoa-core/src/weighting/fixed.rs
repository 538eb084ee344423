//! [`Fixed`]: static objective weights, the FedAvg baseline's weighting.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, ObjectiveWeighter, Signals, StepSignals, WeighterError};

use super::config::resolve_weights;
use super::signals::check_step;
use super::simplex::narrow;
use super::state::{restore_weights, save_weights};

/// Configuration of [`Fixed`] (`type = "fixed"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixedConfig {
    /// The weights, one per objective, non-negative; normalised to sum to 1.
    /// Default: uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

impl FixedConfig {
    /// Validates the weights and builds the weighter.
    ///
    /// # Errors
    /// [`ConfigError`] on `weights` / `weights[k]`, or `n_objectives` when it is 0.
    pub fn build(&self, n_objectives: usize) -> Result<Fixed, ConfigError> {
        let weights = resolve_weights("weights", self.weights.as_deref(), n_objectives)?;
        Ok(Fixed {
            weights: narrow(&weights),
            observed_steps: 0,
        })
    }
}

/// Static weights: [`ObjectiveWeighter::observe`] validates the signals and never moves them.
///
/// Needs no gradients and costs nothing per step.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    weights: Vec<f32>,
    observed_steps: u64,
}

impl Fixed {
    const NAME: &'static str = "fixed";

    /// Steps observed so far.
    pub fn observed_steps(&self) -> u64 {
        self.observed_steps
    }
}

impl ObjectiveWeighter for Fixed {
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
        self.observed_steps += 1;
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        save_weights(Self::NAME, &self.weights, self.observed_steps)
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), WeighterError> {
        (self.weights, self.observed_steps) =
            restore_weights(Self::NAME, state, &vec![0.0; self.weights.len()])?;
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn ObjectiveWeighter> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(saturation: Vec<f32>) -> StepSignals {
        StepSignals {
            step: 0,
            reward_means: vec![0.5; saturation.len()],
            saturation,
            gradients: None,
        }
    }

    #[test]
    fn fixed_weights_are_normalised_and_never_move() {
        // (2, 1, 1) / 4 = (0.5, 0.25, 0.25).
        let config = FixedConfig {
            weights: Some(vec![2.0, 1.0, 1.0]),
        };
        let mut fixed = config.build(3).unwrap();
        assert_eq!(fixed.weights(), &[0.5, 0.25, 0.25]);
        for s in [[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [0.3, 0.3, 0.3]] {
            fixed.observe(&step(s.to_vec())).unwrap();
            assert_eq!(fixed.weights(), &[0.5, 0.25, 0.25]);
        }
        assert_eq!(fixed.observed_steps(), 3);
        assert!(!fixed.needs().gradient_dots);
    }

    #[test]
    fn malformed_signals_are_reported() {
        let mut fixed = FixedConfig::default().build(2).unwrap();
        assert!(fixed.observe(&step(vec![0.0])).is_err());
        assert!(fixed.observe(&step(vec![0.0, f32::NAN])).is_err());
        assert_eq!(fixed.observed_steps(), 0);
        assert_eq!(fixed.weights(), &[0.5, 0.5]);
    }
}
