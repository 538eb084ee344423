//! Group-relative advantages from a multi-objective reward matrix (plain Rust, no Burn).
//!
//! Layout: `rewards[k][j]` is objective k's reward for completion j; completions come in
//! consecutive groups of `group_size` (G) per prompt. A NaN reward means "not scored". A
//! completion whose every reward is NaN is *unscored*: its advantage is 0 and it is left out
//! of every group and batch statistic. A completion with only some NaN rewards is scored; the
//! NaN objectives count as 0 in the weighted sum (`sum_then_normalize`, as TRL's `nansum`) or
//! are left out of that objective's statistics with advantage 0 (`decoupled`).
//!
//! Standard deviations are sample ones (Bessel: divide by n − 1), 0 when fewer than two values
//! are present, and [`STD_EPSILON`] is added before dividing (`algorithm.md` §1).
//!
//! Besides the total advantage A_j, [`compute_advantages`] returns per-objective components
//! C_{k,j} with `A_j = Σ_k w_k C_{k,j}` exactly, so that the GRPO gradient splits as
//! `Σ_k w_k g_k` with g_k computed from C_k alone (exact for μ = 1, where ρ = 1 and the clip is
//! inactive; the KL term is not part of any g_k). In `decoupled` mode without the final batch
//! normalisation C_k is GDPO's A_{k,j}; with it, C_k is A_k centred over the batch and divided
//! by the same batch std as the total. In `sum_then_normalize` mode C_k is r_k centred in its
//! group and divided by the total reward's std.

use serde::{Deserialize, Serialize};

use super::config::{AdvantageMode, GrpoConfig, ScaleRewards};
use super::error::GrpoInputError;

/// Added to every standard deviation before dividing by it.
pub const STD_EPSILON: f64 = 1e-4;

/// The advantage settings of a [`GrpoConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvantageSettings {
    /// Sum the rewards first, or normalise each objective first.
    pub mode: AdvantageMode,
    /// Group std, batch std or no scaling.
    pub scale: ScaleRewards,
    /// In `decoupled` mode, re-normalise the weighted sum over the batch.
    pub normalize_after_sum: bool,
}

impl From<&GrpoConfig> for AdvantageSettings {
    fn from(config: &GrpoConfig) -> Self {
        Self {
            mode: config.advantage_mode,
            scale: config.scale_rewards,
            normalize_after_sum: config.normalize_after_sum,
        }
    }
}

/// Advantages of one generation batch and the reward statistics that go with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advantages {
    /// A_j, one per completion (0 for unscored completions).
    pub total: Vec<f32>,
    /// C_{k,j} (`[K][N]`), with `total[j] = Σ_k w_k · per_objective[k][j]`.
    pub per_objective: Vec<Vec<f32>>,
    /// Reward statistics of the batch.
    pub stats: RewardStats,
}

/// Reward statistics of one generation batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardStats {
    /// Number of groups (prompts).
    pub n_groups: usize,
    /// Completions with no reward at all.
    pub n_unscored: usize,
    /// Mean of each objective over its scored completions (0 when none).
    pub reward_mean: Vec<f32>,
    /// Sample std of each objective over its scored completions (0 when fewer than two).
    pub reward_std: Vec<f32>,
    /// Per objective: fraction of groups whose scored rewards are all equal (std exactly 0,
    /// including groups with fewer than two scored completions): no learning signal.
    pub zero_std_fraction: Vec<f32>,
    /// The same for the weighted total reward `Σ_k w_k r_k` (TRL's `frac_reward_zero_std`).
    pub total_zero_std_fraction: f32,
    /// Per objective: fraction of groups with at least one scored completion in which every
    /// scored completion reached the objective's maximum (`r ≥ max`).
    pub saturation: Vec<f32>,
}

