//! [`FedAdagrad`]: Adagrad on the server (Reddi et al., 2021).

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use super::adaptive::{Adaptive, adaptive_optimizer};
use super::require_decay;

/// Configuration of [`FedAdagrad`] (TOML `type = "fedadagrad"`). The defaults are common
/// starting points; η and τ usually need tuning per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedAdagradConfig {
    /// Server learning rate η.
    pub server_lr: f64,
    /// First-moment decay β1 in `[0, 1)` (0 disables momentum).
    pub beta1: f64,
    /// Adaptivity τ > 0 (the denominator's offset; `v` starts at τ²).
    pub tau: f64,
}

impl Default for FedAdagradConfig {
    fn default() -> Self {
        Self {
            server_lr: 0.01,
            beta1: 0.9,
            tau: 1e-3,
        }
    }
}

impl FedAdagradConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `server_lr`, `beta1` or `tau`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_positive("server_lr", self.server_lr)?;
        require_decay("beta1", self.beta1)?;
        fedmoa_core::require_positive("tau", self.tau)
    }

    /// Validates and builds the aggregator with fresh state.
    ///
    /// # Errors
    /// As [`FedAdagradConfig::validate`].
    pub fn build(&self) -> Result<FedAdagrad, ConfigError> {
        self.validate()?;
        Ok(FedAdagrad {
            inner: Adaptive::new(self.server_lr, self.beta1, 0.0, self.tau),
        })
    }
}

/// FedAdagrad: as [`crate::FedAdam`] but `v ← v + Δ²` (the squared pseudo-gradients
/// accumulate, so the step size only shrinks).
#[derive(Debug, Clone, PartialEq)]
pub struct FedAdagrad {
    inner: Adaptive,
}

fn adagrad_v(v: f32, g2: f32, _beta2: f32) -> f32 {
    v + g2
}

adaptive_optimizer!(FedAdagrad, "fedadagrad", adagrad_v);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;

    #[test]
    fn two_hand_computed_steps() {
        // η = 1, β1 = 0.5, τ = 1 (v starts at 1), θ0 = 0 on two coordinates.
        // Round 1: g = [3, 0]: m = [1.5, 0]; v = [1 + 9, 1 + 0] = [10, 1];
        //   θ1 = [1.5/(√10 + 1), 0].
        // Round 2: g = [1, −2]: m = [0.75 + 0.5, 0 − 1] = [1.25, −1]; v = [11, 5];
        //   θ2 = θ1 + [1.25/(√11 + 1), −1/(√5 + 1)].
        let cfg = FedAdagradConfig {
            server_lr: 1.0,
            beta1: 0.5,
            tau: 1.0,
        };
        let mut agg = cfg.build().unwrap();
        let theta1 = agg
            .aggregate(
                &params(&[0.0, 0.0]),
                &[update("a", "math", 1, 0.5, &[3.0, 0.0])],
            )
            .unwrap()
            .params;
        let want1 = 1.5 / (10f64.sqrt() + 1.0);
        assert_close(&theta1.flatten(), &[want1 as f32, 0.0], 1e-6);
        let theta2 = agg
            .aggregate(&theta1, &[update("a", "math", 1, 0.5, &[1.0, -2.0])])
            .unwrap()
            .params;
        let want2 = [
            want1 + 1.25 / (11f64.sqrt() + 1.0),
            -1.0 / (5f64.sqrt() + 1.0),
        ];
        assert_close(&theta2.flatten(), &[want2[0] as f32, want2[1] as f32], 1e-6);
    }

    #[test]
    fn bad_tau_is_rejected_by_name() {
        let cfg = FedAdagradConfig {
            tau: f64::NAN,
            ..FedAdagradConfig::default()
        };
        assert_eq!(cfg.build().unwrap_err().field, "tau");
    }
}
