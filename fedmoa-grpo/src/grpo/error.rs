//! [`GrpoInputError`]: malformed inputs to the GRPO maths (advantages, loss, gradients).

use thiserror::Error;

/// Inputs to the GRPO maths that do not fit together.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GrpoInputError {
    /// A list or tensor has the wrong length or shape.
    #[error("{what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The shape it should have.
        expected: Vec<usize>,
        /// The shape it has.
        got: Vec<usize>,
    },
    /// A value that must be finite is NaN or ±∞ (NaN rewards are allowed: they mean "unscored").
    #[error("{what} has the non-finite value {value} at index {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Flat index of the first bad value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A value is outside its allowed range.
    #[error("{what} = {value}: {reason}")]
    OutOfRange {
        /// Which input.
        what: &'static str,
        /// The value.
        value: f64,
        /// What it should be.
        reason: &'static str,
    },
    /// An input needed by the configuration was not given.
    #[error("missing input: {0}")]
    Missing(&'static str),
}
