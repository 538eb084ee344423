//! Generated Python tasks (`type = "python"`) scored by the sandboxed `python_tests`
//! reward: every template's reference solution passes its own asserts, wrong solutions do
//! not, and clients using the source round-trip through TOML. The sandbox tests are
//! skipped, with a message, when `python3` or the sandbox is unavailable.

use std::time::Instant;

use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::mbpp::extract_python;
use fedmoa_rewards::python_tasks::{PythonFamily, PythonTaskConfig, PythonTaskGenerator};
use fedmoa_rewards::rewards::{PythonTests, PythonTestsConfig};
use fedmoa_rewards::sandbox::parallel_map;
use fedmoa_rewards::seeded::rng_for;
use fedmoa_rewards::{ClientSpec, RewardRegistry, Scenario, TaskMix, TaskSpec};

fn sandbox() -> Option<PythonTests> {
    match PythonTestsConfig::default().build() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("skipping the Python-task sandbox tests: {e}");
            None
        }
    }
}

/// Every template's function name, both difficulties.
fn all_names() -> Vec<&'static str> {
    PythonFamily::ALL
        .iter()
        .flat_map(|f| [1, 2].into_iter().flat_map(move |d| f.template_names(d)))
        .collect()
}

/// 200 tasks: two of every template (96), then 52 drawn at each difficulty over all
/// families.
fn tasks() -> Vec<Prompt> {
    let g = PythonTaskGenerator::new(PythonTaskConfig::default()).expect("the default is valid");
    let mut rng = rng_for(2024, 0);
    let mut prompts: Vec<Prompt> = all_names()
        .into_iter()
        .flat_map(|name| [name, name])
        .enumerate()
        .map(|(i, name)| {
            let task = g.generate_from(name, &mut rng).expect("a listed template");
            task.to_prompt(format!("{name}-{i}"))
        })
        .collect();
    for difficulty in [1, 2] {
        let config = PythonTaskConfig::new(PythonFamily::ALL.to_vec(), difficulty);
        let g = PythonTaskGenerator::new(config).expect("a valid config");
        prompts.extend(g.prompts(52, u64::from(difficulty)));
    }
    prompts
}

/// The function name of a prompt's shown test (`assert NAME(…) == …`).
fn function_of(p: &Prompt) -> &str {
    let last = p.text.lines().last().unwrap_or("");
    let call = last.trim_start_matches("assert ");
    call.split('(').next().unwrap_or("f")
}

#[test]
fn reference_solutions_pass_and_wrong_ones_do_not() {
    let Some(reward) = sandbox() else { return };
    let prompts = tasks();
    assert_eq!(prompts.len(), 200);
    let batch: Vec<(&Prompt, &str)> = prompts
        .iter()
        .map(|p| (p, p.solution.as_deref().unwrap_or("")))
        .collect();
    let start = Instant::now();
    let scores = reward.score_batch(&batch);
    eprintln!(
        "{} generated reference solutions scored in {:?}",
        batch.len(),
        start.elapsed()
    );
    for (p, s) in prompts.iter().zip(&scores) {
        assert_eq!(*s, Ok(1.0), "{}: {}\n{:?}", p.id, p.text, p.solution);
    }
    // Every assert has the `assert CALL == LITERAL` form the sandbox judges outside the
    // candidate's process (none runs in the forgeable legacy mode).
    let sandbox = reward.sandbox();
    let one_per_template: Vec<&Prompt> = prompts.iter().take(96).step_by(2).collect();
    let reports = parallel_map(&one_per_template, reward.workers(), |p| {
        let Reference::PythonTests { setup, asserts } = &p.reference else {
            return None;
        };
        let program = extract_python(p.solution.as_deref().unwrap_or(""));
        sandbox.run(program, setup, asserts).ok()
    });
    for (p, r) in one_per_template.iter().zip(&reports) {
        let r = r.as_ref().unwrap();
        assert_eq!((r.unchecked, r.pass_rate()), (0, 1.0), "{}: {r:?}", p.id);
    }
    // One task per template: a function returning None scores 0, and one returning the
    // shown test's answer fails the other tests (their expected values differ).
    let mut wrong = Vec::new();
    for p in one_per_template {
        let name = function_of(p);
        let shown = p.text.rsplit(" == ").next().unwrap_or("0");
        wrong.push((
            p,
            format!("```python\ndef {name}(*args):\n    return None\n```"),
        ));
        wrong.push((
            p,
            format!("```python\ndef {name}(*args):\n    return {shown}\n```"),
        ));
    }
    let batch: Vec<(&Prompt, &str)> = wrong.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let scores = reward.score_batch(&batch);
    for ((p, solution), s) in wrong.iter().zip(&scores) {
        let s = s.as_ref().unwrap();
        if solution.contains("return None") {
            assert_eq!(*s, 0.0, "{}: {solution}", p.id);
        } else {
            assert!(*s > 0.0 && *s < 1.0, "{}: {solution}: {s}", p.id);
        }
    }
}

