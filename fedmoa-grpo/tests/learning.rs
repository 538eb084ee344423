//! GRPO learns: on a toy objective ("the completion starts with 7, 8 or 9") the mean reward
//! of a warm-started policy that emits random digits rises clearly within 40 steps, on at
//! least 7 of a sweep of 8 seeds and two warm starts (a stand-in for another CPU's
//! rounding).
//!
//! The objective is earned by 10–25 % of the warm policy's answers, so nearly every
//! group carries signal. A rarer one ("starts with 7", about 5 %) also learns on most seeds,
//! but on some the few early successes are lost and the reward stays at 0: too little signal
//! to assert on any machine (issue #14). The toy learning rate is 2e-3: at 5e-3 one warm
//! start in two blew up on some seeds (entropy to ln |V| within two steps, reward 0 after).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::{digit_prompts, fixed, toy_config, warm_digit_policy_seeded};
use fedmoa_core::{FnReward, Prompt, RewardFn, RewardRange, Split};
use fedmoa_grpo::{Dataset, GrpoTrainer};

const SEEDS: u64 = 8;
const STEPS: u32 = 40;

/// The reward curve and the train-split accuracy before and after one seed's run.
fn run(seed: u64, warm_seed: u64) -> (Vec<f64>, f64, f64) {
    let (model, tok) = warm_digit_policy_seeded(warm_seed);
    let data = Dataset::from_prompts(digit_prompts(60, 2), 12, 6).expect("split");
    let mut config = toy_config(STEPS);
    config.grpo.seed = 2000 + seed;
    let rewards: Vec<Box<dyn RewardFn>> = vec![Box::new(FnReward::new(
        "high",
        RewardRange::UNIT,
        |_: &Prompt, c: &str| f32::from(u8::from(c.trim_start().starts_with(['7', '8', '9']))),
    ))];
    let mut trainer =
        GrpoTrainer::new("toy-0", "toy", model, tok, data, rewards, fixed(1), config).unwrap();
    let before = trainer.evaluate_current(Split::Train).unwrap().accuracy;
    let metrics = trainer.run_steps(STEPS, seed, None).unwrap();
    let curve = metrics.iter().map(|m| m["reward_mean/high"]).collect();
    let after = trainer.evaluate_current(Split::Train).unwrap().accuracy;
    (curve, f64::from(before), f64::from(after))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Seeds that may end without learning. A trajectory whose few early successes are all
/// sampled away gets groups without variance, hence no gradient, and stays at 0: a
/// rounding-level change (another CPU's kernels, or another attention layout) turned seed 1
/// into one (reward 0.106 → 0.006) while the other seven learned as before. Broken learning
/// fails every seed, so one is allowed.
const SEEDS_ALLOWED_TO_STALL: usize = 1;

#[test]
fn grpo_raises_the_reward_of_a_toy_objective_on_seven_of_eight_seeds() {
    let mut stalled = Vec::new();
    for seed in 0..SEEDS {
        let (curve, before, after) = run(seed, 3 + seed % 2);
        let (first, last) = (mean(&curve[..5]), mean(&curve[curve.len() - 5..]));
        eprintln!("seed {seed}: reward {first:.3} → {last:.3}, accuracy {before:.3} → {after:.3}");
        // The warm policy answers 7, 8 or 9 about a fifth of the time; GRPO must make it
        // the rule (0.75–0.91 after 40 steps seen over 8 seeds, from 0.11–0.25).
        assert!(
            first < 0.4,
            "seed {seed}: warm start already solves it: {first}"
        );
        let learned = last > 0.6 && last > first + 0.4 && after > before;
        if !learned {
            stalled.push(format!(
                "seed {seed}: first {first:.3} → last {last:.3}, accuracy {before} → {after}: \
                 {curve:?}"
            ));
        }
    }
    assert!(
        stalled.len() <= SEEDS_ALLOWED_TO_STALL,
        "{} of {SEEDS} seeds did not learn:\n{}",
        stalled.len(),
        stalled.join("\n")
    );
}
