//! The experiment harness on toy quadratic clients whose objectives pull towards different
//! targets: arms share seeds and data, outputs are written, hypergradient weights move.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use fedmoa::core::{
    ClientUpdate, EvalReport, GradientSignals, LocalTrainer, ObjectiveStats, ObjectiveWeighter,
    ParamSet, RoundPlan, Split, StepSignals, TrainError,
};
use fedmoa::experiment::{
    Arm, ClientFactory, ClientRequest, Experiment, ExperimentConfig, results_table, write_outputs,
};
use fedmoa::rewards::Scenario;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Objective k of client i is `exp(-½‖θ − t_k‖²)`; objective 0 is the primary.
struct Toy {
    targets: Vec<Vec<f32>>,
    task: String,
    weighter: Box<dyn ObjectiveWeighter>,
    previous: Option<Vec<Vec<f32>>>,
    step: u64,
    /// Counts evaluations of the initial parameters (θ = 0) on the test split.
    initial_evals: Arc<AtomicUsize>,
}

fn grads(theta: &[f32], targets: &[Vec<f32>]) -> Vec<Vec<f32>> {
    targets
        .iter()
        .map(|t| theta.iter().zip(t).map(|(a, b)| a - b).collect())
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum()
}

impl Toy {
    fn report(&self, theta: &[f32]) -> EvalReport {
        let objectives: Vec<ObjectiveStats> = self
            .targets
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let d2: f32 = theta.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum();
                let r = (-0.5 * d2).exp();
                ObjectiveStats {
                    id: format!("obj{k}").into(),
                    mean: r,
                    std: 0.0,
                    satisfaction: r,
                    errors: 0,
                }
            })
            .collect();
        EvalReport {
            accuracy: objectives[0].mean,
            n_examples: 1,
            objectives,
            ..EvalReport::default()
        }
    }
}

impl LocalTrainer for Toy {
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        let mut theta = global
            .get("theta")
            .ok_or(TrainError::msg("no theta"))?
            .data()
            .to_vec();
        for _ in 0..plan.local_steps.unwrap_or(4) {
            let g = grads(&theta, &self.targets);
            let gram = g
                .iter()
                .map(|a| g.iter().map(|b| dot(a, b)).collect())
                .collect();
            let (lagged, norms) = match &self.previous {
                Some(prev) => (
                    Some(prev.iter().map(|p| dot(&g[0], p)).collect()),
                    Some(prev.iter().map(|p| dot(p, p).sqrt()).collect()),
                ),
                None => (None, None),
            };
            let k = self.targets.len();
            let signals = StepSignals {
                step: self.step,
                reward_means: self
                    .report(&theta)
                    .objectives
                    .iter()
                    .map(|o| o.mean)
                    .collect(),
                saturation: vec![0.0; k],
                gradients: Some(GradientSignals {
                    gram,
                    lagged_primary_dots: lagged,
                    previous_norms: norms,
                }),
            };
            self.weighter
                .observe(&signals)
                .map_err(|e| TrainError::msg(e.to_string()))?;
            let w = self.weighter.weights().to_vec();
            for (j, t) in theta.iter_mut().enumerate() {
                *t -= 0.2 * (0..k).map(|kk| w[kk] * g[kk][j]).sum::<f32>();
            }
            self.previous = Some(g);
            self.step += 1;
        }
        let local = ParamSet::new().with("theta", vec![theta.len()], theta.clone())?;
        let report = self.report(&theta);
        let mut u = ClientUpdate::new(
            "",
            self.task.as_str(),
            8,
            local.sub(global)?,
            report.accuracy,
        );
        u.objectives = report.objectives;
        u.weights = self.weighter.weights().to_vec();
        Ok(u)
    }

    fn evaluate(&mut self, params: &ParamSet, split: Split) -> Result<EvalReport, TrainError> {
        let theta = params
            .get("theta")
            .ok_or(TrainError::msg("no theta"))?
            .data();
        if split == Split::Test && theta.iter().all(|&v| v == 0.0) {
            self.initial_evals.fetch_add(1, Ordering::SeqCst);
        }
        Ok(self.report(theta))
    }
}

