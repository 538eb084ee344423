//! [`FedProx`]: FedAvg on the server, a proximal term on the clients (Li et al., 2020).

use fedmoa_core::{
    AggError, Aggregated, Aggregator, ClientUpdate, ConfigError, ParamSet, RoundPlan,
};
use serde::{Deserialize, Serialize};

use crate::batch::{BatchAggregator, UpdateBatch};
use crate::fedavg::{FedAvg, FedAvgConfig};

/// Configuration of [`FedProx`] (TOML `type = "fedprox"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedProxConfig {
    /// Proximal coefficient μ sent to the clients (0 makes this plain FedAvg).
    pub mu: f64,
    /// Server learning rate η_g, as in FedAvg.
    pub server_lr: f64,
}

impl Default for FedProxConfig {
    fn default() -> Self {
        Self {
            mu: 0.01,
            server_lr: 1.0,
        }
    }
}

impl FedProxConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `mu` (must be finite, ≥ 0 and fit an f32) or `server_lr`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_in_range("mu", self.mu, 0.0, f64::from(f32::MAX))?;
        fedmoa_core::require_positive("server_lr", self.server_lr)
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`FedProxConfig::validate`].
    pub fn build(&self) -> Result<FedProx, ConfigError> {
        self.validate()?;
        let inner = FedAvgConfig {
            server_lr: self.server_lr,
        }
        .build()?;
        Ok(FedProx {
            mu: self.mu as f32,
            inner,
        })
    }
}

/// FedProx: each client adds `μ/2·‖θ − θ_global‖²` to its local loss (the trainer reads
/// [`RoundPlan::proximal_mu`], which [`Aggregator::configure_round`] sets); the server
/// aggregates exactly like [`FedAvg`].
#[derive(Debug, Clone, PartialEq)]
pub struct FedProx {
    mu: f32,
    inner: FedAvg,
}

impl FedProx {
    /// The proximal coefficient μ.
    pub fn mu(&self) -> f32 {
        self.mu
    }
}

impl Aggregator for FedProx {
    fn name(&self) -> &str {
        "fedprox"
    }

    fn configure_round(&self, plan: &mut RoundPlan) {
        plan.proximal_mu = self.mu;
    }

    fn aggregate(
        &mut self,
        global: &ParamSet,
        updates: &[ClientUpdate],
    ) -> Result<Aggregated, AggError> {
        self.inner.aggregate(global, updates)
    }
}

impl BatchAggregator for FedProx {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        self.inner.aggregate_batch(global, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};

    #[test]
    fn sets_mu_in_the_plan_and_averages_like_fedavg() {
        let agg = FedProxConfig {
            mu: 0.1,
            server_lr: 1.0,
        }
        .build()
        .unwrap();
        let mut plan = RoundPlan::new(1, 7);
        agg.configure_round(&mut plan);
        assert_eq!(plan.proximal_mu, 0.1);

        // n = 2, 2 → p = 0.5 each; θ = [0] + 0.5·2 + 0.5·4 = [3].
        let mut agg = agg;
        let ups = [
            update("a", "math", 2, 0.5, &[2.0]),
            update("b", "math", 2, 0.5, &[4.0]),
        ];
        let out = agg.aggregate(&params(&[0.0]), &ups).unwrap();
        assert_close(&out.params.flatten(), &[3.0], 1e-6);
    }

    #[test]
    fn negative_mu_is_rejected_by_name() {
        let cfg = FedProxConfig {
            mu: -1.0,
            server_lr: 1.0,
        };
        assert_eq!(cfg.build().unwrap_err().field, "mu");
    }
}
