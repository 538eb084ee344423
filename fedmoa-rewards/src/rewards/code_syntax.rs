//! `code_syntax`: does the completion's program parse?

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::objective_id;
use crate::code::{extract_program, parse};

/// Config of [`CodeSyntax`] (`type = "code_syntax"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSyntaxConfig {
    /// Objective id (default `code_syntax`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl CodeSyntaxConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id`.
    pub fn build(&self) -> Result<CodeSyntax, ConfigError> {
        Ok(CodeSyntax {
            id: objective_id(self.id.as_deref(), "code_syntax")?,
        })
    }
}

/// Scores 1 when the program of the completion (the `<answer>` block, or the whole
/// completion without one; see [`crate::code::extract_program`]) parses in the tiny code
/// language, else 0. Needs no reference.
#[derive(Debug, Clone)]
pub struct CodeSyntax {
    id: ObjectiveId,
}

impl Default for CodeSyntax {
    fn default() -> Self {
        Self {
            id: ObjectiveId::new("code_syntax"),
        }
    }
}

impl RewardFn for CodeSyntax {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        Ok(if parse(extract_program(completion)).is_ok() {
            1.0
        } else {
            0.0
        })
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;
    use crate::rewards::testing::prompt;

    #[test]
    fn scores_syntax() {
        let r = CodeSyntax::default();
        let p = prompt("code", Reference::None);
        let cases = [
            (
                "<think> f(1) = 3 </think> <answer> 2 * x + 1 </answer>",
                1.0,
            ),
            ("f(x) = x * x", 1.0),
            ("<answer> 2 * </answer>", 0.0),
            ("<think> x </think>", 0.0),
            ("", 0.0),
            ("<answer> x + y </answer>", 0.0),
            ("<answer> ((((x </answer>", 0.0),
            ("<answer> 𝑥 </answer>", 0.0),
        ];
        for (completion, expected) in cases {
            assert_eq!(r.score(&p, completion).unwrap(), expected, "{completion:?}");
        }
        let deep = format!("<answer>{}x{}</answer>", "(".repeat(300), ")".repeat(300));
        assert_eq!(r.score(&p, &deep).unwrap(), 0.0);
    }
}
