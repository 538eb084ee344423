//! Math problem families and the difficulty settings of the generator.

use fedmoa_core::{ConfigError, require_not_empty, require_within};
use serde::{Deserialize, Serialize};

/// A family of synthetic word problems. Clients given different families see non-IID data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MathFamily {
    /// Someone has some objects, gains or loses some: `12 + 5 = 17`.
    AddSub,
    /// Bags of equal size (`4 * 6 = 24`) or packing into bags (`24 / 6 = 4`).
    MulDiv,
    /// A product then a sum or difference: `3 * 4 = 12 ; 5 + 12 = 17`.
    TwoStep,
    /// Giving away or gaining a percentage: `40 * 25 / 100 = 10 ; 40 - 10 = 30`.
    Percent,
    /// One person has more, fewer or k times as many as another: `30 + 12 = 42`.
    Comparison,
}

impl MathFamily {
    /// Every family, in declaration order.
    pub const ALL: [MathFamily; 5] = [
        MathFamily::AddSub,
        MathFamily::MulDiv,
        MathFamily::TwoStep,
        MathFamily::Percent,
        MathFamily::Comparison,
    ];

    /// Equations the family's core story needs before any extra steps.
    pub fn base_steps(self) -> u32 {
        match self {
            MathFamily::TwoStep | MathFamily::Percent => 2,
            MathFamily::AddSub | MathFamily::MulDiv | MathFamily::Comparison => 1,
        }
    }
}

/// Settings of the synthetic math generator (`type = "math"` in a task mix).
///
/// `digits` is the number of digits of the main quantities (multipliers, divisors and
/// percentages stay small). `steps` is the number of equations in the worked solution:
/// a family needing more ([`MathFamily::base_steps`]) uses its own count, and every step
/// beyond the core story adds one "buys / loses / gives" event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MathTaskConfig {
    /// Families to draw from (uniformly); must not be empty.
    #[serde(default = "all_families")]
    pub families: Vec<MathFamily>,
    /// Digits of the main quantities, 1 to 4.
    #[serde(default = "default_digits")]
    pub digits: u32,
    /// Equations in the worked solution, 1 to 4.
    #[serde(default = "default_steps")]
    pub steps: u32,
}

fn all_families() -> Vec<MathFamily> {
    MathFamily::ALL.to_vec()
}
fn default_digits() -> u32 {
    2
}
fn default_steps() -> u32 {
    1
}

impl Default for MathTaskConfig {
    fn default() -> Self {
        Self {
            families: all_families(),
            digits: default_digits(),
            steps: default_steps(),
        }
    }
}

impl MathTaskConfig {
    /// A config drawing from `families` with the default difficulty.
    pub fn new(families: Vec<MathFamily>) -> Self {
        Self {
            families,
            ..Self::default()
        }
    }

    /// Sets the number of digits.
    #[must_use]
    pub fn with_digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// Sets the number of steps.
    #[must_use]
    pub fn with_steps(mut self, steps: u32) -> Self {
        self.steps = steps;
        self
    }

    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming `families`, `digits` or `steps`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        require_not_empty("families", &self.families)?;
        require_within("digits", self.digits, 1..=4)?;
        require_within("steps", self.steps, 1..=4)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_from_toml_with_defaults() {
        let c: MathTaskConfig = toml::from_str("families = [\"add_sub\", \"percent\"]").unwrap();
        assert_eq!(c.families, vec![MathFamily::AddSub, MathFamily::Percent]);
        assert_eq!((c.digits, c.steps), (2, 1));
        assert!(toml::from_str::<MathTaskConfig>("digit = 2").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            MathTaskConfig::new(vec![]).validate().unwrap_err().field,
            "families"
        );
        let c = MathTaskConfig::default().with_digits(5);
        assert_eq!(c.validate().unwrap_err().field, "digits");
        let c = MathTaskConfig::default().with_steps(0);
        assert_eq!(c.validate().unwrap_err().field, "steps");
        assert!(MathTaskConfig::default().validate().is_ok());
    }
}
