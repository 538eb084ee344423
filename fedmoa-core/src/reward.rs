//! The [`RewardFn`] plugin trait and the prompt/completion types it scores.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ObjectiveId, TaskTag};

/// What a prompt's completion is checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    /// Nothing to compare with (format-only or length-only objectives).
    None,
    /// A numeric final answer (math word problems, GSM8K).
    Number {
        /// The correct value.
        value: f64,
    },
    /// Input → output cases for a single-argument integer function (embedded code tasks).
    IoCases {
        /// `(x, f(x))` pairs; hidden from the prompt.
        cases: Vec<(i64, i64)>,
    },
    /// Python unit tests (MBPP style).
    PythonTests {
        /// Code run before the asserts.
        setup: String,
        /// One `assert …` line per test.
        asserts: Vec<String>,
    },
    /// An exact reference text.
    Text {
        /// The reference.
        text: String,
    },
    /// Anything else a user plugin needs.
    Custom {
        /// Plugin-defined payload.
        value: serde_json::Value,
    },
}

/// A task prompt shown to the policy, with the hidden reference used for scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Stable identifier (unique within a dataset).
    pub id: String,
    /// Task family.
    pub task: TaskTag,
    /// The text given to the model.
    pub text: String,
    /// What the completion is checked against.
    pub reference: Reference,
    /// A worked reference solution in the completion format, if known (used for SFT).
    pub solution: Option<String>,
}

impl Prompt {
    /// A prompt with nothing to compare against and no worked solution (format-only or
    /// length-only objectives; tests).
    pub fn unreferenced(
        id: impl Into<String>,
        task: impl Into<TaskTag>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            task: task.into(),
            text: text.into(),
            reference: Reference::None,
            solution: None,
        }
    }
}

/// The closed interval a reward lies in; `max` means "fully satisfied".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardRange {
    /// Smallest possible reward (also the value given on plugin failure).
    pub min: f32,
    /// Largest possible reward.
    pub max: f32,
}

impl RewardRange {
    /// The usual `[0, 1]` range.
    pub const UNIT: RewardRange = RewardRange { min: 0.0, max: 1.0 };

    /// True when `value` lies in the range.
    pub fn contains(&self, value: f32) -> bool {
        value >= self.min && value <= self.max
    }
}

/// A reward plugin failed to score a sample.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RewardError {
    /// The sample cannot be scored (e.g. the prompt has the wrong reference kind).
    #[error("reward {objective}: {reason}")]
    Unscorable {
        /// Objective that failed.
        objective: ObjectiveId,
        /// Why.
        reason: String,
    },
    /// The plugin panicked; the scorer caught it.
    #[error("reward {objective} panicked: {message}")]
    Panicked {
        /// Objective that failed.
        objective: ObjectiveId,
        /// Panic payload, if it was a string.
        message: String,
    },
    /// The plugin returned NaN, ±∞ or a value outside its declared range.
    #[error("reward {objective} returned {value}, outside its range")]
    OutOfRange {
        /// Objective that failed.
        objective: ObjectiveId,
        /// The bad value.
        value: f32,
    },
}

/// One objective: scores a completion of a prompt.
///
/// Implementations must be deterministic for the same input. The scorer in
/// `fedmoa-rewards` contains failures: a panic or a value outside [`RewardFn::range`] gives
/// that sample the range's minimum and is counted as an error.
pub trait RewardFn: Send + Sync {
    /// The objective this plugin scores.
    fn id(&self) -> &ObjectiveId;

    /// The interval every score lies in.
    fn range(&self) -> RewardRange {
        RewardRange::UNIT
    }

    /// Scores one completion.
    ///
    /// # Errors
    /// [`RewardError`] when the sample cannot be scored.
    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError>;

    /// Scores many completions; the default calls [`RewardFn::score`] for each.
    fn score_batch(&self, samples: &[(&Prompt, &str)]) -> Vec<Result<f32, RewardError>> {
        samples.iter().map(|(p, c)| self.score(p, c)).collect()
    }
}

impl<T: RewardFn + ?Sized> RewardFn for Arc<T> {
    fn id(&self) -> &ObjectiveId {
        (**self).id()
    }
    fn range(&self) -> RewardRange {
        (**self).range()
    }
    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        (**self).score(prompt, completion)
    }
    fn score_batch(&self, samples: &[(&Prompt, &str)]) -> Vec<Result<f32, RewardError>> {
        (**self).score_batch(samples)
    }
}

/// A [`RewardFn`] made from a closure: `FnReward::new("short", RewardRange::UNIT, |_, c| …)`.
pub struct FnReward<F> {
    id: ObjectiveId,
    range: RewardRange,
    f: F,
}

impl<F> FnReward<F>
where
    F: Fn(&Prompt, &str) -> f32 + Send + Sync,
{
    /// Wraps `f` as the objective `id` with the declared `range`.
    pub fn new(id: impl Into<ObjectiveId>, range: RewardRange, f: F) -> Self {
        Self {
            id: id.into(),
            range,
            f,
        }
    }
}

impl<F> RewardFn for FnReward<F>
where
    F: Fn(&Prompt, &str) -> f32 + Send + Sync,
{
    fn id(&self) -> &ObjectiveId {
        &self.id
    }
    fn range(&self) -> RewardRange {
        self.range
    }
    fn score(&self, prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        Ok((self.f)(prompt, completion))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_reward_scores() {
        let r = FnReward::new("short", RewardRange::UNIT, |_: &Prompt, c: &str| {
            if c.len() < 5 { 1.0 } else { 0.0 }
        });
        let p = Prompt {
            id: "p".into(),
            task: "math".into(),
            text: "q".into(),
            reference: Reference::None,
            solution: None,
        };
        let boxed: Box<dyn RewardFn> = Box::new(r);
        assert_eq!(boxed.id().as_str(), "short");
        assert_eq!(boxed.score(&p, "ok").unwrap(), 1.0);
        assert_eq!(boxed.score_batch(&[(&p, "too long")])[0], Ok(0.0));
    }

    #[test]
    fn reference_serialises_with_a_kind_tag() {
        let r = Reference::Number { value: 7.0 };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"number","value":7.0}"#
        );
    }
}
