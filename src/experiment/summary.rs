//! Per-arm results of an experiment and their mean ± std over seeds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one arm reached in one seed (the keys of `summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    /// Mean over tasks of the global model's test accuracy.
    pub global_acc: f64,
    /// The same for the initial (warm-started) model, before round 1.
    #[serde(default)]
    pub initial_global_acc: f64,
    /// Global test accuracy per task (`math`, `code`, …).
    pub global_acc_by_task: BTreeMap<String, f64>,
    /// The same for the initial model (the base model's accuracy per task, round 0).
    #[serde(default)]
    pub initial_global_acc_by_task: BTreeMap<String, f64>,
    /// Mean over clients of their own held-out accuracy after their final local training.
    pub personalization: f64,
    /// Global model's satisfaction rate per objective (mean over the clients that have it).
    pub satisfaction: BTreeMap<String, f64>,
    /// The smallest entry of `satisfaction`.
    pub balance_min: f64,
    /// Mean over clients of the hypervolume of their objectives' satisfaction point
    /// (reference 0): the product of the rates, so it is high only when all are.
    pub hypervolume: f64,
    /// Global accuracy after each round.
    pub acc_curve: Vec<f64>,
    /// Global satisfaction of each objective after each round (as `satisfaction`).
    #[serde(default)]
    pub satisfaction_curve: BTreeMap<String, Vec<f64>>,
    /// Wall-clock seconds of the arm (resumed: this process's time plus the time of the
    /// rounds restored from the checkpoint).
    pub secs: f64,
}

/// Mean and standard deviation over seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for a single seed).
    pub std: f64,
}

impl MeanStd {
    /// Mean and Bessel-corrected standard deviation of `values` (NaN-free input).
    pub fn of(values: &[f64]) -> MeanStd {
        let n = values.len();
        if n == 0 {
            return MeanStd::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        MeanStd { mean, std }
    }

    /// `0.512` or `0.512 ± 0.031`.
    pub fn display(&self, several: bool) -> String {
        if several {
            format!("{:.3} ± {:.3}", self.mean, self.std)
        } else {
            format!("{:.3}", self.mean)
        }
    }
}

/// Reads one scalar of an [`ArmResult`].
pub type Column = (String, Box<dyn Fn(&ArmResult) -> f64>);

/// Scalar columns of the results table, in order: name and extractor.
pub fn columns(tasks: &[String]) -> Vec<Column> {
    let mut cols: Vec<Column> = vec![
        (
            "global_acc_initial".into(),
            Box::new(|r: &ArmResult| r.initial_global_acc),
        ),
        ("global_acc".into(), Box::new(|r: &ArmResult| r.global_acc)),
    ];
    for t in tasks {
        let key = t.clone();
        cols.push((
            format!("global_acc_{t}"),
            Box::new(move |r: &ArmResult| r.global_acc_by_task.get(&key).copied().unwrap_or(0.0)),
        ));
    }
    cols.push((
        "personalization".into(),
        Box::new(|r: &ArmResult| r.personalization),
    ));
    cols.push((
        "balance_min".into(),
        Box::new(|r: &ArmResult| r.balance_min),
    ));
    cols.push((
        "hypervolume".into(),
        Box::new(|r: &ArmResult| r.hypervolume),
    ));
    cols.push(("secs".into(), Box::new(|r: &ArmResult| r.secs)));
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_matches_hand_computation() {
        // mean(1, 2, 4) = 7/3; squared deviations 16/9, 1/9, 25/9 sum to 42/9; /2 = 7/3.
        let m = MeanStd::of(&[1.0, 2.0, 4.0]);
        assert!((m.mean - 7.0 / 3.0).abs() < 1e-12);
        assert!((m.std - (7.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(MeanStd::of(&[0.5]).std, 0.0);
        assert_eq!(MeanStd::of(&[0.5]).display(false), "0.500");
    }
}
