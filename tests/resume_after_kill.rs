//! A run killed with SIGKILL in the middle of a round and resumed with
//! `ExperimentConfig::resume` ends with exactly the metrics, summary and parameters of a
//! run that was never interrupted (issue #16, item 3).
//!
//! The test runs the experiment in real child processes: this test binary, started again
//! with only [`child_experiment`] selected and the run described in environment variables.
//! The first child stops inside round 2 of its second arm (a step observer blocks and says
//! so on stdout) and is killed there with SIGKILL; a second child resumes it; a third runs
//! the same experiment without interruption.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fedmoa::experiment::{
    Arm, ArmConfig, ClientFactory, Experiment, ExperimentConfig, write_outputs,
};
use fedmoa_core::federation::Checkpoint;
use fedmoa_grpo::StepObserver;
use fedmoa_rewards::ClientSpec;

/// The child's output directory; the child test does nothing without it.
const OUT_ENV: &str = "FEDMOA_KILL_TEST_OUT";
/// The local step (counted over the whole child process, from 1) at which it blocks.
const STALL_ENV: &str = "FEDMOA_KILL_TEST_STALL_AT_STEP";
/// `1`: resume from the checkpoints.
const RESUME_ENV: &str = "FEDMOA_KILL_TEST_RESUME";
const STALLED: &str = "CHILD STALLED";

/// The FedAvg preset, then FedMOA's rules given as data (an arm table, as in TOML).
const ARMS: [&str; 2] = ["fedavg", "fedmoa_as_data"];
const CLIENTS: usize = 2;
const ROUNDS: u32 = 3;
const LOCAL_STEPS: u32 = 2;
/// Round 2 of the second arm, after one of its steps: every arm-round runs
/// `CLIENTS × LOCAL_STEPS` steps.
const STALL_AT_STEP: usize = (CLIENTS * LOCAL_STEPS as usize) * (ROUNDS as usize + 1) + 2;

/// Math client `m{i}` whose objectives vary within groups even on the random model, so
/// every step has a gradient and FedMOA's weights move: answers of at most 2 characters
/// (primary) and of at most 4.
fn spec(i: usize) -> ClientSpec {
    ClientSpec::from_toml_str(&format!(
        "id = \"m{i}\"\ntask = \"math\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"math\", families = [\"add_sub\"] }} }}]\n\
         rewards = [\
         {{ type = \"length\", id = \"tiny\", unit = \"chars\", max = 2, weight = 0.5 }}, \
         {{ type = \"length\", id = \"short\", unit = \"chars\", max = 4, weight = 0.5 }}]\n"
    ))
    .unwrap()
}

fn experiment_config(out_dir: &Path, resume: bool) -> ExperimentConfig {
    let mut config = ExperimentConfig {
        name: "run".into(),
        out_dir: out_dir.to_path_buf(),
        arms: vec![
            Arm::Fedavg.into(),
            toml::from_str::<toml::Table>(
                "name = \"fedmoa_as_data\"\n\
                 aggregator = { type = \"task_accuracy\", temperature = 0.1 }\n\
                 weighter = { type = \"hypergradient\", beta_w = 0.5 }",
            )
            .unwrap()
            .try_into::<ArmConfig>()
            .unwrap()
            .into(),
        ],
        resume,
        ..ExperimentConfig::default()
    };
    config.federation.rounds = ROUNDS;
    config.federation.local_steps = Some(LOCAL_STEPS);
    config
}

#[test]
#[ignore = "the child process of a_run_killed_mid_round_resumes_exactly, which starts it"]
fn child_experiment() {
    let Some(out_dir) = std::env::var_os(OUT_ENV).map(PathBuf::from) else {
        return;
    };
    let stall_at: Option<usize> = std::env::var(STALL_ENV).ok().map(|s| s.parse().unwrap());
    let resume = std::env::var(RESUME_ENV).is_ok_and(|v| v == "1");
    let steps = Arc::new(AtomicUsize::new(0));
    let observer: StepObserver = Arc::new(move |_| {
        let step = steps.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(step) == stall_at {
            println!("{STALLED} at step {step}");
            loop {
                std::thread::park();
            }
        }
    });
    let factory = common::factory().with_step_observer(observer);
    let config = experiment_config(&out_dir, resume);
    let specs = (0..CLIENTS).map(spec).collect();
    let runs = Experiment::new(config.clone(), specs, &factory)
        .unwrap()
        .run(&|line: &str| println!("{line}"))
        .unwrap();
    write_outputs(&config, &runs).unwrap();
    for run in &runs {
        let path = out_dir.join(format!("final-{}.params", run.arm));
        fedmoa_grpo::checkpoint::save_params(&path, &run.final_params).unwrap();
    }
}