#[derive(Default)]
struct ToyFactory {
    initial_evals: Arc<AtomicUsize>,
}

impl ClientFactory for ToyFactory {
    fn initial_params(&self, _seed: u64) -> Result<ParamSet, TrainError> {
        Ok(ParamSet::new().with("theta", vec![2], vec![0.0, 0.0])?)
    }

    fn trainer(&self, request: ClientRequest<'_>) -> Result<Box<dyn LocalTrainer>, TrainError> {
        let ClientRequest {
            index,
            spec,
            weighter,
            ..
        } = request;
        let i = index as f32;
        // Primary target near (1, i/4); auxiliaries pull in conflicting directions.
        let targets = (0..spec.rewards.len())
            .map(|k| {
                if k == 0 {
                    vec![1.0, 0.25 * i]
                } else {
                    vec![-1.0 + 0.1 * k as f32, -0.5 * i]
                }
            })
            .collect();
        Ok(Box::new(Toy {
            targets,
            task: spec.task.to_string(),
            weighter,
            previous: None,
            step: 0,
            initial_evals: Arc::clone(&self.initial_evals),
        }))
    }
}

fn config(dir: &std::path::Path, seeds: u32) -> ExperimentConfig {
    let mut c = ExperimentConfig {
        name: "toy".into(),
        out_dir: dir.to_path_buf(),
        arms: vec![
            Arm::Fedavg.into(),
            Arm::Fedmoa.into(),
            Arm::FedmoaNoTask.into(),
        ],
        seeds,
        ..ExperimentConfig::default()
    };
    c.federation.rounds = 4;
    c.federation.max_parallel = 2;
    c.hypergradient.beta_w = 0.5;
    c
}

#[test]
fn arms_run_on_identical_clients_and_write_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let specs = Scenario::heterogeneous(2, 2, 3).clients;
    let factory = ToyFactory::default();
    let exp = Experiment::new(config(dir.path(), 2), specs, &factory).unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let runs = exp
        .run(&|l: &str| lines.lock().unwrap().push(l.to_string()))
        .unwrap();
    assert_eq!(runs.len(), 6);
    // The arms of a seed share one evaluation of their common initial parameters: once
    // per client and seed, not once per arm.
    assert_eq!(factory.initial_evals.load(Ordering::SeqCst), 4 * 2);
    for seed in 0..2 {
        let initial: Vec<f64> = runs
            .iter()
            .filter(|r| r.seed_index == seed)
            .map(|r| r.result.initial_global_acc)
            .collect();
        assert!(initial.windows(2).all(|w| w[0] == w[1]), "{initial:?}");
    }
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("round"))
            .count()
            >= 24
    );

    for r in &runs {
        assert!((0.0..=1.0).contains(&r.result.global_acc), "{:?}", r.result);
        assert_eq!(r.result.acc_curve.len(), 4);
        for traj in r.weights.values() {
            for w in traj {
                assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{w:?}");
            }
        }
    }
    // FedAvg's fixed weights never move; FedMOA's hypergradient weights do.
    let moved = |arm: Arm| {
        runs.iter().filter(|r| r.arm == arm.name()).any(|r| {
            r.weights
                .values()
                .any(|t| t.first().zip(t.last()).is_some_and(|(a, b)| a != b))
        })
    };
    assert!(!moved(Arm::Fedavg));
    assert!(moved(Arm::Fedmoa));

    let table = results_table(&runs);
    assert!(
        table.contains("fedmoa_no_task") && table.contains('±'),
        "{table}"
    );
    let files = write_outputs(exp.config(), &runs).unwrap();
    assert!(files.iter().all(|f| f.exists()));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("toy/summary.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "global_acc",
        "global_acc_math",
        "global_acc_code",
        "personalization",
        "balance_min",
        "hypervolume",
        "secs",
    ] {
        assert!(summary["arms"]["fedmoa"][key].is_number(), "{key}");
    }
    let metrics = std::fs::read_to_string(dir.path().join("toy/metrics.jsonl")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains(r#""arm":"fedavg""#) && l.contains(r#""kind":"round""#))
    );
}

