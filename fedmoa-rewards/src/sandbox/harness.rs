//! The Python harness (`harness.py`), the JSON spec it reads and the [`TestReport`] parsed
//! from its private result channel.
//!
//! A run has two phases. The **oracle** run (trusted inputs only: the setup and the
//! asserts, never candidate code) turns every `assert LEFT == RIGHT` into a [`Check`]: the
//! SHA-256 of RIGHT's canonical encoding and LEFT's source. The **candidate** run then
//! only evaluates LEFT and reports its digest; the comparison happens here, in Rust, so
//! the candidate's process never holds the expected value it would have to forge. Any
//! other assert runs whole in the candidate's process ([`Check::Legacy`]).

use serde_json::json;

use super::limits::SandboxLimits;

/// The harness source, run with `python3 <Interpreter::isolated_flags> -c`.
pub(crate) const HARNESS: &str = include_str!("harness.py");

/// The uid the harness drops to when it starts as root (conventionally `nobody`).
pub(crate) const NOBODY: u32 = 65_534;

/// Which phase the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Setup and asserts only: reports a [`Check`] per assert.
    Oracle,
    /// The candidate program, the setup, then each [`TestSpec`].
    Candidate,
}

/// One test as sent to a candidate run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestSpec<'a> {
    /// A rewritten assert: evaluate this expression (LEFT) and report its digest.
    Expr(&'a str),
    /// A legacy assert: execute it whole and report pass or fail.
    Assert(&'a str),
}

/// How the oracle run says an assert is to be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// `assert LEFT == RIGHT` with a plain RIGHT: the candidate passes when the digest of
    /// its LEFT equals `digest` (SHA-256 hex of RIGHT's canonical encoding).
    Digest {
        /// SHA-256 hex of `canon(RIGHT)`.
        digest: String,
        /// LEFT's source text.
        left: String,
    },
    /// Any other assert: executed whole in the candidate's process (forgeable).
    Legacy,
}

/// The JSON spec written to the harness's stdin.
pub(crate) fn spec(
    nonce: &str,
    limits: &SandboxLimits,
    drop_to: Option<u32>,
    mode: Mode,
    program: &str,
    setup: &str,
    tests: &[TestSpec<'_>],
) -> Vec<u8> {
    let rlimits: serde_json::Map<String, serde_json::Value> = limits
        .rlimits()
        .iter()
        .map(|(name, value)| ((*name).to_string(), json!(value)))
        .collect();
    let tests: Vec<serde_json::Value> = tests
        .iter()
        .map(|t| match t {
            TestSpec::Expr(e) => json!({ "expr": e }),
            TestSpec::Assert(a) => json!({ "assert": a }),
        })
        .collect();
    json!({
        "nonce": nonce,
        "limits": rlimits,
        "drop_to": drop_to,
        "mode": match mode {
            Mode::Oracle => "oracle",
            Mode::Candidate => "candidate",
        },
        "program": program,
        "setup": setup,
        "tests": tests,
    })
    .to_string()
    .into_bytes()
}

/// Bytes of result channel to keep for `tests` in `mode`: room for one line per test
/// (with LEFT's source as hex in an oracle run) and the ready/done lines.
pub(crate) fn channel_cap(mode: Mode, tests: &[String]) -> usize {
    let per_test: usize = match mode {
        Mode::Oracle => tests.iter().map(|t| 256 + 2 * t.len()).sum(),
        Mode::Candidate => 256 * tests.len(),
    };
    4096 + per_test
}

/// What one run established about a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// Per assert: true only when it passed: for a rewritten `assert LEFT == RIGHT`, the
    /// digest the candidate reported for LEFT equals the oracle's digest of RIGHT; for a
    /// legacy assert, the harness reported it passed.
    pub passed: Vec<bool>,
    /// How many asserts ran in legacy mode: executed whole inside the candidate's process,
    /// so a candidate that tampers with the harness could forge them (see
    /// `docs/SECURITY.md`). 0 for all of MBPP.
    pub unchecked: usize,
    /// Whether the harness reported finishing every assert.
    pub finished: bool,
    /// Whether the run was killed at the wall-clock limit.
    pub timed_out: bool,
    /// The candidate's stdout and stderr, truncated to the output limit (lossy UTF-8).
    pub output: String,
    /// Whether output was cut at the limit.
    pub output_truncated: bool,
}

