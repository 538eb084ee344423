//! A sandbox that runs untrusted Python code against unit tests (see `docs/SECURITY.md`).
//!
//! [`PythonSandbox`] runs one candidate program and its asserts in a fresh Python process
//! per candidate (isolated mode, see [`Interpreter::isolated_flags`]): a fresh temporary
//! directory as cwd, an environment holding only `PYTHONHASHSEED=0`, its
//! own process group (killed on a wall-clock timeout), hard resource limits set by a
//! Python prelude before any candidate code runs, and, where the OS allows it, new
//! network, mount and PID namespaces through the `unshare` utility; as root, candidates run
//! as `nobody`. Each `assert LEFT == RIGHT` is judged outside the candidate's process: an
//! oracle run computes a digest of RIGHT's canonical encoding, the candidate's process
//! reports only a digest of LEFT, and Rust compares the two, so an object whose `__eq__`
//! always returns `True` cannot pass. Results come back on a private channel tagged with
//! a per-run random nonce, so printing "pass" cannot forge one; an early exit counts the
//! remaining asserts as failed.

mod error;
mod harness;
mod interpreter;
mod isolation;
mod limits;
mod nonce;
mod pool;
mod process;
mod runner;

pub use error::SandboxError;
pub use harness::TestReport;
pub use interpreter::{Interpreter, MIN_PYTHON};
pub use isolation::{Isolation, IsolationMode};
pub use limits::SandboxLimits;
pub use pool::parallel_map;
pub use runner::{PythonSandbox, SYSTEM_PYTHONS, SandboxConfig};
