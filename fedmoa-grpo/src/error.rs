//! [`GrpoError`]: the one error enum of `fedmoa-grpo`.

use std::path::PathBuf;

use fedmoa_core::{ConfigError, ParamError, TrainError};
use thiserror::Error;

/// Everything that can go wrong in this crate outside a panic-free tensor op.
#[derive(Debug, Error)]
pub enum GrpoError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Parameters do not fit the model (names, shapes, non-finite values).
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The requested compute device is unknown or was not compiled in.
    #[error("device {requested:?}: {reason}")]
    Device {
        /// What was asked for (`"cuda"`, …).
        requested: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The tokenizer could not be trained, loaded, saved or used.
    #[error("tokenizer: {context}")]
    Tokenizer {
        /// What was being done.
        context: String,
        /// The `tokenizers` error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is malformed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An input (prompt batch, token ids) does not fit the model.
    #[error("invalid input: {0}")]
    Input(String),
    /// A client's data could not be built or split.
    #[error(transparent)]
    Data(#[from] fedmoa_rewards::DataError),
    /// Inputs to the GRPO maths do not fit together.
    #[error(transparent)]
    Grpo(#[from] crate::grpo::GrpoInputError),
    /// A GGUF file could not be read or has unusable contents.
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    /// Pretrained weights do not fit the model (missing tensor, wrong shape, bad dtype).
    #[error("weights: tensor {tensor:?}: {reason}")]
    Weights {
        /// The checkpoint tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// Training produced a non-finite loss or parameter.
    #[error("training diverged: {0}")]
    Diverged(String),
}

impl GrpoError {
    /// A tokenizer error with its source.
    pub(crate) fn tokenizer(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Tokenizer {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<GrpoError> for TrainError {
    fn from(e: GrpoError) -> Self {
        match e {
            GrpoError::Config(c) => TrainError::Config(c),
            GrpoError::Params(p) => TrainError::Params(p),
            GrpoError::Diverged(m) => TrainError::Diverged(m),
            other => TrainError::Other {
                context: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}