#[test]
fn same_seed_gives_same_results() {
    let specs = Scenario::heterogeneous(1, 1, 5).clients;
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let factory = ToyFactory::default();
        let exp = Experiment::new(config(dir.path(), 1), specs.clone(), &factory).unwrap();
        exp.run(&|_: &str| {})
            .unwrap()
            .into_iter()
            .map(|r| (r.result.acc_curve, r.weights))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

/// A user-written aggregator (FedAvg that counts its calls) and weighter (all weight on the
/// primary), registered by name and named by an arm in TOML.
#[test]
fn user_plugins_run_as_arms_named_in_toml() {
    use fedmoa::agg::{AggregatorRegistry, FedAvgConfig};
    use fedmoa::core::weighting::{FixedConfig, WeighterContext, WeighterRegistry};
    use fedmoa::core::{AggError, Aggregated, Aggregator, PluginConfig};

    struct Counting {
        inner: Box<dyn Aggregator>,
        calls: Arc<AtomicUsize>,
    }
    impl Aggregator for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn aggregate(
            &mut self,
            global: &ParamSet,
            updates: &[ClientUpdate],
        ) -> Result<Aggregated, AggError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.aggregate(global, updates)
        }
    }

    let calls = Arc::new(AtomicUsize::new(0));
    let mut aggregators = AggregatorRegistry::with_builtins();
    let counter = Arc::clone(&calls);
    aggregators
        .register("counting", move |p: &PluginConfig| {
            let inner: FedAvgConfig = p.parse()?;
            Ok(Box::new(Counting {
                inner: Box::new(inner.build()?),
                calls: Arc::clone(&counter),
            }) as Box<dyn Aggregator>)
        })
        .unwrap();
    let mut weighters = WeighterRegistry::with_builtins();
    weighters
        .register("primary_only", |_: &PluginConfig, c: &WeighterContext| {
            let mut weights = vec![0.0; c.n_objectives()];
            weights[0] = 1.0;
            let fixed = FixedConfig {
                weights: Some(weights),
            };
            Ok(Box::new(fixed.build(c.n_objectives())?) as Box<dyn ObjectiveWeighter>)
        })
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config: ExperimentConfig = toml::from_str(
        "name = \"plugins\"\n\
         arms = [\"fedavg\", { name = \"mine\", aggregator = { type = \"counting\" }, \
         weighter = { type = \"primary_only\" } }]\n",
    )
    .unwrap();
    config.out_dir = dir.path().to_path_buf();
    config.federation.rounds = 3;
    let specs = Scenario::heterogeneous(1, 1, 3).clients;
    let factory = ToyFactory::default();

    // The built-in registries do not know the user's names: refused before running.
    let err = Experiment::new(config.clone(), specs.clone(), &factory)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("arms[1].aggregator.type") && err.contains("counting"),
        "{err}"
    );

    let exp = Experiment::with_registries(config, specs, &factory, aggregators, weighters).unwrap();
    let runs = exp.run(&|_: &str| {}).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one aggregation per round");
    let mine = runs.iter().find(|r| r.arm == "mine").unwrap();
    for trajectory in mine.weights.values() {
        assert_eq!(trajectory.len(), 4);
        for w in trajectory {
            assert_eq!(w[0], 1.0, "{w:?}");
            assert!(w[1..].iter().all(|&x| x == 0.0), "{w:?}");
        }
    }
    let fedavg = runs.iter().find(|r| r.arm == "fedavg").unwrap();
    assert!(fedavg.weights.values().all(|t| t[0][0] < 1.0));
    let table = results_table(&runs);
    assert!(table.contains("| mine"), "{table}");
    assert!(
        dir.path()
            .join("plugins/checkpoints/mine.arm.json")
            .exists()
    );
}