const CLIENT: &str = r#"
id = "py-0"
task = "code"
mix = [
  { weight = 0.5, task = { type = "python", families = ["list", "arithmetic"] } },
  { weight = 0.5, task = { type = "python", families = ["string"], difficulty = 2, n_tests = 4 } },
]
rewards = [
  { type = "python_tests", weight = 0.8, workers = 2 },
  { type = "length", weight = 0.2, max = 400, unit = "chars" },
]
"#;

#[test]
fn a_python_client_round_trips_through_toml() {
    let client = ClientSpec::from_toml_str(CLIENT).unwrap();
    assert_eq!(
        client.mix.components()[1].task,
        TaskSpec::Python(PythonTaskConfig::new(vec![PythonFamily::String], 2).with_tests(4))
    );
    assert_eq!(
        client.mix.components()[0].task,
        TaskSpec::Python(PythonTaskConfig::new(
            vec![PythonFamily::List, PythonFamily::Arithmetic],
            1
        ))
    );
    client.mix.validate().unwrap();
    let text = toml::to_string(&client).unwrap();
    assert!(text.contains("type = \"python\""), "{text}");
    assert_eq!(ClientSpec::from_toml_str(&text).unwrap(), client);
    // The mix alone, and errors naming the field.
    let mix = TaskMix::single(TaskSpec::Python(PythonTaskConfig::default()));
    let back: TaskMix = serde_json::from_value(serde_json::to_value(&mix).unwrap()).unwrap();
    assert_eq!(back, mix);
    let bad = CLIENT.replace("n_tests = 4", "n_tests = 0");
    let e = ClientSpec::from_toml_str(&bad)
        .unwrap()
        .mix
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "mix[1].task.n_tests");
    let bad = CLIENT.replace("difficulty = 2", "difficulty = 3");
    let e = ClientSpec::from_toml_str(&bad)
        .unwrap()
        .mix
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "mix[1].task.difficulty");
    let bad = CLIENT.replace("[\"string\"]", "[]");
    let e = ClientSpec::from_toml_str(&bad)
        .unwrap()
        .mix
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "mix[1].task.families");
    assert!(ClientSpec::from_toml_str(&CLIENT.replace("families", "family")).is_err());
}

#[test]
fn python_clients_validate_and_reference_solutions_satisfy_them() {
    let Some(_) = sandbox() else { return };
    let text = format!("seed = 5\n[[clients]]\n{CLIENT}");
    let registry = RewardRegistry::with_builtins();
    let scenario = Scenario::from_toml_str(&text).unwrap();
    scenario.validate(&registry).unwrap();
    let client = &scenario.clients[0];
    let data = client.dataset(scenario.client_seed(0), 12, 4, 4).unwrap();
    assert_eq!(
        data,
        client.dataset(scenario.client_seed(0), 12, 4, 4).unwrap()
    );
    let set = client.reward_set(&registry).unwrap();
    let batch: Vec<_> = data
        .train
        .iter()
        .chain(&data.validation)
        .chain(&data.test)
        .map(|p| (p, p.solution.as_deref().unwrap_or("")))
        .collect();
    let stats = set.score_batch(&batch).stats();
    assert_eq!(stats[0].satisfaction, 1.0, "{stats:?}");
    assert_eq!(stats[0].errors, 0);
    assert_eq!(stats[1].satisfaction, 1.0, "{stats:?}");
}
