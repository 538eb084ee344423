//! The Python harness (`harness.py`), the JSON spec it reads and the [`TestReport`] parsed
//! from its private result channel.

use serde_json::json;

use super::limits::SandboxLimits;

/// The harness source, run with `python3 <Interpreter::isolated_flags> -c`.
pub(crate) const HARNESS: &str = include_str!("harness.py");

/// The uid the harness drops to when it starts as root (conventionally `nobody`).
pub(crate) const NOBODY: u32 = 65_534;

/// The JSON spec written to the harness's stdin.
pub(crate) fn spec(
    nonce: &str,
    limits: &SandboxLimits,
    drop_to: Option<u32>,
    program: &str,
    setup: &str,
    tests: &[String],
) -> Vec<u8> {
    let rlimits: serde_json::Map<String, serde_json::Value> = limits
        .rlimits()
        .iter()
        .map(|(name, value)| ((*name).to_string(), json!(value)))
        .collect();
    json!({
        "nonce": nonce,
        "limits": rlimits,
        "drop_to": drop_to,
        "program": program,
        "setup": setup,
        "tests": tests,
    })
    .to_string()
    .into_bytes()
}

/// What one run established about a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// Per assert: true only when the harness reported it passed.
    pub passed: Vec<bool>,
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

/// What the channel says: per-assert passes, whether it finished, and a failed limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelReport {
    pub passed: Vec<bool>,
    pub finished: bool,
    pub limit_failed: Option<String>,
}

/// Parses the channel: only lines `<nonce> <word> <i> <pid>` count, and only from the pid
/// announced by the first `ready` line (written before any candidate code ran), so lines
/// without the nonce and lines from forked children are ignored.
pub(crate) fn parse_channel(text: &str, nonce: &str, n_tests: usize) -> ChannelReport {
    let mut report = ChannelReport {
        passed: vec![false; n_tests],
        finished: false,
        limit_failed: None,
    };
    let mut pid: Option<&str> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [tag, word, index, from] = fields[..] else {
            continue;
        };
        if tag != nonce {
            continue;
        }
        if let Some(limit) = word.strip_prefix("limit_failed:") {
            report.limit_failed = Some(limit.to_string());
            continue;
        }
        match (word, pid) {
            ("ready", None) => pid = Some(from),
            (_, Some(p)) if p == from => match word {
                "pass" => {
                    if let Some(slot) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| report.passed.get_mut(i))
                    {
                        *slot = true;
                    }
                }
                "done" => report.finished = true,
                _ => {}
            },
            _ => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nonced_lines_from_the_announced_pid_count() {
        let text = "n ready -1 7\nn pass 0 7\nx pass 1 7\nn pass 1 8\nn fail 2 7\nn pass 9 7\npass 2\nn done -1 7\n";
        let r = parse_channel(text, "n", 3);
        assert_eq!(r.passed, vec![true, false, false]);
        assert!(r.finished);
        // Nothing counts before `ready`.
        let r = parse_channel("n pass 0 7\nn ready -1 7\n", "n", 1);
        assert_eq!(r.passed, vec![false]);
        assert!(!r.finished);
        let r = parse_channel("n limit_failed:RLIMIT_AS -1 7\n", "n", 1);
        assert_eq!(r.limit_failed.as_deref(), Some("RLIMIT_AS"));
    }

    #[test]
    fn pass_rate_by_hand() {
        let r = TestReport {
            passed: vec![true, false, true, true],
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
            "p",
            "s",
            &["assert 1".into()],
        );
        let v: serde_json::Value = serde_json::from_slice(&s).unwrap();
        assert_eq!(v["limits"]["RLIMIT_AS"], 536_870_912);
        assert_eq!(v["drop_to"], 65_534);
        assert_eq!(v["tests"][0], "assert 1");
    }
}
