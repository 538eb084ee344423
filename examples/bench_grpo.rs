//! Throughput of sampling and of a GRPO step on the default TinyLm (Flex CPU by default).
//!
//! Every figure is printed with its ratio to a baseline measured in the same process:
//! - sampling: batched with the KV cache vs (a) recomputing the whole sequence for every new
//!   token and (b) decoding the same completions one sequence at a time;
//! - a GRPO step at G = 8 with fixed weights vs with per-objective gradients
//!   (the hypergradient weighter's K + 1 extra backward passes), and from one backward per
//!   completion (`ObjectiveGradientMode::PerRow`).
//!
//! ```text
//! cargo run --release --example bench_grpo
//! ```

use std::process::ExitCode;
use std::time::Instant;

use fedmoa_core::weighting::{FixedConfig, HypergradientConfig, WeighterConfig};
use fedmoa_core::{FnReward, Prompt, Reference, RewardFn, RewardRange};
use fedmoa_grpo::burn::prelude::*;
use fedmoa_grpo::sampling::{Sampler, SamplingConfig, choose_with_uniforms};
use fedmoa_grpo::tokenizer::TokenizerTrainConfig;
use fedmoa_grpo::{
    Dataset, DeviceChoice, GrpoTrainer, GrpoTrainerConfig, ObjectiveGradientMode, Policy,
    TaskTokenizer, TinyLm, TinyLmConfig,
};

const PROMPTS: usize = 4;
const G: usize = 8;
const NEW_TOKENS: usize = 48;

fn prompt_texts() -> Vec<String> {
    (0..64)
        .map(|i| {
            format!(
                "ann has {} apples . ann buys {} more . then ann gives {} to bob . how many apples does ann have now ?",
                i % 10,
                (i * 7) % 10,
                (i * 3) % 5
            )
        })
        .collect()
}

/// Decodes by recomputing the whole sequence for every new token (the no-cache baseline).
fn sample_without_cache(
    model: &TinyLm,
    prompt: &[u32],
    rows: usize,
    config: &SamplingConfig,
    device: &Device,
) -> usize {
    let mut seqs: Vec<Vec<i64>> = vec![prompt.iter().map(|&t| i64::from(t)).collect(); rows];
    for step in 0..config.max_new_tokens {
        let width = seqs[0].len();
        let flat: Vec<i64> = seqs.iter().flatten().copied().collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(flat, [rows, width]), device);
        let logits = model.forward(tokens, &vec![0; rows], None);
        let [_, t, v] = logits.dims();
        let last = logits.slice([0..rows, t - 1..t, 0..v]).reshape([rows, v]);
        let u: Vec<f32> = (0..rows)
            .map(|r| ((r * 7919 + step * 104_729) % 1000) as f32 / 1000.0)
            .collect();
        let u = Tensor::<2>::from_data(TensorData::new(u, [rows, 1]), device);
        let next: Vec<i64> = choose_with_uniforms(last, u, config)
            .into_data()
            .iter::<i64>()
            .collect();
        for (s, n) in seqs.iter_mut().zip(next) {
            s.push(n);
        }
    }
    rows * config.max_new_tokens
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

/// Throughput of sampling and of a GRPO step on the default TinyLm, each against a
/// baseline measured in the same process (`BURN_DEVICE` picks the backend).
#[derive(Debug, clap::Parser)]
#[command(name = "bench_grpo")]
struct Args {}

