//! [`ScenarioDifficulty`]: how hard the generated tasks of [`Scenario::heterogeneous_with`]
//! are.
//!
//! [`Scenario::heterogeneous_with`]: crate::Scenario::heterogeneous_with

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};

use crate::math::MathFamily;

/// The task difficulty of a generated heterogeneous scenario (`[difficulty]` in the
/// quickstart's TOML).
///
/// The default suits the embedded ~1M-parameter TinyLm after a few minutes of SFT: one-digit
/// numbers, no steps beyond each family's own, and linear code tasks, so that the warm start
/// solves some problems of every client and GRPO has reward variance to learn from.
/// [`ScenarioDifficulty::hard`] is the wider spread (two digits, extra steps, code
/// difficulty up to 3) for larger policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioDifficulty {
    /// Families the math clients draw from; client i sees two of them (a seeded rotation,
    /// so neighbours differ) or one when the list has one entry.
    pub math_families: Vec<MathFamily>,
    /// Digits of math client i's quantities: `math_digits[i % len]`.
    pub math_digits: Vec<u32>,
    /// Each math client draws its step count uniformly from `1..=math_max_steps` (a family
    /// never has fewer steps than its own story needs).
    pub math_max_steps: u32,
    /// Code client i's difficulty (1 linear, 2 non-linear, 3 conditionals):
    /// `code_difficulties[i % len]`.
    pub code_difficulties: Vec<u32>,
}

impl Default for ScenarioDifficulty {
    fn default() -> Self {
        Self {
            math_families: vec![
                MathFamily::AddSub,
                MathFamily::MulDiv,
                MathFamily::Comparison,
            ],
            math_digits: vec![1],
            math_max_steps: 1,
            code_difficulties: vec![1],
        }
    }
}

impl ScenarioDifficulty {
    /// Every family, one or two digits, up to two steps, code difficulty 1 to 3.
    pub fn hard() -> Self {
        Self {
            math_families: MathFamily::ALL.to_vec(),
            math_digits: vec![1, 2],
            math_max_steps: 2,
            code_difficulties: vec![1, 2, 3],
        }
    }

    /// Checks that every list is non-empty and every value in range.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field (`math_digits`, `code_difficulties[1]`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.math_families.is_empty() {
            return Err(ConfigError::new("math_families", "must not be empty"));
        }
        check_list("math_digits", &self.math_digits, 1..=4)?;
        if !(1..=4).contains(&self.math_max_steps) {
            return Err(ConfigError::new(
                "math_max_steps",
                format!("must be 1 to 4, got {}", self.math_max_steps),
            ));
        }
        check_list("code_difficulties", &self.code_difficulties, 1..=3)
    }

    /// The families math client `i` sees, rotated by `offset`.
    pub(crate) fn families_of(&self, i: usize, offset: usize) -> Vec<MathFamily> {
        let n = self.math_families.len();
        let start = (i + offset) % n;
        match n {
            1 => vec![self.math_families[0]],
            2 => vec![
                self.math_families[start],
                self.math_families[(start + 1) % n],
            ],
            _ => vec![
                self.math_families[start],
                self.math_families[(start + 2) % n],
            ],
        }
    }
}

fn check_list(
    field: &str,
    values: &[u32],
    range: std::ops::RangeInclusive<u32>,
) -> Result<(), ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    match values.iter().position(|v| !range.contains(v)) {
        Some(i) => Err(ConfigError::new(
            format!("{field}[{i}]"),
            format!(
                "must be {} to {}, got {}",
                range.start(),
                range.end(),
                values[i]
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_hard_are_valid() {
        ScenarioDifficulty::default().validate().unwrap();
        ScenarioDifficulty::hard().validate().unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let mut d = ScenarioDifficulty {
            code_difficulties: vec![1, 4],
            ..ScenarioDifficulty::default()
        };
        assert_eq!(d.validate().unwrap_err().field, "code_difficulties[1]");
        d.code_difficulties.clear();
        assert_eq!(d.validate().unwrap_err().field, "code_difficulties");
        let d = ScenarioDifficulty {
            math_max_steps: 0,
            ..ScenarioDifficulty::default()
        };
        assert_eq!(d.validate().unwrap_err().field, "math_max_steps");
        let d = ScenarioDifficulty {
            math_families: vec![],
            ..ScenarioDifficulty::default()
        };
        assert_eq!(d.validate().unwrap_err().field, "math_families");
    }

    #[test]
    fn families_rotate_without_repeats() {
        let d = ScenarioDifficulty::default();
        assert_eq!(
            d.families_of(0, 0),
            [MathFamily::AddSub, MathFamily::Comparison]
        );
        assert_eq!(
            d.families_of(1, 0),
            [MathFamily::MulDiv, MathFamily::AddSub]
        );
        let two = ScenarioDifficulty {
            math_families: vec![MathFamily::AddSub, MathFamily::MulDiv],
            ..ScenarioDifficulty::default()
        };
        assert_eq!(
            two.families_of(1, 0),
            [MathFamily::MulDiv, MathFamily::AddSub]
        );
        let one = ScenarioDifficulty {
            math_families: vec![MathFamily::Percent],
            ..ScenarioDifficulty::default()
        };
        assert_eq!(one.families_of(3, 2), [MathFamily::Percent]);
    }
}
