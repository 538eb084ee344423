//! SmolLM2-135M-Instruct on GSM8K: greedy base accuracy on a test subset, a short
//! federation of LoRA clients trained with GRPO (reward 1 for the right answer), and the
//! accuracy of the aggregated adapters.
//!
//! ```sh
//! export FEDMOA_SMOLLM2_GGUF="$(scripts/fetch-smollm2.sh)" FEDMOA_DATA_DIR=/path/to/data
//! cargo run --release --example smollm2_gsm8k -- --eval 20 --rounds 1 --steps 2
//! ```
//!
//! Flags (all optional): `--eval N` test problems, `--clients C`, `--rounds R`,
//! `--steps S` GRPO steps per client and round, `--group G` completions per prompt,
//! `--max-new T` tokens per completion, `--rank r` LoRA rank, `--lr η`, `--seed s`.
//! Training reward: 1 for the right answer, 0.2 for a `#### <number>` line otherwise.
//! The federation is FedAvg of the adapter deltas; one prompt per step, β = 0 (no KL
//! reference), μ = 1 (one optimiser step per sampled group).

use std::error::Error;
use std::time::Instant;

use fedmoa_core::ParamSet;
use fedmoa_grpo::batch::SequenceBatch;
use fedmoa_grpo::burn::module::Module;
use fedmoa_grpo::burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use fedmoa_grpo::burn::prelude::*;
use fedmoa_grpo::gguf::GgufFile;
use fedmoa_grpo::grpo::{LossInputs, LossSettings, LossType, grpo_loss, token_logprobs};
use fedmoa_grpo::llm_tokenizer::{ChatMessage, SMOLLM2_DEFAULT_SYSTEM};
use fedmoa_grpo::sampling::{Sampler, SamplingConfig};
use fedmoa_grpo::{Llama, LlmTokenizer, LoraConfig, Policy};
use fedmoa_rewards::math::{
    AnswerSource, Gsm8kProblem, Gsm8kSplit, answers_match, extract_answer, load_gsm8k,
};

const INSTRUCTION: &str = "Solve the problem step by step, then give the final answer on its own line as '#### <number>'.";

struct Args {
    eval: usize,
    clients: usize,
    rounds: usize,
    steps: usize,
    group: usize,
    max_new: usize,
    rank: usize,
    lr: f64,
    seed: u64,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut a = Args {
        eval: 20,
        clients: 2,
        rounds: 1,
        steps: 2,
        group: 8,
        max_new: 128,
        rank: 16,
        lr: 1e-4,
        seed: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("flag {} needs a value", pair[0]).into());
        };
        match flag.as_str() {
            "--eval" => a.eval = value.parse()?,
            "--clients" => a.clients = value.parse()?,
            "--rounds" => a.rounds = value.parse()?,
            "--steps" => a.steps = value.parse()?,
            "--group" => a.group = value.parse()?,
            "--max-new" => a.max_new = value.parse()?,
            "--rank" => a.rank = value.parse()?,
            "--lr" => a.lr = value.parse()?,
            "--seed" => a.seed = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if a.clients == 0 || a.group < 2 {
        return Err("--clients must be ≥ 1 and --group ≥ 2".into());
    }
    Ok(a)
}

fn prompt_ids(tok: &LlmTokenizer, p: &Gsm8kProblem) -> Result<Vec<u32>, Box<dyn Error>> {
    let user = format!("{}\n{INSTRUCTION}", p.question);
    Ok(tok.encode_chat(&[ChatMessage::user(user)], Some(SMOLLM2_DEFAULT_SYSTEM))?)
}

fn is_correct(tok: &LlmTokenizer, completion: &[u32], answer: f64) -> Result<bool, Box<dyn Error>> {
    let text = tok.decode(completion)?;
    Ok(extract_answer(&text).is_some_and(|a| answers_match(a.value, answer, 1e-6)))
}

/// Training reward: 1 for the right answer, else 0.2 for a `#### <number>` line (a
/// format bonus, so a 135M model that rarely solves a problem still gets a signal).
fn reward(tok: &LlmTokenizer, completion: &[u32], answer: f64) -> Result<f64, Box<dyn Error>> {
    let text = tok.decode(completion)?;
    Ok(match extract_answer(&text) {
        Some(a) if answers_match(a.value, answer, 1e-6) => 1.0,
        Some(a) if a.source == AnswerSource::Hashes => 0.2,
        _ => 0.0,
    })
}

/// Greedy accuracy of `model` on `problems`, 8 prompts per batch.
fn accuracy(
    model: &Llama,
    tok: &LlmTokenizer,
    problems: &[Gsm8kProblem],
    max_new: usize,
    dev: &Device,
) -> Result<f64, Box<dyn Error>> {
    let mut correct = 0;
    for chunk in problems.chunks(8) {
        let prompts: Vec<Vec<u32>> = chunk
            .iter()
            .map(|p| prompt_ids(tok, p))
            .collect::<Result<_, _>>()?;
        let outs = Sampler::new(0).generate(
            model,
            &prompts,
            &SamplingConfig::greedy(max_new),
            tok.eos_id(),
            tok.pad_id(),
            dev,
        )?;
        for (out, p) in outs.iter().zip(chunk) {
            correct += usize::from(is_correct(tok, &out.tokens, p.answer)?);
        }
    }
    Ok(correct as f64 / problems.len().max(1) as f64)
}

