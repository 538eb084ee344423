//! GRPO learns: on a toy objective ("the completion starts with 7") the mean reward of a
//! warm-started policy that emits uniformly random digits rises clearly within 40 steps.

mod common;

use common::{digit_rewards, fixed, toy_config, toy_trainer};
use fedmoa_core::Split;

#[test]
fn grpo_raises_the_reward_of_a_toy_objective() {
    let rewards = digit_rewards().into_iter().take(1).collect();
    let mut trainer = toy_trainer(rewards, fixed(1), toy_config(40));
    let before = trainer.evaluate_current(Split::Train).unwrap();
    let metrics = trainer.run_steps(40, 5, None).unwrap();
    let curve: Vec<f64> = metrics.iter().map(|m| m["reward_mean/seven"]).collect();
    let first: f64 = curve[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = curve[curve.len() - 5..].iter().sum::<f64>() / 5.0;
    eprintln!("reward curve: {curve:?}");
    // A uniform digit is a 7 one time in ten; GRPO must at least triple that rate.
    assert!(
        first < 0.3,
        "warm start already solves the toy task: {first}"
    );
    assert!(
        last > 0.6 && last > first + 0.3,
        "first {first:.3} → last {last:.3}"
    );
    let after = trainer.evaluate_current(Split::Train).unwrap();
    assert!(
        after.accuracy > before.accuracy,
        "{} → {}",
        before.accuracy,
        after.accuracy
    );
}
