//! SmolLM2-135M-Instruct with LoRA in a federation of GSM8K (math) and MBPP (Python)
//! clients, each running GRPO with its own rewards: the base model's accuracy (round 0),
//! a short federation through `GrpoTrainer` and the experiment harness, and the accuracy
//! of the aggregated adapters.
//!
//! ```sh
//! export FEDMOA_SMOLLM2_GGUF="$(bash scripts/fetch-smollm2.sh)" FEDMOA_DATA_DIR=/path/to/data
//! cargo run --release --example smollm2_gsm8k -- --math-clients 2 --code-clients 1
//! ```
//!
//! Flags (all optional): `--math-clients N` GSM8K clients, `--code-clients N` MBPP
//! clients (0 without `python3`), `--rounds R`, `--steps S` local GRPO steps per round,
//! `--train N` training prompts per client, `--eval N` test prompts per client (client i
//! of a task gets its own slice of the GSM8K or MBPP test split), `--group G`
//! completions per prompt, `--prompts P` prompts per step, `--max-new T` tokens per
//! completion, `--rank r` LoRA rank, `--lr η`, `--arms fedmoa,fedavg`, `--seed s`,
//! `--name NAME` (outputs under `runs/NAME/`).
//!
//! Math clients score `math_accuracy` (the `#### <number>` answer) plus a length budget or
//! a reasoning-steps objective; MBPP clients score `python_tests` (sandboxed asserts) plus
//! a length budget. Prints a progress bar, the results table, the files written and a
//! final JSON line with the accuracy before and after and the seconds per GRPO step.

use std::error::Error;
use std::time::Instant;

use fedmoa::experiment::{Arm, Experiment, ExperimentConfig, results_table, write_outputs};
use fedmoa::llm::{ChatPrompting, LlamaFactory};
use fedmoa::quickstart::ProgressBoard;
use fedmoa_core::Prompt;
use fedmoa_grpo::burn::module::Module;
use fedmoa_grpo::burn::prelude::Device;
use fedmoa_grpo::gguf::GgufFile;
use fedmoa_grpo::{Dataset, GrpoTrainerConfig, Llama, LlmTokenizer, LoraConfig, Policy};
use fedmoa_rewards::ClientSpec;
use fedmoa_rewards::math::{Gsm8kSplit, load_gsm8k};
use fedmoa_rewards::mbpp::{MbppSplit, load_mbpp, mbpp_path};

/// A federation of SmolLM2-135M-Instruct LoRA clients on GSM8K and MBPP slices.
#[derive(Debug, clap::Parser)]
#[command(name = "smollm2_gsm8k")]
struct Args {
    /// GSM8K clients.
    #[arg(long, default_value_t = 2)]
    math_clients: usize,
    /// MBPP clients (0 without `python3`).
    #[arg(long, default_value_t = 1)]
    code_clients: usize,
    /// Federated rounds.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Local GRPO steps per round.
    #[arg(long, default_value_t = 1)]
    steps: u32,
    /// Training prompts per client.
    #[arg(long, default_value_t = 16)]
    train: usize,
    /// Test prompts per client (client i of a task gets its own slice of the test split).
    #[arg(long, default_value_t = 4)]
    eval: usize,
    /// Completions per prompt (G).
    #[arg(long, default_value_t = 8)]
    group: usize,
    /// Prompts per step.
    #[arg(long, default_value_t = 1)]
    prompts: usize,
    /// New tokens per completion at most.
    #[arg(long, default_value_t = 128)]
    max_new: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Arms, comma-separated (`fedmoa,fedavg`, …).
    #[arg(long, value_delimiter = ',', value_parser = parse_arm, default_value = "fedmoa")]
    arms: Vec<Arm>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run name: outputs go to `runs/<NAME>/`.
    #[arg(long, default_value = "smollm2")]
    name: String,
    /// Continue the run of the same name from its checkpoints (written after every round)
    /// after it was interrupted.
    #[arg(long)]
    resume: bool,
    /// The SmolLM2 GGUF file (`bash scripts/fetch-smollm2.sh` prints its path).
    #[arg(long, env = "FEDMOA_SMOLLM2_GGUF")]
    gguf: std::path::PathBuf,
}

fn parse_arm(name: &str) -> Result<Arm, String> {
    Arm::parse(name).map_err(|e| e.to_string())
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let a: Args = clap::Parser::parse();
    if a.math_clients + a.code_clients == 0 || a.eval == 0 || a.train == 0 {
        return Err("need at least one client, --train ≥ 1 and --eval ≥ 1".into());
    }
    Ok(a)
}

