//! Issue #5's end-to-end check on a real model: during GRPO on TinyLm a format reward
//! saturates, and FedMOA's hypergradient weighter moves weight from it to the primary
//! (accuracy) objective — read from the weights the trainer logs per step.

mod common;

use common::{digit_prompts, hypergradient, toy_config, warm_digit_policy};
use fedmoa_core::weighting::DEFAULT_W_MIN;
use fedmoa_core::{FnReward, LocalTrainer, Prompt, RewardFn, RewardRange, RoundPlan};
use fedmoa_grpo::{ClientData, GrpoTrainer, Policy};

/// Primary: the answer is 7. Auxiliary (format): the answer starts with a digit.
fn rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(FnReward::new(
            "seven",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| f32::from(u8::from(c.trim() == "7")),
        )),
        Box::new(FnReward::new(
            "format",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| {
                f32::from(u8::from(
                    c.trim_start().starts_with(|ch: char| ch.is_ascii_digit()),
                ))
            },
        )),
    ]
}

#[test]
fn hypergradient_moves_weight_from_a_saturated_format_reward_to_accuracy() {
    let (model, tok) = warm_digit_policy();
    let data = ClientData::split(digit_prompts(60, 2), 12, 6).unwrap();
    let steps = 30;
    let mut trainer = GrpoTrainer::new(
        "fmt-0",
        "toy",
        model,
        tok,
        data,
        rewards(),
        hypergradient(2),
        toy_config(steps),
    )
    .unwrap();
    let global = trainer.policy().to_param_set().unwrap();
    let update = trainer.train(&global, &RoundPlan::new(1, 11)).unwrap();
    let series = |key: &str| -> Vec<f64> { update.step_metrics.iter().map(|m| m[key]).collect() };
    let (format, w_seven, w_format) = (
        series("reward_mean/format"),
        series("weight/seven"),
        series("weight/format"),
    );
    for (i, ((f, a), b)) in format.iter().zip(&w_seven).zip(&w_format).enumerate() {
        eprintln!("step {i:2}: format {f:.3}  w_seven {a:.3}  w_format {b:.3}");
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;

    // The format reward starts unsatisfied and saturates during GRPO.
    assert!(
        mean(&format[..3]) < 0.65,
        "format starts at {:?}",
        &format[..3]
    );
    assert!(
        mean(&format[10..]) > 0.8,
        "format never saturated: {format:?}"
    );
    // Weights start uniform, stay on the simplex and above the floor w_min …
    assert_eq!((w_seven[0], w_format[0]), (0.5, 0.5));
    for (a, b) in w_seven.iter().zip(&w_format) {
        assert!(
            (a + b - 1.0).abs() < 1e-5 && *b >= DEFAULT_W_MIN - 1e-6,
            "{a} {b}"
        );
    }
    // … and weight flows to accuracy once the format reward has saturated.
    let last = update.weights[0];
    assert!(
        f64::from(last) > 0.7,
        "primary weight only reached {last}: {w_seven:?}"
    );
    assert!(f64::from(last) > w_seven[10] + 0.1, "{w_seven:?}");
}
