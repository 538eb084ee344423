//! A fedmoa TinyLm GRPO client in a Flower federation (see `deploy/flower/README.md`).
//!
//! Every process builds the same heterogeneous scenario (`--math` math clients, then
//! `--code` code clients, from `--seed`) with the quickstart's factory
//! (`fedmoa::quickstart::TinyLmFactory`: the same data streams and one shared SFT warm
//! start of a tiny TinyLm, cached under `$FEDMOA_CACHE_DIR`, default `.cache/fedmoa`).
//! With `--quickstart` it builds the quickstart's own scenario instead: its six math
//! clients, its default TinyLm and fallible-teacher warm start (the same cache entry as
//! `cargo run --release --example quickstart`), and its trainer (10 local steps), so the
//! federation learns; the tiny default is for protocol tests.
//! Client `--client-index i` then trains scenario client `i` (its task, reward set and
//! data, with the `--weighter` it is given: FedAvg's `fixed`, FedMOA's `hypergradient`, or a
//! user-written one registered by name, like `primary_ramp` here) with
//! GRPO in every round the ServerApp sends it.
//!
//! ```text
//! # 1. the initial model, one NAME.npy per tensor, for the ServerApp's init="npy-dir:…"
//! cargo run --example flower_client -- --export-init /tmp/fedmoa-init
//! # 2. clients (a SuperLink must be listening)
//! cargo run --example flower_client -- --superlink http://127.0.0.1:8000 --client-index 0
//! cargo run --example flower_client -- --superlink http://127.0.0.1:8000 --client-index 2
//! ```
//!
//! Scenario and model: `--quickstart`, or `--math N` (2), `--code N` (2), `--seed N` (0),
//! `--train N` (48), `--validation N` (8); `--client-index I`
//! (0; also `--index`), `--weighter NAME|'{ type = …, … }'` (hypergradient), `--local-steps N`
//! (2, or 10 with `--quickstart`; the ServerApp's `local-steps` overrides it),
//! `--train-delay SECS` (sleep before each local training, for fault tests),
//! `--export-init DIR` (write the initial model and exit).
//! Flower: `--superlink URL`, `--root-certificates CA.pem` (with `https://`),
//! `--key-file node.pem`, `--no-self-register`, `--client-id NAME` (default: the
//! scenario's id, e.g. `math-0`), `--heartbeat SECS`, `--poll SECS`, `--exit-after-run`,
//! `--quiet`. SIGINT/SIGTERM leave the federation cleanly (deactivate + unregister).
//!
//! The initial model depends only on `--quickstart`, `--math`, `--code`, `--seed`, `--train`
//! and `--validation` (the warm start is trained on every client's warm-start pool), so all
//! clients and the exported init agree bit for bit. Each client logs the initial model's
//! accuracy on its validation split, the baseline of the ServerApp's evaluations.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fedmoa::core::weighting::WeighterContext;
use fedmoa::core::{
    ClientUpdate, EvalReport, LocalTrainer, ParamSet, PluginConfig, RoundPlan, Split, TrainError,
};
use fedmoa::experiment::{ClientFactory, ClientRequest, ExperimentConfig};
use fedmoa::flower::{FlowerClient, FlowerClientConfig};
use fedmoa::grpo::sft::{SftConfig, WarmStartConfig};
use fedmoa::grpo::tokenizer::TokenizerTrainConfig;
use fedmoa::grpo::{DeviceChoice, GrpoTrainerConfig, TinyLmConfig};
use fedmoa::plugins::Plugins;
use fedmoa::quickstart::{DataSizes, QuickstartConfig, TinyLmFactory};
use fedmoa::rewards::{RewardRegistry, Scenario, ScenarioDifficulty, TeacherConfig};
#[path = "shared/demo_plugins.rs"]
mod demo_plugins;
use demo_plugins::register_demo_plugins;

type BoxError = Box<dyn std::error::Error>;

