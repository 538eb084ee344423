//! Settings of the Python task generator.

use fedmoa_core::{ConfigError, require_not_empty, require_within};
use serde::{Deserialize, Serialize};

use super::PythonFamily;

/// The most tests a generated task may have.
pub const MAX_TESTS: usize = 8;

/// Settings of the Python task generator (`type = "python"` in a task mix).
///
/// In TOML: `{ type = "python", families = ["list", "string"], difficulty = 2, n_tests = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PythonTaskConfig {
    /// Families to draw from (uniformly, then a template of the family uniformly); must not
    /// be empty. Default: all three.
    pub families: Vec<PythonFamily>,
    /// 1 (one-operation templates, the default) or 2 (a condition or two operations).
    pub difficulty: u32,
    /// Asserts per task, on distinct inputs, 1 to [`MAX_TESTS`] (default 3, as in MBPP);
    /// the first is shown in the prompt.
    pub n_tests: usize,
}

impl Default for PythonTaskConfig {
    /// Every family, difficulty 1, 3 asserts.
    fn default() -> Self {
        Self {
            families: PythonFamily::ALL.to_vec(),
            difficulty: 1,
            n_tests: 3,
        }
    }
}

impl PythonTaskConfig {
    /// A config drawing from `families` at `difficulty`, with the default number of tests.
    pub fn new(families: Vec<PythonFamily>, difficulty: u32) -> Self {
        Self {
            families,
            difficulty,
            ..Self::default()
        }
    }

    /// Sets the number of asserts per task.
    #[must_use]
    pub fn with_tests(mut self, n_tests: usize) -> Self {
        self.n_tests = n_tests;
        self
    }

    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming `families`, `difficulty` or `n_tests`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        require_not_empty("families", &self.families)?;
        require_within("difficulty", self.difficulty, 1..=2)?;
        require_within("n_tests", self.n_tests, 1..=MAX_TESTS)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_from_toml_with_defaults() {
        let c: PythonTaskConfig = toml::from_str("families = [\"list\", \"arithmetic\"]").unwrap();
        assert_eq!(
            c.families,
            vec![PythonFamily::List, PythonFamily::Arithmetic]
        );
        assert_eq!((c.difficulty, c.n_tests), (1, 3));
        let c: PythonTaskConfig = toml::from_str("difficulty = 2\nn_tests = 5").unwrap();
        assert_eq!(
            c,
            PythonTaskConfig {
                difficulty: 2,
                ..PythonTaskConfig::default().with_tests(5)
            }
        );
        assert_eq!(c.families.len(), 3);
        assert!(toml::from_str::<PythonTaskConfig>("n_test = 2").is_err());
        assert!(toml::from_str::<PythonTaskConfig>("families = [\"strings\"]").is_err());
    }

    #[test]
    fn validation_names_fields() {
        let field = |c: PythonTaskConfig| c.validate().unwrap_err().field;
        assert_eq!(field(PythonTaskConfig::new(vec![], 1)), "families");
        assert_eq!(
            field(PythonTaskConfig::new(PythonFamily::ALL.to_vec(), 0)),
            "difficulty"
        );
        assert_eq!(
            field(PythonTaskConfig::new(PythonFamily::ALL.to_vec(), 3)),
            "difficulty"
        );
        assert_eq!(field(PythonTaskConfig::default().with_tests(0)), "n_tests");
        assert_eq!(field(PythonTaskConfig::default().with_tests(9)), "n_tests");
        assert!(PythonTaskConfig::default().with_tests(8).validate().is_ok());
        assert!(PythonTaskConfig::default().validate().is_ok());
    }
}
