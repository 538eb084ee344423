//! [`RewardSet`]: a client's objectives with initial weights, scoring batches with
//! failure containment, and the resulting [`ScoreMatrix`].
//!
//! **Containment.** Every plugin scores every sample. A plugin that panics (caught with
//! `catch_unwind`), returns an error, or returns NaN, ±∞ or a value outside its declared
//! range gives that sample the objective's minimum and increments the objective's error
//! counter; other samples and other objectives are unaffected. If a plugin's batched call
//! panics or returns the wrong number of results, its samples are rescored one by one so
//! that only the failing samples are penalised.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fedmoa_core::federation::panic_message;
use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn, RewardRange};

use crate::score_matrix::ScoreMatrix;

/// An ordered list of objectives with initial weights; objective `primary` is the main one.
pub struct RewardSet {
    rewards: Vec<Box<dyn RewardFn>>,
    weights: Vec<f32>,
    primary: usize,
}

impl std::fmt::Debug for RewardSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RewardSet")
            .field("ids", &self.ids())
            .field("weights", &self.weights)
            .field("primary", &self.primary)
            .finish()
    }
}

impl RewardSet {
    /// Builds a set; the weights are normalised to sum to 1.
    ///
    /// # Errors
    /// [`ConfigError`] when the set is empty, the lengths differ, an id repeats, a declared
    /// range is not finite with `min < max`, a weight is negative or not finite, the weights
    /// sum to 0, or `primary` is out of bounds.
    pub fn new(
        rewards: Vec<Box<dyn RewardFn>>,
        weights: Vec<f32>,
        primary: usize,
    ) -> Result<Self, ConfigError> {
        if rewards.is_empty() {
            return Err(ConfigError::new(
                "rewards",
                "must hold at least one objective",
            ));
        }
        if weights.len() != rewards.len() {
            return Err(ConfigError::new(
                "weights",
                format!("{} weights for {} objectives", weights.len(), rewards.len()),
            ));
        }
        for (i, r) in rewards.iter().enumerate() {
            if rewards[..i].iter().any(|o| o.id() == r.id()) {
                return Err(ConfigError::new(
                    format!("rewards[{i}].id"),
                    format!("duplicate objective id {:?}", r.id().as_str()),
                ));
            }
            let range = r.range();
            if !(range.min.is_finite() && range.max.is_finite() && range.min < range.max) {
                return Err(ConfigError::new(
                    format!("rewards[{i}].range"),
                    format!("must be finite with min < max, got {range:?}"),
                ));
            }
        }
        if let Some(i) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(ConfigError::new(
                format!("weights[{i}]"),
                format!("must be finite and >= 0, got {}", weights[i]),
            ));
        }
        let total: f32 = weights.iter().sum();
        if total <= 0.0 || !total.is_finite() {
            return Err(ConfigError::new(
                "weights",
                "must have a positive, finite sum",
            ));
        }
        if primary >= rewards.len() {
            return Err(ConfigError::new(
                "primary",
                format!("is {primary} but there are {} objectives", rewards.len()),
            ));
        }
        Ok(Self {
            rewards,
            weights: weights.iter().map(|w| w / total).collect(),
            primary,
        })
    }

    /// Number of objectives.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Always false (a set holds at least one objective); for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// The objective ids, in order.
    pub fn ids(&self) -> Vec<ObjectiveId> {
        self.rewards.iter().map(|r| r.id().clone()).collect()
    }

    /// The declared ranges, in order.
    pub fn ranges(&self) -> Vec<RewardRange> {
        self.rewards.iter().map(|r| r.range()).collect()
    }

    /// The initial weights, normalised to sum to 1.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Index of the primary objective.
    pub fn primary(&self) -> usize {
        self.primary
    }

    /// The plugins, in order.
    pub fn rewards(&self) -> &[Box<dyn RewardFn>] {
        &self.rewards
    }

    /// Scores every sample with every objective, containing plugin failures (see
    /// [`score_contained`]).
    pub fn score_batch(&self, samples: &[(&Prompt, &str)]) -> ScoreMatrix {
        score_contained(&self.rewards, samples)
    }
}

/// Scores every sample with every reward, containing plugin failures as the module
/// documents: the one scorer of the workspace (the GRPO trainer scores with it too).
pub fn score_contained(rewards: &[Box<dyn RewardFn>], samples: &[(&Prompt, &str)]) -> ScoreMatrix {
    let mut matrix = ScoreMatrix {
        ids: rewards.iter().map(|r| r.id().clone()).collect(),
        ranges: rewards.iter().map(|r| r.range()).collect(),
        rewards: Vec::with_capacity(rewards.len()),
        errors: vec![0; rewards.len()],
        first_errors: vec![None; rewards.len()],
    };
    for (k, reward) in rewards.iter().enumerate() {
        let range = reward.range();
        let mut row = Vec::with_capacity(samples.len());
        for result in contained_batch(reward.as_ref(), samples) {
            match checked(reward.id(), range, result) {
                Ok(v) => row.push(v),
                Err(e) => {
                    row.push(range.min);
                    matrix.errors[k] += 1;
                    matrix.first_errors[k].get_or_insert(e);
                }
            }
        }
        matrix.rewards.push(row);
    }
    matrix
}

