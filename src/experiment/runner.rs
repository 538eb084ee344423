//! [`Experiment`]: every arm × seed on the same clients, summarised.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use fedmoa_agg::AggregatorRegistry;
use fedmoa_core::federation::{Client, Federation, InProcessClient, RoundSummary};
use fedmoa_core::seeds::SeedStream;
use fedmoa_core::weighting::{WeighterContext, WeighterRegistry};
use fedmoa_core::{ClientId, ConfigError, ParamSet, TaskTag};
use fedmoa_rewards::ClientSpec;

use super::evaluation::evaluate_global;
use super::resume;
use super::summary::ArmResult;
use super::{
    ArmConfig, ArmStart, ClientFactory, ClientRequest, ExperimentConfig, ExperimentError,
    ExperimentObserver,
};

/// One arm run with one seed: its results and each client's weights after every round.
#[derive(Debug, Clone)]
pub struct ArmRun {
    /// The arm's name.
    pub arm: String,
    /// Seed index (0-based).
    pub seed_index: u32,
    /// What it reached.
    pub result: ArmResult,
    /// `weights[client][i]`: the client's initial objective weights (`i = 0`), then its
    /// weights after each round it ran.
    pub weights: BTreeMap<ClientId, Vec<Vec<f32>>>,
    /// Each client's objective ids, in weight order.
    pub objective_names: BTreeMap<ClientId, Vec<String>>,
    /// Its JSONL metrics file.
    pub metrics_path: PathBuf,
    /// The global model's trained parameters after the last round (for a LoRA policy, the
    /// adapters: see `fedmoa::llm::LlamaFactory::save_peft_adapter`).
    pub final_params: ParamSet,
}

/// An [`ArmRun`] and the evaluation of its initial parameters.
struct ArmOutcome {
    run: ArmRun,
    initial_eval: BTreeMap<String, f64>,
}

/// Runs the configured arms over the configured seeds on `specs`' clients.
pub struct Experiment<'a> {
    config: ExperimentConfig,
    specs: Vec<ClientSpec>,
    factory: &'a dyn ClientFactory,
    arms: Vec<ArmConfig>,
    aggregators: AggregatorRegistry,
    weighters: WeighterRegistry,
}

impl<'a> Experiment<'a> {
    /// Validates the config and the client specs, with the built-in aggregators and
    /// weighters.
    ///
    /// # Errors
    /// [`ExperimentError::Config`] naming the bad field.
    pub fn new(
        config: ExperimentConfig,
        specs: Vec<ClientSpec>,
        factory: &'a dyn ClientFactory,
    ) -> Result<Self, ExperimentError> {
        Self::with_registries(
            config,
            specs,
            factory,
            AggregatorRegistry::with_builtins(),
            WeighterRegistry::with_builtins(),
        )
    }

    /// [`Experiment::new`] whose arms may name the user's own aggregators and weighters,
    /// registered in `aggregators` and `weighters`.
    ///
    /// # Errors
    /// [`ExperimentError::Config`] naming the bad field (`arms[1].aggregator.type`, …):
    /// every arm's aggregator, and its weighter for every client, is built once here.
    pub fn with_registries(
        config: ExperimentConfig,
        specs: Vec<ClientSpec>,
        factory: &'a dyn ClientFactory,
        aggregators: AggregatorRegistry,
        weighters: WeighterRegistry,
    ) -> Result<Self, ExperimentError> {
        config.validate()?;
        if specs.is_empty() {
            return Err(ConfigError::new("clients", "at least one client is needed").into());
        }
        let arms = resolve_arms(&config, &specs, &aggregators, &weighters)?;
        Ok(Self {
            config,
            specs,
            factory,
            arms,
            aggregators,
            weighters,
        })
    }

    /// The config.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// Runs every seed × arm; `progress` is told when each arm starts and ends and gets one
    /// line per round (a plain `&|line: &str| …` closure will do).
    ///
    /// Each arm × seed checkpoints after every round into `<run_dir>/checkpoints/`; with
    /// [`ExperimentConfig::resume`] the run continues from there.
    ///
    /// # Errors
    /// [`ExperimentError`] when a client cannot be built, the federation fails, or the
    /// checkpoints to resume from were written with other settings.
    pub fn run(&self, progress: &dyn ExperimentObserver) -> Result<Vec<ArmRun>, ExperimentError> {
        let dir = resume::checkpoint_dir(&self.config);
        let fingerprint =
            resume::fingerprint(&self.config, &self.specs, self.factory.fingerprint())?;
        let resuming = self.config.resume && resume::can_resume(&dir, &fingerprint)?;
        if self.config.resume && !resuming {
            progress.line(&format!(
                "nothing to resume in {}: starting afresh",
                dir.display()
            ));
        }
        if !resuming {
            resume::start_fresh(&dir, &fingerprint)?;
        }
        let mut runs = Vec::new();
        for seed_index in 0..self.config.seeds {
            // Every arm starts from the same parameters and evaluates them on the same
            // test splits: the first arm's initial evaluation serves them all.
            let mut initial_eval = None;
            for arm in &self.arms {
                let run = self.run_arm(arm, seed_index, resuming, initial_eval.take(), progress)?;
                initial_eval = Some(run.initial_eval);
                runs.push(run.run);
            }
        }
        Ok(runs)
    }

