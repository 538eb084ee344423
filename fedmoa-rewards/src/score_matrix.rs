//! [`ScoreMatrix`]: the rewards of one scored batch and their summaries.

use std::collections::BTreeMap;

use fedmoa_core::{ConfigError, ObjectiveId, ObjectiveStats, RewardError, RewardRange};

/// Rewards of a batch: `rewards[k][j]` is objective k on sample j.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    /// Objective ids.
    pub ids: Vec<ObjectiveId>,
    /// Declared ranges.
    pub ranges: Vec<RewardRange>,
    /// One row per objective, one column per sample.
    pub rewards: Vec<Vec<f32>>,
    /// Failed samples per objective (each got the objective's minimum).
    pub errors: Vec<u64>,
    /// The first failure of each objective, for diagnostics.
    pub first_errors: Vec<Option<RewardError>>,
}

/// A reward at least this close below the range's max counts as satisfied.
const SATISFIED_EPS: f32 = 1e-6;

impl ScoreMatrix {
    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.rewards.first().map_or(0, Vec::len)
    }

    /// Failures over all objectives.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Per-objective mean, population standard deviation, satisfaction (fraction of samples
    /// at the range's max) and error count; all zero for an empty batch.
    pub fn stats(&self) -> Vec<ObjectiveStats> {
        self.rewards
            .iter()
            .zip(&self.ids)
            .zip(&self.ranges)
            .zip(&self.errors)
            .map(|(((row, id), range), errors)| {
                let n = row.len().max(1) as f64;
                let mean = row.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
                let var = row
                    .iter()
                    .map(|v| (f64::from(*v) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let satisfied = row
                    .iter()
                    .filter(|v| **v >= range.max - SATISFIED_EPS)
                    .count();
                ObjectiveStats {
                    id: id.clone(),
                    mean: mean as f32,
                    std: var.sqrt() as f32,
                    satisfaction: (satisfied as f64 / n) as f32,
                    errors: *errors,
                }
            })
            .collect()
    }

    /// The mean of objective `k` rescaled to `[0, 1]` by its declared range (the accuracy
    /// of a primary objective); 0 for an empty batch or an unknown objective.
    pub fn normalized_mean(&self, k: usize) -> f32 {
        let (Some(row), Some(range)) = (self.rewards.get(k), self.ranges.get(k)) else {
            return 0.0;
        };
        if row.is_empty() {
            return 0.0;
        }
        let span = (range.max - range.min).max(f32::EPSILON);
        let mean = row
            .iter()
            .map(|&v| f64::from((v - range.min) / span))
            .sum::<f64>()
            / row.len() as f64;
        (mean as f32).clamp(0.0, 1.0)
    }

    /// `Σ_k weights[k] · rewards[k][j]` for each sample j.
    ///
    /// # Errors
    /// [`ConfigError`] on `weights` when its length is not the number of objectives.
    pub fn weighted_sum(&self, weights: &[f32]) -> Result<Vec<f32>, ConfigError> {
        if weights.len() != self.rewards.len() {
            return Err(ConfigError::new(
                "weights",
                format!(
                    "{} weights for {} objectives",
                    weights.len(),
                    self.rewards.len()
                ),
            ));
        }
        Ok((0..self.n_samples())
            .map(|j| {
                weights
                    .iter()
                    .zip(&self.rewards)
                    .map(|(w, row)| w * row[j])
                    .sum()
            })
            .collect())
    }

    /// Per-objective saturation over consecutive groups of `group_size` samples (GRPO
    /// groups): the fraction of groups in which every sample reached the range's max, so
    /// the objective's group standard deviation, and its advantage, is zero.
    ///
    /// # Errors
    /// [`ConfigError`] on `group_size` when it is 0 or does not divide the batch.
    pub fn saturation(&self, group_size: usize) -> Result<Vec<f32>, ConfigError> {
        let n = self.n_samples();
        if group_size == 0 || !n.is_multiple_of(group_size) {
            return Err(ConfigError::new(
                "group_size",
                format!("must divide the batch of {n} samples, got {group_size}"),
            ));
        }
        let n_groups = (n / group_size).max(1);
        Ok(self
            .rewards
            .iter()
            .zip(&self.ranges)
            .map(|(row, range)| {
                let full = row
                    .chunks(group_size)
                    .filter(|g| g.iter().all(|v| *v >= range.max - SATISFIED_EPS))
                    .count();
                full as f32 / n_groups as f32
            })
            .collect())
    }

    /// Flat metrics for logs: `reward/<id>/{mean,std,satisfaction,errors}` and
    /// `reward/errors` (all objectives).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for s in self.stats() {
            m.insert(format!("reward/{}/mean", s.id), f64::from(s.mean));
            m.insert(format!("reward/{}/std", s.id), f64::from(s.std));
            m.insert(
                format!("reward/{}/satisfaction", s.id),
                f64::from(s.satisfaction),
            );
            m.insert(format!("reward/{}/errors", s.id), s.errors as f64);
        }
        m.insert("reward/errors".into(), self.total_errors() as f64);
        m
    }
}
