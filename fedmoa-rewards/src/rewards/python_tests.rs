//! `python_tests`: the fraction of a task's Python asserts that the completion's program
//! passes, run in the [`crate::sandbox`] (MBPP style).

use std::path::PathBuf;

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, Reference, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::{objective_id, unscorable};
use crate::mbpp::extract_python;
use crate::sandbox::{IsolationMode, PythonSandbox, SandboxConfig, SandboxLimits, parallel_map};

/// Config of [`PythonTests`] (`type = "python_tests"`).
///
/// In TOML: `{ type = "python_tests", weight = 0.6, workers = 2, limits = { wall_ms = 3000 } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonTestsConfig {
    /// Objective id (default `python_tests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The interpreter (default `python3` on `PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// Namespace isolation: `auto` (default), `namespaces` (required) or `none`.
    #[serde(default)]
    pub isolation: IsolationMode,
    /// Concurrent sandboxes when scoring a batch (default: the available parallelism).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Resource limits of each run.
    #[serde(default)]
    pub limits: SandboxLimits,
    /// When the trainer runs as root and no interpreter works as `nobody`: run candidates
    /// as root instead of failing at start-up (default `false`; see
    /// [`SandboxConfig::allow_root`] and `docs/SECURITY.md`).
    #[serde(default)]
    pub allow_root: bool,
}

impl PythonTestsConfig {
    /// Builds the plugin: resolves `python3`, probes isolation and runs a self-test, so a
    /// missing or broken interpreter fails here, at start-up, not as zero rewards later.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id`, `workers`, `python`, `isolation` or `limits.*`.
    pub fn build(&self) -> Result<PythonTests, ConfigError> {
        let id = objective_id(self.id.as_deref(), "python_tests")?;
        if self.workers == Some(0) {
            return Err(ConfigError::new("workers", "must be at least 1"));
        }
        let sandbox = PythonSandbox::new(&SandboxConfig {
            python: self.python.clone(),
            isolation: self.isolation,
            limits: self.limits.clone(),
            allow_root: self.allow_root,
        })?;
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        Ok(PythonTests {
            id,
            sandbox,
            workers,
        })
    }
}

/// Scores the fraction of the prompt's [`Reference::PythonTests`] asserts that pass when
/// the completion's program (see [`extract_python`]) runs in the sandbox; asserts that
/// error, time out or are never reached count as failed. Batches run up to `workers`
/// sandboxes at once. A sandbox that cannot run at all is an error, not a zero.
#[derive(Debug, Clone)]
pub struct PythonTests {
    id: ObjectiveId,
    sandbox: PythonSandbox,
    workers: usize,
}

impl PythonTests {
    /// The sandbox (interpreter, isolation and limits in use).
    pub fn sandbox(&self) -> &PythonSandbox {
        &self.sandbox
    }

    /// Concurrent sandboxes per batch.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many of the prompt's asserts run in legacy mode: executed whole in the
    /// candidate's process instead of being checked outside it (anything but
    /// `assert LEFT == RIGHT` with a plain RIGHT; none in MBPP). A candidate that tampers
    /// with the harness could forge those; see [`crate::sandbox::TestReport::unchecked`].
    ///
    /// # Errors
    /// [`RewardError`] when the prompt has no Python tests or the sandbox cannot run.
    pub fn unchecked_asserts(&self, prompt: &Prompt) -> Result<usize, RewardError> {
        let Reference::PythonTests { setup, asserts } = &prompt.reference else {
            return Err(unscorable(&self.id, "needs Python tests"));
        };
        self.sandbox
            .checked_asserts(setup, asserts)
            .map(|checked| checked.iter().filter(|c| !**c).count())
            .map_err(|e| unscorable(&self.id, &e.to_string()))
    }
}

impl RewardFn for PythonTests {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let Reference::PythonTests { setup, asserts } = &prompt.reference else {
            return Err(unscorable(&self.id, "needs Python tests"));
        };
        if asserts.is_empty() {
            return Err(unscorable(&self.id, "the prompt has no asserts"));
        }
        let program = extract_python(completion);
        if program.trim().is_empty() {
            return Ok(0.0);
        }
        self.sandbox
            .run(program, setup, asserts)
            .map(|report| report.pass_rate())
            .map_err(|e| unscorable(&self.id, &e.to_string()))
    }

    fn score_batch(&self, samples: &[(&Prompt, &str)]) -> Vec<Result<f32, RewardError>> {
        parallel_map(samples, self.workers, |(p, c)| self.score(p, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_field() {
        let bad = PythonTestsConfig {
            workers: Some(0),
            ..Default::default()
        };
        assert_eq!(bad.build().unwrap_err().field, "workers");
        let bad = PythonTestsConfig {
            id: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(bad.build().unwrap_err().field, "id");
        let bad = PythonTestsConfig {
            python: Some("/nonexistent/python3".into()),
            ..Default::default()
        };
        assert_eq!(bad.build().unwrap_err().field, "python");
        let mut bad = PythonTestsConfig::default();
        bad.limits.wall_ms = 0;
        assert_eq!(bad.build().unwrap_err().field, "limits.wall_ms");
        let parsed: PythonTestsConfig =
            toml::from_str("workers = 2\nlimits = { cpu_s = 1 }").unwrap();
        assert_eq!((parsed.workers, parsed.limits.cpu_s), (Some(2), 1));
        assert!(!parsed.allow_root);
        let parsed: PythonTestsConfig = toml::from_str("allow_root = true").unwrap();
        assert!(parsed.allow_root);
        assert!(toml::from_str::<PythonTestsConfig>("worker = 2").is_err());
    }
}
