//! Federation loop: sampling, failures, timeouts, metrics, checkpoint → kill → resume.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fedmoa_core::federation::{
    Client, Federation, FederationConfig, InProcessClient, RoundSummary,
};
use fedmoa_core::{
    AggError, Aggregated, Aggregator, AggregatorState, ClientUpdate, EvalReport, LocalTrainer,
    ParamSet, RoundPlan, Split, TrainError, screen_updates,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Quadratic toy client: loss ½‖θ − c‖², noisy gradient steps seeded by the round plan.
/// Its state (a step counter that scales the learning rate) must survive checkpoints.
struct Quadratic {
    target: Vec<f32>,
    task: &'static str,
    steps_done: u64,
    behaviour: Behaviour,
}

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Good,
    FailInRound(u32),
    PanicInRound(u32),
    SleepInRound(u32, u64),
}

impl Quadratic {
    fn loss(&self, theta: &[f32]) -> f32 {
        0.5 * theta
            .iter()
            .zip(&self.target)
            .map(|(t, c)| (t - c) * (t - c))
            .sum::<f32>()
    }
}

impl LocalTrainer for Quadratic {
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        match self.behaviour {
            Behaviour::FailInRound(r) if r == plan.server_round => {
                return Err(TrainError::msg("simulated failure"));
            }
            Behaviour::PanicInRound(r) if r == plan.server_round => panic!("simulated panic"),
            Behaviour::SleepInRound(r, ms) if r == plan.server_round => {
                std::thread::sleep(Duration::from_millis(ms));
            }
            _ => {}
        }
        let mut theta = global
            .get("theta")
            .ok_or(TrainError::msg("no theta"))?
            .data()
            .to_vec();
        let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
        for _ in 0..plan.local_steps.unwrap_or(3) {
            self.steps_done += 1;
            let lr = 0.3 / (1.0 + 0.01 * self.steps_done as f32);
            for (t, c) in theta.iter_mut().zip(&self.target) {
                let noise: f32 = rng.random_range(-0.05..0.05);
                *t -= lr * ((*t - c) + noise);
            }
        }
        let local = ParamSet::new().with("theta", vec![theta.len()], theta.clone())?;
        let delta = local.sub(global)?;
        let acc = (-self.loss(&theta)).exp();
        Ok(ClientUpdate::new("ignored", self.task, 10, delta, acc))
    }

    fn evaluate(&mut self, params: &ParamSet, _split: Split) -> Result<EvalReport, TrainError> {
        let theta = params
            .get("theta")
            .ok_or(TrainError::msg("no theta"))?
            .data();
        Ok(EvalReport {
            accuracy: (-self.loss(theta)).exp(),
            n_examples: 1,
            ..EvalReport::default()
        })
    }

    fn state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "steps_done": self.steps_done }))
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), TrainError> {
        self.steps_done = state["steps_done"]
            .as_u64()
            .ok_or(TrainError::msg("bad state"))?;
        Ok(())
    }
}

/// A stateful test aggregator: sample-weighted mean with server momentum.
struct MomentumMean {
    velocity: Option<ParamSet>,
}

impl Aggregator for MomentumMean {
    fn name(&self) -> &str {
        "momentum_mean"
    }
    fn aggregate(
        &mut self,
        global: &ParamSet,
        updates: &[ClientUpdate],
    ) -> Result<Aggregated, AggError> {
        let (valid, rejected) = screen_updates(global, updates);
        if valid.is_empty() {
            return Err(AggError::NoValidUpdates { rejected });
        }
        let total: u64 = valid.iter().map(|u| u.n_samples).sum();
        let mut mean = global.zeros_like();
        let mut weights = BTreeMap::new();
        for u in &valid {
            let w = u.n_samples as f32 / total as f32;
            mean.axpy(w, &u.delta)?;
            weights.insert(u.client_id.clone(), w);
        }
        let v = self.velocity.get_or_insert_with(|| global.zeros_like());
        v.scale(0.5);
        v.add_assign(&mean)?;
        let mut params = global.clone();
        params.add_assign(v)?;
        Ok(Aggregated {
            params,
            weights,
            rejected,
        })
    }
    fn state(&self) -> AggregatorState {
        let mut tensors = BTreeMap::new();
        if let Some(v) = &self.velocity {
            tensors.insert("velocity".to_string(), v.clone());
        }
        AggregatorState {
            scalars: serde_json::Value::Null,
            tensors,
        }
    }
    fn load_state(&mut self, state: &AggregatorState) -> Result<(), AggError> {
        self.velocity = state.tensors.get("velocity").cloned();
        Ok(())
    }
}