fn main() -> ExitCode {
    let Args {} = clap::Parser::parse();
    fedmoa::cli::exit_code(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let choice = DeviceChoice::from_env_or(DeviceChoice::Flex)?;
    let device = choice.device()?;
    let texts = prompt_texts();
    let tokenizer = TaskTokenizer::train(&texts, &TokenizerTrainConfig::default())?;
    let model_config = TinyLmConfig {
        vocab_size: tokenizer.vocab_size(),
        ..Default::default()
    };
    let model = model_config.init_seeded(&device, 1)?;
    let n_params = model.to_param_set()?.numel();
    println!(
        "device {choice}, TinyLm {n_params} parameters (d_model {}, {} layers), vocab {}",
        model_config.d_model,
        model_config.n_layers,
        tokenizer.vocab_size()
    );
    let prompts: Vec<Vec<u32>> = texts[..PROMPTS]
        .iter()
        .map(|t| tokenizer.encode_prompt(t))
        .collect::<Result<_, _>>()?;
    println!(
        "{PROMPTS} prompts of {} tokens, G = {G}, {NEW_TOKENS} new tokens each",
        prompts[0].len()
    );
    // A random model never emits EOS: every completion runs to NEW_TOKENS.
    let no_eos = u32::MAX;
    let config = SamplingConfig {
        max_new_tokens: NEW_TOKENS,
        num_generations: G,
        ..Default::default()
    };
    let generate = |seed: u64| {
        Sampler::new(seed).generate(
            &model,
            &prompts,
            &config,
            no_eos,
            tokenizer.pad_id(),
            &device,
        )
    };
    // Warm-up (first-use allocations).
    generate(0)?;

    let reps = 3;
    let (_, batched) = timed(|| {
        for r in 0..reps {
            let _ = generate(r);
        }
    });
    let batched = batched / reps as f64;
    let tokens = (PROMPTS * G * NEW_TOKENS) as f64;
    let one_row = SamplingConfig {
        num_generations: 1,
        ..config.clone()
    };
    let (_, sequential) = timed(|| {
        for p in &prompts {
            for g in 0..G {
                let _ = Sampler::new(g as u64).generate(
                    &model,
                    std::slice::from_ref(p),
                    &one_row,
                    no_eos,
                    tokenizer.pad_id(),
                    &device,
                );
            }
        }
    });
    let (no_cache_tokens, no_cache) = timed(|| {
        prompts
            .iter()
            .map(|p| sample_without_cache(&model, p, G, &config, &device))
            .sum::<usize>()
    });
    println!(
        "sampling, batched with KV cache:      {:8.0} tok/s  ({batched:.2} s per batch of {} rows)",
        tokens / batched,
        PROMPTS * G
    );
    println!(
        "sampling, one sequence at a time:     {:8.0} tok/s  (batched is {:.1}x faster)",
        tokens / sequential,
        sequential / batched
    );
    println!(
        "sampling, no KV cache (per prompt):   {:8.0} tok/s  (KV cache is {:.1}x faster)",
        no_cache_tokens as f64 / no_cache,
        (no_cache / no_cache_tokens as f64) / (batched / tokens)
    );

    // GRPO steps on the same model, with two objectives.
    let rewards = || -> Vec<Box<dyn RewardFn>> {
        vec![
            Box::new(FnReward::new(
                "seven",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| f32::from(u8::from(c.contains('7'))),
            )),
            Box::new(FnReward::new(
                "short",
                RewardRange::UNIT,
                |_: &Prompt, c: &str| f32::from(u8::from(c.len() < 40)),
            )),
        ]
    };
    let data = || -> Result<Dataset, fedmoa_grpo::GrpoError> {
        let prompts = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Prompt {
                id: format!("p{i}"),
                task: "bench".into(),
                text: t.clone(),
                reference: Reference::None,
                solution: None,
            })
            .collect();
        Ok(Dataset::from_prompts(prompts, 4, 0)?)
    };
    let mut trainer_config = GrpoTrainerConfig::default();
    trainer_config.grpo.num_generations = G;
    trainer_config.grpo.prompts_per_step = PROMPTS;
    trainer_config.grpo.max_completion_length = NEW_TOKENS;
    trainer_config.grpo.learning_rate = 1e-4;
    let step_secs = |weighter: WeighterConfig,
                     beta: f64,
                     mode: ObjectiveGradientMode|
     -> Result<f64, Box<dyn std::error::Error>> {
        let mut cfg = trainer_config.clone();
        cfg.grpo.beta = beta;
        cfg.objective_gradients = mode;
        let mut trainer = GrpoTrainer::new(
            "bench",
            "bench",
            model.clone(),
            tokenizer.clone(),
            data()?,
            rewards(),
            weighter.build(2)?,
            cfg,
        )?;
        trainer.run_steps(1, 0, None)?; // warm-up
        let steps = 3;
        let (metrics, secs) = timed(|| trainer.run_steps(steps, 1, None));
        let metrics = metrics?;
        let sample: f64 = metrics.iter().map(|m| m["sample_secs"]).sum::<f64>() / f64::from(steps);
        println!(
            "  {:<44} {:.2} s/step (sampling {:.2} s, per-objective gradients {:.2} s)",
            format!(
                "{} weights, beta {beta}:",
                match (&weighter, mode) {
                    (WeighterConfig::Fixed(_), _) => "fixed",
                    (_, ObjectiveGradientMode::PerRow) => "hypergradient (per-row)",
                    _ => "hypergradient",
                }
            ),
            secs / f64::from(steps),
            sample,
            metrics
                .iter()
                .map(|m| m["objective_grad_secs"])
                .sum::<f64>()
                / f64::from(steps)
        );
        Ok(secs / f64::from(steps))
    };
    println!("GRPO step, {PROMPTS} prompts x G = {G}, {NEW_TOKENS} new tokens:");
    let passes = ObjectiveGradientMode::PerObjective;
    let fixed = step_secs(WeighterConfig::Fixed(FixedConfig::default()), 0.0, passes)?;
    let fixed_kl = step_secs(WeighterConfig::Fixed(FixedConfig::default()), 0.04, passes)?;
    let hypergradient = || WeighterConfig::Hypergradient(HypergradientConfig::default());
    let hyper = step_secs(hypergradient(), 0.0, passes)?;
    let per_row = step_secs(hypergradient(), 0.0, ObjectiveGradientMode::PerRow)?;
    println!(
        "  ratios vs fixed/beta 0: with KL reference {:.2}x, with per-objective gradients \
         {:.2}x, from one backward per completion {:.2}x",
        fixed_kl / fixed,
        hyper / fixed,
        per_row / fixed
    );
    Ok(())
}
