//! [`PythonSandbox`]: runs a candidate program and its asserts under the sandbox.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use super::error::SandboxError;
use super::harness::{
    ChannelReport, Check, HARNESS, Mode, NOBODY, TestReport, TestSpec, channel_cap, parse_channel,
    spec,
};
use super::interpreter::Interpreter;
use super::isolation::{Isolation, IsolationMode};
use super::limits::SandboxLimits;
use super::nonce::fresh_nonce;
use super::process::{Captured, run_contained};

/// How a [`PythonSandbox`] is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// The interpreter (default `python3` on `PATH`, resolved once to its real executable).
    /// As root, when unset and `python3` fails the self-test as uid 65 534 (`nobody`), the
    /// system interpreters in [`SYSTEM_PYTHONS`] are tried next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// Namespace isolation (default `auto`).
    #[serde(default)]
    pub isolation: IsolationMode,
    /// Resource limits of every run.
    #[serde(default)]
    pub limits: SandboxLimits,
    /// When this process is root and no interpreter works as `nobody`: run candidate code
    /// as root (`true`) instead of failing at construction (default `false`). Namespaces
    /// and the audit hook still apply, but file permissions then protect nothing.
    #[serde(default)]
    pub allow_root: bool,
}

/// World-usable interpreters tried, in order, when running as root and the default
/// `python3` fails the self-test as `nobody` (e.g. a pyenv install under `/root`, which
/// is mode 0700).
pub const SYSTEM_PYTHONS: [&str; 2] = ["/usr/bin/python3", "/usr/local/bin/python3"];

/// Oracle results are cached per (setup, asserts) up to this many prompts, then the
/// cache is cleared.
const ORACLE_CACHE_MAX: usize = 4096;

/// One prompt's oracle result: filled by the first run that needs it, while concurrent
/// runs for the same prompt wait for it.
type OracleSlot = Arc<Mutex<Option<Arc<Vec<Check>>>>>;

/// Oracle results per (setup, asserts), shared by the clones of a sandbox.
#[derive(Default)]
struct OracleCache {
    entries: Mutex<HashMap<(String, Vec<String>), OracleSlot>>,
}

impl fmt::Debug for OracleCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map_or(0, |entries| entries.len());
        write!(f, "OracleCache({n} prompts)")
    }
}

/// Standard modules the self-test imports: MBPP solutions need them, and an interpreter
/// whose library `nobody` cannot read (e.g. under `/root`) must fail the self-test as
/// `nobody` rather than later, on every candidate.
const SELF_TEST_IMPORTS: &str =
    "import bisect, collections, functools, heapq, itertools, math, re\n";

/// A ready sandbox: interpreter resolved, isolation probed, self-test passed.
///
/// Clones share the cache of oracle results (see [`PythonSandbox::run`]).
#[derive(Debug, Clone)]
pub struct PythonSandbox {
    interpreter: Interpreter,
    isolation: Isolation,
    limits: SandboxLimits,
    /// The uid the harness drops to (root only: [`NOBODY`], unless `allow_root` let a
    /// sandbox whose interpreter `nobody` cannot use keep root).
    drop_to: Option<u32>,
    oracle: Arc<OracleCache>,
}

/// At most this many characters of a failed self-test's output (the last ones) go into
/// an error.
const REASON_CHARS: usize = 400;