fn clients(behaviours: &[Behaviour]) -> Vec<Arc<dyn Client>> {
    behaviours
        .iter()
        .enumerate()
        .map(|(i, &behaviour)| {
            let trainer = Quadratic {
                target: vec![i as f32, 1.0 - i as f32, 0.5],
                task: if i % 2 == 0 { "math" } else { "code" },
                steps_done: 0,
                behaviour,
            };
            Arc::new(InProcessClient::new(format!("c{i}"), Box::new(trainer))) as Arc<dyn Client>
        })
        .collect()
}

fn init() -> ParamSet {
    ParamSet::new()
        .with("theta", vec![3], vec![0.0; 3])
        .unwrap()
}

fn config(rounds: u32) -> FederationConfig {
    FederationConfig {
        rounds,
        fraction: 0.6,
        min_clients: 2,
        max_parallel: 2,
        seed: 42,
        ..FederationConfig::default()
    }
}

fn federation(rounds: u32, behaviours: &[Behaviour]) -> Federation {
    Federation::new(
        config(rounds),
        clients(behaviours),
        Box::new(MomentumMean { velocity: None }),
        init(),
    )
    .unwrap()
}

fn bits(p: &ParamSet) -> Vec<u32> {
    p.flatten().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn checkpoint_kill_resume_is_bit_identical() {
    let good = [Behaviour::Good; 5];
    let dir = tempfile::tempdir().unwrap();

    let mut straight = federation(12, &good);
    straight.run().unwrap();

    let ck = dir.path().join("ckpt.bin");
    let metrics = dir.path().join("metrics.jsonl");
    let mut first = federation(12, &good)
        .with_checkpoint(&ck)
        .with_metrics(&metrics);
    assert!(!first.resume().unwrap());
    first.run_until(5).unwrap();
    drop(first); // the "kill": only the files survive

    let mut second = federation(12, &good)
        .with_checkpoint(&ck)
        .with_metrics(&metrics);
    assert!(second.resume().unwrap());
    assert_eq!(second.round(), 5);
    second.run().unwrap();
    assert_eq!(second.round(), 12);
    assert_eq!(bits(second.params()), bits(straight.params()));

    let text = std::fs::read_to_string(&metrics).unwrap();
    let rounds: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "round")
        .map(|v| v["round"].as_u64().unwrap())
        .collect();
    assert_eq!(rounds, (1..=12).collect::<Vec<_>>());
}

/// An evaluator that counts its calls and reports one metric that is always missing (NaN).
fn counting_evaluator(
    calls: Arc<AtomicU32>,
) -> impl FnMut(u32, &ParamSet) -> Result<BTreeMap<String, f64>, TrainError> + Send {
    move |_round: u32, p: &ParamSet| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(BTreeMap::from([
            ("norm".to_string(), p.norm()),
            ("missing".to_string(), f64::NAN),
        ]))
    }
}

/// Round summaries without their wall time and NaN metrics (NaN ≠ NaN).
fn comparable(history: &[RoundSummary]) -> Vec<RoundSummary> {
    history
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.secs = 0.0;
            assert!(r.eval.remove("missing").unwrap().is_nan());
            r
        })
        .collect()
}

#[test]
fn a_resumed_federation_reports_every_round_and_its_initial_evaluation() {
    let good = [Behaviour::Good; 4];
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.bin");
    let mut straight =
        federation(6, &good).with_evaluator(counting_evaluator(Arc::new(AtomicU32::new(0))));
    let initial = straight.evaluate_initial().unwrap();
    assert_eq!(initial["norm"], 0.0);
    straight.run().unwrap();

    let mut first = federation(6, &good)
        .with_checkpoint(&ck)
        .with_evaluator(counting_evaluator(Arc::new(AtomicU32::new(0))));
    first.evaluate_initial().unwrap();
    first.run_until(4).unwrap();
    drop(first); // only the files survive

    let calls = Arc::new(AtomicU32::new(0));
    let mut second = federation(6, &good)
        .with_checkpoint(&ck)
        .with_evaluator(counting_evaluator(Arc::clone(&calls)));
    assert!(second.resume().unwrap());
    assert_eq!(second.history().len(), 4);
    assert_eq!(second.evaluate_initial().unwrap()["norm"], 0.0);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the initial evaluation is restored"
    );
    second.run().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "rounds 5 and 6 only");
    assert_eq!(comparable(second.history()), comparable(straight.history()));
}

#[test]
fn the_initial_evaluation_cannot_run_after_the_first_round() {
    let mut fed = federation(3, &[Behaviour::Good; 3]);
    fed.run_until(1).unwrap();
    let err = fed.evaluate_initial().unwrap_err().to_string();
    assert!(err.contains("after round 1"), "{err}");
}

