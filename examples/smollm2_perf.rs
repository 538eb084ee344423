//! Performance figures of SmolLM2-135M-Instruct on this machine: load time, prompt
//! processing and KV-cache decoding throughput at batch 1 and 8, and the real
//! `GrpoTrainer<Llama>` step in TRL's setting (`../shared/bench/trl_grpo_step.py`: one
//! prompt per step, G = 8, at most 64 new tokens, LoRA r = 16 on all 7 projections,
//! β = 0.04, T = 1.0) with fixed weights and with FedMOA's hypergradient weighter in
//! three ways (one pass per objective; the KL folded into the primary gradient,
//! `kl_in_primary_gradient`; one backward per completion, `ObjectiveGradientMode::PerRow`),
//! and the peak RSS of the fixed-weight steps. The trainer runs two completions per
//! forward + backward (`micro_batch_rows = 2`: TRL's gradient accumulation; the shared
//! prompt runs once for all four), which keeps the peak memory near 1.4 GB and, with the
//! prompt shared, costs no time against four (release, idle: 8.6 s against 9.1 s).
//! Ends with one JSON line:
//! `{"step_secs_fixed", "step_secs_hypergradient", "step_secs_hypergradient_kl_folded",
//! "step_secs_hypergradient_per_row", "decode_tok_s_b1", "decode_tok_s_b8", "decode_tok_s_b1_f32_decode_model",
//! "decode_tok_s_b8_f32_decode_model", "decode_tok_s_b1_policy_forward",
//! "decode_tok_s_b8_policy_forward", "decode_tok_s_b1_lora", "decode_tok_s_b8_lora",
//! "peak_rss_mb"}` (step times: the median after the first step; decoding through the
//! decode model the sampler uses, which keeps the GGUF's blocks packed, for comparison
//! through the same layout in `f32` and through the policy's own forward, and through the
//! decode model with TRL's LoRA adapters, as the trainer samples).
//!
//! ```sh
//! export FEDMOA_SMOLLM2_GGUF="$(scripts/fetch-smollm2.sh)"
//! cargo run --release --example smollm2_perf -- [--steps N]   # default 4 steps per weighter
//! # all 8 completions in one forward + backward: faster, more memory
//! cargo run --release --example smollm2_perf -- --micro-batch-rows 8
//! # sampling through the policy forward (no packed decode model)
//! cargo run --release --example smollm2_perf -- --no-decode-model
//! # decoding only; decoding and the fixed-weight steps only
//! cargo run --release --example smollm2_perf -- --decode-only
//! cargo run --release --example smollm2_perf -- --fixed-only
//! # every trainer at β = 0 (TRL's default): no reference forward
//! cargo run --release --example smollm2_perf -- --beta 0
//! # a third objective (a word budget)
//! cargo run --release --example smollm2_perf -- --objectives 3
//! # chosen trainers in a chosen order, no decoding figures (alternate the order between
//! # runs: the machine's speed drifts)
//! cargo run --release --example smollm2_perf -- --skip-decode --arms hypergradient-per-row,fixed
//! ```
//!
//! The JSON line holds the keys of what ran.

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use fedmoa_core::weighting::{FixedConfig, HypergradientConfig, WeighterConfig};
use fedmoa_core::{FnReward, Prompt, Reference, RewardFn, RewardRange};
use fedmoa_grpo::burn::prelude::*;
use fedmoa_grpo::decode::Decode;
use fedmoa_grpo::gguf::GgufFile;
use fedmoa_grpo::llm_tokenizer::{ChatMessage, SMOLLM2_DEFAULT_SYSTEM};
use fedmoa_grpo::{
    ChatPromptTokenizer, Dataset, GrpoTrainer, GrpoTrainerConfig, Llama, LlmTokenizer, LoraConfig,
    ObjectiveGradientMode, Policy,
};
use fedmoa_rewards::math::answer::last_number;