impl TestReport {
    /// Fraction of asserts that passed (0 when there are none).
    pub fn pass_rate(&self) -> f32 {
        if self.passed.is_empty() {
            return 0.0;
        }
        self.passed.iter().filter(|p| **p).count() as f32 / self.passed.len() as f32
    }
}

/// One test's result line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A legacy assert ran without raising.
    Pass,
    /// The test raised, or its value was not plain.
    Fail,
    /// The digest of a rewritten test's LEFT.
    Value(String),
    /// Oracle: a rewritten assert.
    Check(Check),
    /// More than one line for the test (only a candidate writing to the channel does
    /// that): it counts as nothing.
    Conflict,
}

/// What the channel says: a result per test, whether it finished, and a failed limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelReport {
    pub outcomes: Vec<Option<Outcome>>,
    pub finished: bool,
    pub limit_failed: Option<String>,
}

impl ChannelReport {
    /// The oracle's verdicts: a test without a (single, valid) `check` line is legacy.
    pub(crate) fn checks(&self) -> Vec<Check> {
        self.outcomes
            .iter()
            .map(|o| match o {
                Some(Outcome::Check(c)) => c.clone(),
                _ => Check::Legacy,
            })
            .collect()
    }

    /// Per test, whether the candidate passed it under `checks`.
    pub(crate) fn passed(&self, checks: &[Check]) -> Vec<bool> {
        checks
            .iter()
            .enumerate()
            .map(|(i, check)| match (check, self.outcomes.get(i)) {
                (Check::Digest { digest, .. }, Some(Some(Outcome::Value(d)))) => d == digest,
                (Check::Legacy, Some(Some(Outcome::Pass))) => true,
                _ => false,
            })
            .collect()
    }
}

/// Whether `s` is a SHA-256 digest as the harness writes it (64 lowercase hex digits).
fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Decodes lowercase or uppercase hex to UTF-8 text.
fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Parses one test's line (`word` and the fields after the pid); `None` when malformed.
fn outcome(word: &str, rest: &[&str]) -> Option<Outcome> {
    match (word, rest) {
        ("pass", []) => Some(Outcome::Pass),
        ("fail", []) => Some(Outcome::Fail),
        ("legacy", []) => Some(Outcome::Check(Check::Legacy)),
        ("value", [d]) if is_digest(d) => Some(Outcome::Value((*d).to_string())),
        ("check", [d, left]) if is_digest(d) => Some(Outcome::Check(Check::Digest {
            digest: (*d).to_string(),
            left: unhex(left)?,
        })),
        _ => None,
    }
}

