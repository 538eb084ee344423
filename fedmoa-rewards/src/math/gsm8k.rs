//! Loader for GSM8K (Cobbe et al. 2021) in its standard JSONL form.
//!
//! Each line is `{"question": …, "answer": …}`; the answer is a worked solution with
//! `<<48/2=24>>` calculator annotations whose last line is `#### <number>`.
//! The data is never part of the project: it is found through the `FEDMOA_DATA_DIR`
//! environment variable (`$FEDMOA_DATA_DIR/gsm8k/{train,test}.jsonl`) or an explicit path.

use std::path::{Path, PathBuf};

use fedmoa_core::{Prompt, Reference};
use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::completion::{canonical_whitespace, format_completion};
use crate::jsonl::{for_each_record, malformed};
use crate::math::answer::parse_number;

/// The environment variable naming the shared data directory.
pub const DATA_DIR_VAR: &str = "FEDMOA_DATA_DIR";

/// The data directory from [`DATA_DIR_VAR`], if it is set and not empty.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os(DATA_DIR_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// One of GSM8K's two published splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gsm8kSplit {
    /// `train.jsonl` (7473 problems).
    Train,
    /// `test.jsonl` (1319 problems).
    Test,
}

impl Gsm8kSplit {
    /// The split's file under a data directory: `<dir>/gsm8k/<split>.jsonl`.
    pub fn path_in(self, dir: &Path) -> PathBuf {
        let file = match self {
            Gsm8kSplit::Train => "train.jsonl",
            Gsm8kSplit::Test => "test.jsonl",
        };
        dir.join("gsm8k").join(file)
    }
}

/// One GSM8K problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Gsm8kProblem {
    /// 0-based line index among the file's non-empty lines.
    pub index: usize,
    /// The question text.
    pub question: String,
    /// The worked solution without calculator annotations and without the `####` line.
    pub reasoning: String,
    /// The final answer.
    pub answer: f64,
}

impl Gsm8kProblem {
    /// The worked solution in the completion format: `<think> … </think> <answer> N </answer>`.
    pub fn solution(&self) -> String {
        format_completion(&self.reasoning, &format_answer(self.answer))
    }

    /// The problem as a `"math"` prompt with a numeric reference.
    pub fn to_prompt(&self, id: impl Into<String>) -> Prompt {
        Prompt {
            id: id.into(),
            task: "math".into(),
            text: self.question.clone(),
            reference: Reference::Number { value: self.answer },
            solution: Some(self.solution()),
        }
    }
}

/// Wire form of one JSONL line.
#[derive(Deserialize)]
struct Record {
    question: String,
    answer: String,
}

/// Splits a GSM8K answer into its reasoning (annotations removed, whitespace normalised)
/// and the number on its last `#### ` line. `None` when there is no parsable final line.
pub fn split_answer(answer: &str) -> Option<(String, f64)> {
    let at = answer.rfind("####")?;
    let value = parse_number(answer[at + 4..].trim())?;
    Some((
        canonical_whitespace(&strip_annotations(&answer[..at])),
        value,
    ))
}

/// Removes `<<…>>` calculator annotations (an unclosed `<<` is kept as text).
fn strip_annotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("<<") {
        let Some(close) = rest[open..].find(">>") else {
            break;
        };
        out.push_str(&rest[..open]);
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Writes a value as an integer when it is whole, else with its shortest decimal form.
fn format_answer(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Loads every problem of a GSM8K JSONL file.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Malformed`] (with the line
/// number) for bad JSON or an answer without a `#### N` line.
pub fn load_gsm8k(path: &Path) -> Result<Vec<Gsm8kProblem>, DataError> {
    let mut problems = Vec::new();
    for_each_record(path, |line, record: Record| {
        let (reasoning, answer) = split_answer(&record.answer).ok_or_else(|| {
            malformed(
                path,
                line,
                "answer has no final `#### <number>` line".into(),
            )
        })?;
        problems.push(Gsm8kProblem {
            index: problems.len(),
            question: record.question,
            reasoning,
            answer,
        });
        Ok(())
    })?;
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn splits_a_worked_answer() {
        let a =
            "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nSo 48+24 = <<48+24=72>>72.\n#### 72";
        let (reasoning, value) = split_answer(a).unwrap();
        assert_eq!(
            reasoning,
            "Natalia sold 48/2 = 24 clips in May. So 48+24 = 72."
        );
        assert_eq!(value, 72.0);
        assert_eq!(split_answer("#### 1,234").unwrap().1, 1234.0);
        assert_eq!(split_answer("#### -3.5").unwrap().1, -3.5);
        assert_eq!(split_answer("no final line 5"), None);
        assert_eq!(split_answer("#### five"), None);
        assert_eq!(strip_annotations("a <<unclosed b"), "a <<unclosed b");
    }

    #[test]
    fn loads_a_small_file_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(
            f,
            r#"{{"question": "2+2?", "answer": "2+2=<<2+2=4>>4\n#### 4"}}"#
        )
        .unwrap();
        writeln!(f).unwrap();
        let line = serde_json::json!({"question": "half of 3?", "answer": "#### 1.5"});
        writeln!(f, "{line}").unwrap();
        drop(f);
        let problems = load_gsm8k(&path).unwrap();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[1].index, 1);
        assert_eq!(
            problems[0].solution(),
            "<think> 2+2=4 </think> <answer> 4 </answer>"
        );
        assert_eq!(
            problems[1].solution(),
            "<think> </think> <answer> 1.5 </answer>"
        );

        std::fs::write(&path, "{\"question\": \"q\", \"answer\": \"none\"}\n").unwrap();
        match load_gsm8k(&path) {
            Err(DataError::Malformed { line: 1, .. }) => {}
            other => panic!("expected a malformed-line error, got {other:?}"),
        }
        std::fs::write(&path, "{oops\n").unwrap();
        assert!(matches!(
            load_gsm8k(&path),
            Err(DataError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            load_gsm8k(&dir.path().join("missing.jsonl")),
            Err(DataError::Io { .. })
        ));
    }
}
