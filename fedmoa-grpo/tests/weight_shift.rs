//! FedMOA's client-side mechanism on a real model, over a sweep of 8 seeds and
//! four warm starts: during GRPO on
//! TinyLm the hypergradient weighter moves weight to the primary objective while a format
//! auxiliary is being learned — read from the weights the trainer logs per step.
//!
//! The primary ("the answer is an odd digit") is earned by 5–19 % of the warm policy's
//! completions, so with G = 8 and 4 prompts a step some group carries primary signal on
//! nearly every step, and the hypergradient `h_k = ⟨g_0(θ_{t+1}), g_k(θ_t)⟩` is rarely
//! silent. An earlier version rewarded only the answer 7 with one prompt in ten: the weights
//! then moved on a handful of steps, and which steps those were depended on the CPU's
//! rounding (issue #14). Structural properties are asserted on every seed; the size of the
//! effects on a clear majority of seeds and on their mean, with margin.

mod common;

use common::{digit_prompts, hypergradient, toy_config, warm_digit_policy_seeded};
use fedmoa_core::weighting::DEFAULT_W_MIN;
use fedmoa_core::{FnReward, Prompt, RewardFn, RewardRange};
use fedmoa_grpo::{Dataset, GrpoTrainer, TaskTokenizer, TinyLm};

/// Seeds of the sweep (sampling and prompt order), spread over the warm starts.
const SEEDS: u64 = 8;
/// Warm starts of the sweep (SFT seeds 3, 4, …).
const WARM_STARTS: u64 = 4;
/// GRPO steps per seed.
const STEPS: u32 = 40;

/// Primary: the answer is an odd digit and nothing else. Auxiliary (format): the answer
/// starts with a digit.
fn rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(FnReward::new(
            "odd",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| {
                f32::from(u8::from(matches!(c.trim(), "1" | "3" | "5" | "7" | "9")))
            },
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

/// What one seed's run logged, per step.
struct Trajectory {
    primary: Vec<f64>,
    format: Vec<f64>,
    w_primary: Vec<f64>,
    w_format: Vec<f64>,
    /// Per step: the fraction of groups whose primary reward had no variance.
    primary_zero_std: Vec<f64>,
}

impl Trajectory {
    /// Fraction of steps on which some group carried primary signal (printed).
    fn primary_signal_steps(&self) -> f64 {
        let n = self.primary_zero_std.iter().filter(|&&z| z < 1.0).count();
        n as f64 / self.primary_zero_std.len() as f64
    }
}

fn run(seed: u64, model: TinyLm, tok: TaskTokenizer) -> Trajectory {
    let data = Dataset::from_prompts(digit_prompts(60, 2), 12, 6).expect("split");
    let mut config = toy_config(STEPS);
    config.grpo.seed = 1000 + seed;
    let mut trainer = GrpoTrainer::new(
        format!("fmt-{seed}"),
        "toy",
        model,
        tok,
        data,
        rewards(),
        hypergradient(2),
        config,
    )
    .expect("trainer");
    let metrics = trainer.run_steps(STEPS, seed, None).expect("steps");
    let series = |key: &str| -> Vec<f64> { metrics.iter().map(|m| m[key]).collect() };
    Trajectory {
        primary: series("reward_mean/odd"),
        format: series("reward_mean/format"),
        w_primary: series("weight/odd"),
        w_format: series("weight/format"),
        primary_zero_std: series("zero_std_frac/odd"),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn hypergradient_weight_flows_to_the_primary_objective_over_a_seed_sweep() {
    // Four warm starts (a stand-in for the rounding of another CPU), two GRPO seeds each.
    let warm: Vec<_> = (3..3 + WARM_STARTS).map(warm_digit_policy_seeded).collect();
    let runs: Vec<Trajectory> = (0..SEEDS)
        .map(|seed| {
            let (model, tok) = &warm[(seed % WARM_STARTS) as usize];
            run(seed, model.clone(), tok.clone())
        })
        .collect();
    let n = STEPS as usize;
    for (seed, t) in runs.iter().enumerate() {
        eprintln!(
            "seed {seed}: primary {:.2} → {:.2} (signal on {:.0} % of steps), format {:.2} → {:.2}, \
             w_primary {:.3} → {:.3} → {:.3}",
            mean(&t.primary[..3]),
            mean(&t.primary[n - 10..]),
            100.0 * t.primary_signal_steps(),
            mean(&t.format[..3]),
            mean(&t.format[n - 10..]),
            t.w_primary[0],
            t.w_primary[n / 2],
            t.w_primary[n - 1],
        );
    }
    for (seed, t) in runs.iter().enumerate() {
        // The format reward is learned during GRPO on every seed (how far it starts from
        // saturation depends on the warm start: 0.33–0.86; checked on the mean below).
        let (f0, f1) = (mean(&t.format[..3]), mean(&t.format[n - 10..]));
        assert!(
            f1 > f0 + 0.05,
            "seed {seed}: format {f0} → {f1}: {:?}",
            t.format
        );
        // Weights start uniform and stay on the simplex, above the floor w_min …
        assert_eq!((t.w_primary[0], t.w_format[0]), (0.5, 0.5), "seed {seed}");
        for (a, b) in t.w_primary.iter().zip(&t.w_format) {
            assert!(
                (a + b - 1.0).abs() < 1e-5 && *b >= DEFAULT_W_MIN - 1e-6,
                "seed {seed}: {a} {b}"
            );
        }
        // … and never flow away from the primary objective.
        assert!(t.w_primary[n - 1] > 0.48, "seed {seed}: {:?}", t.w_primary);
    }
    // Weight flows to the primary on a clear majority of seeds, and clearly on average.
    // Thresholds from a survey of 16 warm starts × 2 GRPO seeds (2026-12-05, AVX-512):
    // final primary weight 0.60–0.92, above 0.6 on 31 of 32 runs, mean 0.72; a sweep of
    // two warm starts only had means from 0.68 to 0.83, hence four warm starts here. A run
    // may fall short without luck being hidden: one whose policy drifts away from the
    // primary (signal on few steps) leaves the hypergradient silent.
    let finals: Vec<f64> = runs.iter().map(|t| t.w_primary[n - 1]).collect();
    let moved = finals.iter().filter(|&&w| w > 0.6).count();
    assert!(
        moved >= 6,
        "primary weight above 0.6 on {moved} of 8 seeds: {finals:?}"
    );
    assert!(mean(&finals) > 0.65, "final primary weights {finals:?}");
    // Over the sweep the format starts unsatisfied and is learned clearly (survey: start
    // 0.33–0.86, mean 0.57; gains 0.10–0.41, mean 0.33).
    let starts: Vec<f64> = runs.iter().map(|t| mean(&t.format[..3])).collect();
    assert!(mean(&starts) < 0.7, "format starts {starts:?}");
    let gains: Vec<f64> = runs
        .iter()
        .map(|t| mean(&t.format[n - 10..]) - mean(&t.format[..3]))
        .collect();
    assert!(mean(&gains) > 0.15, "format gains {gains:?}");
}