/// A fedmoa TinyLm GRPO client of a Flower federation: it trains one client of a
/// heterogeneous scenario (its task, rewards and data) through Flower's Fleet API.
#[derive(Debug, clap::Parser)]
#[command(name = "flower_client")]
struct Args {
    /// The quickstart's scenario, model, warm start and trainer (six math clients), so
    /// that the federation learns; excludes the scenario and size options below.
    #[arg(
        long,
        conflicts_with_all = ["n_math", "n_code", "seed", "n_train", "n_validation"]
    )]
    quickstart: bool,
    /// Math clients in the scenario.
    #[arg(long = "math", default_value_t = 2)]
    n_math: usize,
    /// Code clients in the scenario (after the math ones).
    #[arg(long = "code", default_value_t = 2)]
    n_code: usize,
    /// Scenario seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The scenario client this process trains.
    #[arg(long, visible_alias = "index", default_value_t = 0)]
    client_index: u64,
    /// The objective weighter: a registered type name (`fixed` for the FedAvg arm's,
    /// `hypergradient` for FedMOA's, `primary_ramp` from `examples/shared/demo_plugins.rs`)
    /// or an inline TOML table such as `{ type = "hypergradient", beta_w = 0.5 }`; it
    /// starts from the scenario client's weights.
    #[arg(long, default_value = "hypergradient")]
    weighter: PluginConfig,
    /// Local GRPO steps per round (default 2, or the quickstart's 10 with `--quickstart`;
    /// the ServerApp's `local-steps` overrides it).
    #[arg(long)]
    local_steps: Option<u32>,
    /// Training prompts per client.
    #[arg(long = "train", default_value_t = 48)]
    n_train: usize,
    /// Validation prompts per client.
    #[arg(long = "validation", default_value_t = 8)]
    n_validation: usize,
    /// Seconds to sleep before each local training (for fault tests).
    #[arg(long = "train-delay", default_value_t = 0.0)]
    train_delay_secs: f64,
    /// Write the initial model to this directory and exit.
    #[arg(long)]
    export_init: Option<PathBuf>,
    /// The SuperLink's Fleet API address.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    superlink: String,
    /// CA certificate (PEM) for an `https://` SuperLink.
    #[arg(long)]
    root_certificates: Option<PathBuf>,
    /// The node's private key (PEM) for node authentication.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Do not register the node (it is registered beforehand).
    #[arg(long)]
    no_self_register: bool,
    /// Name in the reply's `fedmoa` record (default: the scenario's id, e.g. `math-0`).
    #[arg(long)]
    client_id: Option<String>,
    /// Heartbeat interval in seconds.
    #[arg(long = "heartbeat", default_value_t = 30.0)]
    heartbeat_secs: f64,
    /// Polling interval in seconds.
    #[arg(long = "poll", default_value_t = 1.0)]
    poll_secs: f64,
    /// Leave after the first run ends.
    #[arg(long)]
    exit_after_run: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// Command-line options.
struct Options {
    flower: FlowerClientConfig,
    client_id_given: bool,
    quickstart: bool,
    n_math: usize,
    n_code: usize,
    seed: u64,
    weighter: PluginConfig,
    local_steps: Option<u32>,
    n_train: usize,
    n_validation: usize,
    train_delay_secs: f64,
    export_init: Option<PathBuf>,
}

