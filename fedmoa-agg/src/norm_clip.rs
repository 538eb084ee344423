//! [`NormClip`]: clips every client delta to a maximum L2 norm, then hands the updates to
//! another aggregator (Sun et al., 2019, "Can you really backdoor federated learning?").

use fedmoa_core::{AggError, Aggregated, AggregatorState, ConfigError, ParamSet, RoundPlan};
use serde::{Deserialize, Serialize};

use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};
use crate::distances::norms;
use crate::{AggregatorConfig, Threads};

/// Configuration of [`NormClip`] (TOML `type = "norm_clip"` with an `[….inner]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormClipConfig {
    /// Largest L2 norm a delta may keep (over all its tensors).
    pub max_norm: f64,
    /// The aggregator that receives the clipped deltas.
    pub inner: Box<AggregatorConfig>,
}

impl NormClipConfig {
    /// Checks every field, the inner configuration included.
    ///
    /// # Errors
    /// [`ConfigError`] naming `max_norm`, or `inner.<field>` for the inner aggregator.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fedmoa_core::require_positive("max_norm", self.max_norm)?;
        self.inner.validate().map_err(|e| e.within("inner"))
    }

    /// Validates and builds the wrapper around the inner aggregator.
    ///
    /// # Errors
    /// As [`NormClipConfig::validate`].
    pub fn build(&self) -> Result<NormClip, ConfigError> {
        fedmoa_core::require_positive("max_norm", self.max_norm)?;
        let inner = self.inner.build_batch().map_err(|e| e.within("inner"))?;
        Ok(NormClip::new(self.max_norm, inner))
    }
}

/// Scales every delta with `‖Δ_i‖ > c` down to norm `c` (`Δ_i ← Δ_i · c/‖Δ_i‖`) and
/// aggregates with the inner rule. No delta is copied: the factor travels with the update
/// to the inner rule's kernel. Weights, rejections, round settings and state are the inner
/// rule's.
pub struct NormClip {
    max_norm: f64,
    inner: Box<dyn BatchAggregator>,
}

impl std::fmt::Debug for NormClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormClip")
            .field("max_norm", &self.max_norm)
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl NormClip {
    /// Wraps `inner`, clipping deltas to `max_norm` (use [`NormClipConfig::build`] to have
    /// it validated).
    pub fn new(max_norm: f64, inner: Box<dyn BatchAggregator>) -> Self {
        Self { max_norm, inner }
    }

    /// The clipping threshold.
    pub fn max_norm(&self) -> f64 {
        self.max_norm
    }
}

aggregator_via_batch!(NormClip, "norm_clip" {
    fn configure_round(&self, plan: &mut RoundPlan) {
        self.inner.configure_round(plan);
    }


    fn state(&self) -> AggregatorState {
        self.inner.state()
    }

    fn load_state(&mut self, state: &AggregatorState) -> Result<(), AggError> {
        self.inner.load_state(state)
    }
});

impl BatchAggregator for NormClip {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        mut batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        batch.require_members(global)?;
        let norms = norms(global, batch.members(), Threads::Auto);
        // The norm is computed in f64 from finite f32 values, so it is finite exactly when
        // every value is: this pass doubles as the finiteness check.
        let bad: Vec<usize> = (0..norms.len())
            .filter(|&k| !norms[k].is_finite())
            .collect();
        let mut kept = Vec::with_capacity(norms.len());
        for (k, (norm, member)) in norms.iter().zip(batch.members()).enumerate() {
            if !bad.contains(&k) {
                kept.push((*norm, member.scale()));
            }
        }
        batch.reject_non_finite(&bad);
        batch.mark_finite_checked();
        for (position, (norm, scale)) in kept.into_iter().enumerate() {
            if norm > self.max_norm {
                batch.set_scale(position, (f64::from(scale) * self.max_norm / norm) as f32);
            }
        }
        self.inner.aggregate_batch(global, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use crate::{FedAvgConfig, FedProxConfig};
    use fedmoa_core::Aggregator;
    use fedmoa_core::RejectReason;

    fn clip(max_norm: f64, inner: AggregatorConfig) -> NormClip {
        NormClipConfig {
            max_norm,
            inner: Box::new(inner),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn clips_large_deltas_before_averaging() {
        // a = [3, 4] has norm 5 > 1 → [0.6, 0.8]; b = [0.6, 0] has norm 0.6 ≤ 1 → kept.
        // FedAvg with n = 1, 1: Δ = ½([0.6, 0.8] + [0.6, 0]) = [0.6, 0.4].
        let mut agg = clip(1.0, AggregatorConfig::FedAvg(FedAvgConfig::default()));
        let ups = [
            update("a", "math", 1, 0.5, &[3.0, 4.0]),
            update("b", "math", 1, 0.5, &[0.6, 0.0]),
        ];
        let out = agg.aggregate(&params(&[0.0, 0.0]), &ups).unwrap();
        assert_close(&out.params.flatten(), &[0.6, 0.4], 1e-6);
    }

    #[test]
    fn nested_clipping_applies_the_tighter_bound() {
        // Inner clip 2 then outer clip 1 on [3, 4] (norm 5): outer first scales to norm 1,
        // inner sees norm 1 ≤ 2 → result [0.6, 0.8].
        let inner = AggregatorConfig::NormClip(NormClipConfig {
            max_norm: 2.0,
            inner: Box::new(AggregatorConfig::FedAvg(FedAvgConfig::default())),
        });
        let mut agg = clip(1.0, inner);
        let out = agg
            .aggregate(
                &params(&[0.0, 0.0]),
                &[update("a", "math", 1, 0.5, &[3.0, 4.0])],
            )
            .unwrap();
        assert_close(&out.params.flatten(), &[0.6, 0.8], 1e-6);
    }

    #[test]
    fn non_finite_deltas_are_rejected_by_the_norm_pass() {
        let mut agg = clip(1.0, AggregatorConfig::FedAvg(FedAvgConfig::default()));
        let ups = [
            update("inf", "math", 1, 0.5, &[0.0, f32::INFINITY]),
            update("ok", "math", 1, 0.5, &[0.5, 0.0]),
        ];
        let out = agg.aggregate(&params(&[0.0, 0.0]), &ups).unwrap();
        assert_close(&out.params.flatten(), &[0.5, 0.0], 0.0);
        assert_eq!(
            out.rejected[0].reason,
            RejectReason::NonFinite {
                name: "w".into(),
                index: 1
            }
        );
    }

    #[test]
    fn round_settings_come_from_the_inner_rule() {
        let agg = clip(
            1.0,
            AggregatorConfig::FedProx(FedProxConfig {
                mu: 0.5,
                server_lr: 1.0,
            }),
        );
        let mut plan = RoundPlan::new(1, 0);
        agg.configure_round(&mut plan);
        assert_eq!(plan.proximal_mu, 0.5);
    }

    #[test]
    fn inner_errors_name_the_inner_field() {
        let cfg = NormClipConfig {
            max_norm: 1.0,
            inner: Box::new(AggregatorConfig::FedAvg(FedAvgConfig { server_lr: -1.0 })),
        };
        assert_eq!(cfg.build().unwrap_err().field, "inner.server_lr");
        let cfg = NormClipConfig {
            max_norm: 0.0,
            inner: Box::new(AggregatorConfig::FedAvg(FedAvgConfig::default())),
        };
        assert_eq!(cfg.validate().unwrap_err().field, "max_norm");
    }
}
