//! MBPP from `$FEDMOA_DATA_DIR/mbpp/mbpp.jsonl` scored by the sandboxed `python_tests`
//! reward. Skipped, with a message, when the variable or `python3` is missing.

use std::collections::BTreeSet;
use std::time::Instant;

use fedmoa_core::{Prompt, RewardFn};
use fedmoa_rewards::math::gsm8k::{DATA_DIR_VAR, data_dir};
use fedmoa_rewards::mbpp::{MbppSplit, load_mbpp, mbpp_path};
use fedmoa_rewards::rewards::{PythonTests, PythonTestsConfig};
use fedmoa_rewards::{MbppTaskConfig, RewardRegistry, Scenario, TaskMix, TaskSpec};

/// MBPP tasks whose reference solution does not pass its own tests in the sandbox (an
/// audit of all 974 tasks, see docs/MBPP.md); excluded from the check below.
const KNOWN_BAD: &[(u32, &str)] = &[
    // Needs about 7 s of CPU for `amicable_numbers_sum(9999)`: over the 2 s default limit.
    (123, "too slow for the default CPU limit"),
    // Expects a particular iteration order of a set of ints (genuinely wrong test).
    (341, "set iteration order"),
    // Expects CPython-version-specific `sys.getsizeof` values.
    (596, "sys.getsizeof of an older CPython"),
    // Expects a particular iteration order of sets of tuples (genuinely wrong test).
    (642, "set iteration order"),
];

fn setup() -> Option<(std::path::PathBuf, PythonTests)> {
    let Some(dir) = data_dir() else {
        eprintln!("skipping the MBPP tests: {DATA_DIR_VAR} is not set");
        return None;
    };
    match PythonTestsConfig::default().build() {
        Ok(r) => Some((dir, r)),
        Err(e) => {
            eprintln!("skipping the MBPP tests: {e}");
            None
        }
    }
}

#[test]
fn loads_the_conventional_splits() {
    let Some(dir) = data_dir() else {
        eprintln!("skipping the MBPP loader test: {DATA_DIR_VAR} is not set");
        return;
    };
    let path = mbpp_path(&dir);
    let sizes: Vec<usize> = MbppSplit::ALL
        .iter()
        .map(|s| load_mbpp(&path, Some(*s)).unwrap().len())
        .collect();
    assert_eq!(sizes, [10, 500, 90, 374]);
    let all = load_mbpp(&path, None).unwrap();
    assert_eq!(all.len(), 974);
    let ids: BTreeSet<u32> = all.iter().map(|p| p.task_id).collect();
    assert_eq!(ids.len(), 974);
    assert!(all.iter().all(|p| p.test_list.len() >= 3));
}

#[test]
fn reference_solutions_pass_and_wrong_ones_do_not() {
    let Some((dir, reward)) = setup() else { return };
    let all = load_mbpp(&mbpp_path(&dir), None).unwrap();
    // Every 29th task from id 7 (34 tasks over the four splits; 123 is among them and
    // KNOWN_BAD removes it).
    let chosen: Vec<Prompt> = all
        .iter()
        .skip(6)
        .step_by(29)
        .filter(|p| KNOWN_BAD.iter().all(|(id, _)| *id != p.task_id))
        .map(|p| p.to_prompt(format!("mbpp-{}", p.task_id), false))
        .collect();
    assert!(chosen.len() >= 30, "{}", chosen.len());
    let splits: BTreeSet<_> = all
        .iter()
        .skip(6)
        .step_by(29)
        .filter_map(|p| p.split())
        .collect();
    assert_eq!(splits.len(), 4, "{splits:?}");
    let start = Instant::now();
    let batch: Vec<(&Prompt, &str)> = chosen
        .iter()
        .map(|p| (p, p.solution.as_deref().unwrap_or("")))
        .collect();
    let scores = reward.score_batch(&batch);
    eprintln!(
        "{} MBPP reference solutions scored in {:?}",
        batch.len(),
        start.elapsed()
    );
    for (p, s) in chosen.iter().zip(&scores) {
        assert_eq!(*s, Ok(1.0), "{}: {:?}", p.id, p.solution);
    }
    // Wrong solutions: a function that returns None scores 0, and a solution that only
    // hard-codes the first (shown) test's answer gets partial credit below 1.
    let p = &chosen[0];
    let name = p
        .text
        .lines()
        .last()
        .unwrap_or("")
        .trim_start_matches("assert ");
    let name = name.split('(').next().unwrap_or("f").trim();
    let wrong = format!("```python\ndef {name}(*args):\n    return None\n```");
    assert_eq!(reward.score(p, &wrong), Ok(0.0), "{wrong}");
    let first_line = p.text.lines().last().unwrap_or("");
    let expected = first_line.rsplit("==").next().unwrap_or("").trim();
    let memorised = format!("```python\ndef {name}(*args):\n    return {expected}\n```");
    let s = reward.score(p, &memorised).unwrap();
    assert!(s < 1.0 && s > 0.0, "{memorised}: {s}");
}

#[test]
fn mbpp_clients_validate_and_reference_solutions_satisfy_them() {
    let Some(_) = setup() else { return };
    let text = r#"
        seed = 3
        [[clients]]
        id = "mbpp-0"
        task = "code"
        mix = [{ weight = 1.0, task = { type = "mbpp", split = "train" } }]
        rewards = [
          { type = "python_tests", weight = 0.8, workers = 2, limits = { wall_ms = 4000 } },
          { type = "length", weight = 0.2, max = 4000, unit = "chars" },
        ]
    "#;
    let registry = RewardRegistry::with_builtins();
    let scenario = Scenario::from_toml_str(text).unwrap();
    scenario.validate(&registry).unwrap();
    let client = &scenario.clients[0];
    let data = client.dataset(scenario.client_seed(0), 6, 2, 2).unwrap();
    assert_eq!(
        data,
        client.dataset(scenario.client_seed(0), 6, 2, 2).unwrap()
    );
    let set = client.reward_set(&registry).unwrap();
    let batch: Vec<_> = data
        .train
        .iter()
        .map(|p| (p, p.solution.as_deref().unwrap_or("")))
        .collect();
    let stats = set.score_batch(&batch).stats();
    assert_eq!(stats[0].satisfaction, 1.0, "{stats:?}");
    assert_eq!(stats[0].errors, 0);
    // A typo in the sandbox table names the field.
    let bad = text.replace("wall_ms", "wall");
    let e = Scenario::from_toml_str(&bad)
        .unwrap()
        .validate(&registry)
        .unwrap_err();
    assert!(e.field.starts_with("clients[0].rewards[0]"), "{e}");
    // The mix option is a plain TaskSpec too.
    let spec = TaskSpec::Mbpp(MbppTaskConfig {
        split: MbppSplit::Validation,
        dir: None,
        challenge_tests: true,
    });
    let valid = TaskMix::single(spec).build_dataset(1, 4, 0, 0).unwrap();
    assert!(valid.train.iter().all(|p| p.task.as_str() == "code"));
}
