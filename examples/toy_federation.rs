//! A federation of in-process toy clients on a quadratic problem, aggregated with FedMOA's
//! task- and accuracy-aware rule, checkpointed every round and resumed half-way.
//!
//! Run: `cargo run --release --example toy_federation [-- --rounds 20 --stop-after 10]`.
//! Prints one progress line per round and a final JSON summary line
//! `{"rounds":..,"final_loss":..,"aggregator":".."}`.
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use fedmoa::agg::AggregatorConfig;
use fedmoa::core::federation::{Client, Federation, FederationConfig, InProcessClient};
use fedmoa::core::{
    ClientUpdate, EvalReport, LocalTrainer, ParamSet, RoundPlan, Split, TrainError,
};

/// Client with private target `c`: loss ½‖θ − c‖², a few gradient steps per round.
struct Quadratic {
    target: Vec<f32>,
    task: &'static str,
}

impl Quadratic {
    fn loss(&self, p: &ParamSet) -> Result<f32, TrainError> {
        let theta = p
            .get("theta")
            .ok_or(TrainError::msg("missing tensor theta"))?
            .data();
        Ok(0.5
            * theta
                .iter()
                .zip(&self.target)
                .map(|(t, c)| (t - c).powi(2))
                .sum::<f32>())
    }
}

impl LocalTrainer for Quadratic {
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        let mut local = global.clone();
        let theta = local
            .get_mut("theta")
            .ok_or(TrainError::msg("missing tensor theta"))?;
        for _ in 0..plan.local_steps.unwrap_or(5) {
            theta
                .data_mut()
                .iter_mut()
                .zip(&self.target)
                .for_each(|(t, c)| *t -= 0.1 * (*t - c));
        }
        let accuracy = (-self.loss(&local)?).exp(); // in [0, 1]: 1 at the client's optimum
        Ok(ClientUpdate::new(
            "",
            self.task,
            10,
            local.sub(global)?,
            accuracy,
        ))
    }
    fn evaluate(&mut self, p: &ParamSet, _: Split) -> Result<EvalReport, TrainError> {
        Ok(EvalReport {
            accuracy: (-self.loss(p)?).exp(),
            n_examples: 1,
            ..Default::default()
        })
    }
}

/// Six quadratic toy clients federated with the task- and accuracy-aware aggregator; the
/// first process stops part-way and a second one resumes from the checkpoint.
#[derive(Debug, Parser)]
#[command(name = "toy_federation")]
struct Args {
    /// Federated rounds in all.
    #[arg(long, default_value_t = 20)]
    rounds: u32,
    /// The round after which the first process stops (the second resumes from there).
    #[arg(long, default_value_t = 10)]
    stop_after: u32,
}

fn build(
    checkpoint: &std::path::Path,
    rounds: u32,
) -> Result<Federation, Box<dyn std::error::Error>> {
    let clients: Vec<Arc<dyn Client>> = (0..6)
        .map(|i| {
            let task = if i < 4 { "math" } else { "code" };
            let trainer = Quadratic {
                target: vec![i as f32 * 0.2, 1.0 - i as f32 * 0.1],
                task,
            };
            Arc::new(InProcessClient::new(
                format!("{task}-{i}"),
                Box::new(trainer),
            )) as Arc<dyn Client>
        })
        .collect();
    let aggregator: AggregatorConfig =
        toml::from_str("type = \"task_accuracy\"\ntemperature = 0.1")?;
    let config = FederationConfig {
        rounds,
        fraction: 0.5,
        min_clients: 2,
        seed: 7,
        ..Default::default()
    };
    let init = ParamSet::new().with("theta", vec![2], vec![0.0, 0.0])?;
    Ok(Federation::new(config, clients, aggregator.build()?, init)?
        .with_checkpoint(checkpoint)
        .on_round(|r| {
            println!(
                "round {:>2}: {} replies, mean client accuracy {:.4}",
                r.round,
                r.replied.len(),
                r.mean_client_accuracy.unwrap_or(0.0)
            )
        }))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("fedmoa-toy-{}", std::process::id()));
    let checkpoint = dir.join("checkpoint.bin");
    build(&checkpoint, args.rounds)?.run_until(args.stop_after)?; // first process stops
    let mut resumed = build(&checkpoint, args.rounds)?; // a fresh process would do this
    println!(
        "resumed from round {}",
        if resumed.resume()? {
            resumed.round()
        } else {
            0
        }
    );
    resumed.run()?;
    let mut total = 0.0;
    for i in 0..6 {
        total += Quadratic {
            target: vec![i as f32 * 0.2, 1.0 - i as f32 * 0.1],
            task: "",
        }
        .loss(resumed.params())?;
    }
    std::fs::remove_dir_all(&dir)?;
    let summary = serde_json::json!({"rounds": resumed.round(), "final_loss": total / 6.0, "aggregator": resumed.aggregator().name()});
    println!("{summary}");
    Ok(())
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(&Args::parse()))
}
