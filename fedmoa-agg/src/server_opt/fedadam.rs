//! [`FedAdam`]: Adam on the server (Reddi et al., 2021).

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use super::adaptive::{Adaptive, adaptive_optimizer};
use super::require_decay;

/// Configuration of [`FedAdam`] (TOML `type = "fedadam"`). The defaults are common starting
/// points; η and τ usually need tuning per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedAdamConfig {
    /// Server learning rate η.
    pub server_lr: f64,
    /// First-moment decay β1 in `[0, 1)`.
    pub beta1: f64,
    /// Second-moment decay β2 in `[0, 1)`.
    pub beta2: f64,
    /// Adaptivity τ > 0 (the denominator's offset; `v` starts at τ²).
    pub tau: f64,
}

impl Default for FedAdamConfig {
    fn default() -> Self {
        Self {
            server_lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
        }
    }
}

impl FedAdamConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `server_lr`, `beta1`, `beta2` or `tau`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_positive("server_lr", self.server_lr)?;
        require_decay("beta1", self.beta1)?;
        require_decay("beta2", self.beta2)?;
        fedmoa_core::require_positive("tau", self.tau)
    }

    /// Validates and builds the aggregator with fresh state.
    ///
    /// # Errors
    /// As [`FedAdamConfig::validate`].
    pub fn build(&self) -> Result<FedAdam, ConfigError> {
        self.validate()?;
        Ok(FedAdam {
            inner: Adaptive::new(self.server_lr, self.beta1, self.beta2, self.tau),
        })
    }
}

/// FedAdam: `m ← β1·m + (1−β1)·Δ`, `v ← β2·v + (1−β2)·Δ²`, `θ ← θ + η·m/(√v + τ)`, with
/// `Δ` the FedAvg-weighted mean delta. Reports the FedAvg weights.
#[derive(Debug, Clone, PartialEq)]
pub struct FedAdam {
    inner: Adaptive,
}

fn adam_v(v: f32, g2: f32, beta2: f32) -> f32 {
    beta2 * v + (1.0 - beta2) * g2
}

adaptive_optimizer!(FedAdam, "fedadam", adam_v);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;

    #[test]
    fn two_hand_computed_steps() {
        // η = 1, β1 = β2 = 0.5, τ = 1 (so v starts at 1), θ0 = 1.
        // Round 1: clients n = 1, Δ = 2 and n = 3, Δ = 10/3 → g = ¼·2 + ¾·10/3 = 3.
        //   m = 0.5·0 + 0.5·3 = 1.5; v = 0.5·1 + 0.5·9 = 5; θ1 = 1 + 1.5/(√5 + 1).
        // Round 2: g = 1. m = 0.75 + 0.5 = 1.25; v = 2.5 + 0.5 = 3; θ2 = θ1 + 1.25/(√3 + 1).
        let cfg = FedAdamConfig {
            server_lr: 1.0,
            beta1: 0.5,
            beta2: 0.5,
            tau: 1.0,
        };
        let mut agg = cfg.build().unwrap();
        let r1 = [
            update("a", "math", 1, 0.5, &[2.0]),
            update("b", "math", 3, 0.5, &[10.0 / 3.0]),
        ];
        let theta1 = agg.aggregate(&params(&[1.0]), &r1).unwrap().params;
        let want1 = 1.0 + 1.5 / (5f64.sqrt() + 1.0);
        assert_close(&theta1.flatten(), &[want1 as f32], 1e-6);
        let r2 = [update("a", "math", 1, 0.5, &[1.0])];
        let theta2 = agg.aggregate(&theta1, &r2).unwrap().params;
        let want2 = want1 + 1.25 / (3f64.sqrt() + 1.0);
        assert_close(&theta2.flatten(), &[want2 as f32], 1e-6);
        assert_eq!(agg.step(), 2);
    }

    #[test]
    fn bad_decay_is_rejected_by_name() {
        let cfg = FedAdamConfig {
            beta2: 1.0,
            ..FedAdamConfig::default()
        };
        assert_eq!(cfg.build().unwrap_err().field, "beta2");
        let cfg = FedAdamConfig {
            tau: 0.0,
            ..FedAdamConfig::default()
        };
        assert_eq!(cfg.build().unwrap_err().field, "tau");
    }
}
