//! [`PythonSandbox`]: runs a candidate program and its asserts under the sandbox.

use std::path::PathBuf;
use std::process::Command;

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use super::error::SandboxError;
use super::harness::{HARNESS, NOBODY, TestReport, parse_channel, spec};
use super::interpreter::Interpreter;
use super::isolation::{Isolation, IsolationMode};
use super::limits::SandboxLimits;
use super::nonce::fresh_nonce;
use super::process::run_contained;

/// How a [`PythonSandbox`] is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// The interpreter (default `python3` on `PATH`, resolved once to its real executable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// Namespace isolation (default `auto`).
    #[serde(default)]
    pub isolation: IsolationMode,
    /// Resource limits of every run.
    #[serde(default)]
    pub limits: SandboxLimits,
}

/// Standard modules the self-test imports: MBPP solutions need them, and a root
/// interpreter whose library `nobody` cannot read (e.g. under `/root`) must keep root.
const SELF_TEST_IMPORTS: &str =
    "import bisect, collections, functools, heapq, itertools, math, re\n";

/// A ready sandbox: interpreter resolved, isolation probed, self-test passed.
#[derive(Debug, Clone)]
pub struct PythonSandbox {
    interpreter: Interpreter,
    isolation: Isolation,
    limits: SandboxLimits,
    /// The uid the harness drops to (root only: [`NOBODY`] when its library is readable).
    drop_to: Option<u32>,
}

impl PythonSandbox {
    /// Resolves the interpreter, probes namespaces and runs a self-test (one passing and
    /// one failing assert must come back as such).
    ///
    /// # Errors
    /// [`ConfigError`] naming `python`, `isolation` or `limits.*`.
    pub fn new(config: &SandboxConfig) -> Result<PythonSandbox, ConfigError> {
        config.limits.validate()?;
        let interpreter = Interpreter::resolve(config.python.as_deref())?;
        let root = rustix::process::geteuid().is_root();
        let isolation = Isolation::detect(config.isolation, &interpreter.path, root)?;
        let mut sandbox = PythonSandbox {
            interpreter,
            isolation,
            limits: config.limits.clone(),
            drop_to: root.then_some(NOBODY),
        };
        if root && sandbox.self_test().is_err() {
            // `nobody` may be unable to read the interpreter's library: keep root then
            // (namespaces and the audit hook still apply; see docs/SECURITY.md).
            sandbox.drop_to = None;
        }
        sandbox.self_test()?;
        Ok(sandbox)
    }

    /// One passing and one failing assert, after importing common modules, must come
    /// back as such.
    fn self_test(&self) -> Result<(), ConfigError> {
        let tests = [
            "assert f(1) == 2".to_string(),
            "assert f(1) == 3".to_string(),
        ];
        let program = format!("{SELF_TEST_IMPORTS}def f(x):\n    return x + 1\n");
        match self.run(&program, "", &tests) {
            Ok(r) if r.passed == [true, false] && r.finished => Ok(()),
            Ok(r) => Err(ConfigError::new(
                "python",
                format!(
                    "sandbox self-test gave {:?} (timed out: {}); output: {}",
                    r.passed, r.timed_out, r.output
                ),
            )),
            Err(e) => Err(ConfigError::new(
                "python",
                format!("sandbox self-test failed: {e}"),
            )),
        }
    }

    /// The uid candidates run as when this process is root (`None`: unchanged).
    pub fn drops_to_uid(&self) -> Option<u32> {
        self.drop_to
    }

    /// The interpreter in use.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// The isolation in use.
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The limits of every run.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Runs `program`, then `setup`, then each assert of `tests` in one fresh process.
    ///
    /// A candidate that fails, crashes, exits early or times out gets those asserts
    /// marked failed; that is a report, not an error.
    ///
    /// # Errors
    /// [`SandboxError`] when the sandbox itself cannot run (temp dir, spawn, limits).
    pub fn run(
        &self,
        program: &str,
        setup: &str,
        tests: &[String],
    ) -> Result<TestReport, SandboxError> {
        let dir = tempfile::Builder::new()
            .prefix("fedmoa-sandbox-")
            .tempdir()?;
        let drop_to = self.drop_to;
        if let Some(uid) = drop_to {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid))?;
        }
        let nonce = fresh_nonce()?;
        let input = spec(&nonce, &self.limits, drop_to, program, setup, tests);
        let mut cmd = match &self.isolation {
            Isolation::Namespaces {
                unshare,
                user_namespace,
            } => {
                let mut c = Command::new(unshare);
                c.args(Isolation::unshare_args(*user_namespace))
                    .arg(&self.interpreter.path);
                c
            }
            Isolation::Unavailable { .. } => Command::new(&self.interpreter.path),
        };
        cmd.args(self.interpreter.isolated_flags())
            .args(["-c", HARNESS])
            .env_clear()
            .env("PYTHONHASHSEED", "0")
            .current_dir(dir.path());
        let channel_cap = 4096 + 128 * tests.len();
        let captured = run_contained(
            cmd,
            input,
            self.limits.wall(),
            channel_cap,
            self.limits.output_bytes,
        )?;
        let channel = parse_channel(
            &String::from_utf8_lossy(&captured.stdout),
            &nonce,
            tests.len(),
        );
        if let Some(limit) = channel.limit_failed {
            return Err(SandboxError::LimitFailed { limit });
        }
        Ok(TestReport {
            passed: channel.passed,
            finished: channel.finished,
            timed_out: captured.timed_out,
            output: String::from_utf8_lossy(&captured.stderr).into_owned(),
            output_truncated: captured.stderr_truncated,
        })
    }
}
