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
//!     [--teacher-seed S] [--show N] [--every-row-whole]     (--help describes them)
//! ```
//!
//! **The default scenario.** The warm start (752 SFT steps on 3,000 worked one-digit
//! add/sub and mul/div problems) imitates a fallible teacher
//! (`fedmoa_rewards::TeacherConfig`) that works 65 % of its multiplications and divisions
//! with `+` and `-` (`--operator-confusion 0.65`): the policy copies the operands and knows
//! its facts, but often picks the wrong operation, about 35 % held-out accuracy. Picking the
//! operation is one behaviour that GRPO can learn from the correctness reward alone (200
//! steps of 16 prompts × G = 8, lr 2e-4; `--steps 80` gives the runs before 2026-12-07).
//! Per-fact errors are not: see `docs/RESULTS.md` for the teachers that failed. The other teacher flags (`--answer-tag-rate 0.3`, …)
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

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use fedmoa_core::weighting::{FixedConfig, WeighterConfig};
use fedmoa_core::{Prompt, RewardFn, Split};
use fedmoa_grpo::sft::{SftConfig, WarmStartConfig, load_or_train};
use fedmoa_grpo::{Dataset, DeviceChoice, GrpoTrainer, GrpoTrainerConfig, TinyLmConfig};
use fedmoa_rewards::TeacherConfig;
use fedmoa_rewards::math::{MathFamily, MathGenerator, MathTaskConfig};
use fedmoa_rewards::rewards::{Format, MathAccuracy};

/// Warm-starts TinyLm on synthetic math from a fallible teacher, then runs GRPO on one
/// client and prints the held-out greedy accuracy before and after.
#[derive(Debug, Parser)]
#[command(name = "grpo_single_client")]
struct Args {
    /// GRPO steps at most.
    #[arg(long, default_value_t = 200)]
    steps: u32,
    /// Wall-clock budget of the GRPO steps, in seconds.
    #[arg(long, default_value_t = 600.0)]
    secs: f64,
    /// DAPO dynamic sampling: rounds of replacing groups without primary-reward variance.
    #[arg(long, default_value_t = 0)]
    dynamic_sampling: u32,
    /// GRPO learning rate.
    #[arg(long, default_value_t = 2e-4)]
    lr: f64,
    /// GRPO seed (prompt order and sampling).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Epochs of the supervised warm start.
    #[arg(long, default_value_t = 8)]
    sft_epochs: usize,
    /// Seed of the warm start (initial weights and batch order).
    #[arg(long, default_value_t = 0)]
    sft_seed: u64,
    /// Only addition and subtraction problems (default: also multiplication and division).
    #[arg(long)]
    add_sub_only: bool,
    /// Share of demonstrations whose answer is wrapped in `<answer>` tags.
    #[arg(long, default_value_t = 1.0)]
    answer_tag_rate: f32,
    /// Share of arithmetic facts the teacher gets wrong.
    #[arg(long, default_value_t = 0.0)]
    misconception_rate: f32,
    /// How often the teacher applies a misconception it holds.
    #[arg(long, default_value_t = 0.0)]
    misconception_strength: f32,
    /// Share of facts the teacher answers without working.
    #[arg(long, default_value_t = 0.0)]
    shortcut_rate: f32,
    /// How often the teacher takes a shortcut it holds.
    #[arg(long, default_value_t = 0.0)]
    shortcut_strength: f32,
    /// Share of shortcuts with a wrong answer.
    #[arg(long, default_value_t = 0.0)]
    shortcut_error: f32,
    /// Share of multiplications and divisions the teacher works with `+` or `-`.
    #[arg(long, default_value_t = 0.65)]
    operator_confusion: f32,
    /// Seed of the teacher's draws.
    #[arg(long, default_value_t = 0)]
    teacher_seed: u64,
    /// Print the greedy completions of the first N held-out problems first.
    #[arg(long, default_value_t = 0)]
    show: usize,
    /// Run every row's prompt in full in the GRPO forwards (`share_prompt_forward = false`),
    /// as every run did before 2026-12-06's shared-prompt forward: reproduces older figures.
    #[arg(long)]
    every_row_whole: bool,
}

/// `n` problems from `seed`.
fn problems(
    n: usize,
    seed: u64,
    add_sub_only: bool,
) -> Result<Vec<Prompt>, Box<dyn std::error::Error>> {
    let families = if add_sub_only {
        vec![MathFamily::AddSub]
    } else {
        vec![MathFamily::AddSub, MathFamily::MulDiv]
    };
    Ok(MathGenerator::new(MathTaskConfig::new(families).with_digits(1))?.prompts(n, seed))
}

/// Objective 0: `math_accuracy` (the extracted answer equals the reference); objective 1:
/// `format` (`<think>…</think><answer>…</answer>`), both fedmoa-rewards' built-in plugins.
fn rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(MathAccuracy::default()),
        Box::new(Format::default()),
    ]
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let device = DeviceChoice::from_env_or(DeviceChoice::Flex)?.device()?;

    // Warm start on 3000 worked solutions (cached on disk).
    let teacher = TeacherConfig {
        misconception_rate: args.misconception_rate,
        misconception_strength: args.misconception_strength,
        answer_tag_rate: args.answer_tag_rate,
        shortcut_rate: args.shortcut_rate,
        shortcut_strength: args.shortcut_strength,
        shortcut_error: args.shortcut_error,
        operator_confusion: args.operator_confusion,
        seed: args.teacher_seed,
    };
    teacher.validate()?;
    let sft_prompts: Vec<Prompt> = problems(3000, 1, args.add_sub_only)?
        .iter()
        .map(|p| teacher.teach(p))
        .collect();
    let warm = WarmStartConfig {
        model: TinyLmConfig {
            max_seq_len: 96,
            ..Default::default()
        },
        sft: SftConfig {
            epochs: args.sft_epochs,
            seed: args.sft_seed,
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
    let data = Dataset::from_prompts(problems(800, 2, args.add_sub_only)?, 200, 0)?;
    let mut config = GrpoTrainerConfig::default();
    config.grpo.num_generations = 8;
    config.grpo.prompts_per_step = 16;
    config.grpo.max_completion_length = 32;
    config.grpo.learning_rate = args.lr;
    config.grpo.beta = 0.04;
    config.grpo.temperature = 0.7;
    config.grpo.warmup_steps = 2;
    config.grpo.seed = args.seed;
    config.grpo.dynamic_sampling_rounds = args.dynamic_sampling;
    config.share_prompt_forward = !args.every_row_whole;
    let weighter = WeighterConfig::Fixed(FixedConfig {
        weights: Some(vec![0.8, 0.2]),
    })
    .build(2)?;
    let mut trainer = GrpoTrainer::builder(model, tokenizer)
        .client_id("math-0")
        .rewards(rewards())
        .data(data)
        .weighter(weighter)
        .config(config)
        .build()?;

    if args.show > 0 {
        let n = args.show.min(trainer.data().validation.len());
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
    while steps < args.steps && start.elapsed().as_secs_f64() < args.secs {
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
