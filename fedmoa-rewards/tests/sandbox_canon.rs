//! The sandbox judges `assert LEFT == RIGHT` by comparing canonical encodings of plain
//! values outside the candidate's process; here its verdicts are checked against what
//! Python's `==` says for the same values (numbers across types, containers, NaN, order).
//! Skipped, with a message, when `python3` is unavailable.

use fedmoa_rewards::sandbox::{PythonSandbox, SandboxConfig};

/// `(LEFT, RIGHT, LEFT == RIGHT in Python)`, all plain values.
const SAME_AS_PYTHON: &[(&str, &str, bool)] = &[
    ("1", "1.0", true),
    ("1", "True", true),
    ("1.0", "True", true),
    ("0", "-0.0", true),
    ("0", "False", true),
    ("[1]", "(1,)", false),
    ("[]", "()", false),
    ("{}", "set()", false),
    ("{1: 'a'}", "{True: 'a'}", true),
    ("{1: 'a'}", "{1.0: 'a'}", true),
    ("{1, 2}", "frozenset({2, 1})", true),
    (
        "{frozenset({1}): (1, 2)}",
        "{frozenset({1.0}): (True, 2.0)}",
        true,
    ),
    ("0.1 + 0.2", "0.3", false),
    ("0.5 + 0.25", "0.75", true),
    ("float('nan')", "float('nan')", false),
    ("[float('nan')]", "[float('nan')]", false),
    ("float('inf')", "float('inf')", true),
    ("float('inf')", "float('-inf')", false),
    ("1e308 * 10", "float('inf')", true),
    ("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}", true),
    ("{'a': 1, 'b': 2}", "{'a': 1, 'b': 3}", false),
    ("[1, 2]", "[2, 1]", false),
    ("'a'", "b'a'", false),
    ("'ab'", "'a' + 'b'", true),
    ("'é'", "'e\\u0301'", false),
    ("'x'", "['x']", false),
    ("b'\\x00'", "b''", false),
    ("None", "0", false),
    ("None", "None", true),
    ("''", "None", false),
    ("2 ** 100", "float(2 ** 100)", true),
    ("2 ** 53 + 1", "float(2 ** 53 + 1)", false),
    ("10 ** 5000", "10 ** 5000", true),
    ("10 ** 5000", "10 ** 5000 + 1", false),
    ("1 + 0j", "1", true),
    ("1j", "1", false),
    ("complex(1, 2)", "1 + 2j", true),
    ("(1, [2, {3: (4,)}])", "(1.0, [2, {3.0: (4,)}])", true),
    ("(1, [2, {3: (4,)}])", "(1, [2, {3: [4]}])", false),
    ("collections.Counter('abb')", "{'a': 1, 'b': 2}", true),
    ("collections.defaultdict(int, a=1)", "{'a': 1}", true),
    ("[[[[[[1]]]]]]", "[[[[[[1]]]]]]", true),
];

/// `(LEFT, RIGHT)` where Python's `==` is true but LEFT is not a plain value, so the
/// sandbox fails the assert: stricter than `==`, by design (docs/SECURITY.md).
const STRICTER: &[(&str, &str)] = &[
    ("fractions.Fraction(1, 2)", "0.5"),
    ("decimal.Decimal('0.5')", "0.5"),
    ("collections.OrderedDict(a=1)", "{'a': 1}"),
    ("collections.namedtuple('P', 'x y')(1, 2)", "(1, 2)"),
    ("{1: 2}.keys()", "{1}"),
    ("bytearray(b'a')", "b'a'"),
];

const SETUP: &str = "import collections, decimal, fractions, functools\n";

fn sandbox() -> Option<PythonSandbox> {
    match PythonSandbox::new(&SandboxConfig::default()) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("skipping the canonical-value tests: {e}");
            None
        }
    }
}

/// What the interpreter itself says about `LEFT == RIGHT` for each pair, unsandboxed.
fn python_says(sandbox: &PythonSandbox, pairs: &[(&str, &str)]) -> Vec<bool> {
    let checks: Vec<String> = pairs
        .iter()
        .map(|(l, r)| format!("({l}) == ({r})"))
        .collect();
    let source = format!("{SETUP}print(*[{}])", checks.join(", "));
    let out = std::process::Command::new(&sandbox.interpreter().path)
        .args(["-S", "-c", &source])
        .output()
        .expect("the interpreter runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w == "True")
        .collect()
}

#[test]
fn verdicts_match_python_equality_on_plain_values() {
    let Some(sandbox) = sandbox() else { return };
    let pairs: Vec<(&str, &str)> = SAME_AS_PYTHON.iter().map(|(l, r, _)| (*l, *r)).collect();
    let expected: Vec<bool> = SAME_AS_PYTHON.iter().map(|(_, _, e)| *e).collect();
    // The table is right about this interpreter.
    assert_eq!(python_says(&sandbox, &pairs), expected);
    let asserts: Vec<String> = pairs
        .iter()
        .map(|(l, r)| format!("assert {l} == {r}"))
        .collect();
    // Every assert is checked outside the candidate's process (none is legacy).
    assert!(
        sandbox
            .checked_asserts(SETUP, &asserts)
            .unwrap()
            .iter()
            .all(|c| *c)
    );
    let report = sandbox.run("", SETUP, &asserts).unwrap();
    assert_eq!(report.unchecked, 0);
    for ((pair, want), got) in pairs.iter().zip(&expected).zip(&report.passed) {
        assert_eq!(got, want, "{pair:?}");
    }
}

#[test]
fn non_plain_values_fail_even_when_python_says_equal() {
    let Some(sandbox) = sandbox() else { return };
    assert!(python_says(&sandbox, STRICTER).iter().all(|e| *e));
    let asserts: Vec<String> = STRICTER
        .iter()
        .map(|(l, r)| format!("assert {l} == {r}"))
        .collect();
    let report = sandbox.run("", SETUP, &asserts).unwrap();
    assert_eq!(report.passed, vec![false; asserts.len()]);
}

#[test]
fn other_asserts_run_in_legacy_mode() {
    let Some(sandbox) = sandbox() else { return };
    // Not `LEFT == RIGHT`, or a RIGHT that is no plain value: run whole, as before.
    let asserts: Vec<String> = [
        "assert f(1) != 3",
        "assert f(1) in (2, 3)",
        "assert f(1) == 2 == 2",
        "assert f(1) == fractions.Fraction(2)",
        "assert f(1) == undefined_name",
        "assert f(1) == 2, 'a message'",
        "assert f(1) == 2; x = 1",
        "assert f(1) == 3",
        // Nested deeper than the encoding's bound (100): not a plain value either.
        "assert functools.reduce(lambda a, _: [a], range(150), []) == functools.reduce(lambda a, _: [a], range(150), [])",
    ]
    .map(String::from)
    .to_vec();
    let checked = sandbox.checked_asserts(SETUP, &asserts).unwrap();
    assert_eq!(
        checked,
        vec![false, false, false, false, false, true, false, true, false]
    );
    let report = sandbox
        .run("def f(x):\n    return x + 1\n", SETUP, &asserts)
        .unwrap();
    assert_eq!(report.unchecked, 7);
    assert_eq!(
        report.passed,
        vec![true, true, true, true, false, true, true, false, true]
    );
}
