//! `code_pass_rate`: the fraction of hidden test cases the program passes.

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, Reference, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::{objective_id, unscorable};
use crate::code::{Limits, extract_program, parse, passed_cases};

/// Config of [`CodePassRate`] (`type = "code_pass_rate"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodePassRateConfig {
    /// Objective id (default `code_pass_rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Evaluation steps allowed per test case (default 10 000).
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
}

fn default_max_steps() -> u32 {
    10_000
}

impl Default for CodePassRateConfig {
    fn default() -> Self {
        Self {
            id: None,
            max_steps: default_max_steps(),
        }
    }
}

impl CodePassRateConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id` or `max_steps`.
    pub fn build(&self) -> Result<CodePassRate, ConfigError> {
        let id = objective_id(self.id.as_deref(), "code_pass_rate")?;
        if self.max_steps == 0 {
            return Err(ConfigError::new("max_steps", "must be at least 1"));
        }
        Ok(CodePassRate {
            id,
            limits: Limits {
                max_steps: u64::from(self.max_steps),
                ..Limits::default()
            },
        })
    }
}

/// Scores the fraction of the prompt's hidden [`Reference::IoCases`] that the program of
/// the completion (see [`crate::code::extract_program`]) reproduces exactly; a case that
/// fails to evaluate (division by zero, overflow, step limit) counts as failed, and a
/// program that does not parse scores 0. Prompts without cases are unscorable.
#[derive(Debug, Clone)]
pub struct CodePassRate {
    id: ObjectiveId,
    limits: Limits,
}

impl Default for CodePassRate {
    fn default() -> Self {
        Self {
            id: ObjectiveId::new("code_pass_rate"),
            limits: Limits::default(),
        }
    }
}

impl RewardFn for CodePassRate {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let Reference::IoCases { cases } = &prompt.reference else {
            return Err(unscorable(&self.id, "needs input/output cases"));
        };
        if cases.is_empty() {
            return Err(unscorable(&self.id, "the prompt has no test cases"));
        }
        let Ok(program) = parse(extract_program(completion)) else {
            return Ok(0.0);
        };
        let passed = passed_cases(&program, cases, &self.limits);
        Ok(passed as f32 / cases.len() as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::testing::prompt;

    #[test]
    fn scores_pass_rates_by_hand() {
        let r = CodePassRate::default();
        // Target 2x + 1 on x = 0, 1, 2, 3.
        let p = prompt(
            "code",
            Reference::IoCases {
                cases: vec![(0, 1), (1, 3), (2, 5), (3, 7)],
            },
        );
        let cases = [
            ("<answer> 2 * x + 1 </answer>", 1.0),
            ("<answer> x + x + 1 </answer>", 1.0),
            ("<answer> x * x + 1 </answer>", 0.5), // 1 ✓, 2 ✗, 5 ✓, 10 ✗
            ("<answer> 3 / x </answer>", 0.25),    // 0: div by zero, 3 ✓, 1 ✗, 1 ✗
            ("<answer> 2 * x + </answer>", 0.0),
            ("", 0.0),
            // 2^62: x = 0 gives 1 ✓, x = 1 gives 2^62 + 1 ✗, x = 2 and 3 overflow ✗.
            ("<answer> x * 4611686018427387904 + 1 </answer>", 0.25),
        ];
        for (completion, expected) in cases {
            assert_eq!(r.score(&p, completion).unwrap(), expected, "{completion:?}");
        }
    }

    #[test]
    fn step_limit_fails_long_programs() {
        let r = CodePassRateConfig {
            max_steps: 3,
            ..Default::default()
        }
        .build()
        .unwrap();
        let p = prompt(
            "code",
            Reference::IoCases {
                cases: vec![(1, 3)],
            },
        );
        assert_eq!(r.score(&p, "x + 2").unwrap(), 1.0); // 3 nodes
        assert_eq!(r.score(&p, "x + 1 + 1").unwrap(), 0.0); // 5 nodes
        assert_eq!(
            CodePassRateConfig {
                max_steps: 0,
                ..Default::default()
            }
            .build()
            .unwrap_err()
            .field,
            "max_steps"
        );
    }

    #[test]
    fn needs_cases() {
        let r = CodePassRate::default();
        let none = prompt("code", Reference::IoCases { cases: vec![] });
        assert!(r.score(&none, "x").is_err());
        let math = prompt("math", Reference::Number { value: 1.0 });
        assert!(r.score(&math, "x").is_err());
    }
}