    fn run_arm(
        &self,
        arm: &ArmConfig,
        seed_index: u32,
        resuming: bool,
        initial_eval: Option<BTreeMap<String, f64>>,
        progress: &dyn ExperimentObserver,
    ) -> Result<ArmOutcome, ExperimentError> {
        let start = Instant::now();
        let checkpoint = resume::checkpoint_path(&self.config, &arm.name, seed_index);
        let resuming = resuming && checkpoint.exists();
        resume::check_arm(&self.config, arm, resuming)?;
        let seed = SeedStream::Repeat(seed_index).seed(self.config.federation.seed);
        let initial = self.factory.initial_params(seed)?;
        let mut clients: Vec<(Arc<dyn Client>, TaskTag)> = Vec::with_capacity(self.specs.len());
        let mut weights: BTreeMap<ClientId, Vec<Vec<f32>>> = BTreeMap::new();
        let mut objective_names = BTreeMap::new();
        for (i, spec) in self.specs.iter().enumerate() {
            let weighter = self
                .weighters
                .build(&arm.weighter, &client_context(spec))
                .map_err(|e| e.within(&format!("clients[{i}].weighter")))?;
            weights.insert(spec.id.clone(), vec![weighter.weights().to_vec()]);
            objective_names.insert(
                spec.id.clone(),
                spec.rewards
                    .iter()
                    .map(|r| objective_name(&r.plugin))
                    .collect(),
            );
            let trainer = self.factory.trainer(ClientRequest {
                index: i,
                spec,
                weighter,
                seed,
            })?;
            let client: Arc<dyn Client> = Arc::new(InProcessClient::new(spec.id.clone(), trainer));
            clients.push((client, spec.task.clone()));
        }
        let aggregator = self
            .aggregators
            .build(&arm.aggregator)
            .map_err(|e| e.within("aggregator"))?;
        let mut fed_config = self.config.federation.clone();
        fed_config.seed = seed;
        let metrics_path = self
            .config
            .run_dir()
            .join("metrics")
            .join(format!("{}-seed{seed_index}.jsonl", arm.name));
        if !resuming && metrics_path.exists() {
            std::fs::remove_file(&metrics_path)
                .map_err(|e| ExperimentError::io(&metrics_path, e))?;
        }
        let eval_clients = clients.clone();
        let rounds = fed_config.rounds;
        let label = format!("{} seed {seed_index}", arm.name);
        let line_label = label.clone();
        let progress_line = move |r: &RoundSummary| {
            let acc = r.eval.get("global_acc").copied().unwrap_or(f64::NAN);
            let dropped = if r.dropped.is_empty() {
                String::new()
            } else {
                format!(", {} dropped", r.dropped.len())
            };
            format!(
                "[{line_label}] round {}/{rounds}: global acc {acc:.3}, client acc {:.3}, {} replies{dropped}, {:.1} s",
                r.round,
                r.mean_client_accuracy.unwrap_or(f32::NAN),
                r.replied.len(),
                r.secs
            )
        };
        progress.line(&format!(
            "[{label}] {} clients, {rounds} rounds",
            clients.len()
        ));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut federation = Federation::new(
            fed_config,
            clients.iter().map(|(c, _)| Arc::clone(c)).collect(),
            aggregator,
            initial,
        )?
        .with_metrics(&metrics_path)
        .with_checkpoint(&checkpoint)
        .with_evaluator(move |_round: u32, params: &fedmoa_core::ParamSet| {
            evaluate_global(&eval_clients, params)
        })
        .on_round(move |r| {
            let _ = tx.send(progress_line(r));
        });
        if let Some(eval) = initial_eval {
            federation = federation.with_initial_eval(eval);
        }
        if resuming && federation.resume()? {
            progress.line(&format!(
                "[{label}] resumed from {} after round {}/{rounds}",
                checkpoint.display(),
                federation.round()
            ));
        }
        let restored_secs: f64 = federation.history().iter().map(|r| r.secs).sum();
        let initial_eval = federation.evaluate_initial()?;
        let initial_acc = initial_eval.get("global_acc").copied().unwrap_or(f64::NAN);
        let initial_by_task = accuracy_by_task(&initial_eval);
        let by_task: Vec<String> = initial_by_task
            .iter()
            .map(|(t, v)| format!("{t} {v:.3}"))
            .collect();
        progress.line(&format!(
            "[{label}] round 0/{rounds} (initial model): global acc {initial_acc:.3} ({})",
            by_task.join(", ")
        ));
        if federation.round() < rounds {
            progress.arm_started(&ArmStart {
                arm: &arm.name,
                seed_index,
                clients: clients.len(),
                rounds: rounds - federation.round(),
                local_steps: self.config.federation.local_steps,
            });
            while federation.round() < rounds {
                federation.run_round()?;
                for line in rx.try_iter() {
                    progress.line(&line);
                }
            }
            progress.arm_finished(&arm.name, seed_index);
        }
        let secs = restored_secs + start.elapsed().as_secs_f64();
        let mut result = summarise_arm(federation.history(), secs);
        result.initial_global_acc = initial_acc;
        result.initial_global_acc_by_task = initial_by_task;
        for r in federation.history() {
            for (id, w) in &r.client_weights {
                weights.entry(id.clone()).or_default().push(w.clone());
            }
        }
        Ok(ArmOutcome {
            run: ArmRun {
                arm: arm.name.clone(),
                seed_index,
                result,
                weights,
                objective_names,
                metrics_path,
                final_params: federation.params().clone(),
            },
            initial_eval,
        })
    }
}

