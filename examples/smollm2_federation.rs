//! FedMOA against FedAvg on SmolLM2-135M-Instruct: LoRA clients of one GGUF model, each
//! running GRPO on its own task mix with its own rewards (the scenario is a TOML file;
//! `examples/configs/smollm2_federation.toml` is the reported run).
//!
//! ```sh
//! export FEDMOA_SMOLLM2_GGUF="$(bash scripts/fetch-smollm2.sh)"
//! cargo run --release --example smollm2_federation -- --quick
//! cargo run --release --example smollm2_federation -- examples/configs/smollm2_federation.toml
//! ```
//!
//! Prints the base model's accuracy per task (round 0), a progress bar per arm with one
//! line per round, the results table and the files written under `runs/<name>/` (summary,
//! metrics, plots, one PEFT LoRA adapter per arm), then a final JSON line:
//! `{"base_acc": {<task>: …}, "arms": {<arm>: {"global_acc": …, …}}, "secs": …}`.
//! A killed run continues with `--resume`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
#[path = "shared/experiment_args.rs"]
mod experiment_args;
use experiment_args::{ExperimentArgs, load_config};
use fedmoa::experiment::ArmResult;
use fedmoa::llm::{LlmFederationConfig, LlmFederationOutput, run_federation};
use fedmoa::quickstart::ProgressBoard;

/// A federation of SmolLM2-135M-Instruct LoRA clients: FedMOA against FedAvg on the
/// clients, tasks and rewards of a TOML file.
#[derive(Debug, Parser)]
#[command(name = "smollm2_federation")]
struct Args {
    /// TOML file overriding any field of `fedmoa::llm::LlmFederationConfig` (default:
    /// its built-in default, which is `examples/configs/smollm2_federation.toml`).
    config: Option<PathBuf>,
    /// The model file (`bash scripts/fetch-smollm2.sh` downloads it and prints its path).
    #[arg(long, env = "FEDMOA_SMOLLM2_GGUF")]
    gguf: PathBuf,
    /// A smoke run of a few minutes: one round of 2 local steps, both arms, fewer prompts
    /// and tokens; applied after the other options.
    #[arg(long)]
    quick: bool,
    #[command(flatten)]
    experiment: ExperimentArgs,
}

fn config(args: &Args) -> Result<LlmFederationConfig, Box<dyn std::error::Error>> {
    let mut config = load_config(
        args.config.as_deref(),
        LlmFederationConfig::from_toml_str,
        LlmFederationConfig::default,
    )?;
    args.experiment.apply(&mut config.experiment);
    if args.quick {
        config = config.quick();
    }
    config.validate()?;
    Ok(config)
}

/// The final JSON line: base accuracy per task, each arm's results (means over seeds).
fn summary_line(out: &LlmFederationOutput, secs: f64) -> serde_json::Value {
    let base_acc = out
        .runs
        .first()
        .map(|r| r.result.initial_global_acc_by_task.clone())
        .unwrap_or_default();
    let mut arms = serde_json::Map::new();
    for arm in out.runs.iter().map(|r| &r.arm) {
        if arms.contains_key(arm) {
            continue;
        }
        let runs: Vec<_> = out.runs.iter().filter(|r| &r.arm == arm).collect();
        let mean = |f: &dyn Fn(&ArmResult) -> f64| {
            runs.iter().map(|r| f(&r.result)).sum::<f64>() / runs.len() as f64
        };
        let by_key = |map: &dyn Fn(&ArmResult) -> &BTreeMap<String, f64>| {
            map(&runs[0].result)
                .keys()
                .map(|k| {
                    (
                        k.clone(),
                        mean(&|r| map(r).get(k).copied().unwrap_or(f64::NAN)),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        };
        arms.insert(
            arm.clone(),
            serde_json::json!({
                "global_acc": mean(&|r| r.global_acc),
                "global_acc_by_task": by_key(&|r| &r.global_acc_by_task),
                "satisfaction": by_key(&|r| &r.satisfaction),
                "seeds": runs.len(),
                "secs": mean(&|r| r.secs),
            }),
        );
    }
    serde_json::json!({"base_acc": base_acc, "arms": arms, "secs": secs})
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = config(&args)?;
    let started = Instant::now();
    let board = ProgressBoard::new();
    let out = run_federation(
        &config,
        &args.gguf,
        board.as_ref(),
        Some(board.step_observer()),
    )?;
    drop(board);
    println!("\n{}", out.table);
    for f in &out.files {
        println!("wrote {}", f.display());
    }
    println!("{}", summary_line(&out, started.elapsed().as_secs_f64()));
    Ok(())
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(Args::parse()))
}