/// A client spec written as the TOML a user would put in a scenario file.
fn spec(toml: &str) -> Result<ClientSpec, Box<dyn Error>> {
    Ok(ClientSpec::from_toml_str(toml)?)
}

/// GSM8K client `i`: `math_accuracy` plus a length budget (even `i`) or at least two
/// reasoning steps (odd `i`).
fn math_spec(i: usize, max_new: usize) -> Result<ClientSpec, Box<dyn Error>> {
    let aux = if i.is_multiple_of(2) {
        format!(
            "{{ type = \"length\", weight = 0.3, max = {max_new}, mode = \"soft\", cache = {} }}",
            max_new / 2
        )
    } else {
        "{ type = \"reasoning\", weight = 0.3, min_steps = 2 }".to_string()
    };
    spec(&format!(
        "id = \"gsm8k-{i}\"\ntask = \"math\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"gsm8k\", split = \"train\" }} }}]\n\
         rewards = [{{ type = \"math_accuracy\", weight = 0.7 }}, {aux}]\n"
    ))
}

/// MBPP client `i`: `python_tests` (sandboxed) plus a soft length budget.
fn code_spec(i: usize, max_new: usize) -> Result<ClientSpec, Box<dyn Error>> {
    spec(&format!(
        "id = \"mbpp-{i}\"\ntask = \"code\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"mbpp\", split = \"train\" }} }}]\n\
         rewards = [{{ type = \"python_tests\", weight = 0.7 }}, \
         {{ type = \"length\", weight = 0.3, max = {max_new}, mode = \"soft\", cache = {} }}]\n",
        max_new / 2
    ))
}

/// Client `i` of `n` takes every n-th item (disjoint slices), `take` of them.
fn slice<T: Clone>(items: &[T], i: usize, n: usize, take: usize) -> Vec<T> {
    items
        .iter()
        .skip(i)
        .step_by(n)
        .take(take)
        .cloned()
        .collect()
}

/// Specs and data: GSM8K train/test for math clients, MBPP train/validation/test for code.
fn clients(args: &Args) -> Result<(Vec<ClientSpec>, Vec<Dataset>), Box<dyn Error>> {
    let dir = fedmoa_rewards::math::gsm8k::data_dir()
        .ok_or("set FEDMOA_DATA_DIR (the folder holding gsm8k/ and mbpp/)")?;
    let n_valid = args.eval.div_ceil(2);
    let mut specs = Vec::new();
    let mut data = Vec::new();
    if args.math_clients > 0 {
        let train = load_gsm8k(&Gsm8kSplit::Train.path_in(&dir))?;
        let test = load_gsm8k(&Gsm8kSplit::Test.path_in(&dir))?;
        let prompts = |items: Vec<_>, tag: &str, i: usize| -> Vec<Prompt> {
            items
                .iter()
                .enumerate()
                .map(|(k, p): (usize, &fedmoa_rewards::math::Gsm8kProblem)| {
                    p.to_prompt(format!("gsm8k-{tag}-{i}-{k}"))
                })
                .collect()
        };
        let n = args.math_clients;
        for i in 0..n {
            let pool = slice(&train, i, n, args.train + n_valid);
            let (valid, rest) = pool.split_at(n_valid.min(pool.len()));
            specs.push(math_spec(i, args.max_new)?);
            data.push(Dataset {
                train: prompts(rest.to_vec(), "train", i),
                validation: prompts(valid.to_vec(), "valid", i),
                test: prompts(slice(&test, i, n, args.eval), "test", i),
            });
        }
    }
    if args.code_clients > 0 {
        let path = mbpp_path(&dir);
        let split = |s: MbppSplit| load_mbpp(&path, Some(s));
        let (train, valid, test) = (
            split(MbppSplit::Train)?,
            split(MbppSplit::Validation)?,
            split(MbppSplit::Test)?,
        );
        let n = args.code_clients;
        for i in 0..n {
            let prompts = |items: &[_], take: usize| -> Vec<Prompt> {
                slice(items, i, n, take)
                    .iter()
                    .map(|p: &fedmoa_rewards::mbpp::MbppProblem| {
                        p.to_prompt(format!("mbpp-{}", p.task_id), false)
                    })
                    .collect()
            };
            specs.push(code_spec(i, args.max_new)?);
            data.push(Dataset {
                train: prompts(&train, args.train),
                validation: prompts(&valid, n_valid),
                test: prompts(&test, args.eval),
            });
        }
    }
    Ok((specs, data))
}