/// One GRPO step on one prompt; returns the group's mean reward.
fn grpo_step(
    policy: Llama,
    optim: &mut ModuleOptimizer,
    sampler: &mut Sampler,
    tok: &LlmTokenizer,
    problem: &Gsm8kProblem,
    args: &Args,
    train_dev: &Device,
) -> Result<(Llama, f64), Box<dyn Error>> {
    let prompt = prompt_ids(tok, problem)?;
    let plain = Device::flex();
    let sampling = SamplingConfig {
        temperature: 0.8,
        top_p: 0.95,
        top_k: 0,
        max_new_tokens: args.max_new,
        num_generations: args.group,
    };
    let outs = sampler.generate(
        &policy.merged(),
        std::slice::from_ref(&prompt),
        &sampling,
        tok.eos_id(),
        tok.pad_id(),
        &plain,
    )?;
    let rewards: Vec<f64> = outs
        .iter()
        .map(|o| reward(tok, &o.tokens, problem.answer))
        .collect::<Result<_, _>>()?;
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    let std =
        (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rewards.len() as f64).sqrt();
    if std == 0.0 {
        return Ok((policy, mean)); // every completion scored the same: no signal
    }
    let adv: Vec<f32> = rewards
        .iter()
        .map(|r| ((r - mean) / (std + 1e-4)) as f32)
        .collect();
    let prompts: Vec<&[u32]> = outs.iter().map(|_| prompt.as_slice()).collect();
    let completions: Vec<&[u32]> = outs.iter().map(|o| o.tokens.as_slice()).collect();
    let batch = SequenceBatch::new(&prompts, &completions, tok.pad_id())?;
    let logprobs = token_logprobs(
        batch.completion_logits(&policy, train_dev),
        batch.target_tensor(train_dev),
    )?;
    let n = adv.len();
    let inputs = LossInputs {
        old_logprobs: logprobs.clone().detach(),
        logprobs,
        ref_logprobs: None,
        mask: batch.mask_tensor(train_dev),
        advantages: Tensor::from_data(TensorData::new(adv, [n]), train_dev),
        batch_totals: None,
    };
    let settings = LossSettings {
        loss_type: LossType::Dapo,
        epsilon_low: 0.2,
        epsilon_high: 0.2,
        beta: 0.0,
        max_completion_length: args.max_new,
    };
    let out = grpo_loss(inputs, &settings)?;
    let grads = GradientsParams::from_grads(out.loss.backward(), &policy);
    Ok((optim.step(args.lr, policy, grads), mean))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let gguf = std::env::var("FEDMOA_SMOLLM2_GGUF")
        .map_err(|_| "set FEDMOA_SMOLLM2_GGUF (scripts/fetch-smollm2.sh prints the path)")?;
    let data = fedmoa_rewards::math::gsm8k::data_dir()
        .ok_or("set FEDMOA_DATA_DIR (the folder holding gsm8k/)")?;
    let test = load_gsm8k(&Gsm8kSplit::Test.path_in(&data))?;
    let train = load_gsm8k(&Gsm8kSplit::Train.path_in(&data))?;
    let eval_set = &test[..args.eval.min(test.len())];

    let t0 = Instant::now();
    let file = GgufFile::open(&gguf)?;
    let tok = LlmTokenizer::from_gguf(&file)?;
    let train_dev = Device::flex().autodiff();
    let base = Llama::from_gguf(&file, Some(1024), &train_dev)?;
    drop(file);
    println!(
        "loaded SmolLM2 ({} parameters) in {:.1} s",
        base.num_params(),
        t0.elapsed().as_secs_f64()
    );

    let t0 = Instant::now();
    let plain = Device::flex();
    let acc0 = accuracy(&base.valid(), &tok, eval_set, args.max_new, &plain)?;
    println!(
        "base accuracy on {} test problems: {:.1}% ({:.0} s)",
        eval_set.len(),
        100.0 * acc0,
        t0.elapsed().as_secs_f64()
    );

    let lora = LoraConfig {
        rank: args.rank,
        alpha: 2.0 * args.rank as f64,
        seed: args.seed,
        ..LoraConfig::default()
    };
    let model = base.with_lora(&lora)?;
    let mut global: ParamSet = model.to_param_set()?;
    println!(
        "LoRA r={}: {} adapter tensors, {} values exchanged",
        args.rank,
        global.len(),
        global.numel()
    );
    let mut sampler = Sampler::new(args.seed);
    let mut cursor = 0usize;
    for round in 1..=args.rounds {
        let mut sum = global.zeros_like();
        for client in 0..args.clients {
            let mut policy = model.clone().load_param_set(&global)?;
            let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
            for step in 0..args.steps {
                // Client c draws from the training problems with index ≡ c (mod clients).
                let problem = &train[(cursor * args.clients + client) % train.len()];
                cursor += 1;
                let t = Instant::now();
                let (next, reward) = grpo_step(
                    policy,
                    &mut optim,
                    &mut sampler,
                    &tok,
                    problem,
                    &args,
                    &train_dev,
                )?;
                policy = next;
                println!(
                    "round {round} client {client} step {step}: mean reward {reward:.2}, {:.1} s",
                    t.elapsed().as_secs_f64()
                );
            }
            sum.add_assign(&policy.to_param_set()?.sub(&global)?)?;
        }
        sum.scale(1.0 / args.clients as f32);
        global.add_assign(&sum)?;
        println!(
            "round {round}: FedAvg of {} adapter deltas, |Δ| = {:.3e}",
            args.clients,
            sum.norm()
        );
    }
    let t0 = Instant::now();
    let tuned = model.load_param_set(&global)?.merged();
    let acc1 = accuracy(&tuned, &tok, eval_set, args.max_new, &plain)?;
    println!(
        "accuracy after federation: {:.1}% (base {:.1}%, {:.0} s)",
        100.0 * acc1,
        100.0 * acc0,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
