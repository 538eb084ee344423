//! A user-written aggregator and objective weighter, registered by name and run in the
//! quickstart's experiment from TOML next to the FedAvg baseline.
//!
//! ```text
//! cargo run --release --example custom_plugins -- [CONFIG.toml]
//! ```
//!
//! The plugins (`examples/shared/demo_plugins.rs`): `best_half`, a server rule that averages
//! the better half of the updates by held-out accuracy, and `primary_ramp`, a client
//! weighting schedule that moves all weight to the primary objective over N local steps.
//! They register in [`fedmoa::plugins::Plugins`] and an arm names them:
//!
//! ```toml
//! [experiment]
//! arms = [
//!   "fedavg",
//!   { name = "ramp_best_half", aggregator = { type = "best_half", keep = 0.5 }, weighter = { type = "primary_ramp", steps = 4 } },
//! ]
//! ```
//!
//! Without `CONFIG.toml` it runs that experiment on the quickstart's scenario and warm start
//! for 2 rounds of 3 local steps (34 s in a release build on 2 cores once the quickstart
//! has cached its warm start, which this run shares); a `CONFIG.toml` overrides any field of
//! `fedmoa::quickstart::QuickstartConfig`, as for the quickstart.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
#[path = "shared/demo_plugins.rs"]
mod demo_plugins;
use demo_plugins::register_demo_plugins;
use fedmoa::plugins::Plugins;
use fedmoa::quickstart::{QuickstartConfig, run_with_plugins};

/// The experiment this example runs without a config file: the quickstart, FedAvg against
/// an arm of the two demo plugins.
const DEMO_ARMS: &str = r#"
[experiment]
name = "custom_plugins"
federation = { rounds = 2, local_steps = 3 }
arms = [
  "fedavg",
  { name = "ramp_best_half", aggregator = { type = "best_half", keep = 0.5 }, weighter = { type = "primary_ramp", steps = 4 } },
]
"#;

/// Runs the quickstart with a user-written aggregator (`best_half`) and weighter
/// (`primary_ramp`) registered by name and named by an arm in TOML.
#[derive(Debug, Parser)]
#[command(name = "custom_plugins")]
struct Args {
    /// TOML file overriding any field of `fedmoa::quickstart::QuickstartConfig` (default:
    /// 2 rounds of the quickstart with FedAvg and a `best_half` + `primary_ramp` arm).
    config: Option<PathBuf>,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut plugins = Plugins::with_builtins();
    register_demo_plugins(&mut plugins)?;
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            QuickstartConfig::from_toml_str(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => QuickstartConfig::from_toml_str(DEMO_ARMS)?,
    };
    println!(
        "aggregators: {}\nweighters: {}",
        plugins.aggregators.type_names().join(", "),
        plugins.weighters.type_names().join(", ")
    );
    let out = run_with_plugins(&config, &plugins, &|line: &str| println!("{line}"))
        .map_err(|e| format!("custom_plugins failed: {e}"))?;
    println!("\n{}", out.table);
    for f in &out.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(Args::parse()))
}