/// Median seconds of a trainer's steps after the first (the first compiles and warms up).
struct StepTimes {
    step_secs: f64,
    sample_secs: f64,
    objective_grad_secs: f64,
}

/// TRL's benchmark prompts: "What is 10+i + 7+3i?", answer 17+4i.
fn prompts() -> Vec<Prompt> {
    (0..64)
        .map(|i| Prompt {
            id: format!("add-{i}"),
            task: "math".into(),
            text: format!(
                "What is {} + {}? Answer with the number after ####.",
                10 + i,
                7 + 3 * i
            ),
            reference: Reference::Number {
                value: f64::from(17 + 4 * i),
            },
            solution: None,
        })
        .collect()
}

/// Objective 0: the last number is the answer (TRL's benchmark reward); objective 1: the
/// answer follows `####` (a format auxiliary, so that the hypergradient has two objectives).
fn rewards(objectives: usize) -> Vec<Box<dyn RewardFn>> {
    let all: Vec<Box<dyn RewardFn>> = vec![
        Box::new(FnReward::new(
            "accuracy",
            RewardRange::UNIT,
            |p: &Prompt, c: &str| {
                let Reference::Number { value } = p.reference else {
                    return 0.0;
                };
                f32::from(u8::from(last_number(c) == Some(value)))
            },
        )),
        Box::new(FnReward::new(
            "format",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| f32::from(u8::from(c.contains("####"))),
        )),
        Box::new(FnReward::new(
            "brevity",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| {
                let words = c.split_whitespace().count() as f32;
                (1.0 - words / 48.0).clamp(0.0, 1.0)
            },
        )),
    ];
    all.into_iter().take(objectives).collect()
}

/// Which weighter a benchmarked trainer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Weighting {
    /// Fixed equal weights (no per-objective gradients).
    Fixed,
    /// The hypergradient weighter, exact `g_0 = ∇L_0` (the default).
    Hypergradient,
    /// The hypergradient weighter with the KL folded into `g_0` (`kl_in_primary_gradient`).
    HypergradientKlFolded,
    /// The hypergradient weighter with one backward per completion
    /// (`ObjectiveGradientMode::PerRow`), exact `g_0`.
    HypergradientPerRow,
}

impl Weighting {
    /// Its step time's key in the JSON line.
    fn json_key(self) -> &'static str {
        match self {
            Self::Fixed => "step_secs_fixed",
            Self::Hypergradient => "step_secs_hypergradient",
            Self::HypergradientKlFolded => "step_secs_hypergradient_kl_folded",
            Self::HypergradientPerRow => "step_secs_hypergradient_per_row",
        }
    }

    /// Its name in the summary line.
    fn describe(self) -> &'static str {
        match self {
            Self::Fixed => "fixed weights",
            Self::Hypergradient => "hypergradient",
            Self::HypergradientKlFolded => "hypergradient with the KL folded into g_0",
            Self::HypergradientPerRow => "hypergradient from one backward per completion",
        }
    }
}

/// TRL's adapters: r = 16, α = 32 on all 7 projections.
fn lora_config() -> LoraConfig {
    LoraConfig {
        rank: 16,
        alpha: 32.0,
        ..LoraConfig::default()
    }
}

