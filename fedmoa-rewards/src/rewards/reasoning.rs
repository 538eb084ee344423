//! `reasoning`: rewards completions that show their intermediate steps.

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::objective_id;
use crate::completion::think_content;

/// Config of [`Reasoning`] (`type = "reasoning"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasoningConfig {
    /// Objective id (default `reasoning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Steps needed for full credit, at least 1 (default 1).
    #[serde(default = "default_min_steps")]
    pub min_steps: u32,
}

fn default_min_steps() -> u32 {
    1
}

impl Default for ReasoningConfig {
    fn default() -> Self {
        Self {
            id: None,
            min_steps: default_min_steps(),
        }
    }
}

impl ReasoningConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id` or `min_steps`.
    pub fn build(&self) -> Result<Reasoning, ConfigError> {
        let id = objective_id(self.id.as_deref(), "reasoning")?;
        if self.min_steps == 0 {
            return Err(ConfigError::new("min_steps", "must be at least 1"));
        }
        Ok(Reasoning {
            id,
            min_steps: self.min_steps as usize,
        })
    }
}

/// Scores `min(1, steps / min_steps)`, where `steps` is [`count_steps`] of the last closed
/// `<think>` block (of the whole completion when there is none). Needs no reference.
#[derive(Debug, Clone)]
pub struct Reasoning {
    id: ObjectiveId,
    min_steps: usize,
}

impl RewardFn for Reasoning {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let scope = think_content(completion).unwrap_or(completion);
        let steps = count_steps(scope).min(self.min_steps);
        Ok(steps as f32 / self.min_steps as f32)
    }
}

/// Words that open a step when they start a segment (case-insensitive).
const MARKERS: [&str; 5] = ["step", "first", "then", "next", "finally"];

/// Counts reasoning steps. The text is cut into segments at newlines and `;`, and each
/// segment into sentences at a `.` followed by whitespace. Every sentence holding an
/// equation (an `=` that is not part of `==`, `<=`, `>=`, `!=` or `=>`, with a letter,
/// digit, bracket or `$` on each side) is a step; a segment that starts with a marker
/// (`step`, `first`, `then`, `next`, `finally`, a list number `1.` / `2)`, or a bullet
/// `-`, `*`, `•` followed by a space) counts as at least one step.
pub fn count_steps(text: &str) -> usize {
    text.split(['\n', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let equations = sentences(segment).filter(|s| has_equation(s)).count();
            if starts_with_marker(segment) {
                equations.max(1)
            } else {
                equations
            }
        })
        .sum()
}

/// Splits at every `.` that is followed by whitespace.
fn sentences(segment: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = segment.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '.' && chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
            pieces.push(&segment[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&segment[start..]);
    pieces.into_iter()
}

fn has_equation(segment: &str) -> bool {
    let chars: Vec<char> = segment.chars().collect();
    let operand = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || "()[]$".contains(*c));
    (0..chars.len()).any(|i| {
        if chars[i] != '=' {
            return false;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        if prev.is_some_and(|p| "=<>!".contains(p)) || next.is_some_and(|n| "=>".contains(n)) {
            return false;
        }
        let left = chars[..i].iter().rev().find(|c| !c.is_whitespace());
        let right = chars[i + 1..]
            .iter()
            .find(|c| !c.is_whitespace() && **c != '-');
        operand(left) && operand(right)
    })
}

fn starts_with_marker(segment: &str) -> bool {
    let lower = segment.to_lowercase();
    let first_word: String = lower.chars().take_while(|c| c.is_alphabetic()).collect();
    if MARKERS.contains(&first_word.as_str()) {
        return true;
    }
    let mut chars = lower.chars();
    match chars.next() {
        Some('-' | '*' | '•') => chars.next().is_some_and(char::is_whitespace),
        Some(c) if c.is_ascii_digit() => {
            let rest: String = chars.skip_while(char::is_ascii_digit).take(2).collect();
            rest.starts_with(". ") || rest.starts_with(") ")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;
    use crate::rewards::testing::prompt;

    #[test]
    fn counts_steps_by_hand() {
        assert_eq!(count_steps("3 * 4 = 12 ; 5 + 12 = 17"), 2);
        assert_eq!(
            count_steps("Natalia sold 48/2 = 24 clips. So 48+24 = 72."),
            2
        );
        assert_eq!(count_steps("x == 3 ; a <= b ; a => b"), 0);
        assert_eq!(count_steps("= 3 ; 3 ="), 0);
        assert_eq!(
            count_steps("step one\nthen we add\n1. x\n2) y\n- bullet\n-5 apples"),
            5
        );
        assert_eq!(count_steps("f(1) = 2 * 1 + 1 = 3"), 1); // one segment
        assert_eq!(count_steps("x = -5"), 1);
        assert_eq!(count_steps("the value is 0.5 now"), 0);
        assert_eq!(count_steps(""), 0);
        assert_eq!(count_steps("ÄÖ = ü ; 😀 = 😀"), 1); // emoji are not operands
    }

    #[test]
    fn scores_think_block_or_whole_text() {
        let r = ReasoningConfig {
            min_steps: 2,
            ..Default::default()
        }
        .build()
        .unwrap();
        let p = prompt("math", Reference::None);
        let s = |c: &str| r.score(&p, c).unwrap();
        assert_eq!(
            s("<think> 3 * 4 = 12 ; 5 + 12 = 17 </think> <answer> 17 </answer>"),
            1.0
        );
        assert_eq!(
            s("<think> 12 + 5 = 17 </think> <answer> 17 = 17 </answer>"),
            0.5
        );
        assert_eq!(s("a = 1 ; b = 2 ; c = 3"), 1.0); // no think block: whole text, capped
        assert_eq!(s("<think> no steps </think>"), 0.0);
        assert_eq!(s("<think> 1 = 1"), 0.5); // unclosed: whole text
        assert_eq!(
            ReasoningConfig {
                min_steps: 0,
                ..Default::default()
            }
            .build()
            .unwrap_err()
            .field,
            "min_steps"
        );
    }
}