impl PythonSandbox {
    /// Resolves the interpreter, probes namespaces and runs a self-test (a passing and a
    /// failing rewritten assert and a passing legacy one must come back as such).
    ///
    /// As root, candidates run as uid 65 534 (`nobody`). When the resolved interpreter
    /// fails the self-test that way (e.g. a pyenv install under `/root`) and `python` is
    /// unset, each of [`SYSTEM_PYTHONS`] is tried (resolved, isolation re-probed) and the
    /// first that passes as `nobody` is used.
    ///
    /// # Errors
    /// [`ConfigError`] naming `python` (no usable interpreter; or, as root, none that works
    /// as `nobody` while `allow_root` is false), `isolation` or `limits.*`.
    pub fn new(config: &SandboxConfig) -> Result<PythonSandbox, ConfigError> {
        config.limits.validate()?;
        let root = rustix::process::geteuid().is_root();
        let interpreter = Interpreter::resolve(config.python.as_deref())?;
        let sandbox = PythonSandbox::with_interpreter(config, interpreter, root)?;
        if !root {
            sandbox.self_test()?;
            return Ok(sandbox);
        }
        let first = match sandbox.self_test() {
            Ok(()) => return Ok(sandbox),
            Err(e) => e,
        };
        let mut tried = vec![format!(
            "{}: {}",
            sandbox.interpreter.path.display(),
            first.reason
        )];
        if config.python.is_none() {
            for path in SYSTEM_PYTHONS.map(Path::new) {
                if !path.exists() {
                    continue;
                }
                let other = Interpreter::resolve(Some(path))
                    .and_then(|i| PythonSandbox::with_interpreter(config, i, true));
                match other {
                    Ok(s) if s.interpreter.path == sandbox.interpreter.path => {}
                    Ok(s) => match s.self_test() {
                        Ok(()) => return Ok(s),
                        Err(e) => tried.push(format!("{}: {}", path.display(), e.reason)),
                    },
                    Err(e) => tried.push(format!("{}: {}", path.display(), e.reason)),
                }
            }
        }
        let as_root = PythonSandbox {
            drop_to: None,
            ..sandbox
        };
        // Broken even as root: that is the error to report.
        as_root.self_test()?;
        if config.allow_root {
            return Ok(as_root);
        }
        Err(ConfigError::new(
            "python",
            format!(
                "this process is root and no interpreter passed the sandbox self-test as uid \
                 {NOBODY} (nobody), so model-written code would run as root; install a \
                 python3 that every user can read (e.g. the distribution's /usr/bin/python3), \
                 set `python` to one, or set `allow_root = true` to accept running candidates \
                 as root (tried: {})",
                tried.join("; ")
            ),
        ))
    }

    /// A sandbox on `interpreter` with isolation probed, not yet self-tested.
    fn with_interpreter(
        config: &SandboxConfig,
        interpreter: Interpreter,
        root: bool,
    ) -> Result<PythonSandbox, ConfigError> {
        let isolation = Isolation::detect(config.isolation, &interpreter.path, root)?;
        Ok(PythonSandbox {
            interpreter,
            isolation,
            limits: config.limits.clone(),
            drop_to: root.then_some(NOBODY),
            oracle: Arc::default(),
        })
    }

    /// After importing common modules, `f(x) = x + 1` must pass `assert f(1) == 2`, fail
    /// `assert f(1) == 3` (both rewritten) and pass the legacy `assert f(1) != 3`.
    fn self_test(&self) -> Result<(), ConfigError> {
        let tests = [
            "assert f(1) == 2".to_string(),
            "assert f(1) == 3".to_string(),
            "assert f(1) != 3".to_string(),
        ];
        let program = format!("{SELF_TEST_IMPORTS}def f(x):\n    return x + 1\n");
        match self.run(&program, "", &tests) {
            Ok(r) if r.passed == [true, false, true] && r.unchecked == 1 && r.finished => Ok(()),
            Ok(r) => {
                // The end of the output: where a traceback names the error.
                let skip = r.output.chars().count().saturating_sub(REASON_CHARS);
                let output: String = r.output.chars().skip(skip).collect();
                Err(ConfigError::new(
                    "python",
                    format!(
                        "sandbox self-test gave {:?} with {} unchecked (timed out: {}); output: {}",
                        r.passed, r.unchecked, r.timed_out, output
                    ),
                ))
            }
            Err(e) => Err(ConfigError::new(
                "python",
                format!("sandbox self-test failed: {e}"),
            )),
        }
    }

    /// The uid candidates run as when this process is root (`None`: unchanged, i.e. not
    /// root, or root with `allow_root`).
    pub fn drops_to_uid(&self) -> Option<u32> {
        self.drop_to
    }

    /// The interpreter in use (as root, possibly one of [`SYSTEM_PYTHONS`] rather than the
    /// `python3` on `PATH`).
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

