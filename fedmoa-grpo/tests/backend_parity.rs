//! Flex (CPU) and wgpu give the same GRPO loss and gradient norm on a tiny model.
//!
//! Needs the `wgpu` feature and an adapter; without a GPU, Mesa's software drivers do
//! (llvmpipe through GL, or lavapipe through Vulkan: `apt-get install mesa-vulkan-drivers
//! libvulkan1`). Run with
//! `cargo test --release -p fedmoa-grpo --features wgpu --test backend_parity`.
#![cfg(feature = "wgpu")]

use burn::optim::GradientsParams;
use burn::prelude::*;
use fedmoa_grpo::batch::SequenceBatch;
use fedmoa_grpo::grpo::{GrpoConfig, LossInputs, LossSettings, grpo_loss, token_logprobs};
use fedmoa_grpo::{DeviceChoice, Policy, TinyLmConfig};

/// Loss and global gradient norm of one GRPO loss on `device` from the parameters `params`.
fn loss_and_grad_norm(params: &fedmoa_core::ParamSet, device: &Device) -> (f32, f64) {
    let config = TinyLmConfig {
        vocab_size: 40,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        d_hidden: 64,
        max_seq_len: 32,
        ..Default::default()
    };
    let dev = device.clone().autodiff();
    let model = config
        .init(&dev)
        .unwrap()
        .load_param_set(params)
        .unwrap()
        .train();
    let prompts: Vec<&[u32]> = vec![&[1, 5, 6], &[1, 5, 6], &[1, 7], &[1, 7]];
    let completions: Vec<&[u32]> = vec![&[9, 10, 2], &[11, 2], &[9, 2], &[12, 13, 14]];
    let batch = SequenceBatch::new(&prompts, &completions, 0).unwrap();
    let lp = token_logprobs(
        batch.completion_logits(&model, &dev),
        batch.target_tensor(&dev),
    )
    .unwrap();
    let cfg = GrpoConfig::default();
    let out = grpo_loss(
        LossInputs {
            // Old log-probs shifted by a constant so the clipped ratio is active.
            old_logprobs: lp.clone().detach() - 0.3,
            logprobs: lp.clone(),
            ref_logprobs: Some(lp.clone().detach() + 0.1),
            mask: batch.mask_tensor(&dev),
            advantages: Tensor::from_data(
                TensorData::new(vec![1.0f32, -1.0, 0.5, -0.5], [4]),
                &dev,
            ),
            batch_totals: None,
        },
        &LossSettings::from(&cfg),
    )
    .unwrap();
    let loss: f32 = out.loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    let flat = fedmoa_grpo::grpo::flatten_gradients(&model, &grads);
    let norm = flat
        .iter()
        .map(|g| f64::from(*g).powi(2))
        .sum::<f64>()
        .sqrt();
    (loss, norm)
}

#[test]
fn flex_and_wgpu_agree_on_loss_and_gradient() {
    let config = TinyLmConfig {
        vocab_size: 40,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        d_hidden: 64,
        max_seq_len: 32,
        ..Default::default()
    };
    let params = config
        .init_seeded(&Device::flex(), 11)
        .unwrap()
        .to_param_set()
        .unwrap();
    let flex = loss_and_grad_norm(&params, &Device::flex());
    let wgpu = loss_and_grad_norm(&params, &DeviceChoice::Wgpu.device().unwrap());
    eprintln!("flex {flex:?} wgpu {wgpu:?}");
    assert!(flex.0.is_finite() && flex.1 > 0.0);
    assert!(
        (flex.0 - wgpu.0).abs() <= 1e-4 * flex.0.abs().max(1.0),
        "{flex:?} vs {wgpu:?}"
    );
    assert!(
        (flex.1 - wgpu.1).abs() <= 1e-3 * flex.1,
        "{flex:?} vs {wgpu:?}"
    );
}