/// Parses the channel: only lines `<nonce> <word> <i> <pid>[ <fields>]` count, and only
/// from the pid announced by the first `ready` line (written before any candidate code
/// ran), so lines without the nonce and lines from forked children are ignored. A second
/// line for the same test turns it into [`Outcome::Conflict`].
pub(crate) fn parse_channel(text: &str, nonce: &str, n_tests: usize) -> ChannelReport {
    let mut report = ChannelReport {
        outcomes: vec![None; n_tests],
        finished: false,
        limit_failed: None,
    };
    let mut pid: Option<&str> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [tag, word, index, from, rest @ ..] = &fields[..] else {
            continue;
        };
        let (tag, word, index, from) = (*tag, *word, *index, *from);
        if tag != nonce {
            continue;
        }
        if let Some(limit) = word.strip_prefix("limit_failed:") {
            report.limit_failed = Some(limit.to_string());
            continue;
        }
        match (word, pid) {
            ("ready", None) => pid = Some(from),
            (_, Some(p)) if p == from => {
                if word == "done" {
                    report.finished = true;
                    continue;
                }
                let slot = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| report.outcomes.get_mut(i));
                if let (Some(slot), Some(o)) = (slot, outcome(word, rest)) {
                    *slot = Some(if slot.is_some() { Outcome::Conflict } else { o });
                }
            }
            _ => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "d36c5f114d457663d640f74fd0d241883fb762c85239173b3c30789ce3478a58";
    const D2: &str = "a036d186fc58b0bdb08ef1c473a817c2d2cfe291397aa4e5483fafd04d8444ae";

    #[test]
    fn only_nonced_lines_from_the_announced_pid_count() {
        let text = "n ready -1 7\nn pass 0 7\nx pass 1 7\nn pass 1 8\nn fail 2 7\nn pass 9 7\npass 2\nn done -1 7\n";
        let r = parse_channel(text, "n", 3);
        assert_eq!(
            r.outcomes,
            vec![Some(Outcome::Pass), None, Some(Outcome::Fail)]
        );
        assert_eq!(r.passed(&vec![Check::Legacy; 3]), vec![true, false, false]);
        assert!(r.finished);
        // Nothing counts before `ready`.
        let r = parse_channel("n pass 0 7\nn ready -1 7\n", "n", 1);
        assert_eq!(r.outcomes, vec![None]);
        assert!(!r.finished);
        let r = parse_channel("n limit_failed:RLIMIT_AS -1 7\n", "n", 1);
        assert_eq!(r.limit_failed.as_deref(), Some("RLIMIT_AS"));
    }

    #[test]
    fn oracle_lines_become_checks() {
        // "f(1)" is 66 28 31 29 in hex.
        let text = format!(
            "n ready -1 7\nn check 0 7 {D1} 66283129\nn legacy 1 7\nn check 2 7 {D1} 6\nn check 3 7 xyz 66\nn check 4 8 {D1} 66\nn done -1 7\n"
        );
        let r = parse_channel(&text, "n", 6);
        let want = Check::Digest {
            digest: D1.into(),
            left: "f(1)".into(),
        };
        // Odd hex, a bad digest, another pid and a missing line are all legacy.
        assert_eq!(
            r.checks(),
            vec![
                want,
                Check::Legacy,
                Check::Legacy,
                Check::Legacy,
                Check::Legacy,
                Check::Legacy
            ]
        );
        assert_eq!(unhex("c3a9").as_deref(), Some("é"));
        assert_eq!(unhex("ff"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn candidate_values_must_match_the_oracle_digest() {
        let checks = [
            Check::Digest {
                digest: D1.into(),
                left: "f(1)".into(),
            },
            Check::Digest {
                digest: D1.into(),
                left: "f(2)".into(),
            },
            Check::Legacy,
            Check::Digest {
                digest: D2.into(),
                left: "f(3)".into(),
            },
            Check::Digest {
                digest: D2.into(),
                left: "f(4)".into(),
            },
        ];
        // 0: right digest; 1: wrong digest; 2: legacy pass; 3: a forged second line for
        // the same test (one of them right) is a conflict; 4: `pass` is no value.
        let text = format!(
            "n ready -1 7\nn value 0 7 {D1}\nn value 1 7 {D2}\nn pass 2 7\nn value 3 7 {D1}\nn value 3 7 {D2}\nn pass 4 7\nn done -1 7\n"
        );
        let r = parse_channel(&text, "n", 5);
        assert_eq!(r.outcomes[3], Some(Outcome::Conflict));
        assert_eq!(r.passed(&checks), vec![true, false, true, false, false]);
        // A value for a legacy test, or a malformed digest, does not pass.
        let text = format!("n ready -1 7\nn value 0 7 {D1}\nn value 1 7 {}\n", &D1[1..]);
        let r = parse_channel(&text, "n", 2);
        assert_eq!(r.outcomes[1], None);
        assert_eq!(
            r.passed(&[Check::Legacy, checks[0].clone()]),
            vec![false, false]
        );
    }

    #[test]
    fn pass_rate_by_hand() {
        let r = TestReport {
            passed: vec![true, false, true, true],
            unchecked: 0,
            finished: true,
            timed_out: false,
            output: String::new(),
            output_truncated: false,
        };
        // 3 of 4 passed.
        assert_eq!(r.pass_rate(), 0.75);
        assert_eq!(
            TestReport {
                passed: vec![],
                ..r
            }
            .pass_rate(),
            0.0
        );
    }

    #[test]
    fn spec_carries_limits_and_code() {
        let s = spec(
            "n",
            &SandboxLimits::default(),
            Some(NOBODY),
            Mode::Candidate,
            "p",
            "s",
            &[TestSpec::Assert("assert 1"), TestSpec::Expr("f(1)")],
        );
        let v: serde_json::Value = serde_json::from_slice(&s).unwrap();
        assert_eq!(v["limits"]["RLIMIT_AS"], 536_870_912);
        assert_eq!(v["drop_to"], 65_534);
        assert_eq!(v["mode"], "candidate");
        assert_eq!(v["tests"][0]["assert"], "assert 1");
        assert_eq!(v["tests"][1]["expr"], "f(1)");
        // The oracle's cap leaves room for LEFT as hex.
        let t = vec!["x".repeat(1000)];
        assert!(channel_cap(Mode::Oracle, &t) > 2 * 1000 + 200);
    }
}
