//! The quickstart experiment: FedMOA against FedAvg on heterogeneous math and code
//! clients, each running GRPO on the embedded TinyLm (issue: the project's main job).
//!
//! `cargo run --release --example quickstart` runs [`run`] with [`QuickstartConfig`]'s
//! defaults; `--quick` uses [`QuickstartConfig::quick`].

mod config;
mod factory;

use std::path::PathBuf;

pub use config::{DataSizes, QuickstartConfig};
pub use factory::TinyLmFactory;

use crate::experiment::{ArmRun, Experiment, ExperimentError, results_table, write_outputs};
use fedmoa_rewards::Scenario;

/// What a quickstart run produced.
#[derive(Debug)]
pub struct QuickstartOutput {
    /// Every arm × seed.
    pub runs: Vec<ArmRun>,
    /// The results table (Markdown).
    pub table: String,
    /// Files written (`summary.json`, `metrics.jsonl`, plots).
    pub files: Vec<PathBuf>,
}

/// Runs the quickstart: builds the scenario, warm-starts TinyLm (cached), runs every arm
/// and seed, and writes the outputs; `progress` receives one line per step of the way.
///
/// # Errors
/// [`ExperimentError`] for an invalid config or a failure while running.
pub fn run(
    config: &QuickstartConfig,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<QuickstartOutput, ExperimentError> {
    config.validate()?;
    let scenario = Scenario::heterogeneous(config.n_math, config.n_code, config.scenario_seed);
    let device = config
        .trainer
        .device
        .device()
        .map_err(|e| fedmoa_core::TrainError::Other {
            context: "choosing the device".into(),
            source: Some(Box::new(e)),
        })?;
    progress(&format!(
        "{} clients ({} math, {} code); warm-starting TinyLm (cached after the first run)…",
        scenario.clients.len(),
        config.n_math,
        config.n_code
    ));
    let factory = TinyLmFactory::new(config.clone(), &scenario.clients, scenario.seed, &device)?;
    let report = factory.warm_start_report();
    progress(&format!(
        "warm start: {} ({} steps, loss {:.3} → {:.3}, {:.1} s)",
        if report.from_cache {
            "from cache"
        } else {
            "trained"
        },
        report.steps,
        report.first_loss,
        report.last_loss,
        report.secs
    ));
    let experiment = Experiment::new(config.experiment.clone(), scenario.clients, &factory)?;
    let runs = experiment.run(progress)?;
    let table = results_table(&runs);
    let files = write_outputs(&config.experiment, &runs)?;
    Ok(QuickstartOutput { runs, table, files })
}
