//! [`Interpreter`]: finding a usable `python3` at start-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fedmoa_core::ConfigError;

/// The oldest Python the harness supports (audit hooks, PEP 578, came in 3.8).
pub const MIN_PYTHON: (u32, u32) = (3, 8);

/// A resolved Python interpreter: the real executable behind `python3` (not a shim), so
/// that it runs with an empty environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Absolute path of the executable (`sys.executable`).
    pub path: PathBuf,
    /// `(major, minor)` version.
    pub version: (u32, u32),
}

impl Interpreter {
    /// Resolves `program` (default `python3`, looked up on `PATH`) by asking it for
    /// `sys.executable` and its version.
    ///
    /// # Errors
    /// [`ConfigError`] on `python` when it cannot be started, does not answer, or is
    /// older than [`MIN_PYTHON`].
    pub fn resolve(program: Option<&Path>) -> Result<Interpreter, ConfigError> {
        let program = program.unwrap_or(Path::new("python3"));
        let shown = program.display();
        let out = Command::new(program)
            .args(["-I", "-S", "-c", "import sys; print(sys.executable); print(*sys.version_info[:2])"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| {
                ConfigError::new(
                    "python",
                    format!("cannot run {shown:?} ({e}); the python_tests reward needs Python >= 3.8 (install python3 or set `python`)"),
                )
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(exe), Some(ver)) = (lines.next(), lines.next()) else {
            return Err(ConfigError::new(
                "python",
                format!(
                    "{shown:?} did not report its executable and version ({})",
                    out.status
                ),
            ));
        };
        let mut parts = ver.split_whitespace().map(str::parse::<u32>);
        let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
            return Err(ConfigError::new(
                "python",
                format!("unreadable version {ver:?}"),
            ));
        };
        if (major, minor) < MIN_PYTHON {
            return Err(ConfigError::new(
                "python",
                format!("{shown:?} is Python {major}.{minor}; need >= 3.8"),
            ));
        }
        let path = if exe.is_empty() {
            program.to_path_buf()
        } else {
            PathBuf::from(exe)
        };
        Ok(Interpreter {
            path,
            version: (major, minor),
        })
    }
}

impl Interpreter {
    /// The flags of a sandboxed run: `-I` (isolated mode) spelled out as its parts minus
    /// `-E`, i.e. `-s` (no user site) and `-P` (no unsafe `sys.path[0]`, Python ≥ 3.11),
    /// plus `-S` (no `site`), `-B` (no bytecode files) and `-u` (unbuffered output).
    ///
    /// `-E` is left out only so that `PYTHONHASHSEED=0` takes effect: string hashing is
    /// then fixed and set iteration order, hence every reward, is deterministic. The
    /// environment is otherwise empty, so `-E` would have nothing else to ignore.
    pub fn isolated_flags(&self) -> Vec<&'static str> {
        let mut flags = vec!["-s", "-S", "-B", "-u"];
        if self.version >= (3, 11) {
            flags.push("-P");
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interpreter_is_a_config_error() {
        let e = Interpreter::resolve(Some(Path::new("/nonexistent/python3"))).unwrap_err();
        assert_eq!(e.field, "python");
        assert!(e.reason.contains("cannot run"), "{e}");
        let old = Interpreter {
            path: "python3".into(),
            version: (3, 8),
        };
        assert!(!old.isolated_flags().contains(&"-P"));
        let new = Interpreter {
            path: "python3".into(),
            version: (3, 12),
        };
        assert_eq!(new.isolated_flags(), ["-s", "-S", "-B", "-u", "-P"]);
        // A program that runs but is not Python.
        let e = Interpreter::resolve(Some(Path::new("true"))).unwrap_err();
        assert_eq!(e.field, "python");
    }
}
