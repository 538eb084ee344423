//! Errors of the tiny code language: parse errors (with position) and evaluation errors.

use thiserror::Error;

/// A program could not be tokenized or parsed.
///
/// `column` is the 1-based character position of the offending token, `expected` says
/// what the parser wanted there and `found` what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// 1-based character column.
    pub column: usize,
    /// What was expected, in words (e.g. "an expression").
    pub expected: String,
    /// What was found (e.g. "`)`" or "end of input").
    pub found: String,
}

impl ParseError {
    /// Builds an error at `column`.
    pub fn new(column: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self {
            column,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// A parsed program failed while running.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    /// Division or remainder by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A result does not fit in a 64-bit integer.
    #[error("integer overflow")]
    Overflow,
    /// The program took more evaluation steps than allowed.
    #[error("step limit of {limit} exceeded")]
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// The expression is nested deeper than allowed.
    #[error("nesting deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A variable is not bound (only possible for hand-built expressions).
    #[error("unbound variable `{name}`")]
    Unbound {
        /// The variable.
        name: String,
    },
}
