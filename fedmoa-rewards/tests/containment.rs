//! Containment: a plugin that panics, errors or returns NaN/∞/out-of-range values only
//! costs its own samples (they get the objective's minimum and are counted as errors).

use fedmoa_core::{FnReward, ObjectiveId, Prompt, Reference, RewardError, RewardFn, RewardRange};
use fedmoa_rewards::RewardSet;
use fedmoa_rewards::rewards::{Format, MathAccuracy};

fn prompt(value: f64) -> Prompt {
    Prompt {
        id: format!("p{value}"),
        task: "math".into(),
        text: "q".into(),
        reference: Reference::Number { value },
        solution: None,
    }
}

/// A plugin whose behaviour depends on the completion text.
fn troublemaker() -> Box<dyn RewardFn> {
    Box::new(FnReward::new(
        "trouble",
        RewardRange {
            min: -1.0,
            max: 1.0,
        },
        |_: &Prompt, c: &str| match c {
            c if c.contains("panic") => panic!("plugin bug on {c:?}"),
            c if c.contains("nan") => f32::NAN,
            c if c.contains("inf") => f32::INFINITY,
            c if c.contains("big") => 2.0,
            _ => 0.5,
        },
    ))
}

/// A plugin whose batched call always panics but whose single calls work.
struct BatchPanics(ObjectiveId);

impl RewardFn for BatchPanics {
    fn id(&self) -> &ObjectiveId {
        &self.0
    }
    fn score(&self, _: &Prompt, c: &str) -> Result<f32, RewardError> {
        Ok(if c.is_empty() { 0.0 } else { 1.0 })
    }
    fn score_batch(&self, _: &[(&Prompt, &str)]) -> Vec<Result<f32, RewardError>> {
        panic!("batched path is broken")
    }
}

/// A plugin whose batched call returns too few results.
struct ShortBatch(ObjectiveId);

impl RewardFn for ShortBatch {
    fn id(&self) -> &ObjectiveId {
        &self.0
    }
    fn score(&self, _: &Prompt, _: &str) -> Result<f32, RewardError> {
        Ok(1.0)
    }
    fn score_batch(&self, _: &[(&Prompt, &str)]) -> Vec<Result<f32, RewardError>> {
        vec![Ok(1.0)]
    }
}

#[test]
fn failures_cost_only_their_own_samples() {
    let set = RewardSet::new(
        vec![
            Box::new(MathAccuracy::default()),
            troublemaker(),
            Box::new(Format::default()),
            Box::new(BatchPanics("batch".into())),
            Box::new(ShortBatch("short".into())),
        ],
        vec![0.5, 0.2, 0.1, 0.1, 0.1],
        0,
    )
    .unwrap();
    let p = prompt(3.0);
    let completions = [
        "<think> 1 + 2 = 3 </think> <answer> 3 </answer>",
        "panic 3",
        "nan <answer> 3 </answer>",
        "inf 4",
        "big 3",
        "",
    ];
    let batch: Vec<(&Prompt, &str)> = completions.iter().map(|c| (&p, *c)).collect();
    let m = set.score_batch(&batch);

    // Other objectives are untouched by the troublemaker.
    assert_eq!(m.rewards[0], vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    assert_eq!(m.rewards[2], vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // The troublemaker: panic, NaN, ∞ and 2.0 (above max 1) give min −1; others 0.5.
    assert_eq!(m.rewards[1], vec![0.5, -1.0, -1.0, -1.0, -1.0, 0.5]);
    assert_eq!(m.errors, vec![0, 4, 0, 0, 0]);
    assert!(
        matches!(m.first_errors[1], Some(RewardError::Panicked { ref message, .. }) if message.contains("plugin bug"))
    );
    // A panicking batch path falls back to per-sample scoring without errors.
    assert_eq!(m.rewards[3], vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    // A wrong-length batch answer is rescored sample by sample.
    assert_eq!(m.rewards[4], vec![1.0; 6]);

    let stats = m.stats();
    assert_eq!(stats[1].errors, 4);
    // Troublemaker mean: (0.5·2 − 1·4) / 6 = −0.5.
    assert_eq!(stats[1].mean, -0.5);
    let metrics = m.metrics();
    assert_eq!(metrics["reward/trouble/errors"], 4.0);
    assert_eq!(metrics["reward/errors"], 4.0);
    assert_eq!(m.total_errors(), 4);
}

#[test]
fn unscorable_samples_are_contained_too() {
    let set = RewardSet::new(vec![Box::new(MathAccuracy::default())], vec![1.0], 0).unwrap();
    let code = Prompt {
        reference: Reference::IoCases {
            cases: vec![(1, 1)],
        },
        ..prompt(0.0)
    };
    let math = prompt(2.0);
    let m = set.score_batch(&[(&code, "2"), (&math, "2")]);
    assert_eq!(m.rewards[0], vec![0.0, 1.0]);
    assert_eq!(m.errors, vec![1]);
    assert!(matches!(
        m.first_errors[0],
        Some(RewardError::Unscorable { .. })
    ));
}
