//! `SequenceBatch::shared_prompt_logits` against the single forward: the same logits and,
//! on an autodiff device, the same gradients, for groups of unequal sizes, a prompt that
//! comes back after another and left padding.

use burn::prelude::*;
use burn::tensor::Distribution;
use fedmoa_grpo::batch::SequenceBatch;
use fedmoa_grpo::model::{LoraTarget, to_param_set};
use fedmoa_grpo::{Llama, LlamaConfig, LoraConfig, Policy, TinyLmConfig};

/// Prompt A three times, B (shorter, left-padded) twice, A once more; completions of
/// different lengths.
fn batch() -> SequenceBatch {
    let (a, b): (&[u32], &[u32]) = (&[3, 4, 5, 6], &[7, 8]);
    SequenceBatch::new(
        &[a, a, a, b, b, a],
        &[
            &[9, 10],
            &[11, 12, 13],
            &[14],
            &[9, 9, 9],
            &[10, 11],
            &[12, 13, 14],
        ],
        0,
    )
    .expect("a valid batch")
}

fn max_abs_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

/// The gradients of `Σ logits · r` for every trainable parameter, flattened by name.
fn gradients<P: Policy>(policy: &P, logits: Tensor<3>, r: Tensor<3>) -> Vec<(String, Vec<f32>)> {
    let grads = (logits * r).sum().backward();
    let grads = burn::optim::GradientsParams::from_grads(grads, policy);
    let mut out = Vec::new();
    let names = to_param_set(policy, &|p| policy.is_trainable(p)).expect("named parameters");
    let mut visitor = Collect {
        grads: &grads,
        out: &mut out,
    };
    policy.visit(&mut visitor);
    assert_eq!(
        out.len(),
        names.len(),
        "a gradient for every trainable tensor"
    );
    out
}

struct Collect<'a> {
    grads: &'a burn::optim::GradientsParams,
    out: &'a mut Vec<(String, Vec<f32>)>,
}

impl burn::module::ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let v: Vec<f32> = g.into_data().iter::<f32>().collect();
            self.out.push((param.id.to_string(), v));
        }
    }
}

fn check<P: Policy>(policy: &P, dev: &Device) {
    let b = batch();
    let single = b.completion_logits(policy, dev);
    let shared = b.shared_prompt_logits(policy, dev);
    assert_eq!(single.dims(), shared.dims());
    let d = max_abs_diff(single.clone(), shared.clone());
    assert!(d < 1e-4, "logits differ by {d}");
    let r = Tensor::<3>::random(single.dims(), Distribution::Uniform(-1.0, 1.0), dev);
    let g_single = gradients(policy, single, r.clone());
    let g_shared = gradients(policy, shared, r);
    assert!(!g_single.is_empty());
    for ((name, a), (_, b)) in g_single.iter().zip(&g_shared) {
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1.0);
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4 * scale, "{name}: {x} vs {y}");
        }
    }
}

/// A two-layer `TinyLm` over 16 tokens, seeded with `seed`.
fn tiny_lm(dev: &Device, seed: u64) -> fedmoa_grpo::TinyLm {
    TinyLmConfig {
        vocab_size: 16,
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        n_kv_heads: 1,
        d_hidden: 32,
        max_seq_len: 16,
        ..Default::default()
    }
    .init_seeded(dev, seed)
    .expect("a valid TinyLm config")
}

#[test]
fn tiny_lm_shares_prompts_with_the_same_logits_and_gradients() {
    let dev = Device::flex().autodiff();
    check(&tiny_lm(&dev, 3), &dev);
}

#[test]
fn lora_llama_shares_prompts_with_the_same_logits_and_gradients() {
    let dev = Device::flex().autodiff();
    let config = LlamaConfig {
        vocab_size: 16,
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 4,
        d_hidden: 24,
        max_seq_len: 16,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: true,
    };
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: vec![LoraTarget::Q, LoraTarget::K, LoraTarget::Up],
        seed: 1,
    };
    let model = Llama::init(&config, 5, &dev)
        .unwrap()
        .with_lora(&lora)
        .unwrap();
    // Non-zero B factors, so that every factor has a gradient.
    let mut params = model.to_param_set().unwrap();
    for (i, (_, t)) in params.iter_mut().enumerate() {
        for (j, v) in t.data_mut().iter_mut().enumerate() {
            *v = ((i * 31 + j) as f32 * 0.7).sin() * 0.3;
        }
    }
    let model = model.load_param_set(&params).unwrap();
    check(&model, &dev);
}

#[test]
fn rows_with_distinct_prompts_take_the_single_forward() {
    let dev = Device::flex();
    let model = TinyLmConfig {
        vocab_size: 16,
        d_model: 8,
        n_layers: 1,
        n_heads: 2,
        n_kv_heads: 1,
        d_hidden: 16,
        max_seq_len: 16,
        ..Default::default()
    }
    .init_seeded(&dev, 1)
    .unwrap();
    let b = SequenceBatch::new(&[&[1, 2], &[3, 4]], &[&[5], &[6]], 0).unwrap();
    let d = max_abs_diff(
        b.completion_logits(&model, &dev),
        b.shared_prompt_logits(&model, &dev),
    );
    assert_eq!(d, 0.0);
}

#[test]
fn micro_batches_continue_the_whole_batchs_prefilled_prompts() {
    let dev = Device::flex();
    let model = tiny_lm(&dev, 4);
    let b = batch();
    let prefix = b.prefill_prompts(&model, &dev).expect("rows share prompts");
    // Rows of both prompts, out of order; then a prompt that differs before its last
    // column (the prefix holds every column but the last).
    let rows = b.select_rows(&[4, 0, 5, 3]).unwrap();
    let after = rows
        .logits_after_prefix(&prefix, &model, &dev)
        .expect("every prompt is in the prefix");
    let d = max_abs_diff(after, rows.completion_logits(&model, &dev));
    assert!(d < 1e-5, "logits differ by {d}");
    let other = SequenceBatch::new(&[&[3, 1, 5, 6]], &[&[9]], 0).unwrap();
    assert!(other.logits_after_prefix(&prefix, &model, &dev).is_none());
    // Distinct prompts only: nothing to prefill.
    let distinct = SequenceBatch::new(&[&[1, 2], &[3, 4]], &[&[5], &[6]], 0).unwrap();
    assert!(distinct.prefill_prompts(&model, &dev).is_none());
}
