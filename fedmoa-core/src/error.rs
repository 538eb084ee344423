//! Error types of `fedmoa-core`, one enum per concern, all `thiserror`.

use thiserror::Error;

/// A problem with a [`crate::ParamSet`] or a binary operation on two of them.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParamError {
    /// A tensor name is empty, padded with whitespace or contains control characters.
    #[error("invalid tensor name {name:?}")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// The data length does not match the product of the shape.
    #[error("tensor {name:?}: shape needs {expected} values, got {got}")]
    DataLength {
        /// Tensor name (empty when not yet known).
        name: String,
        /// Product of the shape.
        expected: usize,
        /// Length of the data.
        got: usize,
    },
    /// The other set lacks a tensor this one has.
    #[error("tensor {name:?} is missing")]
    MissingTensor {
        /// Tensor name.
        name: String,
    },
    /// The other set has a tensor this one lacks.
    #[error("unexpected tensor {name:?}")]
    UnexpectedTensor {
        /// Tensor name.
        name: String,
    },
    /// Same name, different shape.
    #[error("tensor {name:?}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// Shape on this side.
        expected: Vec<usize>,
        /// Shape on the other side.
        got: Vec<usize>,
    },
    /// A NaN or infinite value.
    #[error("tensor {name:?} has a non-finite value at flat index {index}")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// Flat index of the first non-finite value.
        index: usize,
    },
}

/// A configuration value that failed validation; names the field.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid config field `{field}`: {reason}")]
pub struct ConfigError {
    /// Dotted path of the bad field, e.g. `aggregator.temperature`.
    pub field: String,
    /// What is wrong with it, in words.
    pub reason: String,
}

impl ConfigError {
    /// Builds an error for `field` with a human-readable `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the field path, e.g. `temperature` → `aggregator.temperature`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// Checks a float field is finite and strictly positive.
///
/// # Errors
/// [`ConfigError`] naming `field`.
pub fn require_positive(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// Checks that every `(field, count)` is non-zero, in order.
///
/// # Errors
/// [`ConfigError`] naming the first zero field (`must be > 0`).
pub fn require_nonzero(counts: &[(&str, usize)]) -> Result<(), ConfigError> {
    match counts.iter().find(|(_, v)| *v == 0) {
        Some((field, _)) => Err(ConfigError::new(*field, "must be > 0")),
        None => Ok(()),
    }
}

/// Checks a float field is finite and within `[lo, hi]`.
///
/// # Errors
/// [`ConfigError`] naming `field`.
pub fn require_in_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in [{lo}, {hi}], got {value}"),
        ))
    }
}

/// Checks a count or level lies in `range` (`must be in 1..=4, got 7`).
///
/// # Errors
/// [`ConfigError`] naming `field`.
pub fn require_within<T>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!(
                "must be in {}..={}, got {value}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// Checks a list field is not empty (`must list at least one entry`).
///
/// # Errors
/// [`ConfigError`] naming `field`.
pub fn require_not_empty<T>(field: &str, list: &[T]) -> Result<(), ConfigError> {
    if list.is_empty() {
        Err(ConfigError::new(field, "must list at least one entry"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_name_the_field() {
        assert!(require_within("digits", 4u32, 1..=4).is_ok());
        let err = require_within("digits", 7u32, 1..=4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config field `digits`: must be in 1..=4, got 7"
        );
        assert!(require_not_empty("families", &[1]).is_ok());
        assert_eq!(
            require_not_empty::<u8>("families", &[]).unwrap_err().field,
            "families"
        );
    }

    #[test]
    fn require_nonzero_names_the_first_zero_field() {
        assert!(require_nonzero(&[("a", 1), ("b", 7)]).is_ok());
        assert!(require_nonzero(&[]).is_ok());
        let err = require_nonzero(&[("a", 1), ("b", 0), ("c", 0)]).unwrap_err();
        assert_eq!(err.field, "b");
        assert_eq!(err.to_string(), "invalid config field `b`: must be > 0");
    }
}