#[test]
fn resume_discards_metrics_written_after_the_last_checkpoint() {
    let good = [Behaviour::Good; 3];
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.bin");
    let metrics = dir.path().join("metrics.jsonl");
    let mut first = federation(6, &good)
        .with_checkpoint(&ck)
        .with_metrics(&metrics);
    first.run_until(3).unwrap();
    let saved = std::fs::read(&ck).unwrap();
    first.run_until(4).unwrap();
    drop(first);
    // Simulate a crash after round 4's metrics were written but before its checkpoint.
    std::fs::write(&ck, saved).unwrap();
    let mut second = federation(6, &good)
        .with_checkpoint(&ck)
        .with_metrics(&metrics);
    assert!(second.resume().unwrap());
    second.run().unwrap();
    let text = std::fs::read_to_string(&metrics).unwrap();
    let n_round_lines = text
        .lines()
        .filter(|l| l.contains(r#""kind":"round""#))
        .count();
    assert_eq!(n_round_lines, 6);
}

#[test]
fn resume_refuses_a_checkpoint_of_another_federation() {
    let good = [Behaviour::Good; 3];
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.bin");
    federation(2, &good).with_checkpoint(&ck).run().unwrap();
    let mut other_cfg = config(4);
    other_cfg.seed = 7;
    let mut other = Federation::new(
        other_cfg,
        clients(&good),
        Box::new(MomentumMean { velocity: None }),
        init(),
    )
    .unwrap()
    .with_checkpoint(&ck);
    let err = other.resume().unwrap_err().to_string();
    assert!(err.contains("seed"), "{err}");
}

#[test]
fn failing_panicking_and_slow_clients_are_dropped_and_the_round_completes() {
    let behaviours = [
        Behaviour::Good,
        Behaviour::FailInRound(1),
        Behaviour::PanicInRound(1),
        Behaviour::SleepInRound(1, 3_000),
        Behaviour::Good,
    ];
    let mut cfg = config(2);
    cfg.fraction = 1.0;
    cfg.max_parallel = 3;
    cfg.client_timeout_secs = Some(0.5);
    let mut fed = Federation::new(
        cfg,
        clients(&behaviours),
        Box::new(MomentumMean { velocity: None }),
        init(),
    )
    .unwrap();
    let r1 = fed.run_round().unwrap();
    assert!(r1.aggregated);
    let mut dropped: Vec<_> = r1
        .dropped
        .iter()
        .map(|d| (d.client_id.to_string(), d.error.clone()))
        .collect();
    dropped.sort();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    assert!(dropped[0].1.contains("simulated failure"));
    assert!(dropped[1].1.contains("simulated panic"), "{dropped:?}");
    assert!(dropped[2].1.contains("no reply"));
    assert_eq!(r1.replied.len(), 2);
    assert!(
        r1.secs < 2.9,
        "the slow client must not hold the round: {}",
        r1.secs
    );
    // Round 2: the panicked client works again; the slow one may still be busy.
    let r2 = fed.run_round().unwrap();
    assert!(r2.replied.len() >= 4, "{:?}", r2.dropped);
}

#[test]
fn too_few_replies_skip_aggregation_and_keep_params() {
    let behaviours = [
        Behaviour::FailInRound(1),
        Behaviour::FailInRound(1),
        Behaviour::Good,
    ];
    let mut cfg = config(1);
    cfg.fraction = 1.0;
    cfg.min_replies = 2;
    let mut fed = Federation::new(
        cfg,
        clients(&behaviours),
        Box::new(MomentumMean { velocity: None }),
        init(),
    )
    .unwrap();
    let r = fed.run_round().unwrap();
    assert!(!r.aggregated);
    assert!(r.skip_reason.unwrap().contains("min_replies"));
    assert_eq!(fed.params(), &init());
}

#[test]
fn evaluator_runs_every_round_and_same_seed_gives_same_metrics() {
    let good = [Behaviour::Good; 4];
    let run = || {
        let mut fed = federation(4, &good).with_evaluator(|round: u32, p: &ParamSet| {
            let mut m = BTreeMap::new();
            m.insert("norm".to_string(), p.norm());
            m.insert("round".to_string(), f64::from(round));
            Ok(m)
        });
        fed.run().unwrap();
        fed.history()
            .iter()
            .map(|s| (s.sampled.clone(), s.eval["norm"], s.weights.clone()))
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a.len(), 4);
    assert_eq!(a, run());
}

#[test]
fn duplicate_client_ids_are_a_config_error() {
    let mut cs = clients(&[Behaviour::Good]);
    cs.push(Arc::clone(&cs[0]));
    let err = Federation::new(
        config(1),
        cs,
        Box::new(MomentumMean { velocity: None }),
        init(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("duplicate client id"));
}
