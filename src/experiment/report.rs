//! Writing an experiment's results: the table, `summary.json`, `metrics.jsonl`, plots.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::paired::{arms_in_order, paired_differences, paired_lines};
use super::plot::{plot_arm_curves, plot_curves, plot_weights};
use super::png::svg_to_png;
use super::summary::{MeanStd, columns};
use super::{Arm, ArmRun, ExperimentConfig, ExperimentError};

/// The results table: one row per arm, mean (± std over seeds) per column; with two or
/// more seeds, followed by each arm's paired per-seed difference from FedAvg
/// ([`paired_lines`]).
pub fn results_table(runs: &[ArmRun]) -> String {
    let tasks = task_names(runs);
    let cols = columns(&tasks);
    let several = runs.iter().map(|r| r.seed_index).max().unwrap_or(0) > 0;
    let arms: Vec<&str> = arms_in_order(runs);
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("arm".to_string())
            .chain(cols.iter().map(|(n, _)| n.clone()))
            .collect(),
    ];
    for arm in arms {
        let mine: Vec<_> = runs.iter().filter(|r| r.arm == arm).collect();
        let mut row = vec![arm.to_string()];
        for (_, f) in &cols {
            let values: Vec<f64> = mine.iter().map(|r| f(&r.result)).collect();
            row.push(MeanStd::of(&values).display(several));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        }
    }
    if several {
        let paired = paired_lines(&paired_differences(runs, Arm::Fedavg.name()));
        if !paired.is_empty() {
            out.push_str("\nPaired per-seed differences (same seeds, data and warm start):\n");
            out.push_str(&paired);
        }
    }
    out
}

