//! Global evaluation: the global parameters scored on every client's test split.

use std::collections::BTreeMap;
use std::sync::Arc;

use fedmoa_core::federation::Client;
use fedmoa_core::{EvalReport, ParamSet, Split, TaskTag, TrainError};

use super::hypervolume::point_hypervolume;

/// Scores `params` on each client's test split (in parallel) and summarises:
/// `global_acc` (mean over tasks of the mean client accuracy in the task),
/// `global_acc_<task>`, `sat_<objective>` (mean satisfaction over the clients that have
/// the objective), `balance_min` (the smallest `sat_*`) and `hypervolume` (mean over
/// clients of the product of their objectives' satisfaction rates).
///
/// # Errors
/// The first client's [`TrainError`] (as a message) if any evaluation fails.
pub fn evaluate_global(
    clients: &[(Arc<dyn Client>, TaskTag)],
    params: &ParamSet,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let reports: Vec<Result<EvalReport, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter()
            .map(|(c, _)| {
                s.spawn(move || {
                    c.evaluate(params, Split::Test)
                        .map_err(|e| format!("{}: {e}", c.id()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("evaluation thread panicked".into()))
            })
            .collect()
    });
    let mut ok = Vec::with_capacity(reports.len());
    for (r, (_, task)) in reports.into_iter().zip(clients) {
        ok.push((r.map_err(TrainError::msg)?, task));
    }
    Ok(summarise(&ok))
}

/// The summary of [`evaluate_global`] from per-client reports.
pub fn summarise(reports: &[(EvalReport, &TaskTag)]) -> BTreeMap<String, f64> {
    let mut by_task: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut by_objective: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut volumes = Vec::new();
    for (report, task) in reports {
        by_task
            .entry(task.to_string())
            .or_default()
            .push(f64::from(report.accuracy));
        let mut point = Vec::new();
        for o in &report.objectives {
            by_objective
                .entry(o.id.to_string())
                .or_default()
                .push(f64::from(o.satisfaction));
            point.push(f64::from(o.satisfaction));
        }
        volumes.push(point_hypervolume(&point, &vec![0.0; point.len()]));
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let mut out = BTreeMap::new();
    let task_means: Vec<f64> = by_task.values().map(|v| mean(v)).collect();
    out.insert("global_acc".to_string(), mean(&task_means));
    for (task, v) in &by_task {
        out.insert(format!("global_acc_{task}"), mean(v));
    }
    let mut balance_min = f64::INFINITY;
    for (id, v) in &by_objective {
        let m = mean(v);
        balance_min = balance_min.min(m);
        out.insert(format!("sat_{id}"), m);
    }
    out.insert(
        "balance_min".to_string(),
        if balance_min.is_finite() {
            balance_min
        } else {
            0.0
        },
    );
    out.insert("hypervolume".to_string(), mean(&volumes));
    out
}

#[cfg(test)]
mod tests {
    use fedmoa_core::ObjectiveStats;

    use super::*;

    fn report(acc: f32, sats: &[(&str, f32)]) -> EvalReport {
        EvalReport {
            accuracy: acc,
            n_examples: 10,
            objectives: sats
                .iter()
                .map(|(id, s)| ObjectiveStats {
                    id: (*id).into(),
                    mean: *s,
                    std: 0.0,
                    satisfaction: *s,
                    errors: 0,
                })
                .collect(),
            ..EvalReport::default()
        }
    }

    #[test]
    fn summary_matches_hand_computation() {
        let (math, code) = (TaskTag::from("math"), TaskTag::from("code"));
        let reports = vec![
            (report(0.5, &[("acc", 0.5), ("format", 1.0)]), &math),
            (report(0.25, &[("acc", 0.25), ("format", 0.5)]), &math),
            (report(1.0, &[("pass", 1.0), ("format", 0.75)]), &code),
        ];
        let s = summarise(&reports);
        // math = (0.5 + 0.25)/2 = 0.375, code = 1.0, global = (0.375 + 1.0)/2 = 0.6875
        assert!((s["global_acc_math"] - 0.375).abs() < 1e-9);
        assert!((s["global_acc"] - 0.6875).abs() < 1e-9);
        // format = (1 + 0.5 + 0.75)/3 = 0.75; acc = 0.375; pass = 1 → min 0.375
        assert!((s["sat_format"] - 0.75).abs() < 1e-9);
        assert!((s["balance_min"] - 0.375).abs() < 1e-9);
        // volumes 0.5·1 = 0.5, 0.25·0.5 = 0.125, 1·0.75 = 0.75 → mean 1.375/3
        assert!((s["hypervolume"] - 1.375 / 3.0).abs() < 1e-9);
    }
}
