//! Errors of the federation loop.

use std::path::PathBuf;

use thiserror::Error;

use crate::{ConfigError, TrainError};

/// A client failed one request; the loop drops it from the round.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The trainer returned an error.
    #[error("training failed: {0}")]
    Train(#[from] TrainError),
    /// The trainer panicked; the panic was caught.
    #[error("client panicked: {0}")]
    Panicked(String),
    /// The client is still busy with an earlier request (e.g. after a timeout).
    #[error("client is still busy with an earlier request")]
    Busy,
    /// The client did not answer in time.
    #[error("no reply within {secs:.1} s")]
    Timeout {
        /// The timeout that expired.
        secs: f64,
    },
    /// The client is unreachable or broke the protocol (remote clients).
    #[error("transport: {0}")]
    Transport(String),
}

/// The federation as a whole cannot go on.
#[derive(Debug, Error)]
pub enum FederationError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading or writing a file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (`"writing checkpoint"`, …).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is truncated, corrupted or from another federation.
    #[error("bad checkpoint {path}: {reason}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The evaluation of the initial parameters failed.
    #[error("evaluating the initial parameters: {0}")]
    InitialEvaluation(#[source] TrainError),
    /// Restoring a client's or the aggregator's state failed.
    #[error("cannot restore state of {who}: {reason}")]
    Restore {
        /// Client id or `"aggregator"`.
        who: String,
        /// Why.
        reason: String,
    },
}

impl FederationError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