    /// Per assert of `tests` (with `setup`): `true` when it is checked outside the
    /// candidate's process (`assert LEFT == RIGHT` with a plain RIGHT), `false` when it
    /// runs in legacy mode (see [`TestReport::unchecked`]). Runs the oracle, or reads its
    /// cache.
    ///
    /// # Errors
    /// [`SandboxError`] when the sandbox itself cannot run.
    pub fn checked_asserts(
        &self,
        setup: &str,
        tests: &[String],
    ) -> Result<Vec<bool>, SandboxError> {
        Ok(self
            .checks(setup, tests)?
            .iter()
            .map(|c| matches!(c, Check::Digest { .. }))
            .collect())
    }

    /// Runs `program`, then `setup`, then each assert of `tests` in one fresh process.
    ///
    /// Each `assert LEFT == RIGHT` whose RIGHT evaluates to a plain value (numbers,
    /// strings, bytes, `None`, and lists, tuples, dicts and sets of them) is rewritten:
    /// an oracle run (setup and asserts only, cached per prompt) reports the digest of
    /// RIGHT's canonical encoding, the candidate's process evaluates only LEFT and reports
    /// its digest, and the assert passes when they are equal; a LEFT of any other type
    /// (a user class, a subclass with its own `__eq__`) fails. Other asserts run whole in
    /// the candidate's process and are counted in [`TestReport::unchecked`].
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
        let checks = self.checks(setup, tests)?;
        let specs: Vec<TestSpec<'_>> = checks
            .iter()
            .zip(tests)
            .map(|(check, test)| match check {
                Check::Digest { left, .. } => TestSpec::Expr(left),
                Check::Legacy => TestSpec::Assert(test),
            })
            .collect();
        let (channel, captured) = self.execute(
            Mode::Candidate,
            program,
            setup,
            &specs,
            channel_cap(Mode::Candidate, tests),
        )?;
        Ok(TestReport {
            passed: channel.passed(&checks),
            unchecked: checks.iter().filter(|c| **c == Check::Legacy).count(),
            finished: channel.finished,
            timed_out: captured.timed_out,
            output: String::from_utf8_lossy(&captured.stderr).into_owned(),
            output_truncated: captured.stderr_truncated,
        })
    }

    /// The oracle's checks for (`setup`, `tests`), from the cache or a fresh oracle run.
    /// Concurrent runs for the same prompt wait for one oracle run; an oracle run that did
    /// not finish (e.g. timed out) is used once but not cached.
    fn checks(&self, setup: &str, tests: &[String]) -> Result<Arc<Vec<Check>>, SandboxError> {
        let key = (setup.to_string(), tests.to_vec());
        let slot: OracleSlot = {
            let mut entries = self
                .oracle
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if entries.len() >= ORACLE_CACHE_MAX && !entries.contains_key(&key) {
                entries.clear();
            }
            Arc::clone(entries.entry(key).or_default())
        };
        let mut cached = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(checks) = cached.as_ref() {
            return Ok(Arc::clone(checks));
        }
        let specs: Vec<TestSpec<'_>> = tests.iter().map(|t| TestSpec::Assert(t)).collect();
        let (channel, captured) = self.execute(
            Mode::Oracle,
            "",
            setup,
            &specs,
            channel_cap(Mode::Oracle, tests),
        )?;
        let checks = Arc::new(channel.checks());
        if channel.finished && !captured.timed_out {
            *cached = Some(Arc::clone(&checks));
        }
        Ok(checks)
    }

    /// One harness process in `mode`: its channel report and captured output.
    fn execute(
        &self,
        mode: Mode,
        program: &str,
        setup: &str,
        tests: &[TestSpec<'_>],
        cap: usize,
    ) -> Result<(ChannelReport, Captured), SandboxError> {
        let dir = tempfile::Builder::new()
            .prefix("fedmoa-sandbox-")
            .tempdir()?;
        let drop_to = self.drop_to;
        if let Some(uid) = drop_to {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid))?;
        }
        let nonce = fresh_nonce()?;
        let input = spec(&nonce, &self.limits, drop_to, mode, program, setup, tests);
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
        let captured = run_contained(
            cmd,
            input,
            self.limits.wall(),
            cap,
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
        Ok((channel, captured))
    }
}
