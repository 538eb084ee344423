//! Scores completions with every objective, containing plugin failures.
//!
//! As `fedmoa_core::RewardFn` documents, a reward that errors, panics, or returns a value
//! outside its declared range gives that sample the range's minimum; the failure is
//! counted per objective and training goes on.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fedmoa_core::{ObjectiveStats, Prompt, RewardFn};

/// Rewards of a batch, `values[k][j]` for objective k and completion j.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBatch {
    /// Rewards, one row per objective.
    pub values: Vec<Vec<f32>>,
    /// Failed samples per objective.
    pub errors: Vec<u64>,
}

/// Scores `completions[j]` (a completion of `prompts[j]`) with every reward.
pub fn score_all(
    rewards: &[Box<dyn RewardFn>],
    prompts: &[&Prompt],
    completions: &[String],
) -> ScoredBatch {
    let samples: Vec<(&Prompt, &str)> = prompts
        .iter()
        .zip(completions)
        .map(|(p, c)| (*p, c.as_str()))
        .collect();
    let mut values = Vec::with_capacity(rewards.len());
    let mut errors = Vec::with_capacity(rewards.len());
    for reward in rewards {
        let range = reward.range();
        let raw = catch_unwind(AssertUnwindSafe(|| reward.score_batch(&samples)));
        let (row, n_errors) = match raw {
            Ok(results) if results.len() == samples.len() => {
                let mut n_errors = 0;
                let row = results
                    .into_iter()
                    .map(|r| match r {
                        Ok(v) if v.is_finite() && range.contains(v) => v,
                        _ => {
                            n_errors += 1;
                            range.min
                        }
                    })
                    .collect();
                (row, n_errors)
            }
            // A panic or a wrong-length answer fails the whole batch for this objective.
            _ => (vec![range.min; samples.len()], samples.len() as u64),
        };
        values.push(row);
        errors.push(n_errors);
    }
    ScoredBatch { values, errors }
}

/// Mean, sample std, satisfaction rate (reward ≥ the range's maximum) and error count of
/// each objective.
pub fn objective_stats(rewards: &[Box<dyn RewardFn>], scored: &ScoredBatch) -> Vec<ObjectiveStats> {
    rewards
        .iter()
        .zip(scored.values.iter().zip(&scored.errors))
        .map(|(reward, (row, &errors))| {
            let n = row.len() as f64;
            let mean = if row.is_empty() {
                0.0
            } else {
                row.iter().map(|&v| f64::from(v)).sum::<f64>() / n
            };
            let std = if row.len() < 2 {
                0.0
            } else {
                (row.iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / (n - 1.0))
                    .sqrt()
            };
            let max = reward.range().max;
            let satisfied = row.iter().filter(|&&v| v >= max).count() as f64;
            ObjectiveStats {
                id: reward.id().clone(),
                mean: mean as f32,
                std: std as f32,
                satisfaction: if row.is_empty() {
                    0.0
                } else {
                    (satisfied / n) as f32
                },
                errors,
            }
        })
        .collect()
}

/// The primary objective's mean rescaled to `[0, 1]` by its declared range.
pub fn primary_accuracy(rewards: &[Box<dyn RewardFn>], scored: &ScoredBatch) -> f32 {
    let (Some(reward), Some(row)) = (rewards.first(), scored.values.first()) else {
        return 0.0;
    };
    if row.is_empty() {
        return 0.0;
    }
    let range = reward.range();
    let span = (range.max - range.min).max(f32::EPSILON);
    let mean = row
        .iter()
        .map(|&v| f64::from((v - range.min) / span))
        .sum::<f64>()
        / row.len() as f64;
    (mean as f32).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use fedmoa_core::{FnReward, Reference, RewardRange};

    use super::*;

    fn prompt() -> Prompt {
        Prompt {
            id: "p".into(),
            task: "math".into(),
            text: "q".into(),
            reference: Reference::None,
            solution: None,
        }
    }

    fn rewards() -> Vec<Box<dyn RewardFn>> {
        vec![
            Box::new(FnReward::new(
                "seven",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| f32::from(u8::from(c.starts_with('7'))),
            )),
            Box::new(FnReward::new(
                "bad",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| {
                    if c.is_empty() {
                        panic!("empty completion")
                    }
                    if c.len() > 3 { 2.0 } else { 0.5 }
                },
            )),
        ]
    }

    #[test]
    fn contains_out_of_range_values_and_panics() {
        let p = prompt();
        let scored = score_all(
            &rewards(),
            &[&p, &p, &p],
            &["7".into(), "8888".into(), "71".into()],
        );
        assert_eq!(scored.values[0], [1.0, 0.0, 1.0]);
        // "8888" scores 2.0, outside [0, 1] → min 0 and one error.
        assert_eq!(scored.values[1], [0.5, 0.0, 0.5]);
        assert_eq!(scored.errors, [0, 1]);
        let panicking = score_all(&rewards(), &[&p], &[String::new()]);
        assert_eq!(panicking.values[1], [0.0]);
        assert_eq!(panicking.errors[1], 1);
    }

    #[test]
    fn stats_use_bessel_std_and_range_max() {
        let p = prompt();
        let r = rewards();
        let scored = score_all(&r, &[&p, &p, &p], &["7".into(), "8".into(), "7".into()]);
        let stats = objective_stats(&r, &scored);
        // [1, 0, 1]: mean 2/3, sample var = ((1/3)²·2 + (2/3)²)/2 = (2/9 + 4/9)/2 = 1/3
        assert!((stats[0].mean - 2.0 / 3.0).abs() < 1e-6);
        assert!((stats[0].std - (1.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert!((stats[0].satisfaction - 2.0 / 3.0).abs() < 1e-6);
        assert!((primary_accuracy(&r, &scored) - 2.0 / 3.0).abs() < 1e-6);
    }
}
