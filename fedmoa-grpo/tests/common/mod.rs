//! Shared builders of the trainer tests: a digit-picking toy task, its rewards and a
//! tiny warm-started policy.

#![allow(dead_code)]

use burn::prelude::*;
use fedmoa_core::weighting::{FixedConfig, HypergradientConfig, WeighterConfig};
use fedmoa_core::{FnReward, ObjectiveWeighter, Prompt, Reference, RewardFn, RewardRange};
use fedmoa_grpo::sft::{SftConfig, WarmStartConfig, train_warm_start};
use fedmoa_grpo::tokenizer::TokenizerTrainConfig;
use fedmoa_grpo::{Dataset, GrpoTrainer, GrpoTrainerConfig, TaskTokenizer, TinyLm, TinyLmConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` prompts "pick a digit for <name>" whose solutions are uniformly random digits.
pub fn digit_prompts(n: usize, seed: u64) -> Vec<Prompt> {
    let names = ["ann", "bob", "tom", "mia", "sam", "eva"];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let digit: u32 = rng.random_range(0..10);
            Prompt {
                id: format!("d{i}"),
                task: "toy".into(),
                text: format!("pick a digit for {} :", names[i % names.len()]),
                reference: Reference::None,
                solution: Some(format!(" {digit}")),
            }
        })
        .collect()
}

/// Objective 0: the completion starts with a 7. Objective 1: the completion is short.
pub fn digit_rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(FnReward::new(
            "seven",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| f32::from(u8::from(c.trim_start().starts_with('7'))),
        )),
        Box::new(FnReward::new(
            "short",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| f32::from(u8::from(c.trim().len() <= 2)),
        )),
    ]
}

/// A tiny model warm-started to emit a uniformly random digit, and its tokenizer.
pub fn warm_digit_policy() -> (TinyLm, TaskTokenizer) {
    warm_digit_policy_seeded(3)
}

/// [`warm_digit_policy`] with its SFT seed (initial weights and batch order) given.
pub fn warm_digit_policy_seeded(seed: u64) -> (TinyLm, TaskTokenizer) {
    let config = WarmStartConfig {
        model: TinyLmConfig {
            d_model: 32,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            d_hidden: 64,
            max_seq_len: 32,
            ..Default::default()
        },
        tokenizer: TokenizerTrainConfig {
            vocab_size: 300,
            ..Default::default()
        },
        sft: SftConfig {
            epochs: 6,
            batch_size: 16,
            learning_rate: 1e-2,
            warmup_steps: 5,
            seed,
            ..Default::default()
        },
    };
    let (model, tok, report) =
        train_warm_start(&digit_prompts(96, 1), &config, &Device::flex()).expect("warm start");
    assert!(report.last_loss < report.first_loss, "{report:?}");
    (model, tok)
}

/// Trainer config for the toy task.
pub fn toy_config(steps: u32) -> GrpoTrainerConfig {
    let mut c = GrpoTrainerConfig {
        local_steps: steps,
        ..Default::default()
    };
    c.grpo.num_generations = 8;
    c.grpo.prompts_per_step = 4;
    c.grpo.max_completion_length = 4;
    c.grpo.learning_rate = 2e-3;
    c.grpo.beta = 0.0;
    c.grpo.seed = 9;
    c
}

/// Fixed equal weights.
pub fn fixed(k: usize) -> Box<dyn ObjectiveWeighter> {
    WeighterConfig::Fixed(FixedConfig::default())
        .build(k)
        .expect("fixed")
}

/// FedMOA's hypergradient weighter (asks for gradient dot products).
pub fn hypergradient(k: usize) -> Box<dyn ObjectiveWeighter> {
    WeighterConfig::Hypergradient(HypergradientConfig::default())
        .build(k)
        .expect("hypergradient")
}

/// A trainer on the toy task with the given rewards and weighter.
pub fn toy_trainer(
    rewards: Vec<Box<dyn RewardFn>>,
    weighter: Box<dyn ObjectiveWeighter>,
    config: GrpoTrainerConfig,
) -> GrpoTrainer<TinyLm> {
    let (model, tok) = warm_digit_policy();
    let data = Dataset::from_prompts(digit_prompts(60, 2), 12, 6).expect("split");
    GrpoTrainer::new("toy-0", "toy", model, tok, data, rewards, weighter, config).expect("trainer")
}

/// Asserts that update `a` agrees with the non-zero update `b` to 1e-3 of `b`'s norm.
pub fn assert_same_delta(a: &fedmoa_core::ParamSet, b: &fedmoa_core::ParamSet, what: &str) {
    let gap = a.sub(b).expect("same layout").norm();
    assert!(b.norm() > 0.0, "{what}: no update");
    assert!(
        gap < 1e-3 * b.norm(),
        "{what}: ‖Δa − Δb‖ {gap} vs ‖Δb‖ {}",
        b.norm()
    );
}
