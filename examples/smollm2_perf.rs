//! Performance figures of SmolLM2-135M-Instruct on this machine: load time, prompt
//! processing and KV-cache decoding throughput at batch 1 and 8, and the time of one GRPO
//! step (G = 8 completions of 64 tokens, LoRA r = 16 on all projections).
//!
//! ```sh
//! export FEDMOA_SMOLLM2_GGUF="$(scripts/fetch-smollm2.sh)"
//! cargo run --release --example smollm2_perf
//! ```

use std::error::Error;
use std::time::Instant;

use fedmoa_grpo::batch::SequenceBatch;
use fedmoa_grpo::burn::optim::{AdamWConfig, GradientsParams};
use fedmoa_grpo::burn::prelude::*;
use fedmoa_grpo::gguf::GgufFile;
use fedmoa_grpo::grpo::{LossInputs, LossSettings, LossType, grpo_loss, token_logprobs};
use fedmoa_grpo::llm_tokenizer::{ChatMessage, SMOLLM2_DEFAULT_SYSTEM};
use fedmoa_grpo::sampling::{Sampler, SamplingConfig};
use fedmoa_grpo::{Llama, LlmTokenizer, LoraConfig, Policy};

const NEW_TOKENS: usize = 64;

fn ids_tensor(rows: &[Vec<u32>], dev: &Device) -> Tensor<2, Int> {
    let t = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), t]), dev)
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::var("FEDMOA_SMOLLM2_GGUF").map_err(|_| "set FEDMOA_SMOLLM2_GGUF")?;
    let plain = Device::flex();
    let t = Instant::now();
    let file = GgufFile::open(&path)?;
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
    for b in [1usize, 8] {
        let rows = vec![prompt.clone(); b];
        // warm-up, then timed prefill
        let _ = model
            .forward(ids_tensor(&rows, &plain), &vec![0; b], None)
            .into_data();
        let t = Instant::now();
        let mut cache = model.new_cache();
        let logits = model.forward(ids_tensor(&rows, &plain), &vec![0; b], Some(&mut cache));
        let [_, tl, v] = logits.dims();
        let mut next = logits
            .slice([0..b, tl - 1..tl, 0..v])
            .argmax(2)
            .reshape([b, 1]);
        let _ = next.clone().into_data();
        let prefill = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..32 {
            let logits = model.forward(next, &[], Some(&mut cache));
            next = logits.argmax(2).reshape([b, 1]);
            let _ = next.clone().into_data();
        }
        let decode = t.elapsed().as_secs_f64();
        println!(
            "batch {b}: prefill {:.0} tok/s ({prefill:.2} s), decode {:.1} tok/s ({:.0} ms/step)",
            (b * prompt.len()) as f64 / prefill,
            (b * 32) as f64 / decode,
            1000.0 * decode / 32.0
        );
    }

    let train_dev = Device::flex().autodiff();
    let policy = Llama::from_gguf(&file, Some(1024), &train_dev)?.with_lora(&LoraConfig {
        rank: 16,
        alpha: 32.0,
        ..LoraConfig::default()
    })?;
    drop(file);
    let mut policy = policy;
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let mut sampler = Sampler::new(0);
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        top_k: 0,
        max_new_tokens: NEW_TOKENS,
        num_generations: 8,
    };
    // EOS id outside the vocabulary: every completion runs the full 64 tokens.
    let no_eos = u32::MAX;
    for step in 0..3 {
        let t = Instant::now();
        let merged = policy.merged();
        let outs = sampler.generate(
            &merged,
            std::slice::from_ref(&prompt),
            &sampling,
            no_eos,
            tok.pad_id(),
            &plain,
        )?;
        let t_sample = t.elapsed().as_secs_f64();
        let prompts: Vec<&[u32]> = outs.iter().map(|_| prompt.as_slice()).collect();
        let completions: Vec<&[u32]> = outs.iter().map(|o| o.tokens.as_slice()).collect();
        let batch = SequenceBatch::new(&prompts, &completions, tok.pad_id())?;
        // Alternating ±1 advantages: a stand-in for rewards with the same cost.
        let adv: Vec<f32> = (0..outs.len())
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let n = adv.len();
        let t = Instant::now();
        let logprobs = token_logprobs(
            batch.completion_logits(&policy, &train_dev),
            batch.target_tensor(&train_dev),
        )?;
        let inputs = LossInputs {
            old_logprobs: logprobs.clone().detach(),
            logprobs,
            ref_logprobs: None,
            mask: batch.mask_tensor(&train_dev),
            advantages: Tensor::from_data(TensorData::new(adv, [n]), &train_dev),
            batch_totals: None,
        };
        let settings = LossSettings {
            loss_type: LossType::Dapo,
            epsilon_low: 0.2,
            epsilon_high: 0.2,
            beta: 0.0,
            max_completion_length: NEW_TOKENS,
        };
        let loss = grpo_loss(inputs, &settings)?.loss;
        let grads = GradientsParams::from_grads(loss.backward(), &policy);
        policy = optim.step(1e-5, policy, grads);
        let t_train = t.elapsed().as_secs_f64();
        println!(
            "GRPO step {step} (G=8, {NEW_TOKENS} new tokens, LoRA r=16): {:.1} s = sampling {t_sample:.1} s + forward/backward/AdamW {t_train:.1} s",
            t_sample + t_train
        );
    }
    Ok(())
}
