//! [`GgufError`]: everything that can be wrong with a GGUF file.

use std::path::PathBuf;

use thiserror::Error;

use super::GgmlType;

/// A GGUF file could not be read, parsed or dequantised.
///
/// Parsing never panics: every length, count and offset read from the file is checked
/// against the bytes that remain before it is used.
#[derive(Debug, Error)]
pub enum GgufError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("not a GGUF file (magic bytes {found:02x?})")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// Only GGUF versions 2 and 3 (64-bit counts) are read.
    #[error("unsupported GGUF version {0} (expected 2 or 3)")]
    UnsupportedVersion(u32),
    /// The file ends before a field it announces.
    #[error("truncated file: {what} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Byte offset of the read.
        offset: usize,
        /// Bytes needed.
        needed: u64,
        /// Bytes left in the file.
        available: usize,
    },
    /// A field has an impossible value.
    #[error("malformed file at offset {offset}: {reason}")]
    Malformed {
        /// Byte offset of the field.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A metadata key is missing or has the wrong type.
    #[error("metadata {key:?}: {reason}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// No tensor has this name.
    #[error("no tensor named {0:?}")]
    MissingTensor(String),
    /// The tensor's element type cannot be dequantised by this reader.
    #[error("tensor {tensor:?}: unsupported type {ty}")]
    UnsupportedType {
        /// The tensor.
        tensor: String,
        /// Its type.
        ty: GgmlType,
    },
    /// The tensor's shape does not fit its type's block size.
    #[error("tensor {tensor:?}: {reason}")]
    BadTensor {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
}

impl GgufError {
    /// A metadata error.
    pub(crate) fn metadata(key: &str, reason: impl Into<String>) -> Self {
        Self::Metadata {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
