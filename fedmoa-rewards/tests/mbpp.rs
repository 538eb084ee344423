//! MBPP from `$FEDMOA_DATA_DIR/mbpp/mbpp.jsonl` scored by the sandboxed `python_tests`
//! reward. Skipped, with a message, when the variable or `python3` is missing.

use std::collections::BTreeSet;
use std::time::Instant;

use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::math::gsm8k::{DATA_DIR_VAR, data_dir};
use fedmoa_rewards::mbpp::{MbppSplit, extract_python, load_mbpp, mbpp_path};
use fedmoa_rewards::rewards::{PythonTests, PythonTestsConfig};
use fedmoa_rewards::sandbox::parallel_map;
use fedmoa_rewards::{MbppTaskConfig, RewardRegistry, Scenario, TaskMix, TaskSpec};

/// MBPP tasks whose reference solution does not pass its own tests in the sandbox (an
/// audit of all 974 tasks, see docs/MBPP.md); excluded from the check below.
const KNOWN_BAD: &[(u32, &str)] = &[
    // `amicable_numbers_sum(9999)` needs about 2 s of CPU (1.9–2.4 s on the 2-core VM,
    // depending on the interpreter): at the 2 s default limit, so it usually fails.
    (123, "at the default CPU limit"),
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

/// The full audit (docs/MBPP.md): every reference solution of all 974 tasks through the
/// default sandbox, with the standard tests, then with the challenge tests added where a
/// task has them. Prints each failure and how many asserts were rewritten (checked
/// outside the candidate's process) vs legacy; every failure must be in `KNOWN_BAD`.
///
/// `FEDMOA_DATA_DIR=… cargo test -p fedmoa-rewards --test mbpp -- --ignored --nocapture`
#[test]
#[ignore = "the full MBPP audit: about a minute on 2 cores"]
fn audit_all_reference_solutions() {
    let Some((dir, reward)) = setup() else { return };
    let all = load_mbpp(&mbpp_path(&dir), None).unwrap();
    let sandbox = reward.sandbox();
    eprintln!(
        "python {:?}, isolation {:?}, uid {:?}",
        sandbox.interpreter(),
        sandbox.isolation(),
        sandbox.drops_to_uid()
    );
    let mut prompts: Vec<Prompt> = all
        .iter()
        .map(|p| p.to_prompt(format!("mbpp-{}", p.task_id), false))
        .collect();
    let n_standard = prompts.len();
    prompts.extend(
        all.iter()
            .filter(|p| !p.challenge_test_list.is_empty())
            .map(|p| p.to_prompt(format!("mbpp-{}-challenge", p.task_id), true)),
    );
    let start = Instant::now();
    let reports = parallel_map(&prompts, reward.workers(), |p| {
        let Reference::PythonTests { setup, asserts } = &p.reference else {
            panic!("{}: not a Python-tests prompt", p.id)
        };
        let program = extract_python(p.solution.as_deref().unwrap_or(""));
        sandbox.run(program, setup, asserts).unwrap()
    });
    let elapsed = start.elapsed();
    let mut failed = BTreeSet::new();
    let (mut rewritten, mut legacy) = ([0usize; 2], [0usize; 2]);
    for (i, (p, r)) in prompts.iter().zip(&reports).enumerate() {
        let which = usize::from(i >= n_standard);
        legacy[which] += r.unchecked;
        rewritten[which] += r.passed.len() - r.unchecked;
        if r.unchecked > 0 {
            eprintln!("{}: {} legacy assert(s)", p.id, r.unchecked);
        }
        if r.pass_rate() < 1.0 {
            eprintln!(
                "FAIL {}: {:?} (timed out: {}) {}",
                p.id,
                r.passed,
                r.timed_out,
                r.output.chars().take(300).collect::<String>()
            );
            if let Some(id) = p.id.strip_prefix("mbpp-").and_then(|s| s.split('-').next()) {
                failed.insert(id.parse::<u32>().unwrap());
            }
        }
    }
    let standard_failed = reports[..n_standard]
        .iter()
        .filter(|r| r.pass_rate() < 1.0)
        .count();
    eprintln!(
        "{} tasks: {} pass, {} fail; asserts rewritten {} / legacy {} (standard), {} / {} \
         (with challenge tests, {} prompts); {:?}",
        n_standard,
        n_standard - standard_failed,
        standard_failed,
        rewritten[0],
        legacy[0],
        rewritten[1],
        legacy[1],
        prompts.len() - n_standard,
        elapsed
    );
    let known: BTreeSet<u32> = KNOWN_BAD.iter().map(|(id, _)| *id).collect();
    // 123 sits at the CPU limit (about 1.9 s of the 2 s with Debian's Python 3.11.2 on
    // the 2-core VM), so it may pass on a fast or idle machine.
    let passed_anyway: Vec<&u32> = known.difference(&failed).collect();
    if !passed_anyway.is_empty() {
        eprintln!("known-bad tasks that passed this time: {passed_anyway:?}");
    }
    assert!(failed.is_subset(&known), "{failed:?} vs {known:?}");
}
