//! Llama tests on tiny random checkpoints written in memory (GGUF and safetensors).

use std::collections::BTreeMap;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::gguf::{GgufBuilder, GgufFile, MetadataValue};
use crate::model::Policy;

pub(super) const VOCAB: usize = 16;
const D: usize = 8;
pub(super) const LAYERS: usize = 2;
const HEADS: usize = 2;
const KV_HEADS: usize = 1;
const HEAD_DIM: usize = 4;
const HIDDEN: usize = 12;

/// Random weights under GGUF names, PyTorch `[out, in]` layout, Q/K interleaved.
pub(super) fn random_weights(seed: u64, tied: bool) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = BTreeMap::new();
    let mut put = |name: String, shape: Vec<usize>, around_one: bool| {
        let n = shape.iter().product();
        let v = (0..n)
            .map(|_| {
                let x: f32 = rng.random_range(-0.5..0.5);
                if around_one { 1.0 + 0.2 * x } else { x }
            })
            .collect();
        w.insert(name, (shape, v));
    };
    put("token_embd.weight".into(), vec![VOCAB, D], false);
    put("output_norm.weight".into(), vec![D], true);
    if !tied {
        put("output.weight".into(), vec![VOCAB, D], false);
    }
    for i in 0..LAYERS {
        put(format!("blk.{i}.attn_norm.weight"), vec![D], true);
        put(format!("blk.{i}.ffn_norm.weight"), vec![D], true);
        put(
            format!("blk.{i}.attn_q.weight"),
            vec![HEADS * HEAD_DIM, D],
            false,
        );
        put(
            format!("blk.{i}.attn_k.weight"),
            vec![KV_HEADS * HEAD_DIM, D],
            false,
        );
        put(
            format!("blk.{i}.attn_v.weight"),
            vec![KV_HEADS * HEAD_DIM, D],
            false,
        );
        put(
            format!("blk.{i}.attn_output.weight"),
            vec![D, HEADS * HEAD_DIM],
            false,
        );
        put(format!("blk.{i}.ffn_gate.weight"), vec![HIDDEN, D], false);
        put(format!("blk.{i}.ffn_up.weight"), vec![HIDDEN, D], false);
        put(format!("blk.{i}.ffn_down.weight"), vec![D, HIDDEN], false);
    }
    w
}

pub(super) fn gguf_of(weights: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) -> GgufFile {
    let mut b = GgufBuilder::new()
        .metadata(
            "general.architecture",
            MetadataValue::String("llama".into()),
        )
        .metadata("llama.vocab_size", MetadataValue::U32(VOCAB as u32))
        .metadata("llama.embedding_length", MetadataValue::U32(D as u32))
        .metadata("llama.block_count", MetadataValue::U32(LAYERS as u32))
        .metadata(
            "llama.attention.head_count",
            MetadataValue::U32(HEADS as u32),
        )
        .metadata(
            "llama.attention.head_count_kv",
            MetadataValue::U32(KV_HEADS as u32),
        )
        .metadata(
            "llama.rope.dimension_count",
            MetadataValue::U32(HEAD_DIM as u32),
        )
        .metadata(
            "llama.feed_forward_length",
            MetadataValue::U32(HIDDEN as u32),
        )
        .metadata("llama.context_length", MetadataValue::U32(64))
        .metadata("llama.rope.freq_base", MetadataValue::F32(10_000.0))
        .metadata(
            "llama.attention.layer_norm_rms_epsilon",
            MetadataValue::F32(1e-5),
        );
    for (name, (shape, v)) in weights {
        b = b.f32_tensor(name.clone(), shape, v);
    }
    GgufFile::parse(b.to_bytes()).unwrap()
}

fn tokens(rows: &[&[i64]], dev: &Device) -> Tensor<2, Int> {
    let t = rows[0].len();
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), t]), dev)
}

