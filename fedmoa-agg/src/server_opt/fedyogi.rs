//! [`FedYogi`]: Yogi on the server (Reddi et al., 2021).

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use super::adaptive::{Adaptive, adaptive_optimizer};
use super::require_decay;

/// Configuration of [`FedYogi`] (TOML `type = "fedyogi"`). The defaults are common starting
/// points; η and τ usually need tuning per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedYogiConfig {
    /// Server learning rate η.
    pub server_lr: f64,
    /// First-moment decay β1 in `[0, 1)`.
    pub beta1: f64,
    /// Second-moment decay β2 in `[0, 1)`.
    pub beta2: f64,
    /// Adaptivity τ > 0 (the denominator's offset; `v` starts at τ²).
    pub tau: f64,
}

impl Default for FedYogiConfig {
    fn default() -> Self {
        Self {
            server_lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
        }
    }
}

impl FedYogiConfig {
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
    /// As [`FedYogiConfig::validate`].
    pub fn build(&self) -> Result<FedYogi, ConfigError> {
        self.validate()?;
        Ok(FedYogi {
            inner: Adaptive::new(self.server_lr, self.beta1, self.beta2, self.tau),
        })
    }
}

/// FedYogi: as [`crate::FedAdam`] but `v ← v − (1−β2)·Δ²·sign(v − Δ²)`, so `v` moves
/// towards `Δ²` by a step that does not depend on `v` (less aggressive decay than Adam).
#[derive(Debug, Clone, PartialEq)]
pub struct FedYogi {
    inner: Adaptive,
}

fn yogi_v(v: f32, g2: f32, beta2: f32) -> f32 {
    let sign = if v > g2 {
        1.0
    } else if v < g2 {
        -1.0
    } else {
        0.0
    };
    v - (1.0 - beta2) * g2 * sign
}

adaptive_optimizer!(FedYogi, "fedyogi", yogi_v);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;

    #[test]
    fn two_hand_computed_steps() {
        // η = 1, β1 = β2 = 0.5, τ = 1 (v starts at 1), θ0 = 1.
        // Round 1: g = 3, g² = 9 > v → sign(v − g²) = −1: v = 1 + 0.5·9 = 5.5;
        //   m = 1.5; θ1 = 1 + 1.5/(√5.5 + 1).
        // Round 2: g = 1, g² = 1 < 5.5 → sign = +1: v = 5.5 − 0.5·1 = 5;
        //   m = 0.75 + 0.5 = 1.25; θ2 = θ1 + 1.25/(√5 + 1).
        let cfg = FedYogiConfig {
            server_lr: 1.0,
            beta1: 0.5,
            beta2: 0.5,
            tau: 1.0,
        };
        let mut agg = cfg.build().unwrap();
        let theta1 = agg
            .aggregate(&params(&[1.0]), &[update("a", "math", 2, 0.5, &[3.0])])
            .unwrap()
            .params;
        let want1 = 1.0 + 1.5 / (5.5f64.sqrt() + 1.0);
        assert_close(&theta1.flatten(), &[want1 as f32], 1e-6);
        let theta2 = agg
            .aggregate(&theta1, &[update("a", "math", 2, 0.5, &[1.0])])
            .unwrap()
            .params;
        let want2 = want1 + 1.25 / (5f64.sqrt() + 1.0);
        assert_close(&theta2.flatten(), &[want2 as f32], 1e-6);
    }

    #[test]
    fn sign_of_zero_leaves_v_unchanged() {
        // v = g² = 4 → sign 0 → v stays 4.
        assert_eq!(yogi_v(4.0, 4.0, 0.5), 4.0);
    }

    #[test]
    fn bad_decay_is_rejected_by_name() {
        let cfg = FedYogiConfig {
            beta1: -0.1,
            ..FedYogiConfig::default()
        };
        assert_eq!(cfg.build().unwrap_err().field, "beta1");
    }
}
