//! [`Isolation`]: whether runs get new namespaces (no network, private `/proc`, a PID
//! namespace whose death kills every descendant) via the `unshare` utility.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

/// Whether to use namespaces (`isolation = "auto" | "namespaces" | "none"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationMode {
    /// Use namespaces when a probe run succeeds, otherwise run without them (default).
    #[default]
    Auto,
    /// Require namespaces; construction fails when they are unavailable.
    Namespaces,
    /// Never use namespaces (resource limits and the audit hook only).
    None,
}

/// The isolation a sandbox actually applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Runs are wrapped in `unshare` with new network, mount and PID namespaces.
    Namespaces {
        /// The `unshare` executable.
        unshare: PathBuf,
        /// Whether a user namespace is created too (`-r`, when not running as root).
        user_namespace: bool,
    },
    /// No namespaces: why (for logs and docs).
    Unavailable {
        /// The probe's failure or "disabled by config".
        reason: String,
    },
}

impl Isolation {
    /// The `unshare` flags of a run.
    pub fn unshare_args(user_namespace: bool) -> Vec<&'static str> {
        let mut args = Vec::new();
        if user_namespace {
            args.push("-r");
        }
        args.extend(["-n", "-m", "-p", "-f", "--kill-child", "--mount-proc", "--"]);
        args
    }

    /// Decides the isolation for `mode`, probing `unshare` with `python` when needed.
    ///
    /// # Errors
    /// [`ConfigError`] on `isolation` when `mode` is [`IsolationMode::Namespaces`] and the
    /// probe fails.
    pub fn detect(
        mode: IsolationMode,
        python: &Path,
        root: bool,
    ) -> Result<Isolation, ConfigError> {
        if mode == IsolationMode::None {
            return Ok(Isolation::Unavailable {
                reason: "disabled by config".into(),
            });
        }
        let found = probe(python, !root);
        match (found, mode) {
            (Ok(unshare), _) => Ok(Isolation::Namespaces {
                unshare,
                user_namespace: !root,
            }),
            (Err(reason), IsolationMode::Namespaces) => Err(ConfigError::new(
                "isolation",
                format!("namespaces were required but are unavailable: {reason}"),
            )),
            (Err(reason), _) => Ok(Isolation::Unavailable { reason }),
        }
    }

    /// Whether namespaces are used.
    pub fn has_namespaces(&self) -> bool {
        matches!(self, Isolation::Namespaces { .. })
    }
}

/// Runs `unshare <flags> python -c pass`; the `unshare` path when it works.
fn probe(python: &Path, user_namespace: bool) -> Result<PathBuf, String> {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| "no unshare utility in /usr/bin or /bin".to_string())?;
    let out = Command::new(&unshare)
        .args(Isolation::unshare_args(user_namespace))
        .arg(python)
        .args(["-I", "-S", "-c", "pass"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", unshare.display()))?;
    if out.status.success() {
        Ok(unshare)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("`unshare` failed ({}): {}", out.status, err.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_disabled_mode() {
        assert_eq!(Isolation::unshare_args(true)[0], "-r");
        assert!(!Isolation::unshare_args(false).contains(&"-r"));
        let off = Isolation::detect(IsolationMode::None, Path::new("python3"), false).unwrap();
        assert!(!off.has_namespaces());
        let parsed: IsolationMode = serde_json::from_str("\"namespaces\"").unwrap();
        assert_eq!(parsed, IsolationMode::Namespaces);
    }
}