fn max_abs_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn reads_config_from_gguf_and_ties_without_output_tensor() {
    let dev = Device::flex();
    let model = Llama::from_gguf(&gguf_of(&random_weights(1, true)), Some(32), &dev).unwrap();
    let c = model.config();
    assert_eq!(
        (c.vocab_size, c.d_model, c.n_layers, c.n_heads, c.n_kv_heads),
        (VOCAB, D, LAYERS, HEADS, KV_HEADS)
    );
    assert_eq!(
        (c.head_dim, c.d_hidden, c.max_seq_len),
        (HEAD_DIM, HIDDEN, 32)
    );
    assert!(c.tie_embeddings && model.lm_head.is_none());
    let untied = Llama::from_gguf(&gguf_of(&random_weights(1, false)), None, &dev).unwrap();
    assert!(!untied.config().tie_embeddings && untied.lm_head.is_some());
    assert_eq!(untied.config().max_seq_len, 64);
}

#[test]
fn missing_and_misshaped_tensors_are_named() {
    let dev = Device::flex();
    let mut w = random_weights(2, true);
    w.remove("blk.1.ffn_up.weight");
    let err = Llama::from_gguf(&gguf_of(&w), None, &dev).unwrap_err();
    assert!(
        err.to_string().contains("blk.1.ffn_up.weight") && err.to_string().contains("missing"),
        "{err}"
    );
    let mut w = random_weights(2, true);
    w.insert("blk.0.attn_k.weight".into(), (vec![D, D], vec![0.0; D * D]));
    let err = Llama::from_gguf(&gguf_of(&w), None, &dev).unwrap_err();
    assert!(
        err.to_string().contains("shape [8, 8], expected [4, 8]"),
        "{err}"
    );
}

#[test]
fn tied_head_is_the_embedding_transposed() {
    // With tied weights, logits = norm(h) · Eᵀ: compare against the hidden states.
    let dev = Device::flex();
    let model = Llama::from_gguf(&gguf_of(&random_weights(3, true)), None, &dev).unwrap();
    let x = tokens(&[&[1, 5, 9]], &dev);
    let logits = model.forward(x.clone(), &[0], None);
    let h = model.hidden(x, &[0], None).reshape([3, D]);
    let want = h
        .matmul(model.embed.weight.val().transpose())
        .reshape([1, 3, VOCAB]);
    assert!(max_abs_diff(logits, want) < 1e-6);
}

#[test]
fn kv_cache_decoding_matches_the_full_forward() {
    let dev = Device::flex();
    let model = Llama::from_gguf(&gguf_of(&random_weights(4, false)), None, &dev).unwrap();
    // Row 1 is left-padded by one token (pad id 0).
    let full = tokens(&[&[3, 4, 5, 6, 7], &[0, 8, 9, 10, 11]], &dev);
    let pads = [0, 1];
    let want = model.forward(full.clone(), &pads, None);
    let mut cache = model.new_cache();
    let prefill = model.forward(full.clone().slice([0..2, 0..3]), &pads, Some(&mut cache));
    let step1 = model.forward(full.clone().slice([0..2, 3..4]), &[], Some(&mut cache));
    let step2 = model.forward(full.slice([0..2, 4..5]), &[], Some(&mut cache));
    let got = Tensor::cat(vec![prefill, step1, step2], 1);
    // Compare real positions only (row 1 column 0 is padding).
    let d0 = max_abs_diff(
        got.clone().slice([0..1, 0..5]),
        want.clone().slice([0..1, 0..5]),
    );
    let d1 = max_abs_diff(got.slice([1..2, 1..5]), want.slice([1..2, 1..5]));
    assert!(d0 < 1e-4 && d1 < 1e-4, "{d0} {d1}");
    assert_eq!(cache.len(), 5);
}

