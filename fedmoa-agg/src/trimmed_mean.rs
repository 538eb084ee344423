//! [`TrimmedMean`]: the coordinate-wise β-trimmed mean of the deltas (Yin et al., 2018).

use fedmoa_core::{AggError, Aggregated, ConfigError, ParamSet};
use serde::{Deserialize, Serialize};

use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};
use crate::coordinates::{aggregate_coordinatewise, trimmed_mean};

/// Configuration of [`TrimmedMean`] (TOML `type = "trimmed_mean"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrimmedMeanConfig {
    /// Fraction β of the values dropped at each end, in `[0, 0.5)`.
    pub beta: f64,
    /// Server learning rate η_g applied to the trimmed-mean delta.
    pub server_lr: f64,
}

impl Default for TrimmedMeanConfig {
    fn default() -> Self {
        Self {
            beta: 0.1,
            server_lr: 1.0,
        }
    }
}

impl TrimmedMeanConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `beta` (must be in `[0, 0.5)`) or `server_lr`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.beta.is_finite() && (0.0..0.5).contains(&self.beta)) {
            return Err(ConfigError::new(
                "beta",
                format!("must be in [0, 0.5), got {}", self.beta),
            ));
        }
        fedmoa_core::require_positive("server_lr", self.server_lr)
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`TrimmedMeanConfig::validate`].
    pub fn build(&self) -> Result<TrimmedMean, ConfigError> {
        self.validate()?;
        Ok(TrimmedMean {
            beta: self.beta,
            server_lr: self.server_lr,
        })
    }
}

/// For every coordinate, drops the `k = ⌊β·n⌋` smallest and `k` largest of the `n` delta
/// values and averages the rest: `θ[j] ← θ[j] + η_g · mean(middle n − 2k)`. Sample counts
/// and accuracies are ignored. Reports the nominal uniform weights `1/n`, since which
/// clients are trimmed differs per coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct TrimmedMean {
    beta: f64,
    server_lr: f64,
}

impl TrimmedMean {
    /// Number of values trimmed at each end for `n` updates: `⌊β·n⌋` (< n/2 since β < 0.5).
    pub fn trim_count(&self, n: usize) -> usize {
        (self.beta * n as f64).floor() as usize
    }
}

aggregator_via_batch!(screen TrimmedMean, "trimmed_mean" {});

impl BatchAggregator for TrimmedMean {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        aggregate_coordinatewise(global, batch, self.server_lr, |n| {
            let trim = self.trim_count(n);
            move |v: &mut [f32]| trimmed_mean(v, trim)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::{Aggregator, ClientUpdate};

    fn five() -> Vec<ClientUpdate> {
        // coordinate 0: {1, 2, 3, 4, 100}; coordinate 1: {−50, 0, 0, 3, 3}.
        vec![
            update("a", "math", 1, 0.5, &[1.0, 0.0]),
            update("b", "math", 1, 0.5, &[100.0, 3.0]),
            update("c", "math", 1, 0.5, &[3.0, -50.0]),
            update("d", "math", 1, 0.5, &[2.0, 3.0]),
            update("e", "math", 1, 0.5, &[4.0, 0.0]),
        ]
    }

    #[test]
    fn hand_computed_trimmed_means() {
        let trimmed = |beta: f64| {
            TrimmedMeanConfig {
                beta,
                server_lr: 1.0,
            }
            .build()
            .unwrap()
            .aggregate(&params(&[0.0, 0.0]), &five())
            .unwrap()
        };
        // β = 0.2, n = 5 → k = 1: (2 + 3 + 4)/3 = 3 and (0 + 0 + 3)/3 = 1.
        assert_close(&trimmed(0.2).params.flatten(), &[3.0, 1.0], 1e-6);
        // β = 0.1 → k = ⌊0.5⌋ = 0: the plain means 110/5 = 22 and −44/5 = −8.8.
        let out = trimmed(0.1);
        assert_close(&out.params.flatten(), &[22.0, -8.8], 1e-5);
        let w: f32 = out.weights.values().sum();
        assert!((w - 1.0).abs() < 1e-6);
    }

    #[test]
    fn half_trim_is_rejected_by_name() {
        let cfg = TrimmedMeanConfig {
            beta: 0.5,
            server_lr: 1.0,
        };
        assert_eq!(cfg.build().unwrap_err().field, "beta");
    }
}