/// Runs `args.steps` GRPO steps of a fresh trainer on LoRA adapters of `base`.
fn trainer_steps(
    base: &Llama,
    tok: &LlmTokenizer,
    weighting: Weighting,
    args: &Args,
) -> Result<StepTimes, Box<dyn Error>> {
    let policy = base.clone().with_lora(&lora_config())?;
    let mut config = GrpoTrainerConfig::default();
    config.grpo.num_generations = 8;
    config.grpo.prompts_per_step = 1;
    config.grpo.max_completion_length = 64;
    config.grpo.beta = args.beta;
    config.grpo.temperature = 1.0;
    config.grpo.learning_rate = 1e-5;
    config.grpo.seed = 0;
    config.kl_in_primary_gradient = weighting == Weighting::HypergradientKlFolded;
    if weighting == Weighting::HypergradientPerRow {
        config.objective_gradients = ObjectiveGradientMode::PerRow;
    }
    // One pass over all eight rows is the trainer's default (`None`).
    config.micro_batch_rows = (args.micro_batch_rows < 8).then_some(args.micro_batch_rows);
    config.use_decode_model = !args.no_decode_model;
    let weighter = if weighting == Weighting::Fixed {
        WeighterConfig::Fixed(FixedConfig::default())
    } else {
        WeighterConfig::Hypergradient(HypergradientConfig::default())
    }
    .build(usize::from(args.objectives))?;
    let chat = ChatPromptTokenizer::new(tok.clone()).with_system(SMOLLM2_DEFAULT_SYSTEM);
    let data = Dataset::from_prompts(prompts(), 1, 0)?;
    let mut trainer = GrpoTrainer::new(
        "bench",
        "math",
        policy,
        chat,
        data,
        rewards(usize::from(args.objectives)),
        weighter,
        config,
    )?;
    let metrics = trainer.run_steps(args.steps, 0, None)?;
    let median = |key: &str| {
        let mut v: Vec<f64> = metrics.iter().skip(1).map(|m| m[key]).collect();
        if v.is_empty() {
            v = metrics.iter().map(|m| m[key]).collect();
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (i, m) in metrics.iter().enumerate() {
        println!(
            "  {weighting:?} step {i}: {:.2} s (sampling {:.2} s, loss batch {:.2} s, \
             per-objective gradients {:.2} s in {} passes over {:.2} batches, update {:.2} s), \
             completion length {:.1}",
            m["step_secs"],
            m["sample_secs"],
            m["batch_secs"],
            m["objective_grad_secs"],
            m["objective_passes"],
            m["objective_pass_rows"],
            m["update_secs"],
            m["completion_len"],
        );
    }
    Ok(StepTimes {
        step_secs: median("step_secs"),
        sample_secs: median("sample_secs"),
        objective_grad_secs: median("objective_grad_secs"),
    })
}

/// Resets the kernel's peak-RSS counter of this process (Linux; elsewhere a no-op).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size since the last reset, in MB (`VmHWM`; 0 where unavailable).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Greedy decoding of `rows` (all the same length): the prefill's seconds after a warm-up,
/// then the tokens per second of 32 single-column steps.
fn decode_throughput(model: &dyn Decode, rows: &[Vec<u32>], dev: &Device) -> (f64, f64) {
    let b = rows.len();
    let _ = model
        .last_logits(ids_tensor(rows, dev), &vec![0; b], &mut model.new_cache())
        .into_data();
    let t = Instant::now();
    let mut cache = model.new_cache();
    let logits = model.last_logits(ids_tensor(rows, dev), &vec![0; b], &mut cache);
    let mut next = logits.argmax(1).reshape([b, 1]);
    let _ = next.clone().into_data();
    let prefill = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..32 {
        next = model
            .last_logits(next, &[], &mut cache)
            .argmax(1)
            .reshape([b, 1]);
        let _ = next.clone().into_data();
    }
    (prefill, (b * 32) as f64 / t.elapsed().as_secs_f64())
}

fn ids_tensor(rows: &[Vec<u32>], dev: &Device) -> Tensor<2, Int> {
    let t = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), t]), dev)
}

