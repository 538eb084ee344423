//! A fedmoa TinyLm GRPO client in a Flower federation (see `deploy/flower/README.md`).
//!
//! Every process builds the same heterogeneous scenario (`--math` math clients, then
//! `--code` code clients, from `--seed`), the data of all its clients, and one shared SFT
//! warm start of a tiny TinyLm (cached under `$FEDMOA_CACHE_DIR`, default
//! `.cache/fedmoa`). Client `--client-index i` then trains scenario client `i` (its task,
//! reward set and data) with GRPO in every round the ServerApp sends it.
//!
//! ```text
//! # 1. the initial model, one NAME.npy per tensor, for the ServerApp's init="npy-dir:…"
//! cargo run --example flower_client -- --export-init /tmp/fedmoa-init
//! # 2. clients (a SuperLink must be listening)
//! cargo run --example flower_client -- --superlink http://127.0.0.1:8000 --client-index 0
//! cargo run --example flower_client -- --superlink http://127.0.0.1:8000 --client-index 2
//! ```
//!
//! Scenario and model: `--math N` (2), `--code N` (2), `--seed N` (0), `--client-index I`
//! (0; also `--index`), `--weighter fixed|hypergradient` (hypergradient), `--local-steps N`
//! (2; the ServerApp's `local-steps` overrides it), `--train N` (48), `--validation N` (8),
//! `--train-delay SECS` (sleep before each local training, for fault tests),
//! `--export-init DIR` (write the initial model and exit).
//! Flower: `--superlink URL`, `--root-certificates CA.pem` (with `https://`),
//! `--key-file node.pem`, `--no-self-register`, `--client-id NAME` (default: the
//! scenario's id, e.g. `math-0`), `--heartbeat SECS`, `--poll SECS`, `--exit-after-run`,
//! `--quiet`. SIGINT/SIGTERM leave the federation cleanly (deactivate + unregister).
//!
//! The initial model depends only on `--math`, `--code`, `--seed`, `--train` and
//! `--validation` (the warm start is trained on every client's warm-start pool), so all
//! clients and the exported init agree bit for bit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fedmoa::core::federation::derive_seed;
use fedmoa::core::weighting::{FixedConfig, HypergradientConfig, WeighterConfig};
use fedmoa::core::{
    ClientUpdate, EvalReport, LocalTrainer, ParamSet, Prompt, RewardFn, RoundPlan, Split,
    TrainError,
};
use fedmoa::flower::{FlowerClient, FlowerClientConfig};
use fedmoa::grpo::sft::{SftConfig, WarmStartConfig, load_or_train};
use fedmoa::grpo::tokenizer::TokenizerTrainConfig;
use fedmoa::grpo::{
    Dataset, DeviceChoice, GrpoTrainer, GrpoTrainerConfig, Policy, TaskTokenizer, TinyLm,
    TinyLmConfig,
};
use fedmoa::rewards::{RewardRegistry, Scenario};

type BoxError = Box<dyn std::error::Error>;

/// Which objective weighter the client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weighter {
    /// The scenario's initial weights, fixed.
    Fixed,
    /// FedMOA's online hypergradient weighting from the scenario's initial weights.
    Hypergradient,
}

/// Command-line options.
struct Options {
    flower: FlowerClientConfig,
    client_id_given: bool,
    n_math: usize,
    n_code: usize,
    seed: u64,
    weighter: Weighter,
    local_steps: u32,
    n_train: usize,
    n_validation: usize,
    train_delay_secs: f64,
    export_init: Option<PathBuf>,
}