/// Inverse of the load-time permutation: interleaved rows → Hugging Face `rotate_half`.
fn to_rotate_half(data: &[f32], heads: usize, cols: usize) -> Vec<f32> {
    let half = HEAD_DIM / 2;
    let mut out = vec![0.0; data.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let src = h * HEAD_DIM + 2 * i + j;
                let dst = h * HEAD_DIM + j * half + i;
                out[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&data[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

fn hf_name(gguf: &str) -> String {
    let map = [
        ("token_embd.weight", "model.embed_tokens.weight".to_string()),
        ("output_norm.weight", "model.norm.weight".to_string()),
        ("output.weight", "lm_head.weight".to_string()),
    ];
    if let Some((_, hf)) = map.iter().find(|(g, _)| *g == gguf) {
        return hf.clone();
    }
    let rest = gguf.strip_prefix("blk.").unwrap();
    let (layer, tail) = rest.split_once('.').unwrap();
    let hf_tail = match tail {
        "attn_norm.weight" => "input_layernorm.weight",
        "ffn_norm.weight" => "post_attention_layernorm.weight",
        "attn_q.weight" => "self_attn.q_proj.weight",
        "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight",
        "attn_output.weight" => "self_attn.o_proj.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        other => panic!("{other}"),
    };
    format!("model.layers.{layer}.{hf_tail}")
}

#[test]
fn safetensors_in_hf_layout_give_the_same_logits_as_gguf() {
    let dev = Device::flex();
    let w = random_weights(5, false);
    let from_gguf = Llama::from_gguf(&gguf_of(&w), None, &dev).unwrap();
    // Write the same weights as a Hugging Face checkpoint: HF names, rotate_half Q/K,
    // bf16 for one tensor-free check of the dtype path (norms stay f32).
    let mut hf: Vec<(String, Vec<usize>, Vec<u8>, ::safetensors::Dtype)> = Vec::new();
    for (name, (shape, v)) in &w {
        let v = if name.ends_with("attn_q.weight") {
            to_rotate_half(v, HEADS, D)
        } else if name.ends_with("attn_k.weight") {
            to_rotate_half(v, KV_HEADS, D)
        } else {
            v.clone()
        };
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        hf.push((
            hf_name(name),
            shape.clone(),
            bytes,
            ::safetensors::Dtype::F32,
        ));
    }
    let views: Vec<(String, ::safetensors::tensor::TensorView<'_>)> = hf
        .iter()
        .map(|(n, s, b, d)| {
            (
                n.clone(),
                ::safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // Two shards, to exercise the index.
    let (a, b) = views.split_at(views.len() / 2);
    std::fs::write(
        dir.path().join("model-1.safetensors"),
        ::safetensors::serialize(a.to_vec(), None).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("model-2.safetensors"),
        ::safetensors::serialize(b.to_vec(), None).unwrap(),
    )
    .unwrap();
    let config = format!(
        r#"{{"model_type": "llama", "vocab_size": {VOCAB}, "hidden_size": {D}, "intermediate_size": {HIDDEN},
            "num_hidden_layers": {LAYERS}, "num_attention_heads": {HEADS}, "num_key_value_heads": {KV_HEADS},
            "max_position_embeddings": 64, "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
            "tie_word_embeddings": false, "torch_dtype": "float32"}}"#
    );
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let from_hf = Llama::from_safetensors(dir.path(), None, &dev).unwrap();
    let x = tokens(&[&[1, 2, 3, 4, 5, 6]], &dev);
    let d = max_abs_diff(
        from_gguf.forward(x.clone(), &[0], None),
        from_hf.forward(x.clone(), &[0], None),
    );
    assert!(d < 1e-5, "{d}");
    // Without the permutation the logits would differ: loading the HF Q/K as GGUF changes them.
    let mut wrong = w.clone();
    for (name, (_, v)) in wrong.iter_mut() {
        if name.ends_with("attn_q.weight") {
            *v = to_rotate_half(v, HEADS, D);
        }
    }
    let scrambled = Llama::from_gguf(&gguf_of(&wrong), None, &dev).unwrap();
    let d = max_abs_diff(
        from_gguf.forward(x.clone(), &[0], None),
        scrambled.forward(x, &[0], None),
    );
    assert!(d > 1e-3, "the permutation should matter: {d}");
}

#[test]
fn lora_with_zero_b_leaves_logits_unchanged_and_only_factors_are_trainable() {
    let dev = Device::flex();
    let base = Llama::from_gguf(&gguf_of(&random_weights(6, true)), None, &dev).unwrap();
    let x = tokens(&[&[1, 2, 3]], &dev);
    let before = base.forward(x.clone(), &[0], None);
    let cfg = LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    };
    let lora = base.with_lora(&cfg).unwrap();
    assert!(max_abs_diff(before, lora.forward(x, &[0], None)) < 1e-6);
    let params = lora.to_param_set().unwrap();
    let names: Vec<&str> = params.names().collect();
    // 2 layers × 7 projections × (A, B); no embedding, norm or base weight.
    assert_eq!(names.len(), LAYERS * 7 * 2, "{names:?}");
    assert!(names.iter().all(|n| n.contains(".lora.")), "{names:?}");
    assert!(
        names.contains(&"blocks.0.attn.wq.weight.lora.a"),
        "{names:?}"
    );
    let a = params.get("blocks.1.mlp.down.weight.lora.a").unwrap();
    assert_eq!(a.shape(), [HIDDEN, 2]);
    assert!(a.data().iter().any(|&v| v != 0.0));
    assert!(
        params
            .get("blocks.1.mlp.down.weight.lora.b")
            .unwrap()
            .data()
            .iter()
            .all(|&v| v == 0.0)
    );
    // Seeded: the same config gives the same A.
    let again = Llama::from_gguf(&gguf_of(&random_weights(6, true)), None, &dev)
        .unwrap()
        .with_lora(&cfg)
        .unwrap();
    assert_eq!(again.to_param_set().unwrap(), params);
    assert!(lora.clone().with_lora(&cfg).is_err(), "adapters twice");
}

#[test]
fn merged_and_unmerged_forward_agree() {
    let dev = Device::flex();
    let cfg = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: vec![LoraTarget::Q, LoraTarget::Up],
        seed: 1,
    };
    let lora = Llama::from_gguf(&gguf_of(&random_weights(7, true)), None, &dev)
        .unwrap()
        .with_lora(&cfg)
        .unwrap();
    // Give B non-zero values so the adapters matter.
    let mut params = lora.to_param_set().unwrap();
    assert_eq!(params.len(), LAYERS * 2 * 2);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (_, t) in params.iter_mut() {
        for v in t.data_mut() {
            *v = rng.random_range(-0.5..0.5);
        }
    }
    let lora = lora.load_param_set(&params).unwrap();
    let x = tokens(&[&[1, 2, 3, 4]], &dev);
    let unmerged = lora.forward(x.clone(), &[0], None);
    let merged = lora.merged();
    assert!(merged.lora().is_none());
    let d = max_abs_diff(unmerged.clone(), merged.forward(x.clone(), &[0], None));
    assert!(d < 1e-5, "{d}");
    // And the adapters did change the output.
    let base = Llama::from_gguf(&gguf_of(&random_weights(7, true)), None, &dev).unwrap();
    assert!(max_abs_diff(unmerged, base.forward(x, &[0], None)) > 1e-3);
}

#[test]
fn an_optimiser_step_changes_only_adapter_factors() {
    let dev = Device::flex().autodiff();
    let cfg = LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    };
    let model = Llama::from_gguf(&gguf_of(&random_weights(8, true)), None, &dev)
        .unwrap()
        .with_lora(&cfg)
        .unwrap();
    let all = |m: &Llama| crate::model::to_param_set(m, &|_| true).unwrap();
    let base_before = model.blocks[0].attn.wq.weight.base().into_data();
    let embed_before = model.embed.weight.val().into_data();
    let lora_before = model.to_param_set().unwrap();
    let n_all = all(&model).len();
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let mut model = model;
    // Two steps: B starts at zero, so A's gradient is zero until B has moved once.
    for _ in 0..2 {
        let x = tokens(&[&[1, 2, 3, 4]], &dev);
        let loss = model.forward(x, &[0], None).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(
            grads.len(),
            LAYERS * 7 * 2,
            "gradients only for the factors"
        );
        model = optim.step(1e-2, model, grads);
    }
    assert_eq!(
        model.blocks[0].attn.wq.weight.base().into_data(),
        base_before
    );
    assert_eq!(model.embed.weight.val().into_data(), embed_before);
    let lora_after = model.to_param_set().unwrap();
    for (name, t) in lora_after.iter() {
        let old = lora_before.get(name).unwrap();
        assert_ne!(t.data(), old.data(), "{name} did not move");
    }
    assert_eq!(all(&model).len(), n_all);
}

/// The PEFT export (see `peft.rs`): PEFT's names and shapes, the adapter config, and —
/// checked against Burn's own LoRA merge — `(α/r)·lora_B·lora_A` equals the merged weight
/// change in Hugging Face's layout (`[out, in]`, `rotate_half` rows for q/k).
#[test]
fn peft_export_matches_the_merged_weights_in_hugging_face_layout() {
    let dev = Device::flex();
    let cfg = LoraConfig {
        rank: 2,
        alpha: 3.0,
        ..LoraConfig::default()
    };
    let base = Llama::from_gguf(&gguf_of(&random_weights(11, true)), None, &dev).unwrap();
    let lora = base.clone().with_lora(&cfg).unwrap();
    let mut params = lora.to_param_set().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (_, t) in params.iter_mut() {
        for v in t.data_mut() {
            *v = rng.random_range(-0.5..0.5);
        }
    }
    let lora = lora.load_param_set(&params).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = lora
        .save_peft_adapter(dir.path(), Some("HuggingFaceTB/SmolLM2-135M-Instruct"))
        .unwrap();
    assert_eq!(files.len(), 2);

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(PEFT_CONFIG_FILE)).unwrap())
            .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "CAUSAL_LM");
    assert_eq!(config["r"], 2);
    assert_eq!(config["lora_alpha"], 3);
    assert_eq!(
        config["target_modules"],
        serde_json::json!([
            "down_proj",
            "gate_proj",
            "k_proj",
            "o_proj",
            "q_proj",
            "up_proj",
            "v_proj"
        ])
    );
    assert_eq!(
        config["base_model_name_or_path"],
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    );

    let bytes = std::fs::read(dir.path().join(PEFT_WEIGHTS_FILE)).unwrap();
    let file = ::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.len(), LAYERS * 7 * 2);
    let read = |name: &str| -> (Vec<usize>, Vec<f32>) {
        let t = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), ::safetensors::Dtype::F32);
        let data = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (t.shape().to_vec(), data)
    };

    let dense = |m: &Llama| crate::model::to_param_set(m, &|_| true).unwrap();
    let (before, after) = (dense(&base), dense(&lora.merged()));
    let scale = 3.0 / 2.0;
    for layer in 0..LAYERS {
        for target in LoraTarget::ALL {
            let peft = format!(
                "base_model.model.model.layers.{layer}.{}",
                target.hf_module_path()
            );
            let (a_shape, a) = read(&format!("{peft}.lora_A.weight"));
            let (b_shape, b) = read(&format!("{peft}.lora_B.weight"));
            let ours = format!("blocks.{layer}.{}.weight", target.module_path());
            let w0 = before.get(&ours).unwrap();
            let (d_in, d_out) = (w0.shape()[0], w0.shape()[1]);
            assert_eq!(a_shape, [2, d_in], "{peft}");
            assert_eq!(b_shape, [d_out, 2], "{peft}");
            // ΔW from Burn's merge, [d_in, d_out] → Hugging Face [d_out, d_in] (+ rows).
            let delta: Vec<f32> = after
                .get(&ours)
                .unwrap()
                .data()
                .iter()
                .zip(w0.data())
                .map(|(x, y)| x - y)
                .collect();
            let mut hf = super::layout::transpose(&delta, d_in, d_out);
            let heads = match target {
                LoraTarget::Q => Some(HEADS),
                LoraTarget::K => Some(KV_HEADS),
                _ => None,
            };
            if let Some(h) = heads {
                hf = to_rotate_half(&hf, h, d_in);
            }
            for o in 0..d_out {
                for i in 0..d_in {
                    let peft_delta: f32 =
                        scale * (0..2).map(|r| b[o * 2 + r] * a[r * d_in + i]).sum::<f32>();
                    let want = hf[o * d_in + i];
                    assert!(
                        (peft_delta - want).abs() < 1e-5,
                        "{peft}[{o}, {i}]: {peft_delta} vs {want}"
                    );
                }
            }
        }
    }
    // A model without adapters has nothing to export.
    assert!(base.save_peft_adapter(dir.path(), None).is_err());
}