/// SmolLM2-135M-Instruct on this machine: load time, decoding throughput at batch 1 and 8,
/// and the real `GrpoTrainer<Llama>` step in TRL's setting with fixed weights and with the
/// hypergradient weighter; ends with one JSON line.
#[derive(Debug, Parser)]
#[command(name = "smollm2_perf")]
struct Args {
    /// GRPO steps per weighter (the median is taken after the first).
    #[arg(long, default_value_t = 4)]
    steps: u32,
    /// Rows per forward + backward pass of the trainer (`GrpoTrainerConfig::micro_batch_rows`;
    /// 8 or more: all 8 in one pass). Fewer rows, less peak memory.
    #[arg(long, default_value_t = 2)]
    micro_batch_rows: usize,
    /// Sample through the policy's own forward instead of its decode model
    /// (`GrpoTrainerConfig::use_decode_model = false`): no second copy of the weights.
    #[arg(long)]
    no_decode_model: bool,
    /// Measure decoding only (no trainer steps); the JSON line then holds the decode rates.
    #[arg(long)]
    decode_only: bool,
    /// Run the fixed-weight trainer only (`--arms fixed`); the JSON line then has no
    /// hypergradient step times.
    #[arg(long)]
    fixed_only: bool,
    /// The trainers to run, in this order (the ratios are to the fixed-weight step, when it
    /// ran). Alternate the order between runs to cancel the machine's drift.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fixed,hypergradient,hypergradient-kl-folded,hypergradient-per-row"
    )]
    arms: Vec<Weighting>,
    /// Skip the decoding measurements (trainer steps only).
    #[arg(long)]
    skip_decode: bool,
    /// Objectives (rewards) of every trainer: 1 (TRL's accuracy), 2 (and a `####` format line) or
    /// 3 (and a word budget, which varies within nearly every group).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    objectives: u8,
    /// KL weight β of every trainer (TRL's benchmark setting: 0.04; TRL's default and
    /// the SmolLM2 federation configs': 0, which needs no reference forward).
    #[arg(long, default_value_t = 0.04)]
    beta: f64,
    /// The SmolLM2 GGUF file (`scripts/fetch-smollm2.sh` prints its path).
    #[arg(long, env = "FEDMOA_SMOLLM2_GGUF")]
    gguf: std::path::PathBuf,
}

