//! [`Krum`] and Multi-Krum (Blanchard et al., 2017; El Mhamdi et al., 2018).

use fedmoa_core::{AggError, Aggregated, ConfigError, ParamSet, RejectReason};
use serde::{Deserialize, Serialize};

use crate::Threads;
use crate::batch::{BatchAggregator, UpdateBatch, aggregator_via_batch};
use crate::distances::pairwise_sq_distances;
use crate::weighted::{aggregate_weighted, uniform_weights};

/// Configuration of [`Krum`] (TOML `type = "krum"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KrumConfig {
    /// Number f of Byzantine clients to tolerate; a round needs `n > 2f + 2` valid updates.
    pub byzantine: usize,
    /// Number m of updates selected and averaged (1 = Krum, more = Multi-Krum).
    pub select: usize,
    /// Server learning rate η_g applied to the selected mean delta.
    pub server_lr: f64,
}

impl Default for KrumConfig {
    fn default() -> Self {
        Self {
            byzantine: 1,
            select: 1,
            server_lr: 1.0,
        }
    }
}

impl KrumConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `select` (must be ≥ 1) or `server_lr`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.select == 0 {
            return Err(ConfigError::new("select", "must be at least 1"));
        }
        fedmoa_core::require_positive("server_lr", self.server_lr)
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`KrumConfig::validate`].
    pub fn build(&self) -> Result<Krum, ConfigError> {
        self.validate()?;
        Ok(Krum {
            config: self.clone(),
        })
    }
}

/// Krum: each update's score is the sum of its squared distances to its `n − f − 2` nearest
/// other updates; the `m` lowest-scoring updates (ties: earliest first) are averaged
/// uniformly and `θ ← θ + η_g · mean`. The others are reported as
/// [`RejectReason::Outlier`]; each selected client gets weight `1/m` (1 for plain Krum).
///
/// Needs `n ≥ max(2f + 3, m + f)` valid updates, else [`AggError::TooFewUpdates`].
#[derive(Debug, Clone, PartialEq)]
pub struct Krum {
    config: KrumConfig,
}

impl Krum {
    /// Minimum number of valid updates a round needs.
    pub fn needed(&self) -> usize {
        let f = self.config.byzantine;
        // Saturating: an absurd `byzantine` from a config asks for more updates than can exist.
        let krum = f.saturating_mul(2).saturating_add(3);
        krum.max(self.config.select.saturating_add(f))
    }
}

/// Krum scores from a symmetric `n × n` matrix of squared distances: for each i, the sum of
/// the `closest` smallest `d(i, j)`, `j ≠ i`.
pub(crate) fn krum_scores(d: &[f64], n: usize, closest: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| d[i * n + j]).collect();
            row.sort_unstable_by(f64::total_cmp);
            row.iter().take(closest).sum()
        })
        .collect()
}

aggregator_via_batch!(screen Krum, "krum" {});

impl BatchAggregator for Krum {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        mut batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        batch.require_finite_members(global)?;
        let n = batch.len();
        if n < self.needed() {
            return Err(AggError::TooFewUpdates {
                rule: "krum".into(),
                needed: self.needed(),
                got: n,
            });
        }
        let d = pairwise_sq_distances(global, batch.members(), Threads::Auto);
        let scores = krum_scores(&d, n, n - self.config.byzantine - 2);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        let m = self.config.select;
        let mut dropped: Vec<usize> = order[m..].to_vec();
        dropped.sort_unstable();
        let cutoff = scores[order[m - 1]];
        // Members are in input order, so a member's score is found by its input index.
        let by_index: Vec<(usize, f64)> = batch
            .members()
            .iter()
            .zip(&scores)
            .map(|(member, s)| (member.index(), *s))
            .collect();
        batch.reject_with(&dropped, |member| {
            let score = by_index
                .binary_search_by_key(&member.index(), |(i, _)| *i)
                .map_or(f64::NAN, |p| by_index[p].1);
            RejectReason::Outlier {
                detail: format!(
                    "Krum score {score:.6e} is above the {m} lowest (cut-off {cutoff:.6e})"
                ),
            }
        });
        aggregate_weighted(global, batch, self.config.server_lr, |m| {
            uniform_weights(m.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::ClientId;
    use fedmoa_core::{Aggregator, ClientUpdate};

    /// Five 1-D deltas 0, 1, 2, 3, 100; f = 1 → each score sums the n − f − 2 = 2 smallest
    /// squared distances:
    /// 0: {1, 4, 9, 10000} → 5;  1: {1, 1, 4, 9801} → 2;  2: {4, 1, 1, 9604} → 2;
    /// 3: {9, 4, 1, 9409} → 5;  100: {10000, 9801, 9604, 9409} → 19013.
    fn five() -> Vec<ClientUpdate> {
        [0.0, 1.0, 2.0, 3.0, 100.0]
            .iter()
            .enumerate()
            .map(|(i, &v)| update(&format!("c{i}"), "math", 1, 0.5, &[v]))
            .collect()
    }

    #[test]
    fn scores_match_hand_computation() {
        let x = [0.0f64, 1.0, 2.0, 3.0, 100.0];
        let d: Vec<f64> = (0..25).map(|k| (x[k / 5] - x[k % 5]).powi(2)).collect();
        assert_eq!(krum_scores(&d, 5, 2), vec![5.0, 2.0, 2.0, 5.0, 19013.0]);
    }

    #[test]
    fn krum_selects_the_most_central_update() {
        // Scores tie at 2 for c1 and c2: the earlier (c1, Δ = 1) wins. θ = 10 + 1.
        let mut agg = KrumConfig::default().build().unwrap();
        let out = agg.aggregate(&params(&[10.0]), &five()).unwrap();
        assert_close(&out.params.flatten(), &[11.0], 0.0);
        assert_eq!(out.weights.len(), 1);
        assert_eq!(out.weights[&ClientId::new("c1")], 1.0);
        assert_eq!(out.rejected.len(), 4);
        assert!(
            out.rejected
                .iter()
                .all(|r| matches!(r.reason, RejectReason::Outlier { .. }))
        );
    }

    #[test]
    fn multi_krum_averages_the_selected() {
        // m = 2 selects c1 and c2: θ = 10 + (1 + 2)/2 = 11.5; weights ½ each.
        let mut agg = KrumConfig {
            select: 2,
            ..KrumConfig::default()
        }
        .build()
        .unwrap();
        let out = agg.aggregate(&params(&[10.0]), &five()).unwrap();
        assert_close(&out.params.flatten(), &[11.5], 0.0);
        assert_eq!(out.weights[&ClientId::new("c2")], 0.5);
        let dropped: Vec<_> = out.rejected.iter().map(|r| r.client_id.as_str()).collect();
        assert_eq!(dropped, vec!["c0", "c3", "c4"]);
    }

    #[test]
    fn huge_byzantine_count_does_not_overflow() {
        let mut agg = KrumConfig {
            byzantine: usize::MAX,
            ..KrumConfig::default()
        }
        .build()
        .unwrap();
        assert_eq!(agg.needed(), usize::MAX);
        let err = agg.aggregate(&params(&[0.0]), &five()).unwrap_err();
        assert!(matches!(err, AggError::TooFewUpdates { got: 5, .. }));
    }

    #[test]
    fn too_few_updates_is_an_error() {
        // f = 1 needs n > 4.
        let mut agg = KrumConfig::default().build().unwrap();
        let err = agg.aggregate(&params(&[0.0]), &five()[..4]).unwrap_err();
        assert_eq!(
            err,
            AggError::TooFewUpdates {
                rule: "krum".into(),
                needed: 5,
                got: 4
            }
        );
    }
}
