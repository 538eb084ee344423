//! [`SandboxError`]: the sandbox itself failed (as opposed to the candidate failing).

use thiserror::Error;

/// Running a candidate failed for a reason that is not the candidate's fault.
#[derive(Debug, Error)]
pub enum SandboxError {
    /// Creating the temporary directory, spawning or talking to the process failed.
    #[error("sandbox i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The harness could not set a resource limit (unsupported on this platform).
    #[error("the sandbox could not apply {limit}; refusing to run code without it")]
    LimitFailed {
        /// The `RLIMIT_*` name.
        limit: String,
    },
}