/// Runs a plugin's batch call; on a panic or a wrong-length answer, rescores one by one.
fn contained_batch(
    reward: &dyn RewardFn,
    samples: &[(&Prompt, &str)],
) -> Vec<Result<f32, RewardError>> {
    match catch_unwind(AssertUnwindSafe(|| reward.score_batch(samples))) {
        Ok(results) if results.len() == samples.len() => results,
        _ => samples
            .iter()
            .map(|(p, c)| {
                catch_unwind(AssertUnwindSafe(|| reward.score(p, c))).unwrap_or_else(|payload| {
                    Err(RewardError::Panicked {
                        objective: reward.id().clone(),
                        message: panic_message(payload.as_ref()),
                    })
                })
            })
            .collect(),
    }
}

/// Accepts a finite value inside the declared range.
fn checked(
    id: &ObjectiveId,
    range: RewardRange,
    result: Result<f32, RewardError>,
) -> Result<f32, RewardError> {
    let value = result?;
    if value.is_finite() && range.contains(value) {
        Ok(value)
    } else {
        Err(RewardError::OutOfRange {
            objective: id.clone(),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::FnReward;

    use super::*;

    fn prompt() -> Prompt {
        Prompt::unreferenced("p", "math", "q")
    }

    fn len_reward() -> Box<dyn RewardFn> {
        Box::new(FnReward::new(
            "len",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| {
                if c.len() <= 2 { 1.0 } else { 0.0 }
            },
        ))
    }

    #[test]
    fn stats_by_hand() {
        let set = RewardSet::new(vec![len_reward()], vec![2.0], 0).unwrap();
        assert_eq!(set.weights(), &[1.0]);
        let p = prompt();
        let m = set.score_batch(&[(&p, "a"), (&p, "abc"), (&p, "ab"), (&p, "abcd")]);
        assert_eq!(m.rewards, vec![vec![1.0, 0.0, 1.0, 0.0]]);
        let s = &m.stats()[0];
        // mean 0.5; population variance = 4 · 0.25 / 4 = 0.25, std 0.5; 2 of 4 at max.
        assert_eq!(
            (s.mean, s.std, s.satisfaction, s.errors),
            (0.5, 0.5, 0.5, 0)
        );
        assert_eq!(m.metrics()["reward/len/mean"], 0.5);
        assert_eq!(m.metrics()["reward/errors"], 0.0);
    }

    #[test]
    fn weighted_sum_by_hand() {
        let half = Box::new(FnReward::new(
            "half",
            RewardRange::UNIT,
            |_: &Prompt, _: &str| 0.5,
        ));
        let set = RewardSet::new(vec![len_reward(), half], vec![3.0, 1.0], 1).unwrap();
        assert_eq!(set.weights(), &[0.75, 0.25]);
        let p = prompt();
        let m = set.score_batch(&[(&p, "a"), (&p, "abc")]);
        // 0.75·1 + 0.25·0.5 = 0.875 ; 0.75·0 + 0.25·0.5 = 0.125
        assert_eq!(m.weighted_sum(set.weights()).unwrap(), vec![0.875, 0.125]);
        assert!(m.weighted_sum(&[1.0]).is_err());
    }

    #[test]
    fn saturation_by_hand() {
        let set = RewardSet::new(vec![len_reward()], vec![1.0], 0).unwrap();
        let p = prompt();
        // Groups of 2: (a, b) both satisfied, (ab, abc) not, (c, d) both: 2 of 3 groups.
        let texts = ["a", "b", "ab", "abc", "c", "d"];
        let batch: Vec<_> = texts.iter().map(|t| (&p, *t)).collect();
        let m = set.score_batch(&batch);
        assert_eq!(m.saturation(2).unwrap(), vec![2.0 / 3.0]);
        assert_eq!(m.saturation(6).unwrap(), vec![0.0]);
        assert_eq!(m.saturation(1).unwrap(), vec![5.0 / 6.0]);
        assert_eq!(m.saturation(4).unwrap_err().field, "group_size");
        assert_eq!(m.saturation(0).unwrap_err().field, "group_size");
    }

    #[test]
    fn empty_batch() {
        let set = RewardSet::new(vec![len_reward()], vec![1.0], 0).unwrap();
        let m = set.score_batch(&[]);
        assert_eq!(m.n_samples(), 0);
        assert_eq!(m.stats()[0].mean, 0.0);
    }

    #[test]
    fn invalid_sets_name_the_field() {
        let field =
            |r: Vec<Box<dyn RewardFn>>, w: Vec<f32>, p| RewardSet::new(r, w, p).unwrap_err().field;
        assert_eq!(field(vec![], vec![], 0), "rewards");
        assert_eq!(field(vec![len_reward()], vec![], 0), "weights");
        assert_eq!(
            field(vec![len_reward(), len_reward()], vec![1.0, 1.0], 0),
            "rewards[1].id"
        );
        assert_eq!(field(vec![len_reward()], vec![-1.0], 0), "weights[0]");
        assert_eq!(field(vec![len_reward()], vec![f32::NAN], 0), "weights[0]");
        assert_eq!(field(vec![len_reward()], vec![0.0], 0), "weights");
        assert_eq!(field(vec![len_reward()], vec![1.0], 1), "primary");
        let bad_range = Box::new(FnReward::new(
            "r",
            RewardRange { min: 1.0, max: 1.0 },
            |_: &Prompt, _: &str| 1.0,
        ));
        assert_eq!(field(vec![bad_range], vec![1.0], 0), "rewards[0].range");
    }
}
