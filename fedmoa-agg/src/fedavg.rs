//! [`FedAvg`]: the sample-weighted mean of client deltas (McMahan et al., 2017).

use fedmoa_core::{AggError, Aggregated, ConfigError, ParamSet};
use serde::{Deserialize, Serialize};

use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};
use crate::weighted::{aggregate_weighted, sample_weights};

/// Configuration of [`FedAvg`] (TOML `type = "fedavg"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedAvgConfig {
    /// Server learning rate η_g applied to the averaged delta (1 = plain FedAvg).
    pub server_lr: f64,
}

impl Default for FedAvgConfig {
    fn default() -> Self {
        Self { server_lr: 1.0 }
    }
}

impl FedAvgConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `server_lr` unless it is finite and > 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_positive("server_lr", self.server_lr)
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`FedAvgConfig::validate`].
    pub fn build(&self) -> Result<FedAvg, ConfigError> {
        self.validate()?;
        Ok(FedAvg {
            server_lr: self.server_lr,
        })
    }
}

/// Federated averaging: `θ ← θ + η_g · Σ_i p_i Δ_i` with `p_i = n_i / Σ_j n_j` over all
/// accepted clients. Reports the `p_i` as weights (they sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct FedAvg {
    server_lr: f64,
}

impl Default for FedAvg {
    fn default() -> Self {
        Self { server_lr: 1.0 }
    }
}

impl FedAvg {
    /// The server learning rate η_g.
    pub fn server_lr(&self) -> f64 {
        self.server_lr
    }
}

aggregator_via_batch!(FedAvg, "fedavg" {});

impl BatchAggregator for FedAvg {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        aggregate_weighted(global, batch, self.server_lr, sample_weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;
    use fedmoa_core::{ClientId, RejectReason};

    #[test]
    fn hand_computed_weighted_mean() {
        // n = 1 and 3 → p = 0.25, 0.75.
        // Δ = 0.25·[4, 0] + 0.75·[0, 8] = [1, 6]; θ = [1, 1] + [1, 6] = [2, 7].
        let g = params(&[1.0, 1.0]);
        let ups = [
            update("a", "math", 1, 0.2, &[4.0, 0.0]),
            update("b", "code", 3, 0.9, &[0.0, 8.0]),
        ];
        let out = FedAvg::default().aggregate(&g, &ups).unwrap();
        assert_close(&out.params.flatten(), &[2.0, 7.0], 1e-6);
        assert_eq!(out.weights[&ClientId::new("a")], 0.25);
        assert_eq!(out.weights[&ClientId::new("b")], 0.75);
        assert!(out.rejected.is_empty());
    }

    #[test]
    fn server_learning_rate_scales_the_step() {
        // η_g = 0.5: θ = [1, 1] + 0.5·[1, 6] = [1.5, 4].
        let g = params(&[1.0, 1.0]);
        let ups = [
            update("a", "math", 1, 0.2, &[4.0, 0.0]),
            update("b", "math", 3, 0.9, &[0.0, 8.0]),
        ];
        let mut agg = FedAvgConfig { server_lr: 0.5 }.build().unwrap();
        let out = agg.aggregate(&g, &ups).unwrap();
        assert_close(&out.params.flatten(), &[1.5, 4.0], 1e-6);
    }

    #[test]
    fn non_finite_update_is_rejected_and_weights_renormalised() {
        // The NaN update (n = 6) is dropped; p = 1/4, 3/4 as above over the other two.
        let g = params(&[1.0, 1.0]);
        let ups = [
            update("a", "math", 1, 0.2, &[4.0, 0.0]),
            update("bad", "math", 6, 0.5, &[f32::NAN, 0.0]),
            update("b", "math", 3, 0.9, &[0.0, 8.0]),
        ];
        let out = FedAvg::default().aggregate(&g, &ups).unwrap();
        assert_close(&out.params.flatten(), &[2.0, 7.0], 1e-6);
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(
            out.rejected[0].reason,
            RejectReason::NonFinite {
                name: "w".into(),
                index: 0
            }
        );
    }

    #[test]
    fn zero_server_lr_is_rejected_by_name() {
        let err = FedAvgConfig { server_lr: 0.0 }.build().unwrap_err();
        assert_eq!(err.field, "server_lr");
    }
}