/// Computes advantages and statistics for a batch of groups.
///
/// `rewards` is `[K][N]` (NaN = unscored), `weights` has K finite non-negative entries,
/// `objective_max` K maxima (for saturation), and N must be a multiple of `group_size`.
///
/// # Errors
/// [`GrpoInputError`] when the shapes disagree, a reward is ±∞, a weight is negative or not
/// finite, or a maximum is NaN.
pub fn compute_advantages(
    rewards: &[Vec<f32>],
    weights: &[f32],
    objective_max: &[f32],
    group_size: usize,
    settings: AdvantageSettings,
) -> Result<Advantages, GrpoInputError> {
    let n = check_inputs(rewards, weights, objective_max, group_size)?;
    let n_objectives = rewards.len();
    let n_groups = n / group_size;
    let reward = |k: usize, j: usize| -> Option<f64> {
        let r = rewards[k][j];
        (!r.is_nan()).then_some(f64::from(r))
    };
    let scored: Vec<bool> = (0..n)
        .map(|j| (0..n_objectives).any(|k| reward(k, j).is_some()))
        .collect();
    // Weighted total reward, NaN objectives counting 0; `None` when unscored.
    let weighted: Vec<Option<f64>> = (0..n)
        .map(|j| {
            scored[j].then(|| {
                (0..n_objectives)
                    .map(|k| f64::from(weights[k]) * reward(k, j).unwrap_or(0.0))
                    .sum()
            })
        })
        .collect();

    let (total, per_objective) = match settings.mode {
        AdvantageMode::SumThenNormalize => {
            // Each objective's column with NaN → 0 on scored completions: C_k then sums to A.
            let filled: Vec<Vec<Option<f64>>> = (0..n_objectives)
                .map(|k| {
                    (0..n)
                        .map(|j| scored[j].then(|| reward(k, j).unwrap_or(0.0)))
                        .collect()
                })
                .collect();
            let denominators = denominators(&weighted, group_size, settings.scale);
            let total = centred(&weighted, group_size, &denominators);
            let per_objective = filled
                .iter()
                .map(|column| centred(column, group_size, &denominators))
                .collect();
            (total, per_objective)
        }
        AdvantageMode::Decoupled => {
            let per_objective: Vec<Vec<f64>> = (0..n_objectives)
                .map(|k| {
                    let column: Vec<Option<f64>> = (0..n).map(|j| reward(k, j)).collect();
                    centred(
                        &column,
                        group_size,
                        &denominators(&column, group_size, settings.scale),
                    )
                })
                .collect();
            let sum: Vec<f64> = (0..n)
                .map(|j| {
                    (0..n_objectives)
                        .map(|k| f64::from(weights[k]) * per_objective[k][j])
                        .sum()
                })
                .collect();
            if settings.normalize_after_sum {
                batch_normalise(&sum, per_objective, &scored)
            } else {
                (sum, per_objective)
            }
        }
    };

    let stats = RewardStats {
        n_groups,
        n_unscored: scored.iter().filter(|s| !**s).count(),
        reward_mean: (0..n_objectives)
            .map(|k| mean_std((0..n).filter_map(|j| reward(k, j))).0 as f32)
            .collect(),
        reward_std: (0..n_objectives)
            .map(|k| mean_std((0..n).filter_map(|j| reward(k, j))).1 as f32)
            .collect(),
        zero_std_fraction: (0..n_objectives)
            .map(|k| {
                let column: Vec<Option<f64>> = (0..n).map(|j| reward(k, j)).collect();
                fraction_of_groups(n_groups, |g| all_equal(group(&column, g, group_size)))
            })
            .collect(),
        total_zero_std_fraction: fraction_of_groups(n_groups, |g| {
            all_equal(group(&weighted, g, group_size))
        }),
        saturation: (0..n_objectives)
            .map(|k| {
                let max = f64::from(objective_max[k]);
                let column: Vec<Option<f64>> = (0..n).map(|j| reward(k, j)).collect();
                fraction_of_groups(n_groups, |g| {
                    let mut values = group(&column, g, group_size).peekable();
                    values.peek().is_some() && values.all(|r| r >= max)
                })
            })
            .collect(),
    };
    Ok(Advantages {
        total: to_f32(&total),
        per_objective: per_objective.iter().map(|c| to_f32(c)).collect(),
        stats,
    })
}

/// Validates shapes and values; returns N.
fn check_inputs(
    rewards: &[Vec<f32>],
    weights: &[f32],
    objective_max: &[f32],
    group_size: usize,
) -> Result<usize, GrpoInputError> {
    let first = rewards
        .first()
        .ok_or(GrpoInputError::Missing("rewards of at least one objective"))?;
    let n = first.len();
    let n_objectives = rewards.len();
    for row in rewards {
        if row.len() != n {
            return Err(GrpoInputError::Shape {
                what: "rewards row",
                expected: vec![n],
                got: vec![row.len()],
            });
        }
    }
    for (what, list) in [("weights", weights), ("objective_max", objective_max)] {
        if list.len() != n_objectives {
            return Err(GrpoInputError::Shape {
                what,
                expected: vec![n_objectives],
                got: vec![list.len()],
            });
        }
    }
    if group_size == 0 || n % group_size != 0 {
        return Err(GrpoInputError::OutOfRange {
            what: "group_size",
            value: group_size as f64,
            reason: "must be positive and divide the number of completions",
        });
    }
    for (index, value) in rewards.iter().flatten().enumerate() {
        if value.is_infinite() {
            return Err(GrpoInputError::NonFinite {
                what: "rewards",
                index,
                value: f64::from(*value),
            });
        }
    }
    for (index, &w) in weights.iter().enumerate() {
        if !w.is_finite() {
            return Err(GrpoInputError::NonFinite {
                what: "weights",
                index,
                value: f64::from(w),
            });
        }
        if w < 0.0 {
            return Err(GrpoInputError::OutOfRange {
                what: "weights",
                value: f64::from(w),
                reason: "must be non-negative",
            });
        }
    }
    if let Some(index) = objective_max.iter().position(|m| m.is_nan()) {
        return Err(GrpoInputError::NonFinite {
            what: "objective_max",
            index,
            value: f64::NAN,
        });
    }
    Ok(n)
}