fn value<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
) -> Result<T, String> {
    let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: cannot parse {v:?}"))
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        flower: FlowerClientConfig::default(),
        client_id_given: false,
        n_math: 2,
        n_code: 2,
        seed: 0,
        weighter: Weighter::Hypergradient,
        local_steps: 2,
        n_train: 48,
        n_validation: 8,
        train_delay_secs: 0.0,
        export_init: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let cfg = &mut o.flower;
        match flag.as_str() {
            "--superlink" => cfg.superlink = value(&mut args, &flag)?,
            "--root-certificates" => {
                cfg.root_certificates = Some(value::<String>(&mut args, &flag)?.into())
            }
            "--key-file" => cfg.key_file = Some(value::<String>(&mut args, &flag)?.into()),
            "--no-self-register" => cfg.self_register = false,
            "--client-index" | "--index" => cfg.client_index = value(&mut args, &flag)?,
            "--client-id" => {
                cfg.client_id = Some(value(&mut args, &flag)?);
                o.client_id_given = true;
            }
            "--heartbeat" => cfg.heartbeat_interval_secs = value(&mut args, &flag)?,
            "--poll" => cfg.poll_interval_secs = value(&mut args, &flag)?,
            "--exit-after-run" => cfg.exit_after_run = true,
            "--quiet" => cfg.verbose = false,
            "--math" => o.n_math = value(&mut args, &flag)?,
            "--code" => o.n_code = value(&mut args, &flag)?,
            "--seed" => o.seed = value(&mut args, &flag)?,
            "--weighter" => {
                o.weighter = match value::<String>(&mut args, &flag)?.as_str() {
                    "fixed" => Weighter::Fixed,
                    "hypergradient" => Weighter::Hypergradient,
                    other => {
                        return Err(format!(
                            "--weighter: expected fixed or hypergradient, got {other:?}"
                        ));
                    }
                }
            }
            "--local-steps" => o.local_steps = value(&mut args, &flag)?,
            "--train" => o.n_train = value(&mut args, &flag)?,
            "--validation" => o.n_validation = value(&mut args, &flag)?,
            "--train-delay" => o.train_delay_secs = value(&mut args, &flag)?,
            "--export-init" => o.export_init = Some(value::<String>(&mut args, &flag)?.into()),
            "--help" | "-h" => {
                return Err("see the doc comment of examples/flower_client.rs".into());
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.n_math + o.n_code == 0 {
        return Err("--math and --code: the scenario needs at least one client".into());
    }
    if o.n_train == 0 || o.n_validation == 0 {
        return Err("--train and --validation must be positive".into());
    }
    if !(o.train_delay_secs.is_finite() && o.train_delay_secs >= 0.0) {
        return Err(format!(
            "--train-delay must be finite and ≥ 0, got {}",
            o.train_delay_secs
        ));
    }
    Ok(o)
}

/// The tiny warm start: one decoder block of width 32, so a GRPO round takes seconds on
/// a laptop core and a round moves ≈ 4 × (parameter count) bytes each way.
fn warm_start_config() -> WarmStartConfig {
    WarmStartConfig {
        model: TinyLmConfig {
            d_model: 32,
            n_layers: 1,
            n_heads: 2,
            n_kv_heads: 1,
            d_hidden: 64,
            max_seq_len: 160,
            ..TinyLmConfig::default()
        },
        tokenizer: TokenizerTrainConfig {
            vocab_size: 320,
            ..TokenizerTrainConfig::default()
        },
        sft: SftConfig {
            epochs: 1,
            batch_size: 16,
            ..SftConfig::default()
        },
    }
}

/// Short GRPO steps: 2 prompts × 4 completions of at most 24 tokens.
fn trainer_config(local_steps: u32, n_validation: usize) -> GrpoTrainerConfig {
    let mut config = GrpoTrainerConfig {
        local_steps,
        max_eval_prompts: Some(n_validation),
        ..GrpoTrainerConfig::default()
    };
    config.grpo.num_generations = 4;
    config.grpo.prompts_per_step = 2;
    config.grpo.max_completion_length = 24;
    config
}

/// The scenario's data and the shared warm start: identical in every process.
struct Federation {
    scenario: Scenario,
    registry: RewardRegistry,
    data: Vec<Dataset>,
    policy: TinyLm,
    tokenizer: TaskTokenizer,
}

fn build_federation(o: &Options) -> Result<Federation, BoxError> {
    let scenario = Scenario::heterogeneous(o.n_math, o.n_code, o.seed);
    let registry = RewardRegistry::with_builtins();
    scenario.validate(&registry)?;
    let mut data = Vec::with_capacity(scenario.clients.len());
    let mut sft_pools = Vec::with_capacity(scenario.clients.len());
    for (i, spec) in scenario.clients.iter().enumerate() {
        let seed = scenario.client_seed(i);
        let ds = spec.dataset(derive_seed(seed, &[1]), o.n_train, o.n_validation, 0)?;
        data.push(ds);
        sft_pools.push(spec.dataset(derive_seed(seed, &[2]), 4 * o.n_train, 0, 0)?);
    }
    // The warm start never sees a prompt that some client validates on.
    let held_out: HashSet<&str> = data
        .iter()
        .flat_map(|d| d.validation.iter().map(|p| p.text.as_str()))
        .collect();
    let sft: Vec<Prompt> = sft_pools
        .into_iter()
        .flat_map(|pool| pool.train)
        .filter(|p| !held_out.contains(p.text.as_str()))
        .collect();
    let device = DeviceChoice::from_env_or(DeviceChoice::Flex)?.device()?;
    let (policy, tokenizer, report) = load_or_train(&sft, &warm_start_config(), &device)?;
    eprintln!(
        "flower_client: warm start {} ({} steps, loss {:.3} → {:.3}, {:.1} s)",
        if report.from_cache {
            "loaded from the cache"
        } else {
            "trained"
        },
        report.steps,
        report.first_loss,
        report.last_loss,
        report.secs
    );
    Ok(Federation {
        scenario,
        registry,
        data,
        policy,
        tokenizer,
    })
}

/// Writes `params` as one `NAME.npy` (float32) per tensor into `dir`.
fn export_init(params: &ParamSet, dir: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    for (name, tensor) in params.iter() {
        let bytes = fedmoa::flower::npy::encode_f32(tensor.shape(), tensor.data());
        std::fs::write(dir.join(format!("{name}.npy")), bytes)?;
    }
    Ok(())
}

/// A trainer that sleeps before each local training (to kill a client mid-round).
struct Delayed<T> {
    inner: T,
    delay: Duration,
}

impl<T: LocalTrainer> LocalTrainer for Delayed<T> {
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        std::thread::sleep(self.delay);
        self.inner.train(global, plan)
    }

    fn evaluate(&mut self, params: &ParamSet, split: Split) -> Result<EvalReport, TrainError> {
        self.inner.evaluate(params, split)
    }

    fn state(&self) -> Option<serde_json::Value> {
        self.inner.state()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.inner.load_state(state)
    }
}

fn build_trainer(
    fed: Federation,
    o: &Options,
) -> Result<(Delayed<GrpoTrainer<TinyLm>>, String), BoxError> {
    let Federation {
        scenario,
        registry,
        mut data,
        policy,
        tokenizer,
    } = fed;
    let n = scenario.clients.len();
    let index = usize::try_from(o.flower.client_index)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| {
            format!(
                "--client-index {} is out of range: the scenario has {n} clients \
                 ({} math, then {} code)",
                o.flower.client_index, o.n_math, o.n_code
            )
        })?;
    let spec = &scenario.clients[index];
    let rewards: Vec<Box<dyn RewardFn>> = spec
        .rewards
        .iter()
        .map(|r| registry.build(&r.plugin))
        .collect::<Result<_, _>>()?;
    let initial: Vec<f64> = spec.rewards.iter().map(|r| f64::from(r.weight)).collect();
    let weighter = match o.weighter {
        Weighter::Fixed => WeighterConfig::Fixed(FixedConfig {
            weights: Some(initial),
        }),
        Weighter::Hypergradient => WeighterConfig::Hypergradient(HypergradientConfig {
            initial_weights: Some(initial),
            ..HypergradientConfig::default()
        }),
    }
    .build(rewards.len())?;
    let mut config = trainer_config(o.local_steps, o.n_validation);
    config.grpo.seed = derive_seed(o.seed, &[index as u64, 3]);
    let trainer = GrpoTrainer::new(
        spec.id.clone(),
        spec.task.clone(),
        policy,
        tokenizer,
        data.swap_remove(index),
        rewards,
        weighter,
        config,
    )?;
    let delayed = Delayed {
        inner: trainer,
        delay: Duration::from_secs_f64(o.train_delay_secs),
    };
    Ok((delayed, spec.id.to_string()))
}

fn run(mut o: Options) -> Result<(), BoxError> {
    let fed = build_federation(&o)?;
    let init = fed.policy.to_param_set()?;
    if let Some(dir) = &o.export_init {
        export_init(&init, dir)?;
        eprintln!(
            "flower_client: wrote {} tensors, {} parameters ({} bytes as float32) to {}",
            init.len(),
            init.numel(),
            4 * init.numel(),
            dir.display()
        );
        return Ok(());
    }
    let (trainer, id) = build_trainer(fed, &o)?;
    if !o.client_id_given {
        o.flower.client_id = Some(id.clone());
    }
    eprintln!(
        "flower_client: {id} ({:?} weighter), TinyLm with {} parameters",
        o.weighter,
        init.numel()
    );
    let mut client = FlowerClient::new(trainer, o.flower)?;
    let stop = client.shutdown_handle();
    if let Err(e) = ctrlc::set_handler(move || stop.shutdown()) {
        eprintln!("flower_client: cannot install the signal handler: {e}");
    }
    let s = client.run()?;
    eprintln!("flower_client: done: {s}");
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("flower_client: {e}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flower_client: {e}");
            ExitCode::FAILURE
        }
    }
}
