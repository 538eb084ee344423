//! What a client's prompts are drawn from: [`TaskSpec`] sources mixed by weight in a
//! [`TaskMix`].
//!
//! In TOML: `mix = [{ weight = 0.7, task = { type = "math", families = ["add_sub"], digits = 2 } },
//! { weight = 0.3, task = { type = "gsm8k", split = "train" } }]`.
//!
//! Code clients draw the embedded "write f(x)" tasks (`type = "code"`, scored by
//! `code_pass_rate`), MBPP (`type = "mbpp"`, scored by the sandboxed `python_tests`), or
//! generated MBPP-shaped Python tasks, easier than MBPP (`type = "python"`, see
//! [`crate::python_tasks`], also scored by `python_tests`):
//! `mix = [{ weight = 1.0, task = { type = "mbpp", split = "train" } }]`,
//! `mix = [{ weight = 1.0, task = { type = "python", families = ["list", "string"], difficulty = 1 } }]`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use fedmoa_core::{ConfigError, TaskTag};
use serde::{Deserialize, Serialize};

use crate::code::CodeTaskConfig;
use crate::math::{Gsm8kSplit, MathTaskConfig};
use crate::mbpp::MbppSplit;
use crate::python_tasks::PythonTaskConfig;

/// GSM8K as a prompt source (`type = "gsm8k"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gsm8kTaskConfig {
    /// Which file to read.
    pub split: Gsm8kSplit,
    /// The data directory holding `gsm8k/`; defaults to `$FEDMOA_DATA_DIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// MBPP as a prompt source (`type = "mbpp"`): `"code"` prompts with Python asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbppTaskConfig {
    /// Which conventional split (`train`, `validation`, `test` or `few_shot`).
    pub split: MbppSplit,
    /// The data directory holding `mbpp/`; defaults to `$FEDMOA_DATA_DIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Also check the `challenge_test_list` asserts (default false).
    #[serde(default)]
    pub challenge_tests: bool,
}

/// One source of prompts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskSpec {
    /// Synthetic word problems.
    Math(MathTaskConfig),
    /// Synthetic "write f(x)" tasks.
    Code(CodeTaskConfig),
    /// GSM8K problems from disk.
    Gsm8k(Gsm8kTaskConfig),
    /// MBPP tasks from disk (Python, scored by `python_tests`).
    Mbpp(MbppTaskConfig),
    /// Generated MBPP-shaped Python tasks (scored by `python_tests`).
    Python(PythonTaskConfig),
}

impl TaskSpec {
    /// The task tag of its prompts: `math` (synthetic math and GSM8K) or `code`
    /// (embedded code tasks, MBPP and generated Python tasks).
    pub fn task_tag(&self) -> TaskTag {
        match self {
            TaskSpec::Math(_) | TaskSpec::Gsm8k(_) => TaskTag::new("math"),
            TaskSpec::Code(_) | TaskSpec::Mbpp(_) | TaskSpec::Python(_) => TaskTag::new("code"),
        }
    }

    /// Checks the settings (not whether GSM8K or MBPP files exist).
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            TaskSpec::Math(c) => c.validate(),
            TaskSpec::Code(c) => c.validate(),
            TaskSpec::Python(c) => c.validate(),
            TaskSpec::Gsm8k(_) | TaskSpec::Mbpp(_) => Ok(()),
        }
    }
}

/// One weighted entry of a [`TaskMix`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixComponent {
    /// Relative weight, finite and ≥ 0.
    pub weight: f32,
    /// The source.
    pub task: TaskSpec,
}

/// Sources of a client's prompts, each drawn with probability proportional to its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskMix(pub Vec<MixComponent>);

impl TaskMix {
    /// A mix of one source.
    pub fn single(task: TaskSpec) -> Self {
        Self(vec![MixComponent { weight: 1.0, task }])
    }

    /// The components.
    pub fn components(&self) -> &[MixComponent] {
        &self.0
    }

    /// The task tags its prompts carry.
    pub fn task_tags(&self) -> BTreeSet<TaskTag> {
        self.0.iter().map(|c| c.task.task_tag()).collect()
    }

