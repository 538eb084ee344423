//! Learning proof: warm-start TinyLm on synthetic math, then run GRPO on one client.
//!
//! Prints the held-out greedy accuracy before and after, one line per GRPO step (the reward
//! curve), and ends with a JSON summary line:
//! `{"acc_before":..,"acc_after":..,"steps":..,"secs":..}`.
//!
//! ```text
//! cargo run --release --example grpo_single_client -- [--steps N] [--secs S] [--dynamic-sampling R]
//!     [--lr LR] [--seed S] [--sft-epochs E] [--sft-seed S] [--add-sub-only]
//!     [--answer-tag-rate P] [--misconception-rate P] [--misconception-strength P]
//!     [--shortcut-rate P] [--shortcut-strength P] [--shortcut-error P] [--operator-confusion P]
//!     [--teacher-seed S]
//! ```
//!
//! **The default scenario.** The warm start (752 SFT steps on 3,000 worked one-digit
//! add/sub and mul/div problems) imitates a fallible teacher
//! (`fedmoa_rewards::TeacherConfig`) that works 65 % of its multiplications and divisions
//! with `+` and `-` (`--operator-confusion 0.65`): the policy copies the operands and knows
//! its facts, but often picks the wrong operation, about 35 % held-out accuracy. Picking the
//! operation is one behaviour that GRPO can learn from the correctness reward alone (80
//! steps of 16 prompts × G = 8, lr 2e-4). Per-fact errors are not: see `docs/RESULTS.md`
//! for the teachers that failed. The other teacher flags (`--answer-tag-rate 0.3`, …)
//! change the demonstrations the same way; 0 and 1 give the generated solutions.
//!
//! `--dynamic-sampling R` turns on DAPO-style dynamic sampling: up to `R` times per step,
//! the groups whose accuracy reward has no variance are replaced by fresh prompts
//! (`GrpoConfig::dynamic_sampling_rounds`; default 0, off). The per-step accuracy then
//! describes the batch trained on, which the replacement biases upwards; the held-out
//! accuracy before and after is the measure. On the 2-core Xeon VM (2026-12-05, release)
//! both the default and `--dynamic-sampling 2` went from 0.155 to 0.160 in 60 steps.
//!
//! The warm start is cached under `$FEDMOA_CACHE_DIR` (default `.cache/fedmoa`).
//! `--show N` prints the greedy completions of the first N held-out problems first.
//!
//! Measured results (three GRPO seeds, the same warm start) are in `docs/RESULTS.md`.

use std::time::Instant;

use fedmoa_core::weighting::{FixedConfig, WeighterConfig};
use fedmoa_core::{Prompt, RewardFn, Split};
use fedmoa_grpo::sft::{SftConfig, WarmStartConfig, load_or_train};
use fedmoa_grpo::{Dataset, DeviceChoice, GrpoTrainer, GrpoTrainerConfig, TinyLmConfig};
use fedmoa_rewards::math::{MathFamily, MathGenerator, MathTaskConfig};
use fedmoa_rewards::rewards::{Format, MathAccuracy};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `--name value` from the command line, parsed.
fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn problems(n: usize, seed: u64) -> Result<Vec<Prompt>, Box<dyn std::error::Error>> {
    let families = if std::env::args().any(|a| a == "--add-sub-only") {
        vec![MathFamily::AddSub]
    } else {
        vec![MathFamily::AddSub, MathFamily::MulDiv]
    };
    let config = MathTaskConfig::new(families).with_digits(1);
    let generator = MathGenerator::new(config)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..n)
        .map(|i| {
            generator
                .generate(&mut rng)
                .to_prompt(format!("m{seed}-{i}"))
        })
        .collect())
}