/// `summary.json`: `arms.<arm>.<column>` (mean over seeds), `arms.<arm>.std.<column>`,
/// `arms.<arm>.satisfaction`, `arms.<arm>.acc_curve`, `paired_vs_fedavg` (every other arm's
/// per-seed differences from FedAvg) and the config.
pub fn summary_json(config: &ExperimentConfig, runs: &[ArmRun]) -> serde_json::Value {
    let tasks = task_names(runs);
    let cols = columns(&tasks);
    let mut arms = serde_json::Map::new();
    for arm in arms_in_order(runs) {
        let mine: Vec<_> = runs.iter().filter(|r| r.arm == arm).collect();
        let mut entry = serde_json::Map::new();
        let mut std = serde_json::Map::new();
        for (name, f) in &cols {
            let values: Vec<f64> = mine.iter().map(|r| f(&r.result)).collect();
            let m = MeanStd::of(&values);
            entry.insert(name.clone(), m.mean.into());
            std.insert(name.clone(), m.std.into());
        }
        entry.insert("std".into(), std.into());
        let mut satisfaction: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in &mine {
            for (k, v) in &r.result.satisfaction {
                satisfaction.entry(k.clone()).or_default().push(*v);
            }
        }
        let sat: serde_json::Map<String, serde_json::Value> = satisfaction
            .into_iter()
            .map(|(k, v)| (k, MeanStd::of(&v).mean.into()))
            .collect();
        entry.insert("satisfaction".into(), sat.into());
        entry.insert(
            "per_seed".into(),
            serde_json::to_value(mine.iter().map(|r| &r.result).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        arms.insert(arm.to_string(), entry.into());
    }
    serde_json::json!({
        "name": config.name,
        "seeds": config.seeds,
        "config": config,
        "arms": arms,
        "paired_vs_fedavg": serde_json::to_value(paired_differences(runs, Arm::Fedavg.name()))
            .unwrap_or_default(),
    })
}

/// What a finished experiment produced.
#[derive(Debug)]
pub struct ExperimentOutput {
    /// Every arm × seed.
    pub runs: Vec<ArmRun>,
    /// The results table (Markdown).
    pub table: String,
    /// Files written (`summary.json`, `metrics.jsonl`, plots, and whatever the runner
    /// adds, such as PEFT adapters).
    pub files: Vec<PathBuf>,
}

/// Writes `summary.json`, the combined `metrics.jsonl` (every line tagged with `arm` and
/// `seed`) and the plots (SVG and PNG) under the run directory; returns the paths written.
///
/// # Errors
/// [`ExperimentError::Io`] or [`ExperimentError::Plot`].
pub fn write_outputs(
    config: &ExperimentConfig,
    runs: &[ArmRun],
) -> Result<Vec<PathBuf>, ExperimentError> {
    let dir = config.run_dir();
    fs::create_dir_all(&dir).map_err(|e| ExperimentError::io(&dir, e))?;
    let mut written = Vec::new();

    let summary_path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&summary_json(config, runs))
        .map_err(|e| ExperimentError::io(&summary_path, e.into()))?;
    fs::write(&summary_path, text).map_err(|e| ExperimentError::io(&summary_path, e))?;
    written.push(summary_path);

    let metrics_path = dir.join("metrics.jsonl");
    combine_metrics(runs, &metrics_path)?;
    written.push(metrics_path);

    let curves_path = dir.join("global_accuracy.svg");
    let arms: Vec<(String, Vec<Vec<f64>>)> = arms_in_order(runs)
        .into_iter()
        .map(|arm| {
            let seeds = runs
                .iter()
                .filter(|r| r.arm == arm)
                .map(|r| {
                    std::iter::once(r.result.initial_global_acc)
                        .chain(r.result.acc_curve.iter().copied())
                        .collect()
                })
                .collect();
            (arm.to_owned(), seeds)
        })
        .collect();
    plot_arm_curves(&curves_path, "global accuracy per round", &arms)?;
    written.push(curves_path.clone());
    let png = curves_path.with_extension("png");
    svg_to_png(&curves_path, &png)?;
    written.push(png);

    for run in runs
        .iter()
        .filter(|r| r.seed_index == 0 && !r.weights.is_empty())
    {
        let path = dir.join(format!("weights_{}.svg", run.arm));
        plot_weights(
            &path,
            &format!("objective weights per client ({})", run.arm),
            &run.weights,
            &run.objective_names,
        )?;
        let png = path.with_extension("png");
        svg_to_png(&path, &png)?;
        written.push(path);
        written.push(png);
    }

    for run in runs.iter().filter(|r| r.seed_index == 0) {
        // Round 0 (the warm start) has no satisfaction figures: the curves start at round 1.
        let curves: Vec<(String, Vec<f64>)> = run
            .result
            .satisfaction_curve
            .iter()
            .map(|(id, values)| {
                let points = std::iter::once(f64::NAN).chain(values.iter().copied());
                (id.clone(), points.collect())
            })
            .collect();
        if curves.is_empty() {
            continue;
        }
        let path = dir.join(format!("satisfaction_{}.svg", run.arm));
        plot_curves(
            &path,
            &format!("objective satisfaction per round ({}, seed 0)", run.arm),
            &curves,
        )?;
        let png = path.with_extension("png");
        svg_to_png(&path, &png)?;
        written.push(path);
        written.push(png);
    }
    Ok(written)
}

fn combine_metrics(runs: &[ArmRun], out_path: &Path) -> Result<(), ExperimentError> {
    let file = File::create(out_path).map_err(|e| ExperimentError::io(out_path, e))?;
    let mut out = BufWriter::new(file);
    for run in runs {
        let input =
            File::open(&run.metrics_path).map_err(|e| ExperimentError::io(&run.metrics_path, e))?;
        for line in BufReader::new(input).lines() {
            let line = line.map_err(|e| ExperimentError::io(&run.metrics_path, e))?;
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(obj) = value.as_object_mut() {
                obj.insert("arm".into(), run.arm.clone().into());
                obj.insert("seed".into(), run.seed_index.into());
            }
            serde_json::to_writer(&mut out, &value)
                .map_err(|e| ExperimentError::io(out_path, e.into()))?;
            out.write_all(b"\n")
                .map_err(|e| ExperimentError::io(out_path, e))?;
        }
    }
    out.flush().map_err(|e| ExperimentError::io(out_path, e))
}

fn task_names(runs: &[ArmRun]) -> Vec<String> {
    runs.iter()
        .flat_map(|r| r.result.global_acc_by_task.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