    /// Checks the weights and every source.
    ///
    /// # Errors
    /// [`ConfigError`] with a field like `mix[1].task.digits`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            return Err(ConfigError::new("mix", "must hold at least one task"));
        }
        for (i, c) in self.0.iter().enumerate() {
            if !(c.weight.is_finite() && c.weight >= 0.0) {
                return Err(ConfigError::new(
                    format!("mix[{i}].weight"),
                    format!("must be finite and >= 0, got {}", c.weight),
                ));
            }
            c.task
                .validate()
                .map_err(|e| e.within(&format!("mix[{i}].task")))?;
        }
        if self.0.iter().map(|c| c.weight).sum::<f32>() <= 0.0 {
            return Err(ConfigError::new("mix", "weights must have a positive sum"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::MathFamily;
    use crate::python_tasks::PythonFamily;

    #[derive(Debug, Deserialize)]
    struct Holder {
        mix: TaskMix,
    }

    #[test]
    fn parses_a_mix_from_toml() {
        let text = r#"mix = [
            { weight = 0.7, task = { type = "math", families = ["add_sub"], digits = 1 } },
            { weight = 0.3, task = { type = "code", difficulty = 2 } },
            { weight = 0.0, task = { type = "gsm8k", split = "test" } },
        ]"#;
        let mix = toml::from_str::<Holder>(text).unwrap().mix;
        assert_eq!(
            mix.0[0].task,
            TaskSpec::Math(MathTaskConfig::new(vec![MathFamily::AddSub]).with_digits(1))
        );
        assert_eq!(mix.task_tags().len(), 2);
        assert!(mix.validate().is_ok());
        let mbpp = "mix = [{ weight = 1.0, task = { type = \"mbpp\", split = \"validation\" } }]";
        let mbpp = toml::from_str::<Holder>(mbpp).unwrap().mix;
        assert_eq!(
            mbpp.0[0].task,
            TaskSpec::Mbpp(MbppTaskConfig {
                split: MbppSplit::Validation,
                dir: None,
                challenge_tests: false
            })
        );
        assert_eq!(mbpp.0[0].task.task_tag().as_str(), "code");
        let bad = "mix = [{ weight = 1.0, task = { type = \"mbpp\", split = \"dev\" } }]";
        assert!(toml::from_str::<Holder>(bad).is_err());
        let typo = "mix = [{ weight = 1.0, task = { type = \"code\", dificulty = 2 } }]";
        assert!(toml::from_str::<Holder>(typo).is_err());
    }

    #[test]
    fn parses_and_validates_a_python_source() {
        let text = r#"mix = [
            { weight = 1.0, task = { type = "python", families = ["list", "string"], difficulty = 2, n_tests = 4 } },
            { weight = 1.0, task = { type = "python" } },
        ]"#;
        let mix = toml::from_str::<Holder>(text).unwrap().mix;
        assert_eq!(
            mix.0[0].task,
            TaskSpec::Python(
                PythonTaskConfig::new(vec![PythonFamily::List, PythonFamily::String], 2)
                    .with_tests(4)
            )
        );
        assert_eq!(mix.0[1].task, TaskSpec::Python(PythonTaskConfig::default()));
        assert_eq!(mix.0[0].task.task_tag().as_str(), "code");
        assert!(mix.validate().is_ok());
        let bad = TaskMix(vec![
            mix.0[1].clone(),
            MixComponent {
                weight: 1.0,
                task: TaskSpec::Python(PythonTaskConfig::default().with_tests(9)),
            },
        ]);
        assert_eq!(bad.validate().unwrap_err().field, "mix[1].task.n_tests");
        let typo = "mix = [{ weight = 1.0, task = { type = \"python\", family = [\"list\"] } }]";
        assert!(toml::from_str::<Holder>(typo).is_err());
    }

    #[test]
    fn validation_paths() {
        let bad = TaskMix::single(TaskSpec::Math(MathTaskConfig::default().with_steps(9)));
        assert_eq!(bad.validate().unwrap_err().field, "mix[0].task.steps");
        let zero = TaskMix(vec![MixComponent {
            weight: 0.0,
            task: TaskSpec::Code(CodeTaskConfig::default()),
        }]);
        assert_eq!(zero.validate().unwrap_err().field, "mix");
        assert_eq!(TaskMix(vec![]).validate().unwrap_err().field, "mix");
        let neg = TaskMix(vec![MixComponent {
            weight: -1.0,
            task: TaskSpec::Code(CodeTaskConfig::default()),
        }]);
        assert_eq!(neg.validate().unwrap_err().field, "mix[0].weight");
    }
}
