//! Loading `mbpp.jsonl` and its conventional splits.
//!
//! The file is found through `FEDMOA_DATA_DIR` (`$FEDMOA_DATA_DIR/mbpp/mbpp.jsonl`) or an
//! explicit directory, like GSM8K (see [`crate::math::gsm8k`]).

use std::path::{Path, PathBuf};

use fedmoa_core::{Prompt, Reference};
use serde::{Deserialize, Serialize};

use super::prompt::{normalise_newlines, prompt_text, solution_text};
use crate::DataError;
use crate::jsonl::{for_each_record, malformed};

/// The conventional MBPP splits by `task_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MbppSplit {
    /// Ids 1–10, used as few-shot examples.
    FewShot,
    /// Ids 11–510 (500 tasks).
    Test,
    /// Ids 511–600 (90 tasks).
    Validation,
    /// Ids 601–974 (374 tasks).
    Train,
}

impl MbppSplit {
    /// Every split.
    pub const ALL: [MbppSplit; 4] = [
        MbppSplit::FewShot,
        MbppSplit::Test,
        MbppSplit::Validation,
        MbppSplit::Train,
    ];

    /// The split a task id belongs to (`None` outside 1–974).
    pub fn of(task_id: u32) -> Option<MbppSplit> {
        match task_id {
            1..=10 => Some(MbppSplit::FewShot),
            11..=510 => Some(MbppSplit::Test),
            511..=600 => Some(MbppSplit::Validation),
            601..=974 => Some(MbppSplit::Train),
            _ => None,
        }
    }
}

/// `<dir>/mbpp/mbpp.jsonl`.
pub fn mbpp_path(dir: &Path) -> PathBuf {
    dir.join("mbpp").join("mbpp.jsonl")
}

/// One MBPP task.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MbppProblem {
    /// The task id (1–974).
    pub task_id: u32,
    /// The task statement.
    pub text: String,
    /// The reference solution (line endings as in the file).
    pub code: String,
    /// Code run before the asserts (usually empty).
    pub test_setup_code: String,
    /// The three standard `assert` lines.
    pub test_list: Vec<String>,
    /// Extra, harder asserts (a few tasks only).
    #[serde(default)]
    pub challenge_test_list: Vec<String>,
}

impl MbppProblem {
    /// The task's split.
    pub fn split(&self) -> Option<MbppSplit> {
        MbppSplit::of(self.task_id)
    }

    /// The prompt text: the statement and the first test as a signature hint.
    pub fn prompt_text(&self) -> String {
        prompt_text(&self.text, self.test_list.first().map(String::as_str))
    }

    /// The task as a `"code"` prompt with a [`Reference::PythonTests`] reference (the
    /// standard tests, plus the challenge tests when `challenge` is set) and the reference
    /// code as a fenced block.
    pub fn to_prompt(&self, id: impl Into<String>, challenge: bool) -> Prompt {
        let mut asserts = self.test_list.clone();
        if challenge {
            asserts.extend(self.challenge_test_list.iter().cloned());
        }
        Prompt {
            id: id.into(),
            task: "code".into(),
            text: self.prompt_text(),
            reference: Reference::PythonTests {
                setup: normalise_newlines(&self.test_setup_code),
                asserts,
            },
            solution: Some(solution_text(&self.code)),
        }
    }
}

/// Loads the tasks of `split` (all tasks when `None`) from an `mbpp.jsonl` file, in file
/// order.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Malformed`] (with the line
/// number) for bad JSON, a task id outside 1–974 or a task without tests.
pub fn load_mbpp(path: &Path, split: Option<MbppSplit>) -> Result<Vec<MbppProblem>, DataError> {
    let mut problems = Vec::new();
    for_each_record(path, |line, p: MbppProblem| {
        let Some(own) = p.split() else {
            return Err(malformed(
                path,
                line,
                format!("task_id {} is outside 1..=974", p.task_id),
            ));
        };
        if p.test_list.is_empty() {
            return Err(malformed(
                path,
                line,
                format!("task {} has no tests", p.task_id),
            ));
        }
        if split.is_none_or(|s| s == own) {
            problems.push(p);
        }
        Ok(())
    })?;
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_boundaries() {
        let cases = [
            (1, MbppSplit::FewShot),
            (10, MbppSplit::FewShot),
            (11, MbppSplit::Test),
            (510, MbppSplit::Test),
            (511, MbppSplit::Validation),
            (600, MbppSplit::Validation),
            (601, MbppSplit::Train),
            (974, MbppSplit::Train),
        ];
        for (id, split) in cases {
            assert_eq!(MbppSplit::of(id), Some(split), "{id}");
        }
        assert_eq!(MbppSplit::of(0), None);
        assert_eq!(MbppSplit::of(975), None);
    }

    #[test]
    fn loads_and_filters_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mbpp.jsonl");
        let row = |id: u32| serde_json::json!({"text": format!("Write f{id}."), "code": "def f(x):\r\n  return x", "task_id": id, "test_setup_code": "", "test_list": ["assert f(1) == 1"], "challenge_test_list": ["assert f(2) == 2"]});
        std::fs::write(&path, format!("{}\n\n{}\n", row(3), row(700))).unwrap();
        assert_eq!(load_mbpp(&path, None).unwrap().len(), 2);
        let train = load_mbpp(&path, Some(MbppSplit::Train)).unwrap();
        assert_eq!(train.len(), 1);
        let p = train[0].to_prompt("mbpp-700", true);
        assert_eq!(
            p.text,
            "Write f700.\nYour code should pass this test:\nassert f(1) == 1"
        );
        assert_eq!(
            p.solution.as_deref(),
            Some("```python\ndef f(x):\n  return x\n```")
        );
        match p.reference {
            Reference::PythonTests { asserts, .. } => assert_eq!(asserts.len(), 2),
            other => panic!("expected python tests, got {other:?}"),
        }
        std::fs::write(&path, format!("{}\n", row(1000))).unwrap();
        assert!(matches!(
            load_mbpp(&path, None),
            Err(DataError::Malformed { line: 1, .. })
        ));
        std::fs::write(&path, "{bad\n").unwrap();
        assert!(matches!(
            load_mbpp(&path, None),
            Err(DataError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            load_mbpp(&dir.path().join("none"), None),
            Err(DataError::Io { .. })
        ));
    }
}
