//! Scoring sampled or greedy completions: the trainer scores with fedmoa-rewards'
//! [`score_contained`], the workspace's one scorer, so a reward that errors, panics or
//! leaves its declared range costs only the failing samples (each gets the range's
//! minimum and counts as an error), and every statistic comes from
//! [`ScoreMatrix::stats`].

use fedmoa_core::{Prompt, RewardFn};
use fedmoa_rewards::{ScoreMatrix, score_contained};

/// Scores `completions[j]` (a completion of `prompts[j]`) with every reward.
pub(crate) fn score_completions(
    rewards: &[Box<dyn RewardFn>],
    prompts: &[&Prompt],
    completions: &[String],
) -> ScoreMatrix {
    let samples: Vec<(&Prompt, &str)> = prompts
        .iter()
        .zip(completions)
        .map(|(p, c)| (*p, c.as_str()))
        .collect();
    score_contained(rewards, &samples)
}

#[cfg(test)]
mod tests {
    use fedmoa_core::{FnReward, RewardRange};

    use super::*;

    fn prompt() -> Prompt {
        Prompt::unreferenced("p", "math", "q")
    }

    fn rewards() -> Vec<Box<dyn RewardFn>> {
        vec![
            Box::new(FnReward::new(
                "seven",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| f32::from(u8::from(c.starts_with('7'))),
            )),
            Box::new(FnReward::new(
                "bad",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| {
                    if c.is_empty() {
                        panic!("empty completion")
                    }
                    if c.len() > 3 { 2.0 } else { 0.5 }
                },
            )),
        ]
    }

    #[test]
    fn a_panic_costs_only_its_own_sample() {
        let p = prompt();
        let scored = score_completions(
            &rewards(),
            &[&p, &p, &p, &p],
            &["7".into(), "8888".into(), String::new(), "71".into()],
        );
        assert_eq!(scored.rewards[0], [1.0, 0.0, 0.0, 1.0]);
        // "8888" scores 2.0, outside [0, 1], and "" panics: both get the minimum 0; the
        // other samples keep their 0.5.
        assert_eq!(scored.rewards[1], [0.5, 0.0, 0.0, 0.5]);
        assert_eq!(scored.errors, [0, 2]);
    }

    #[test]
    fn stats_are_the_documented_ones() {
        let p = prompt();
        let scored = score_completions(
            &rewards(),
            &[&p, &p, &p],
            &["7".into(), "8".into(), "7".into()],
        );
        let stats = scored.stats();
        // [1, 0, 1]: mean 2/3, population variance ((1/3)²·2 + (2/3)²)/3 = 2/9.
        assert!((stats[0].mean - 2.0 / 3.0).abs() < 1e-6);
        assert!((stats[0].std - (2.0f32 / 9.0).sqrt()).abs() < 1e-6);
        assert!((stats[0].satisfaction - 2.0 / 3.0).abs() < 1e-6);
        assert!((scored.normalized_mean(0) - 2.0 / 3.0).abs() < 1e-6);
    }
}
