//! [`CoordinateMedian`]: the coordinate-wise median of the deltas (Yin et al., 2018).

use fedmoa_core::{AggError, Aggregated, ConfigError, ParamSet};
use serde::{Deserialize, Serialize};

use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};
use crate::coordinates::{aggregate_coordinatewise, median};

/// Configuration of [`CoordinateMedian`] (TOML `type = "coordinate_median"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinateMedianConfig {
    /// Server learning rate η_g applied to the median delta.
    pub server_lr: f64,
}

impl Default for CoordinateMedianConfig {
    fn default() -> Self {
        Self { server_lr: 1.0 }
    }
}

impl CoordinateMedianConfig {
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
    /// As [`CoordinateMedianConfig::validate`].
    pub fn build(&self) -> Result<CoordinateMedian, ConfigError> {
        self.validate()?;
        Ok(CoordinateMedian {
            server_lr: self.server_lr,
        })
    }
}

/// `θ[j] ← θ[j] + η_g · median_i Δ_i[j]` for every coordinate j (the mean of the two middle
/// values for an even count). Sample counts and accuracies are ignored. Reports the nominal
/// uniform weights `1/n`: the median gives no single weight per client.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinateMedian {
    server_lr: f64,
}

impl Default for CoordinateMedian {
    fn default() -> Self {
        Self { server_lr: 1.0 }
    }
}

aggregator_via_batch!(screen CoordinateMedian, "coordinate_median" {});

impl BatchAggregator for CoordinateMedian {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        aggregate_coordinatewise(global, batch, self.server_lr, |_| median)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::Aggregator;
    use fedmoa_core::ClientId;

    #[test]
    fn hand_computed_medians() {
        // coordinate 0: {1, 2, 100} → 2; coordinate 1: {10, −5, 0} → 0. θ = [1, 1] + [2, 0].
        let g = params(&[1.0, 1.0]);
        let mut ups = vec![
            update("a", "math", 1, 0.5, &[1.0, 10.0]),
            update("b", "math", 5, 0.5, &[2.0, -5.0]),
            update("c", "code", 9, 0.5, &[100.0, 0.0]),
        ];
        let out = CoordinateMedian::default().aggregate(&g, &ups).unwrap();
        assert_close(&out.params.flatten(), &[3.0, 1.0], 0.0);
        assert!((out.weights[&ClientId::new("a")] - 1.0 / 3.0).abs() < 1e-7);
        // A fourth client: {1, 2, 3, 100} → 2.5; {−5, 0, 4, 10} → 2. θ = [3.5, 3].
        ups.push(update("d", "math", 1, 0.5, &[3.0, 4.0]));
        let out = CoordinateMedian::default().aggregate(&g, &ups).unwrap();
        assert_close(&out.params.flatten(), &[3.5, 3.0], 0.0);
    }

    #[test]
    fn many_coordinates_across_chunks() {
        // 1000 coordinates, three clients with values i, 2i, −i → median i; θ = 0.5·i.
        let n = 1000;
        let ramp = |f: f32| (0..n).map(|i| f * i as f32).collect::<Vec<_>>();
        let ups = [
            update("a", "math", 1, 0.5, &ramp(1.0)),
            update("b", "math", 1, 0.5, &ramp(2.0)),
            update("c", "math", 1, 0.5, &ramp(-1.0)),
        ];
        let mut agg = CoordinateMedianConfig { server_lr: 0.5 }.build().unwrap();
        let out = agg.aggregate(&params(&vec![0.0; n]), &ups).unwrap();
        assert_close(&out.params.flatten(), &ramp(0.5), 0.0);
    }
}
