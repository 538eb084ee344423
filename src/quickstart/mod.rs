//! The quickstart experiment: FedMOA against FedAvg on heterogeneous math and code
//! clients, each running GRPO on the embedded TinyLm (issue: the project's main job).
//!
//! `cargo run --release --example quickstart` runs [`run`] with [`QuickstartConfig`]'s
//! defaults; `--quick` uses [`QuickstartConfig::quick`].

mod config;
mod factory;
mod progress;

pub use config::{DataSizes, QuickstartConfig};
pub use factory::TinyLmFactory;
pub use progress::ProgressBoard;

use fedmoa_grpo::StepObserver;

use crate::experiment::{
    Experiment, ExperimentError, ExperimentObserver, ExperimentOutput, results_table, write_outputs,
};
use crate::plugins::Plugins;

/// What a quickstart run produced.
pub type QuickstartOutput = ExperimentOutput;

/// Runs the quickstart: builds the scenario, warm-starts TinyLm (cached), runs every arm
/// and seed, and writes the outputs; `progress` receives one line per step of the way
/// (any `&|line: &str| …` closure will do).
///
/// # Errors
/// [`ExperimentError`] for an invalid config or a failure while running.
pub fn run(
    config: &QuickstartConfig,
    progress: &dyn ExperimentObserver,
) -> Result<QuickstartOutput, ExperimentError> {
    run_observed(config, &Plugins::with_builtins(), progress, None)
}

/// [`run`] whose arms may name the user's own aggregators and weighters (and whose
/// clients use `plugins.rewards`), e.g. an arm
/// `{ name = "mine", aggregator = { type = "my_rule" }, weighter = { type = "fixed" } }`
/// in the config's `[experiment]` table.
///
/// # Errors
/// As [`run`]; an arm naming an unregistered type fails before anything runs.
pub fn run_with_plugins(
    config: &QuickstartConfig,
    plugins: &Plugins,
    progress: &dyn ExperimentObserver,
) -> Result<QuickstartOutput, ExperimentError> {
    run_observed(config, plugins, progress, None)
}

/// [`run`] with a progress bar per arm on the terminal (round, client, local step) and
/// the round lines printed above it.
///
/// # Errors
/// As [`run`].
pub fn run_with_progress_bars(
    config: &QuickstartConfig,
) -> Result<QuickstartOutput, ExperimentError> {
    let board = ProgressBoard::new();
    run_observed(
        config,
        &Plugins::with_builtins(),
        board.as_ref(),
        Some(board.step_observer()),
    )
}

fn run_observed(
    config: &QuickstartConfig,
    plugins: &Plugins,
    progress: &dyn ExperimentObserver,
    steps: Option<StepObserver>,
) -> Result<QuickstartOutput, ExperimentError> {
    config.validate()?;
    let scenario = config.scenario();
    plugins.check_arms(&config.experiment, &scenario.clients)?;
    let device = config
        .trainer
        .device
        .device()
        .map_err(|e| fedmoa_core::TrainError::Other {
            context: "choosing the device".into(),
            source: Some(Box::new(e)),
        })?;
    progress.line(&format!(
        "{} clients ({} math, {} code); warm-starting TinyLm (cached after the first run)…",
        scenario.clients.len(),
        config.n_math,
        config.n_code
    ));
    let mut factory =
        TinyLmFactory::new(config.clone(), &scenario.clients, scenario.seed, &device)?
            .with_registry(plugins.rewards.clone());
    if let Some(observer) = steps {
        factory = factory.with_step_observer(observer);
    }
    let report = factory.warm_start_report();
    progress.line(&format!("warm start: {report}"));
    let experiment = Experiment::with_registries(
        config.experiment.clone(),
        scenario.clients,
        &factory,
        plugins.aggregators.clone(),
        plugins.weighters.clone(),
    )?;
    let runs = experiment.run(progress)?;
    let table = results_table(&runs);
    let files = write_outputs(&config.experiment, &runs)?;
    Ok(QuickstartOutput { runs, table, files })
}
