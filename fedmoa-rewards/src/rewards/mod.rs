//! The built-in reward plugins, each a [`fedmoa_core::RewardFn`] with a serde config.
//!
//! | type | scores | range |
//! |---|---|---|
//! | `math_accuracy` | extracted final answer equals the numeric reference | {0, 1} |
//! | `answer_line` | the final answer stands on a marked line (`#### 42`) | {0, 1} |
//! | `code_pass_rate` | fraction of hidden cases the program passes | [0, 1] |
//! | `code_syntax` | the program parses | {0, 1} |
//! | `format` | the completion follows a tag template | [0, 1] |
//! | `length` | the completion stays within a length budget | [0, 1] |
//! | `reasoning` | the completion shows at least N steps | [0, 1] |
//! | `python_tests` | fraction of Python asserts passed in the sandbox (MBPP) | [0, 1] |

mod answer_line;
mod code_pass_rate;
mod code_syntax;
mod format;
mod length;
mod math_accuracy;
mod python_tests;
mod reasoning;

pub use answer_line::{AnswerLine, AnswerLineConfig};
pub use code_pass_rate::{CodePassRate, CodePassRateConfig};
pub use code_syntax::{CodeSyntax, CodeSyntaxConfig};
pub use format::{Format, FormatConfig};
pub use length::{Length, LengthConfig, LengthMode, LengthUnit};
pub use math_accuracy::{MathAccuracy, MathAccuracyConfig};
pub use python_tests::{PythonTests, PythonTestsConfig};
pub use reasoning::{Reasoning, ReasoningConfig, count_steps};

use fedmoa_core::{ConfigError, ObjectiveId, RewardError};

/// The objective id of a plugin: `id` when given (checked), else `default`.
///
/// # Errors
/// [`ConfigError`] on `id` when it is empty or contains whitespace or control characters.
pub fn objective_id(id: Option<&str>, default: &str) -> Result<ObjectiveId, ConfigError> {
    match id {
        None => Ok(ObjectiveId::new(default)),
        Some("") => Err(ConfigError::new("id", "must not be empty")),
        Some(id) if id.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(
            ConfigError::new("id", format!("must not contain whitespace, got {id:?}")),
        ),
        Some(id) => Ok(ObjectiveId::new(id)),
    }
}

/// A [`RewardError::Unscorable`] for `objective`.
pub(crate) fn unscorable(objective: &ObjectiveId, reason: &str) -> RewardError {
    RewardError::Unscorable {
        objective: objective.clone(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use fedmoa_core::{Prompt, Reference};

    /// A prompt with the given task and reference.
    pub fn prompt(task: &str, reference: Reference) -> Prompt {
        Prompt {
            id: "p".into(),
            task: task.into(),
            text: "question".into(),
            reference,
            solution: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert_eq!(objective_id(None, "format").unwrap().as_str(), "format");
        assert_eq!(
            objective_id(Some("fmt2"), "format").unwrap().as_str(),
            "fmt2"
        );
        assert_eq!(objective_id(Some(""), "format").unwrap_err().field, "id");
        assert_eq!(objective_id(Some("a b"), "format").unwrap_err().field, "id");
    }
}