/// The options, checked.
fn options(args: Args) -> Result<Options, String> {
    if args.n_math + args.n_code == 0 {
        return Err("--math and --code: the scenario needs at least one client".into());
    }
    if args.local_steps == Some(0) {
        return Err("--local-steps must be positive".into());
    }
    if args.n_train == 0 || args.n_validation == 0 {
        return Err("--train and --validation must be positive".into());
    }
    if !(args.train_delay_secs.is_finite() && args.train_delay_secs >= 0.0) {
        return Err(format!(
            "--train-delay must be finite and ≥ 0, got {}",
            args.train_delay_secs
        ));
    }
    let flower = FlowerClientConfig {
        superlink: args.superlink,
        root_certificates: args.root_certificates,
        key_file: args.key_file,
        self_register: !args.no_self_register,
        heartbeat_interval_secs: args.heartbeat_secs,
        poll_interval_secs: args.poll_secs,
        client_index: args.client_index,
        client_id: args.client_id.clone(),
        exit_after_run: args.exit_after_run,
        verbose: !args.quiet,
        ..FlowerClientConfig::default()
    };
    Ok(Options {
        flower,
        client_id_given: args.client_id.is_some(),
        quickstart: args.quickstart,
        n_math: args.n_math,
        n_code: args.n_code,
        seed: args.seed,
        weighter: args.weighter,
        local_steps: args.local_steps,
        n_train: args.n_train,
        n_validation: args.n_validation,
        train_delay_secs: args.train_delay_secs,
        export_init: args.export_init,
    })
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

/// The quickstart's config for this scenario: the same client specs, data streams,
/// warm-start pool and trainer factory as `cargo run --example quickstart`, with the tiny
/// model, no test split (the ServerApp evaluates) and this client's trainer settings.
fn quickstart_config(o: &Options) -> QuickstartConfig {
    if o.quickstart {
        return learning_config(o.local_steps);
    }
    QuickstartConfig {
        n_math: o.n_math,
        n_code: o.n_code,
        scenario_seed: o.seed,
        difficulty: ScenarioDifficulty::default(),
        data: DataSizes {
            train: o.n_train,
            validation: o.n_validation,
            test: 0,
            warm_start: 4 * o.n_train,
        },
        client_label_noise: Vec::new(),
        warm_start: warm_start_config(),
        teacher: TeacherConfig::default(),
        trainer: trainer_config(o.local_steps.unwrap_or(2), o.n_validation),
        experiment: ExperimentConfig::default(),
    }
}

/// `QuickstartConfig::default()` without a test split (the ServerApp evaluates on the
/// clients' validation splits), with the quickstart's local steps unless `local_steps`.
fn learning_config(local_steps: Option<u32>) -> QuickstartConfig {
    let mut config = QuickstartConfig::default();
    config.data.test = 0;
    config.trainer.local_steps = local_steps
        .or(config.experiment.federation.local_steps)
        .unwrap_or(config.trainer.local_steps);
    config
}

/// The scenario and the quickstart's factory over the shared warm start (trained once,
/// then loaded from the cache): identical in every process.
fn build_factory(o: &Options) -> Result<(Scenario, TinyLmFactory), BoxError> {
    let config = quickstart_config(o);
    let scenario = config.scenario();
    scenario.validate(&RewardRegistry::with_builtins())?;
    let device = DeviceChoice::from_env_or(DeviceChoice::Flex)?.device()?;
    let factory = TinyLmFactory::new(config, &scenario.clients, scenario.seed, &device)?;
    let report = factory.warm_start_report();
    eprintln!("flower_client: warm start {report}");
    Ok((scenario, factory))
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
struct Delayed {
    inner: Box<dyn LocalTrainer>,
    delay: Duration,
}

impl LocalTrainer for Delayed {
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

/// Client `--client-index`'s trainer, built by the quickstart's factory with the
/// `--weighter` (built-in or one of the demo plugins) from the client's weights.
fn build_trainer(
    scenario: &Scenario,
    factory: &TinyLmFactory,
    o: &Options,
) -> Result<(Delayed, String), BoxError> {
    let n = scenario.clients.len();
    let index = usize::try_from(o.flower.client_index)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| {
            let ids: Vec<&str> = scenario.clients.iter().map(|c| c.id.as_str()).collect();
            format!(
                "--client-index {} is out of range: the scenario has {n} clients ({})",
                o.flower.client_index,
                ids.join(", ")
            )
        })?;
    let spec = &scenario.clients[index];
    let initial: Vec<f32> = spec.rewards.iter().map(|r| r.weight).collect();
    let mut plugins = Plugins::with_builtins();
    register_demo_plugins(&mut plugins)?;
    let weighter = plugins
        .weighters
        .build(&o.weighter, &WeighterContext::new(&initial))
        .map_err(|e| format!("--weighter: {e}"))?;
    let trainer = factory.trainer(ClientRequest {
        index,
        spec,
        weighter,
        seed: o.seed,
    })?;
    let delayed = Delayed {
        inner: trainer,
        delay: Duration::from_secs_f64(o.train_delay_secs),
    };
    Ok((delayed, spec.id.to_string()))
}

fn run(mut o: Options) -> Result<(), BoxError> {
    let (scenario, factory) = build_factory(&o)?;
    let init = factory.initial_params(o.seed)?;
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
    let (mut trainer, id) = build_trainer(&scenario, &factory, &o)?;
    if !o.client_id_given {
        o.flower.client_id = Some(id.clone());
    }
    let initial = trainer.evaluate(&init, Split::Validation)?;
    eprintln!(
        "flower_client: {id} initial model accuracy {:.4} on its validation split ({} prompts)",
        initial.accuracy, initial.n_examples
    );
    eprintln!(
        "flower_client: {id} ({} weighter), TinyLm with {} parameters",
        o.weighter.type_name(),
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
    let options = match options(clap::Parser::parse()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    fedmoa::cli::exit_code(run(options))
}