fn trainer_config(args: &Args) -> GrpoTrainerConfig {
    let mut c = GrpoTrainerConfig {
        local_steps: args.steps,
        eval_batch_size: 8,
        ..GrpoTrainerConfig::default()
    };
    c.grpo.num_generations = args.group;
    c.grpo.prompts_per_step = args.prompts;
    c.grpo.max_completion_length = args.max_new;
    c.grpo.learning_rate = args.lr;
    c.grpo.warmup_steps = 0;
    c.grpo.temperature = 0.8;
    // No KL reference: saves a forward pass and a model copy per client (TRL's default).
    c.grpo.beta = 0.0;
    c
}

/// `step_secs` of every `client_step` line of a run's `metrics.jsonl`.
fn step_times(path: &std::path::Path) -> Result<Vec<f64>, Box<dyn Error>> {
    let mut secs = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if v["kind"] == "client_step" {
            secs.extend(v["step_secs"].as_f64());
        }
    }
    Ok(secs)
}

fn main() -> std::process::ExitCode {
    fedmoa::cli::exit_code(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let gguf = &args.gguf;
    let (specs, data) = clients(&args)?;

    let t0 = Instant::now();
    let file = GgufFile::open(gguf)?;
    let tokenizer = LlmTokenizer::from_gguf(&file)?;
    let base = Llama::from_gguf(&file, Some(1024), &Device::flex())?;
    drop(file);
    let lora = LoraConfig {
        rank: args.rank,
        alpha: 2.0 * args.rank as f64,
        seed: args.seed,
        ..LoraConfig::default()
    };
    let n_base = base.num_params();
    let policy = base.with_lora(&lora)?;
    let adapters = policy.to_param_set()?;
    println!(
        "loaded SmolLM2 ({n_base} parameters) in {:.1} s; LoRA r={}: {} adapter tensors, {} values exchanged",
        t0.elapsed().as_secs_f64(),
        args.rank,
        adapters.len(),
        adapters.numel()
    );

    let mut experiment = ExperimentConfig {
        name: args.name.clone(),
        arms: args.arms.clone(),
        ..ExperimentConfig::default()
    };
    experiment.federation.rounds = args.rounds;
    experiment.federation.local_steps = Some(args.steps);
    experiment.federation.seed = args.seed;
    experiment.resume = args.resume;
    // One client at a time: a GRPO step already uses every core.
    experiment.federation.max_parallel = 1;
    let board = ProgressBoard::new();
    let factory = LlamaFactory::new(
        policy,
        tokenizer,
        ChatPrompting::default(),
        trainer_config(&args),
        data,
    )?
    .with_step_observer(board.step_observer());
    let started = Instant::now();
    let runs = Experiment::new(experiment.clone(), specs, &factory)?.run(board.as_ref())?;
    drop(board);
    println!("\n{}", results_table(&runs));
    for f in write_outputs(&experiment, &runs)? {
        println!("wrote {}", f.display());
    }
    // The final global adapters of each arm (first seed), as PEFT adapters.
    for run in runs.iter().filter(|r| r.seed_index == 0) {
        let dir = experiment
            .run_dir()
            .join(format!("peft_adapter_{}", run.arm.name()));
        factory.save_peft_adapter(
            &run.final_params,
            &dir,
            Some("HuggingFaceTB/SmolLM2-135M-Instruct"),
        )?;
        println!("wrote {} (PEFT LoRA adapter)", dir.display());
    }
    let mut step_secs = Vec::new();
    for run in &runs {
        step_secs.extend(step_times(&run.metrics_path)?);
    }
    let summary: serde_json::Map<String, serde_json::Value> = runs
        .iter()
        .map(|r| {
            (
                r.arm.name().to_string(),
                serde_json::json!({
                    "acc_before": r.result.initial_global_acc,
                    "acc_after": r.result.global_acc,
                    "acc_after_by_task": r.result.global_acc_by_task,
                }),
            )
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "arms": summary,
            "grpo_steps": step_secs.len(),
            "secs_per_grpo_step": step_secs.iter().sum::<f64>() / step_secs.len().max(1) as f64,
            "secs": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