/// Objective 0: `math_accuracy` (the extracted answer equals the reference); objective 1:
/// `format` (`<think>…</think><answer>…</answer>`), both fedmoa-rewards' built-in plugins.
fn rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(MathAccuracy::default()),
        Box::new(Format::default()),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let max_steps: u32 = arg("--steps", 80);
    let budget_secs: f64 = arg("--secs", 600.0);
    let t0 = Instant::now();
    let device = DeviceChoice::from_env_or(DeviceChoice::Flex)?.device()?;

    // Warm start on 3000 worked solutions (cached on disk).
    let teacher = fedmoa_rewards::TeacherConfig {
        misconception_rate: arg("--misconception-rate", 0.0f32),
        misconception_strength: arg("--misconception-strength", 0.0f32),
        answer_tag_rate: arg("--answer-tag-rate", 1.0f32),
        shortcut_rate: arg("--shortcut-rate", 0.0f32),
        shortcut_strength: arg("--shortcut-strength", 0.0f32),
        shortcut_error: arg("--shortcut-error", 0.0f32),
        operator_confusion: arg("--operator-confusion", 0.65f32),
        seed: arg("--teacher-seed", 0u64),
    };
    teacher.validate()?;
    let sft_prompts: Vec<Prompt> = problems(3000, 1)?
        .iter()
        .map(|p| teacher.teach(p))
        .collect();
    let warm = WarmStartConfig {
        model: TinyLmConfig {
            max_seq_len: 96,
            ..Default::default()
        },
        sft: SftConfig {
            epochs: arg("--sft-epochs", 8usize),
            seed: arg("--sft-seed", 0u64),
            ..Default::default()
        },
        ..Default::default()
    };
    let (model, tokenizer, report) = load_or_train(&sft_prompts, &warm, &device)?;
    println!(
        "warm start: {} steps, loss {:.3} → {:.3}, {:.1}s{}",
        report.steps,
        report.first_loss,
        report.last_loss,
        report.secs,
        if report.from_cache { " (cached)" } else { "" }
    );

    // The client: fresh problems (different seed), 200 held out for validation.
    let data = Dataset::from_prompts(problems(800, 2)?, 200, 0)?;
    let mut config = GrpoTrainerConfig::default();
    config.grpo.num_generations = 8;
    config.grpo.prompts_per_step = 16;
    config.grpo.max_completion_length = 32;
    config.grpo.learning_rate = arg("--lr", 2e-4f64);
    config.grpo.beta = 0.04;
    config.grpo.temperature = 0.7;
    config.grpo.warmup_steps = 2;
    config.grpo.seed = arg("--seed", 7u64);
    config.grpo.dynamic_sampling_rounds = arg("--dynamic-sampling", 0u32);
    let weighter = WeighterConfig::Fixed(FixedConfig {
        weights: Some(vec![0.8, 0.2]),
    })
    .build(2)?;
    let mut trainer = GrpoTrainer::new(
        "math-0",
        "math",
        model,
        tokenizer,
        data,
        rewards(),
        weighter,
        config,
    )?;

    if arg("--show", 0usize) > 0 {
        let n = arg("--show", 0usize);
        let ids: Vec<Vec<u32>> = trainer.data().validation[..n]
            .iter()
            .map(|p| trainer.tokenizer().encode_prompt(&p.text))
            .collect::<Result<_, _>>()?;
        let policy = fedmoa_grpo::burn::module::Module::valid(trainer.policy());
        let (texts, _) = fedmoa_grpo::trainer::greedy_texts(
            &policy,
            &ids,
            &fedmoa_grpo::sampling::SamplingConfig::greedy(32),
            16,
            trainer.tokenizer(),
            trainer.device(),
        )?;
        for (p, t) in trainer.data().validation.iter().zip(texts) {
            println!("{} => {t}", p.text);
        }
    }
    let before = trainer.evaluate_current(Split::Validation)?;
    println!(
        "before: accuracy {:.3} on {} held-out prompts (format {:.3})",
        before.accuracy, before.n_examples, before.objectives[1].mean
    );

    let start = Instant::now();
    let mut steps = 0;
    while steps < max_steps && start.elapsed().as_secs_f64() < budget_secs {
        let m = trainer.run_steps(1, 1000 + u64::from(steps), None)?;
        let m = &m[0];
        println!(
            "step {:3}  accuracy {:.3}  format {:.3}  zero-std {:.2} (primary as drawn {:.2}, {} groups resampled)  entropy {:.3}  len {:.1}  clip {:.3}  {:.2}s",
            steps,
            m["reward_mean/math_accuracy"],
            m["reward_mean/format"],
            m["zero_std_frac"],
            m["frac_reward_zero_std"],
            m["resampled_groups"],
            m["entropy"],
            m["completion_len"],
            m["clip_region"],
            m["step_secs"]
        );
        steps += 1;
    }
    let grpo_secs = start.elapsed().as_secs_f64();

    let after = trainer.evaluate_current(Split::Validation)?;
    println!(
        "after:  accuracy {:.3} on {} held-out prompts (format {:.3})",
        after.accuracy, after.n_examples, after.objectives[1].mean
    );
    println!(
        "{}",
        serde_json::json!({
            "acc_before": before.accuracy,
            "acc_after": after.accuracy,
            "steps": steps,
            "secs": (grpo_secs * 10.0).round() / 10.0,
            "total_secs": (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