/// Starts [`child_experiment`] writing to `out_dir`.
fn child(out_dir: &Path, stall_at: Option<usize>, resume: bool) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_experiment", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(OUT_ENV, out_dir)
        .env(RESUME_ENV, if resume { "1" } else { "0" })
        .env_remove(STALL_ENV);
    if let Some(step) = stall_at {
        cmd.env(STALL_ENV, step.to_string());
    }
    cmd
}

/// Runs a child to completion and returns its stdout.
fn run_to_end(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A JSON value without what depends on the clock, the output directory or the resume
/// flag.
fn without_timings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| {
                !(k.ends_with("secs") || ["timings", "resume", "out_dir"].contains(&k.as_str()))
            });
            map.values_mut().for_each(without_timings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_timings),
        _ => {}
    }
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut v = serde_json::from_str(line).unwrap();
            without_timings(&mut v);
            v
        })
        .collect()
}

fn summary(run_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir.join("summary.json")).unwrap();
    let mut v = serde_json::from_str(&text).unwrap();
    without_timings(&mut v);
    v
}

#[test]
fn a_run_killed_mid_round_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let killed = dir.path().join("killed");
    let straight = dir.path().join("straight");

    // 1. Run until the second arm is inside round 2, then SIGKILL.
    let mut first = child(&killed, Some(STALL_AT_STEP), false)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = first.stdout.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let stalled = line.starts_with(STALLED);
        seen.push(line);
        if stalled {
            break;
        }
    }
    first.kill().unwrap(); // SIGKILL on Unix
    let status = first.wait().unwrap();
    assert!(
        seen.last().is_some_and(|l| l.starts_with(STALLED)),
        "the child ended before it stalled ({status}):\n{}",
        seen.join("\n")
    );
    assert!(!status.success());
    let checkpoints = killed.join("run").join("checkpoints");
    let finished = Checkpoint::load(&checkpoints.join("fedavg-seed0.ckpt")).unwrap();
    let interrupted = Checkpoint::load(&checkpoints.join("fedmoa_as_data-seed0.ckpt")).unwrap();
    assert_eq!(finished.round, ROUNDS, "the first arm had finished");
    assert_eq!(interrupted.round, 1, "the kill came inside round 2");
    assert!(
        !killed.join("run").join("summary.json").exists(),
        "the killed run wrote no results"
    );

    // 2. Resume; 3. the same run without interruption.
    let resumed_out = run_to_end(child(&killed, None, true));
    assert!(
        resumed_out.contains("resumed from") && resumed_out.contains("after round 1/3"),
        "{resumed_out}"
    );
    run_to_end(child(&straight, None, false));

    let initial = common::factory().initial_params(0).unwrap();
    for arm in ARMS {
        let name = format!("final-{arm}.params");
        let trained = fedmoa_grpo::checkpoint::load_params(&straight.join(&name)).unwrap();
        assert_ne!(trained, initial, "{arm}: the adapters were trained");
        let resumed = std::fs::read(killed.join(&name)).unwrap();
        let uninterrupted = std::fs::read(straight.join(&name)).unwrap();
        assert!(resumed == uninterrupted, "{arm}: final parameters differ");
        let metrics = |root: &Path| {
            json_lines(
                &root
                    .join("run")
                    .join("metrics")
                    .join(format!("{arm}-seed0.jsonl")),
            )
        };
        let (resumed, uninterrupted) = (metrics(&killed), metrics(&straight));
        assert_eq!(resumed.len(), uninterrupted.len(), "{arm}: metrics lines");
        for (i, (a, b)) in resumed.iter().zip(&uninterrupted).enumerate() {
            assert_eq!(a, b, "{arm}: metrics line {i}");
        }
    }
    assert_eq!(
        json_lines(&killed.join("run").join("metrics.jsonl")),
        json_lines(&straight.join("run").join("metrics.jsonl"))
    );
    assert_eq!(summary(&killed.join("run")), summary(&straight.join("run")));
}
