//! Reading JSON Lines dataset files (GSM8K, MBPP) with line-numbered errors.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::DataError;

/// [`DataError::Malformed`] for 1-based `line` of `path`.
pub(crate) fn malformed(path: &Path, line: usize, reason: String) -> DataError {
    DataError::Malformed {
        path: PathBuf::from(path),
        line,
        reason,
    }
}

/// Parses every non-blank line of `path` as a `T`, in file order, and hands it to `visit`
/// with its 1-based line number; stops at the first error.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Malformed`] for a line
/// that is not a valid `T`, or whatever `visit` returns.
pub(crate) fn for_each_record<T: DeserializeOwned>(
    path: &Path,
    mut visit: impl FnMut(usize, T) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record =
            serde_json::from_str(line).map_err(|e| malformed(path, i + 1, e.to_string()))?;
        visit(i + 1, record)?;
    }
    Ok(())
}
