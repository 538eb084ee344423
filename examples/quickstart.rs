//! The main job: FedMOA against FedAvg on 6 heterogeneous math clients, each running GRPO
//! on the embedded TinyLm with its own reward set, from a warm start that imitates a
//! fallible teacher (the scenario: `docs/REWARDS.md`, "The quickstart scenario"). No
//! downloads.
//!
//! ```text
//! cargo run --release --example quickstart -- [CONFIG.toml] [--quick] [--seeds N]
//!     [--ablations] [--rounds R] [--name NAME]     (--help lists them)
//! ```
//!
//! - `CONFIG.toml` (first argument) overrides any field of `fedmoa::quickstart::QuickstartConfig`.
//! - `--quick`: a small run (under 2 minutes) for smoke tests.
//! - `--ablations`: also run FedMOA without hypergradient, without accuracy-awareness
//!   (T = ∞) and without task-awareness.
//! - `--seeds N`: repeat every arm over N seeds (mean ± std).
//!
//! Shows a progress bar per arm (round, client, local step) with one line per round above
//! it, then prints the results table and the files written under `runs/<name>/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
#[path = "shared/experiment_args.rs"]
mod experiment_args;
use experiment_args::{ExperimentArgs, load_config};
use fedmoa::quickstart::{QuickstartConfig, run_with_progress_bars};

/// FedMOA against FedAvg on heterogeneous math clients, on the embedded TinyLm (no
/// downloads). Prints one line per round, the results table and the files written.
#[derive(Debug, Parser)]
#[command(name = "quickstart")]
struct Args {
    /// TOML file overriding any field of `fedmoa::quickstart::QuickstartConfig`.
    config: Option<PathBuf>,
    /// A small run (under 2 minutes) for smoke tests; applied after the other options.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    experiment: ExperimentArgs,
}

/// The configuration: the TOML file (or the default), then the options.
fn config(args: Args) -> Result<QuickstartConfig, Box<dyn std::error::Error>> {
    let mut config = load_config(
        args.config.as_deref(),
        QuickstartConfig::from_toml_str,
        QuickstartConfig::default,
    )?;
    args.experiment.apply(&mut config.experiment);
    if args.quick {
        config = config.quick();
    }
    config.validate()?;
    Ok(config)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = config(args)?;
    let started = std::time::Instant::now();
    let out = run_with_progress_bars(&config).map_err(|e| format!("quickstart failed: {e}"))?;
    println!("\n{}", out.table);
    for f in &out.files {
        println!("wrote {}", f.display());
    }
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(Args::parse()))
}
