//! [`SandboxLimits`]: the resource limits of one sandboxed run.

use std::time::Duration;

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

/// Resource limits of one run; every field must be at least 1.
///
/// In TOML: `limits = { wall_ms = 3000, cpu_s = 2, memory_mb = 512 }` (unset fields keep
/// their defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxLimits {
    /// Wall-clock budget of the whole run in milliseconds; the process group is killed
    /// after it (default 5000).
    pub wall_ms: u64,
    /// CPU seconds (`RLIMIT_CPU`, hard; default 2).
    pub cpu_s: u64,
    /// Address space in MiB (`RLIMIT_AS`, hard; default 512).
    pub memory_mb: u64,
    /// Largest file the process may write, in KiB (`RLIMIT_FSIZE`, hard; default 1024).
    pub file_size_kb: u64,
    /// Processes (`RLIMIT_NPROC`, hard; default 8). Linux counts them per user (per user
    /// namespace when one is used); `fork` is also refused by the harness's audit hook.
    pub processes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`, hard; default 64).
    pub open_files: u64,
    /// Bytes of the candidate's stdout + stderr kept; the pipe is closed beyond it
    /// (default 65 536).
    pub output_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            wall_ms: 5_000,
            cpu_s: 2,
            memory_mb: 512,
            file_size_kb: 1_024,
            processes: 8,
            open_files: 64,
            output_bytes: 65_536,
        }
    }
}

impl SandboxLimits {
    /// Checks that every limit is at least 1 and the memory limit leaves room for Python.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field (`limits.cpu_s`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("wall_ms", self.wall_ms),
            ("cpu_s", self.cpu_s),
            ("memory_mb", self.memory_mb),
            ("file_size_kb", self.file_size_kb),
            ("processes", self.processes),
            ("open_files", self.open_files),
            ("output_bytes", self.output_bytes as u64),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(ConfigError::new(
                    format!("limits.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.memory_mb < 32 {
            return Err(ConfigError::new(
                "limits.memory_mb",
                format!("Python needs at least 32 MiB, got {}", self.memory_mb),
            ));
        }
        if self.open_files < 8 {
            return Err(ConfigError::new(
                "limits.open_files",
                format!(
                    "Python needs at least 8 descriptors, got {}",
                    self.open_files
                ),
            ));
        }
        Ok(())
    }

    /// The wall-clock budget.
    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_ms)
    }

    /// The `RLIMIT_*` values (soft = hard) handed to the harness, in the units of
    /// `setrlimit` (seconds, bytes, counts).
    pub fn rlimits(&self) -> [(&'static str, u64); 6] {
        const MIB: u64 = 1 << 20;
        [
            ("RLIMIT_CPU", self.cpu_s),
            ("RLIMIT_AS", self.memory_mb.saturating_mul(MIB)),
            ("RLIMIT_FSIZE", self.file_size_kb.saturating_mul(1024)),
            ("RLIMIT_NPROC", self.processes),
            ("RLIMIT_NOFILE", self.open_files),
            ("RLIMIT_CORE", 0),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_units_by_hand() {
        let l = SandboxLimits::default();
        let r = l.rlimits();
        // 512 MiB = 512 · 1 048 576 = 536 870 912 bytes; 1024 KiB = 1 048 576 bytes.
        assert_eq!(r[1], ("RLIMIT_AS", 536_870_912));
        assert_eq!(r[2], ("RLIMIT_FSIZE", 1_048_576));
        assert_eq!(r[0], ("RLIMIT_CPU", 2));
        assert_eq!(l.wall(), Duration::from_millis(5000));
        l.validate().unwrap();
    }

    #[test]
    fn names_the_bad_field() {
        let bad = |f: fn(&mut SandboxLimits)| {
            let mut l = SandboxLimits::default();
            f(&mut l);
            l.validate().unwrap_err().field
        };
        assert_eq!(bad(|l| l.cpu_s = 0), "limits.cpu_s");
        assert_eq!(bad(|l| l.output_bytes = 0), "limits.output_bytes");
        assert_eq!(bad(|l| l.memory_mb = 16), "limits.memory_mb");
        assert_eq!(bad(|l| l.open_files = 3), "limits.open_files");
        let parsed: SandboxLimits = toml::from_str("cpu_s = 1").unwrap();
        assert_eq!(parsed.cpu_s, 1);
        assert_eq!(parsed.wall_ms, 5000);
        assert!(toml::from_str::<SandboxLimits>("cpu = 1").is_err());
    }
}
