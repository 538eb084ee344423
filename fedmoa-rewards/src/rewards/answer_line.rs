//! `answer_line`: does the completion give its final answer on a marked line such as
//! `#### 42` (GSM8K's convention)?

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::objective_id;

/// Config of [`AnswerLine`] (`type = "answer_line"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerLineConfig {
    /// Objective id (default `answer_line`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The marker that opens the answer line (default `####`).
    #[serde(default = "default_marker")]
    pub marker: String,
}

fn default_marker() -> String {
    "####".into()
}

impl Default for AnswerLineConfig {
    fn default() -> Self {
        Self {
            id: None,
            marker: default_marker(),
        }
    }
}

impl AnswerLineConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id`, or `marker` when it is blank or spans lines.
    pub fn build(&self) -> Result<AnswerLine, ConfigError> {
        let id = objective_id(self.id.as_deref(), "answer_line")?;
        let marker = self.marker.trim();
        if marker.is_empty() || marker.contains('\n') {
            return Err(ConfigError::new(
                "marker",
                format!("must be non-blank text on one line, got {:?}", self.marker),
            ));
        }
        Ok(AnswerLine {
            id,
            marker: marker.to_string(),
        })
    }
}

/// Scores 1 when some line of the completion is the marker followed by a number and
/// nothing else (`#### 42`, `#### -3.5`, `#### 1,200`; a final `.` is allowed), else 0.
/// Whether the number is right is `math_accuracy`'s business. Needs no reference.
#[derive(Debug, Clone)]
pub struct AnswerLine {
    id: ObjectiveId,
    marker: String,
}

impl RewardFn for AnswerLine {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let marked = completion.lines().any(|line| {
            line.trim()
                .strip_prefix(self.marker.as_str())
                .is_some_and(is_number)
        });
        Ok(if marked { 1.0 } else { 0.0 })
    }
}

/// A plain decimal number: optional sign, digits with optional thousands commas, an
/// optional fractional part and an optional final full stop.
fn is_number(text: &str) -> bool {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let int_ok = !int.is_empty()
        && int.split(',').enumerate().all(|(i, group)| {
            !group.is_empty()
                && group.chars().all(|c| c.is_ascii_digit())
                && (i == 0 || group.len() == 3)
        });
    int_ok && frac.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;

    fn score(completion: &str) -> f32 {
        let prompt = Prompt {
            id: "p".into(),
            task: "math".into(),
            text: "2 + 2 =".into(),
            reference: Reference::Number { value: 4.0 },
            solution: None,
        };
        AnswerLineConfig::default()
            .build()
            .unwrap()
            .score(&prompt, completion)
            .unwrap()
    }

    #[test]
    fn a_marked_number_on_its_own_line_scores() {
        for ok in [
            "2 + 2 = 4\n#### 4",
            "#### 4",
            "  ####   -3.5.  \nThe answer is 4.",
            "#### 1,200",
            "#### +7",
        ] {
            assert_eq!(score(ok), 1.0, "{ok:?}");
        }
    }

    #[test]
    fn anything_else_does_not() {
        for bad in [
            "The answer is 4.",
            "#### four",
            "####",
            "#### = 4",
            "#### 4 cards",
            "#### 1,20",
            "I think #### 4",
            "##### 4x",
            "",
        ] {
            assert_eq!(score(bad), 0.0, "{bad:?}");
        }
    }

    #[test]
    fn a_blank_marker_is_refused() {
        let config = AnswerLineConfig {
            marker: "  ".into(),
            ..AnswerLineConfig::default()
        };
        assert_eq!(config.build().unwrap_err().field, "marker");
    }
}
