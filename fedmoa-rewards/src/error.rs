//! The error type of `fedmoa-rewards`: loading data and building datasets.
//!
//! Configuration problems use [`fedmoa_core::ConfigError`]; the code language has its own
//! result types ([`crate::code::ParseError`], [`crate::code::EvalError`]) because a
//! failing program is an outcome to score, not a failure of the crate.

use std::path::PathBuf;

use fedmoa_core::ConfigError;
use thiserror::Error;

/// Loading a data file or building a dataset failed.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a data file is malformed.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, in words.
        reason: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A data directory was needed but `FEDMOA_DATA_DIR` is not set.
    #[error("no data directory: set {var} or give `dir` in the task config")]
    NoDataDir {
        /// The environment variable that was consulted.
        var: &'static str,
    },
    /// The generators could not produce enough distinct prompts.
    #[error("asked for {requested} distinct prompts but only {produced} could be produced")]
    Exhausted {
        /// Prompts asked for (all splits together).
        requested: usize,
        /// Distinct prompts produced before giving up.
        produced: usize,
    },
}
