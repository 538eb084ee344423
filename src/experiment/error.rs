//! [`ExperimentError`].

use std::path::PathBuf;

use fedmoa_core::federation::FederationError;
use fedmoa_core::{ConfigError, TrainError};
use thiserror::Error;

/// An experiment could not run or write its results.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The federation failed.
    #[error(transparent)]
    Federation(#[from] FederationError),
    /// Building a policy or client failed.
    #[error("building clients: {0}")]
    Build(#[from] TrainError),
    /// Writing a result file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing a plot failed.
    #[error("plotting {path}: {reason}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl ExperimentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`ExperimentError::Config`] with its field prefixed by `parent` (other errors
    /// unchanged).
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::Config(e) => Self::Config(e.within(parent)),
            other => other,
        }
    }
}
