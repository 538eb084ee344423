//! Paired per-seed differences between arms: every arm shares its seeds, data and warm
//! start with the baseline, so `arm − baseline` at the same seed removes the seed-to-seed
//! spread that both arms share.

use serde::{Deserialize, Serialize};

use super::ArmRun;
use super::summary::{ArmResult, MeanStd};

/// `arm − baseline` of one column, seed by seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// The compared arm.
    pub arm: String,
    /// The baseline arm.
    pub baseline: String,
    /// The column (`global_acc`, `balance_min`).
    pub column: String,
    /// Mean and sample std of the per-seed differences.
    pub difference: MeanStd,
    /// The differences, in seed order (seeds that only one arm ran are left out).
    pub per_seed: Vec<f64>,
    /// Seeds on which the arm is ahead (difference > 0).
    pub wins: usize,
}

/// Reads one compared column of a result.
type Reader = fn(&ArmResult) -> f64;

/// The columns compared seed by seed.
const PAIRED_COLUMNS: [(&str, Reader); 2] = [
    ("global_acc", |r| r.global_acc),
    ("balance_min", |r| r.balance_min),
];

/// The arms of `runs`, each once, in the order they first ran.
pub(crate) fn arms_in_order(runs: &[ArmRun]) -> Vec<&str> {
    let mut arms: Vec<&str> = Vec::new();
    for r in runs {
        if !arms.contains(&r.arm.as_str()) {
            arms.push(&r.arm);
        }
    }
    arms
}

/// Every other arm against `baseline`, for `global_acc` and `balance_min`; empty when the
/// baseline did not run.
pub fn paired_differences(runs: &[ArmRun], baseline: &str) -> Vec<PairedDifference> {
    let base: Vec<&ArmRun> = runs.iter().filter(|r| r.arm == baseline).collect();
    let mut out = Vec::new();
    for arm in arms_in_order(runs).into_iter().filter(|a| *a != baseline) {
        for (column, value) in PAIRED_COLUMNS {
            let mut per_seed: Vec<(u32, f64)> = runs
                .iter()
                .filter(|r| r.arm == arm)
                .filter_map(|r| {
                    base.iter()
                        .find(|b| b.seed_index == r.seed_index)
                        .map(|b| (r.seed_index, value(&r.result) - value(&b.result)))
                })
                .collect();
            if per_seed.is_empty() {
                continue;
            }
            per_seed.sort_by_key(|(seed, _)| *seed);
            let per_seed: Vec<f64> = per_seed.into_iter().map(|(_, d)| d).collect();
            out.push(PairedDifference {
                arm: arm.to_string(),
                baseline: baseline.to_string(),
                column: column.to_string(),
                difference: MeanStd::of(&per_seed),
                wins: per_seed.iter().filter(|d| **d > 0.0).count(),
                per_seed,
            });
        }
    }
    out
}

/// One line per difference: `fedmoa − fedavg, global_acc: +0.021 ± 0.010 (ahead on 3 of 3
/// seeds: +0.010, +0.030, +0.023)`.
pub fn paired_lines(differences: &[PairedDifference]) -> String {
    differences
        .iter()
        .map(|d| {
            let seeds: Vec<String> = d.per_seed.iter().map(|v| format!("{v:+.3}")).collect();
            format!(
                "{} − {}, {}: {:+.3} ± {:.3} (ahead on {} of {} seeds: {})\n",
                d.arm,
                d.baseline,
                d.column,
                d.difference.mean,
                d.difference.std,
                d.wins,
                d.per_seed.len(),
                seeds.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Arm;

    fn run(arm: Arm, seed_index: u32, global_acc: f64, balance_min: f64) -> ArmRun {
        ArmRun {
            arm: arm.name().to_string(),
            seed_index,
            result: ArmResult {
                global_acc,
                balance_min,
                ..ArmResult::default()
            },
            weights: Default::default(),
            objective_names: Default::default(),
            metrics_path: Default::default(),
            final_params: Default::default(),
        }
    }

    #[test]
    fn differences_pair_seeds_and_match_hand_computation() {
        let runs = vec![
            run(Arm::Fedavg, 0, 0.40, 0.5),
            run(Arm::Fedavg, 1, 0.50, 0.5),
            run(Arm::Fedavg, 2, 0.30, 0.5),
            // Out of order on purpose: pairing is by seed index, not position.
            run(Arm::Fedmoa, 2, 0.33, 0.4),
            run(Arm::Fedmoa, 0, 0.41, 0.6),
            run(Arm::Fedmoa, 1, 0.52, 0.5),
        ];
        let d = paired_differences(&runs, Arm::Fedavg.name());
        assert_eq!(d.len(), 2);
        let acc = &d[0];
        assert_eq!(
            (acc.arm.as_str(), acc.column.as_str()),
            ("fedmoa", "global_acc")
        );
        // Differences 0.01, 0.02, 0.03: mean 0.02, sample std 0.01.
        for (got, want) in acc.per_seed.iter().zip([0.01, 0.02, 0.03]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!((acc.difference.mean - 0.02).abs() < 1e-12);
        assert!((acc.difference.std - 0.01).abs() < 1e-12);
        assert_eq!(acc.wins, 3);
        let balance = &d[1];
        assert_eq!(balance.wins, 1);
        let text = paired_lines(&d);
        assert!(
            text.starts_with("fedmoa − fedavg, global_acc: +0.020 ± 0.010 (ahead on 3 of 3 seeds: +0.010, +0.020, +0.030)"),
            "{text}"
        );
    }

    #[test]
    fn no_baseline_no_differences() {
        let runs = vec![run(Arm::Fedmoa, 0, 0.4, 0.5)];
        assert!(paired_differences(&runs, Arm::Fedavg.name()).is_empty());
    }
}
