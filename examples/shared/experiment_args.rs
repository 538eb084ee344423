//! The command-line options and config loading that the experiment examples share
//! (`quickstart`, `smollm2_federation`); each includes this file with `#[path]`.

use std::path::Path;

use fedmoa::core::ConfigError;
use fedmoa::experiment::{Arm, ArmSpec, ExperimentConfig};

/// Options laid over a config's `[experiment]` table.
#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// Also run FedMOA without hypergradient, without accuracy-awareness and without
    /// task-awareness (every preset arm, then the config's own arms).
    #[arg(long)]
    pub ablations: bool,
    /// Repeat every arm over N seeds (mean ± std, paired differences).
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// Federated rounds.
    #[arg(long, value_name = "R")]
    pub rounds: Option<u32>,
    /// Run name: outputs go to `runs/<NAME>/`.
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the run of the same name from its checkpoints (written after every round)
    /// after it was interrupted; ends with the results of an uninterrupted run.
    #[arg(long)]
    pub resume: bool,
}

impl ExperimentArgs {
    /// Sets the fields of `experiment` these options name.
    pub fn apply(&self, experiment: &mut ExperimentConfig) {
        if self.ablations {
            let custom = experiment
                .arms
                .iter()
                .filter(|a| matches!(a, ArmSpec::Custom(_)))
                .cloned();
            experiment.arms = Arm::ALL.iter().map(|&a| a.into()).chain(custom).collect();
        }
        if let Some(seeds) = self.seeds {
            experiment.seeds = seeds;
        }
        if let Some(rounds) = self.rounds {
            experiment.federation.rounds = rounds;
        }
        if let Some(name) = &self.name {
            experiment.name.clone_from(name);
        }
        experiment.resume |= self.resume;
    }
}

/// The config in the TOML file at `path` (parsed by `parse`), or `default` without one;
/// errors name the file.
pub fn load_config<T>(
    path: Option<&Path>,
    parse: impl FnOnce(&str) -> Result<T, ConfigError>,
    default: impl FnOnce() -> T,
) -> Result<T, String> {
    let Some(path) = path else {
        return Ok(default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}
