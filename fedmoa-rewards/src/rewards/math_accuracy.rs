//! `math_accuracy`: is the completion's final numeric answer correct?

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, Reference, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::{objective_id, unscorable};
use crate::math::{answers_match, extract_answer};

/// Config of [`MathAccuracy`] (`type = "math_accuracy"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MathAccuracyConfig {
    /// Objective id (default `math_accuracy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Absolute tolerance of the numeric comparison (default 1e-6).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
}

fn default_tolerance() -> f64 {
    1e-6
}

impl Default for MathAccuracyConfig {
    fn default() -> Self {
        Self {
            id: None,
            tolerance: default_tolerance(),
        }
    }
}

impl MathAccuracyConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id` or `tolerance`.
    pub fn build(&self) -> Result<MathAccuracy, ConfigError> {
        let id = objective_id(self.id.as_deref(), "math_accuracy")?;
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(ConfigError::new(
                "tolerance",
                format!("must be a finite number >= 0, got {}", self.tolerance),
            ));
        }
        Ok(MathAccuracy {
            id,
            tolerance: self.tolerance,
        })
    }
}

/// Scores 1 when the final answer extracted from the completion (see
/// [`crate::math::extract_answer`]: `<answer>` tag, `####`, `\boxed{}`, last number) equals
/// the prompt's [`Reference::Number`] within `tolerance + 1e-12·|reference|`, else 0
/// (also 0 when no answer can be extracted). Prompts with another reference kind are
/// unscorable.
#[derive(Debug, Clone)]
pub struct MathAccuracy {
    id: ObjectiveId,
    tolerance: f64,
}

impl Default for MathAccuracy {
    fn default() -> Self {
        Self {
            id: ObjectiveId::new("math_accuracy"),
            tolerance: default_tolerance(),
        }
    }
}

impl RewardFn for MathAccuracy {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let Reference::Number { value } = prompt.reference else {
            return Err(unscorable(&self.id, "needs a numeric reference"));
        };
        let correct = extract_answer(completion)
            .is_some_and(|a| answers_match(a.value, value, self.tolerance));
        Ok(if correct { 1.0 } else { 0.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::testing::prompt;

    #[test]
    fn scores_answers() {
        let r = MathAccuracy::default();
        let p = prompt("math", Reference::Number { value: 1234.0 });
        let cases = [
            (
                "<think> 1000 + 234 = 1234 </think> <answer> 1234 </answer>",
                1.0,
            ),
            ("<answer>$1,234.00</answer>", 1.0),
            ("#### 1,234", 1.0),
            ("\\boxed{1234}", 1.0),
            ("so it is 1234.", 1.0),
            ("<answer> 1235 </answer> 1234", 0.0),
            ("", 0.0),
            ("<answer>", 0.0),
            ("１２３４", 0.0), // full-width digits are not numbers
            (&"1".repeat(5000), 0.0),
        ];
        for (completion, expected) in cases {
            assert_eq!(r.score(&p, completion).unwrap(), expected, "{completion:?}");
        }
    }

    #[test]
    fn wrong_reference_is_unscorable() {
        let r = MathAccuracy::default();
        let p = prompt("code", Reference::IoCases { cases: vec![] });
        assert!(matches!(
            r.score(&p, "1"),
            Err(RewardError::Unscorable { .. })
        ));
    }

    #[test]
    fn config_builds_and_validates() {
        let c: MathAccuracyConfig = toml::from_str("id = \"acc\"\ntolerance = 0.5").unwrap();
        let r = c.build().unwrap();
        assert_eq!(r.id().as_str(), "acc");
        let p = prompt("math", Reference::Number { value: 2.0 });
        assert_eq!(r.score(&p, "2.4").unwrap(), 1.0); // |2.4 − 2| = 0.4 ≤ 0.5
        let bad = MathAccuracyConfig {
            tolerance: -1.0,
            ..Default::default()
        };
        assert_eq!(bad.build().unwrap_err().field, "tolerance");
        assert!(toml::from_str::<MathAccuracyConfig>("tol = 1").is_err());
    }
}
