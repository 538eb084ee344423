//! The main job: FedMOA against FedAvg on 6 heterogeneous math clients, each running GRPO
//! on the embedded TinyLm with its own reward set, from a warm start that imitates a
//! fallible teacher (the scenario: `docs/REWARDS.md`, "The quickstart scenario"). No
//! downloads.
//!
//! ```text
//! cargo run --release --example quickstart -- [CONFIG.toml] [--quick] [--seeds N]
//!     [--ablations] [--rounds R] [--name NAME]
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

use std::process::ExitCode;

use fedmoa::experiment::Arm;
use fedmoa::quickstart::{QuickstartConfig, run_with_progress_bars};

fn parse_args() -> Result<QuickstartConfig, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // An optional TOML file comes first; flags then override it.
    let (mut config, mut i) = match args.first() {
        Some(path) if !path.starts_with('-') => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            let config =
                QuickstartConfig::from_toml_str(&text).map_err(|e| format!("{path}: {e}"))?;
            (config, 1)
        }
        _ => (QuickstartConfig::default(), 0),
    };
    let value = |i: usize, flag: &str| -> Result<String, String> {
        args.get(i + 1)
            .cloned()
            .ok_or(format!("{flag} needs a value"))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => {}
            "--ablations" => config.experiment.arms = Arm::ALL.to_vec(),
            "--seeds" => {
                config.experiment.seeds = value(i, "--seeds")?
                    .parse()
                    .map_err(|e| format!("--seeds: {e}"))?;
                i += 1;
            }
            "--rounds" => {
                config.experiment.federation.rounds = value(i, "--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?;
                i += 1;
            }
            "--name" => {
                config.experiment.name = value(i, "--name")?;
                i += 1;
            }
            "-h" | "--help" => {
                return Err("usage: quickstart [CONFIG.toml] [--quick] [--seeds N] [--ablations] [--rounds R] [--name NAME]".into());
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
        i += 1;
    }
    if args.iter().any(|a| a == "--quick") {
        config = config.quick();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    match run_with_progress_bars(&config) {
        Ok(out) => {
            println!("\n{}", out.table);
            for f in &out.files {
                println!("wrote {}", f.display());
            }
            println!("total {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