/// The present values of group `g`.
fn group(column: &[Option<f64>], g: usize, size: usize) -> impl Iterator<Item = f64> + Clone + '_ {
    column[g * size..(g + 1) * size].iter().flatten().copied()
}

/// Mean and sample std (Bessel; std 0 for fewer than two values; mean 0 for none).
fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (count, sum) = values
        .clone()
        .fold((0usize, 0.0), |(c, s), v| (c + 1, s + v));
    if count == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / count as f64;
    if count < 2 {
        return (mean, 0.0);
    }
    let squares: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
    (mean, (squares / (count - 1) as f64).sqrt())
}

/// The divisor of each group: its std + ε, the batch std + ε, or 1 (no scaling).
fn denominators(column: &[Option<f64>], size: usize, scale: ScaleRewards) -> Vec<f64> {
    let n_groups = column.len() / size;
    match scale {
        ScaleRewards::Group => (0..n_groups)
            .map(|g| mean_std(group(column, g, size)).1 + STD_EPSILON)
            .collect(),
        ScaleRewards::Batch => {
            let std = mean_std(column.iter().flatten().copied()).1;
            vec![std + STD_EPSILON; n_groups]
        }
        ScaleRewards::Unscaled => vec![1.0; n_groups],
    }
}

/// `(x − group mean) / denominator` for present values, 0 for absent ones. A group whose
/// present values are all equal gets exactly 0 (not the rounding residue of `x − mean`), so
/// that an objective without signal has an all-zero advantage column and the trainer can
/// skip its gradient pass.
fn centred(column: &[Option<f64>], size: usize, denominators: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; column.len()];
    for (g, &den) in denominators.iter().enumerate() {
        if all_equal(group(column, g, size)) {
            continue;
        }
        let mean = mean_std(group(column, g, size)).0;
        for j in g * size..(g + 1) * size {
            if let Some(x) = column[j] {
                out[j] = (x - mean) / den;
            }
        }
    }
    out
}

/// Normalises the weighted sum over the scored completions of the batch, and rescales the
/// per-objective components the same way so that they still add up to the total.
fn batch_normalise(
    sum: &[f64],
    per_objective: Vec<Vec<f64>>,
    scored: &[bool],
) -> (Vec<f64>, Vec<Vec<f64>>) {
    if sum.is_empty() {
        return (Vec::new(), per_objective);
    }
    let present = |column: &[f64]| -> Vec<Option<f64>> {
        column
            .iter()
            .zip(scored)
            .map(|(&x, &s)| s.then_some(x))
            .collect()
    };
    let den =
        mean_std(sum.iter().zip(scored).filter(|(_, s)| **s).map(|(x, _)| *x)).1 + STD_EPSILON;
    let total = centred(&present(sum), sum.len(), &[den]);
    // Each component column is group-centred, so its batch mean is 0 and rescaling it by
    // the same denominator keeps Σ_k w_k C_k = total; not re-centring it keeps the exact
    // zeros of groups without signal (a rounding residue of the mean would fill them).
    let per_objective = per_objective
        .iter()
        .map(|column| {
            column
                .iter()
                .zip(scored)
                .map(|(&x, &s)| if s { x / den } else { 0.0 })
                .collect()
        })
        .collect();
    (total, per_objective)
}

/// Whether every value is the same (true for zero or one value).
fn all_equal(mut values: impl Iterator<Item = f64>) -> bool {
    match values.next() {
        None => true,
        Some(first) => values.all(|v| v == first),
    }
}

fn fraction_of_groups(n_groups: usize, predicate: impl Fn(usize) -> bool) -> f32 {
    if n_groups == 0 {
        return 0.0;
    }
    let count = (0..n_groups).filter(|&g| predicate(g)).count();
    (count as f64 / n_groups as f64) as f32
}

fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

#[cfg(test)]
#[path = "advantages_tests.rs"]
mod tests;