/// The objective id a plugin config gives its reward: its `id` field, else its type.
fn objective_name(plugin: &fedmoa_rewards::PluginConfig) -> String {
    plugin
        .table()
        .get("id")
        .and_then(toml::Value::as_str)
        .unwrap_or(plugin.type_name())
        .to_string()
}

/// The `global_acc_<task>` entries of a global evaluation, keyed by task.
fn accuracy_by_task(eval: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    eval.iter()
        .filter_map(|(k, v)| k.strip_prefix("global_acc_").map(|t| (t.to_string(), *v)))
        .collect()
}

/// Each objective's global satisfaction after every round (NaN for a round without it).
fn satisfaction_curve(history: &[RoundSummary]) -> BTreeMap<String, Vec<f64>> {
    let objectives: std::collections::BTreeSet<&str> = history
        .iter()
        .flat_map(|r| r.eval.keys().filter_map(|k| k.strip_prefix("sat_")))
        .collect();
    objectives
        .into_iter()
        .map(|id| {
            let curve = history
                .iter()
                .map(|r| {
                    r.eval
                        .get(&format!("sat_{id}"))
                        .copied()
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (id.to_string(), curve)
        })
        .collect()
}

/// Every arm of `config` as data, each checked by building its aggregator, and its
/// weighter for every client in `specs`, from the registries.
///
/// # Errors
/// [`ExperimentError::Config`] naming the bad field (`arms[1].aggregator.type`, …).
pub fn resolve_arms(
    config: &ExperimentConfig,
    specs: &[ClientSpec],
    aggregators: &AggregatorRegistry,
    weighters: &WeighterRegistry,
) -> Result<Vec<ArmConfig>, ExperimentError> {
    let mut arms = Vec::with_capacity(config.arms.len());
    for (i, spec) in config.arms.iter().enumerate() {
        let within = |field: &str| format!("arms[{i}].{field}");
        let arm = spec.resolve(config.temperature, &config.hypergradient)?;
        aggregators
            .build(&arm.aggregator)
            .map_err(|e| e.within(&within("aggregator")))?;
        for client in specs {
            weighters
                .build(&arm.weighter, &client_context(client))
                .map_err(|e| e.within(&within("weighter")))?;
        }
        arms.push(arm);
    }
    Ok(arms)
}

/// The weighter context of a client: its configured objective weights.
fn client_context(spec: &ClientSpec) -> WeighterContext {
    let weights: Vec<f32> = spec.rewards.iter().map(|r| r.weight).collect();
    WeighterContext::new(&weights)
}

/// An arm's [`ArmResult`] from its round summaries (the last round's global evaluation,
/// each client's most recent reported accuracy).
pub fn summarise_arm(history: &[RoundSummary], secs: f64) -> ArmResult {
    let last_eval = history.last().map(|r| r.eval.clone()).unwrap_or_default();
    let get = |k: &str| last_eval.get(k).copied().unwrap_or(0.0);
    let mut latest_acc: BTreeMap<&ClientId, f32> = BTreeMap::new();
    for r in history {
        for (id, a) in &r.client_accuracy {
            latest_acc.insert(id, *a);
        }
    }
    let personalization = if latest_acc.is_empty() {
        0.0
    } else {
        latest_acc.values().map(|&a| f64::from(a)).sum::<f64>() / latest_acc.len() as f64
    };
    ArmResult {
        global_acc: get("global_acc"),
        initial_global_acc: f64::NAN,
        global_acc_by_task: accuracy_by_task(&last_eval),
        initial_global_acc_by_task: BTreeMap::new(),
        personalization,
        satisfaction: last_eval
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("sat_").map(|t| (t.to_string(), *v)))
            .collect(),
        balance_min: get("balance_min"),
        hypervolume: get("hypervolume"),
        acc_curve: history
            .iter()
            .map(|r| r.eval.get("global_acc").copied().unwrap_or(f64::NAN))
            .collect(),
        satisfaction_curve: satisfaction_curve(history),
        secs,
    }
}
