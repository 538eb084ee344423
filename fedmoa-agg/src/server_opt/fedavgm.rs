//! [`FedAvgM`]: FedAvg with server momentum (Hsu et al., 2019).

use fedmoa_core::{AggError, Aggregated, AggregatorState, ConfigError, ParamSet};
use serde::{Deserialize, Serialize};

use super::{check_fits, load, pseudo_gradient, require_decay, save};
use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};

/// Configuration of [`FedAvgM`] (TOML `type = "fedavgm"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FedAvgMConfig {
    /// Server learning rate η.
    pub server_lr: f64,
    /// Momentum β in `[0, 1)` (0 gives FedAvg with step η).
    pub momentum: f64,
}

impl Default for FedAvgMConfig {
    fn default() -> Self {
        Self {
            server_lr: 1.0,
            momentum: 0.9,
        }
    }
}

impl FedAvgMConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `server_lr` or `momentum`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_positive("server_lr", self.server_lr)?;
        require_decay("momentum", self.momentum)
    }

    /// Validates and builds the aggregator with fresh state.
    ///
    /// # Errors
    /// As [`FedAvgMConfig::validate`].
    pub fn build(&self) -> Result<FedAvgM, ConfigError> {
        self.validate()?;
        Ok(FedAvgM {
            server_lr: self.server_lr,
            momentum: self.momentum,
            m: None,
            step: 0,
        })
    }
}

/// FedAvgM: `m ← β·m + Δ`, `θ ← θ + η·m`, with `Δ` the FedAvg-weighted mean delta and `m`
/// starting at 0. Reports the FedAvg weights.
#[derive(Debug, Clone, PartialEq)]
pub struct FedAvgM {
    server_lr: f64,
    momentum: f64,
    m: Option<ParamSet>,
    step: u64,
}

impl FedAvgM {
    /// Number of server steps taken (restored by `load_state`).
    pub fn step(&self) -> u64 {
        self.step
    }
}

aggregator_via_batch!(FedAvgM, "fedavgm" {
    fn state(&self) -> AggregatorState {
        save(self.step, &[("m", &self.m)])
    }

    fn load_state(&mut self, state: &AggregatorState) -> Result<(), AggError> {
        let (step, mut moments) = load(state, &["m"])?;
        (self.step, self.m) = (step, moments.pop().flatten());
        Ok(())
    }
});

impl BatchAggregator for FedAvgM {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        mut batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        check_fits(global, &[("m", &self.m)])?;
        let (delta, weights) = pseudo_gradient(global, &mut batch)?;
        let m = self.m.get_or_insert_with(|| global.zeros_like());
        let (beta, lr) = (self.momentum as f32, self.server_lr as f32);
        let mut params = global.clone();
        for (((_, p), (_, g)), (_, m)) in params.iter_mut().zip(delta.iter()).zip(m.iter_mut()) {
            let lanes = p.data_mut().iter_mut().zip(g.data()).zip(m.data_mut());
            for ((p, &g), m) in lanes {
                *m = beta * *m + g;
                *p += lr * *m;
            }
        }
        self.step += 1;
        Ok(batch.finish(params, &weights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;

    #[test]
    fn two_hand_computed_steps() {
        // η = 1, β = 0.5, θ0 = 1.
        // Round 1: g = ¼·2 + ¾·(10/3) = 3 → m = 3, θ1 = 1 + 3 = 4.
        // Round 2: g = 1 → m = 0.5·3 + 1 = 2.5, θ2 = 4 + 2.5 = 6.5.
        let mut agg = FedAvgMConfig {
            server_lr: 1.0,
            momentum: 0.5,
        }
        .build()
        .unwrap();
        let r1 = [
            update("a", "math", 1, 0.5, &[2.0]),
            update("b", "math", 3, 0.5, &[10.0 / 3.0]),
        ];
        let theta1 = agg.aggregate(&params(&[1.0]), &r1).unwrap().params;
        assert_close(&theta1.flatten(), &[4.0], 1e-6);
        let theta2 = agg
            .aggregate(&theta1, &[update("a", "math", 1, 0.5, &[1.0])])
            .unwrap()
            .params;
        assert_close(&theta2.flatten(), &[6.5], 1e-6);
        assert_eq!(agg.step(), 2);
    }

    #[test]
    fn state_of_another_model_is_refused_without_side_effects() {
        let mut agg = FedAvgMConfig::default().build().unwrap();
        agg.aggregate(&params(&[0.0]), &[update("a", "math", 1, 0.5, &[1.0])])
            .unwrap();
        let err = agg
            .aggregate(
                &params(&[0.0, 0.0]),
                &[update("a", "math", 1, 0.5, &[1.0, 1.0])],
            )
            .unwrap_err();
        assert!(matches!(err, AggError::BadState(_)));
        assert_eq!(agg.step(), 1);
    }

    #[test]
    fn momentum_of_one_is_rejected_by_name() {
        let cfg = FedAvgMConfig {
            server_lr: 1.0,
            momentum: 1.0,
        };
        assert_eq!(cfg.build().unwrap_err().field, "momentum");
    }
}
