//! A fedmoa client joining a Flower federation, training the deterministic
//! [`QuadraticTrainer`] (no Burn). See `deploy/flower/README.md`.
//!
//! ```text
//! cargo run -p fedmoa-flower --example quadratic_client -- \
//!     --superlink http://127.0.0.1:8000 --index 0 --task math --samples 100
//! ```
//!
//! Options: `--superlink URL`, `--root-certificates CA.pem` (with `https://`),
//! `--key-file node.pem`, `--no-self-register`, `--index N`, `--client-id NAME`,
//! `--task TAG`, `--samples N`, `--lr F`, `--steps N`, `--train-delay SECS`,
//! `--heartbeat SECS`,
//! `--poll SECS`, `--exit-after-run`, `--quiet`. SIGINT/SIGTERM leave the federation
//! cleanly (deactivate + unregister).

use std::process::ExitCode;

use fedmoa_flower::demo::QuadraticConfig;
use fedmoa_flower::{FlowerClient, FlowerClientConfig};

fn value<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
) -> Result<T, String> {
    let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

fn parse() -> Result<(FlowerClientConfig, QuadraticConfig), String> {
    let mut cfg = FlowerClientConfig::default();
    let mut trainer = QuadraticConfig {
        seed: 0,
        task: "math".into(),
        n_samples: 100,
        lr: 0.5,
        steps: 1,
        delay_secs: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--superlink" => cfg.superlink = value(&mut args, &flag)?,
            "--root-certificates" => {
                cfg.root_certificates = Some(value::<String>(&mut args, &flag)?.into())
            }
            "--key-file" => cfg.key_file = Some(value::<String>(&mut args, &flag)?.into()),
            "--no-self-register" => cfg.self_register = false,
            "--index" => cfg.client_index = value(&mut args, &flag)?,
            "--client-id" => cfg.client_id = Some(value(&mut args, &flag)?),
            "--heartbeat" => cfg.heartbeat_interval_secs = value(&mut args, &flag)?,
            "--poll" => cfg.poll_interval_secs = value(&mut args, &flag)?,
            "--exit-after-run" => cfg.exit_after_run = true,
            "--quiet" => cfg.verbose = false,
            "--task" => trainer.task = value(&mut args, &flag)?,
            "--samples" => trainer.n_samples = value(&mut args, &flag)?,
            "--lr" => trainer.lr = value(&mut args, &flag)?,
            "--steps" => trainer.steps = value(&mut args, &flag)?,
            "--train-delay" => trainer.delay_secs = value(&mut args, &flag)?,
            "--help" | "-h" => {
                return Err("see the doc comment of examples/quadratic_client.rs".into());
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    trainer.seed = cfg.client_index;
    Ok((cfg, trainer))
}

fn main() -> ExitCode {
    let (cfg, trainer_cfg) = match parse() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("flower_client: {e}");
            return ExitCode::from(2);
        }
    };
    let trainer = match trainer_cfg.build() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("flower_client: {e}");
            return ExitCode::from(2);
        }
    };
    let mut client = match FlowerClient::new(trainer, cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flower_client: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = client.shutdown_handle();
    if let Err(e) = ctrlc::set_handler(move || stop.shutdown()) {
        eprintln!("flower_client: cannot install the signal handler: {e}");
    }
    match client.run() {
        Ok(s) => {
            eprintln!("flower_client: done: {s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flower_client: {e}");
            ExitCode::FAILURE
        }
    }
}