/// Decoding throughput through the decode model the sampler uses, through the same layout
/// in `f32`, through the policy's own forward, and through the decode model with TRL's
/// adapters, at batch 1 and 8; printed, and added to `json`.
fn decode_figures(
    model: &Llama,
    prompt: &[u32],
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn Error>> {
    let plain = Device::flex();
    // Decoding as the sampler runs it: through the decode model (the GGUF's `Q4_1`/`Q8_0`
    // blocks kept packed, the default) and, for comparison, through the same layout in
    // `f32` and through the policy's own forward.
    let t = Instant::now();
    let fast = model.decode_model().ok_or("Llama has a decode model")?;
    let packed_secs = t.elapsed().as_secs_f64();
    // The trainer builds one every step; the packed weights come from the model's cache.
    let t = Instant::now();
    drop(model.decode_model());
    let cached_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let dense = model.dense_decode_model();
    println!(
        "decode model: weights read per step packed {:.0} MB, f32 {:.0} MB; built in {packed_secs:.2} s \
         ({cached_secs:.2} s again, from the cache), f32 in {:.2} s",
        fast.weight_bytes() as f64 / 1e6,
        dense.weight_bytes() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // tok_s[0]: the decode model, [1]: the f32 decode model, [2]: the policy forward;
    // batch 1, then 8.
    let mut tok_s: [Vec<f64>; 3] = Default::default();
    for b in [1usize, 8] {
        let rows = vec![prompt.to_vec(); b];
        let decoders: [(&str, &dyn Decode); 3] = [
            ("decode model", &fast),
            ("f32 decode model", &dense),
            ("policy forward", model),
        ];
        for (out, (name, decoder)) in tok_s.iter_mut().zip(decoders) {
            let (prefill, rate) = decode_throughput(decoder, &rows, &plain);
            println!(
                "batch {b}, {name}: prefill {:.0} tok/s ({prefill:.2} s), decode {rate:.1} tok/s \
                 ({:.0} ms/step)",
                (b * prompt.len()) as f64 / prefill,
                1000.0 * b as f64 / rate
            );
            out.push(rate);
        }
    }
    drop((fast, dense));
    // The trainer samples through the decode model of the policy, whose LoRA adapters
    // (r = 16 on all 7 projections) stay unmerged.
    let adapted = model
        .clone()
        .with_lora(&lora_config())?
        .decode_model()
        .ok_or("Llama has a decode model")?;
    let mut lora_tok_s = Vec::new();
    for b in [1usize, 8] {
        let (_, rate) = decode_throughput(&adapted, &vec![prompt.to_vec(); b], &plain);
        println!(
            "batch {b}, decode model with LoRA r16 adapters: decode {rate:.1} tok/s ({:.0} ms/step)",
            1000.0 * b as f64 / rate
        );
        lora_tok_s.push(rate);
    }
    let suffixes = ["", "_f32_decode_model", "_policy_forward"];
    for (rates, suffix) in tok_s
        .iter()
        .chain([&lora_tok_s])
        .zip(suffixes.iter().chain(&["_lora"]))
    {
        for (rate, b) in rates.iter().zip([1, 8]) {
            json.insert(format!("decode_tok_s_b{b}{suffix}"), (*rate).into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    fedmoa::cli::exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let path = &args.gguf;
    let plain = Device::flex();
    let t = Instant::now();
    let file = GgufFile::open(path)?;
    let read = t.elapsed().as_secs_f64();
    let model = Llama::from_gguf(&file, Some(1024), &plain)?;
    let build = t.elapsed().as_secs_f64() - read;
    let t = Instant::now();
    let tok = LlmTokenizer::from_gguf(&file)?;
    println!(
        "load: read {read:.2} s, dequantise+build {build:.2} s, tokenizer {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let question = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?";
    let prompt = tok.encode_chat(&[ChatMessage::user(question)], Some(SMOLLM2_DEFAULT_SYSTEM))?;
    println!("prompt: {} tokens", prompt.len());
    let mut json = serde_json::Map::new();
    if !args.skip_decode {
        decode_figures(&model, &prompt, &mut json)?;
    }
    if args.decode_only {
        println!("{}", serde_json::Value::Object(json));
        return Ok(());
    }

    // The real trainer in TRL's setting (../shared/bench/trl_grpo_step.py): one prompt per
    // step, G = 8, at most 64 new tokens, LoRA r = 16 on all 7 projections, β = 0.04,
    // T = 1.0, learning rate 1e-5; the same prompts. Median step time after the first.
    // The trainers adapt the model loaded above (the decoding figures only borrowed it).
    let base = model;
    drop(file);
    let arms = if args.fixed_only {
        vec![Weighting::Fixed]
    } else {
        args.arms.clone()
    };
    let mut runs = Vec::new();
    for weighting in arms {
        reset_peak_rss();
        let times = trainer_steps(&base, &tok, weighting, args)?;
        if weighting == Weighting::Fixed {
            json.insert("peak_rss_mb".into(), peak_rss_mb().into());
        }
        json.insert(weighting.json_key().into(), times.step_secs.into());
        runs.push((weighting, times));
    }
    let fixed_secs = runs
        .iter()
        .find(|(w, _)| *w == Weighting::Fixed)
        .map(|(_, t)| t.step_secs);
    let summary: Vec<String> = runs
        .iter()
        .map(|(weighting, times)| {
            let ratio = match fixed_secs {
                Some(f) if *weighting != Weighting::Fixed => {
                    format!(": {:.2}× the fixed step", times.step_secs / f)
                }
                _ => String::new(),
            };
            format!(
                "{} {:.2} s (sampling {:.2} s, per-objective gradients {:.2} s){ratio}",
                weighting.describe(),
                times.step_secs,
                times.sample_secs,
                times.objective_grad_secs
            )
        })
        .collect();
    let rss = json
        .get("peak_rss_mb")
        .and_then(serde_json::Value::as_f64)
        .map_or(String::new(), |mb| {
            format!("; peak RSS of the fixed-weight steps {mb:.0} MB")
        });
    println!(
        "GrpoTrainer<Llama> step (TRL's setting, β = {}, objectives: {}): {}{rss}",
        args.beta,
        args.objectives,
        summary.join("; "),
    );
    println!("{}", serde_json::Value::Object(json));
    Ok(())
}
