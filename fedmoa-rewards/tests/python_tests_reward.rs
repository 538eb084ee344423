//! The `python_tests` reward on hand-written tasks: partial credit, determinism, batches,
//! registry/TOML construction. Skipped, with a message, when `python3` is unavailable.

use fedmoa_core::{Prompt, Reference, RewardFn};
use fedmoa_rewards::rewards::{PythonTests, PythonTestsConfig};
use fedmoa_rewards::{PYTHON_TESTS, PluginConfig, RewardRegistry};

fn reward() -> Option<PythonTests> {
    match PythonTestsConfig::default().build() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("skipping the python_tests reward tests: {e}");
            None
        }
    }
}

fn prompt(setup: &str, asserts: &[String]) -> Prompt {
    Prompt {
        id: "t".into(),
        task: "code".into(),
        text: "Write f.".into(),
        reference: Reference::PythonTests {
            setup: setup.into(),
            asserts: asserts.to_vec(),
        },
        solution: None,
    }
}

#[test]
fn partial_credit_by_hand() {
    let Some(r) = reward() else { return };
    let asserts: Vec<String> = [
        "assert f(0) == 0",
        "assert f(1) == 1",
        "assert f(2) == 4",
        "assert f(3) == 9",
    ]
    .map(String::from)
    .to_vec();
    let p = prompt("", &asserts);
    // x * x passes all 4; x passes f(0), f(1): 2 of 4; x + x passes f(0), f(2): 2 of 4;
    // 1 / x fails f(0) (ZeroDivisionError), gives 1.0 == 1 ✓, 0.5 ✗, 0.33 ✗: 1 of 4.
    let cases = [
        ("```python\ndef f(x):\n    return x * x\n```", 1.0),
        ("def f(x):\n    return x", 0.5),
        ("<answer>\ndef f(x):\n    return x + x\n</answer>", 0.5),
        ("def f(x):\n    return 1 / x", 0.25),
        ("def f(x) return", 0.0),
        ("", 0.0),
    ];
    let batch: Vec<(&Prompt, &str)> = cases.iter().map(|(c, _)| (&p, *c)).collect();
    let scores = r.score_batch(&batch);
    for ((c, want), got) in cases.iter().zip(&scores) {
        assert_eq!(*got, Ok(*want), "{c}");
        assert_eq!(r.score(&p, c), Ok(*want), "{c}");
    }
    // The setup runs after the candidate and before the asserts.
    let p = prompt("K = 3", &["assert f(1) == 4".to_string()]);
    assert_eq!(r.score(&p, "def f(x):\n    return x + K"), Ok(1.0));
}

#[test]
fn string_set_order_is_deterministic() {
    let Some(r) = reward() else { return };
    // The pass rate depends on the iteration order of a set of strings; with random hash
    // seeds 8 runs would almost surely disagree (about 12 distinct pass rates exist).
    let words: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
    let asserts: Vec<String> = (0..11)
        .map(|i| format!("assert f().index('w{i}') < f().index('w{}')", i + 1))
        .collect();
    let program = format!(
        "def f():\n    return list({{{}}})",
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let p = prompt("", &asserts);
    let batch: Vec<(&Prompt, &str)> = (0..8).map(|_| (&p, program.as_str())).collect();
    let scores = r.score_batch(&batch);
    assert!(scores.iter().all(|s| *s == scores[0]), "{scores:?}");
}

#[test]
fn wrong_references_are_unscorable() {
    let Some(r) = reward() else { return };
    let p = Prompt {
        reference: Reference::IoCases {
            cases: vec![(1, 1)],
        },
        ..prompt("", &[])
    };
    assert!(r.score(&p, "x").is_err());
    assert!(r.score(&prompt("", &[]), "x").is_err());
}

#[test]
fn builds_from_the_registry() {
    if reward().is_none() {
        return;
    }
    let registry = RewardRegistry::with_builtins();
    let table =
        |text: &str| PluginConfig::try_from(toml::from_str::<toml::Table>(text).unwrap()).unwrap();
    let r = registry
        .build(&table(
            "type = \"python_tests\"\nid = \"mbpp\"\nworkers = 1\nlimits = { wall_ms = 3000 }",
        ))
        .unwrap();
    assert_eq!(r.id().as_str(), "mbpp");
    let e = registry
        .build(&table("type = \"python_tests\"\nlimits = { wall = 1 }"))
        .err()
        .unwrap();
    assert_eq!(e.field, PYTHON_TESTS);
    assert!(e.reason.contains("wall"), "{e}");
    let e = registry
        .build(&table("type = \"python_tests\"\nlimits = { cpu_s = 0 }"))
        .err()
        .unwrap();
    assert_eq!(e.field, "python_tests.limits.cpu_s");
    let e = registry
        .build(&table(
            "type = \"python_tests\"\npython = \"/nonexistent/python3\"",
        ))
        .err()
        .unwrap();
    assert_eq!(e.field, "python_tests.python");
}
