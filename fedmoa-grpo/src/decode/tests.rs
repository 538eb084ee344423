//! [`DecodeModel`] against the policy's own forward, and sampling through it.

use burn::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::decode::packed_matrix::PackedFormat;
use crate::decode::packed_matrix::tests::block_values;
use crate::model::{LlamaConfig, LoraConfig, LoraTarget, load_param_set, to_param_set};
use crate::sampling::{Sampler, SamplingConfig};
use crate::{Llama, Policy};

fn config(tie_embeddings: bool) -> LlamaConfig {
    LlamaConfig {
        vocab_size: 24,
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 4,
        d_hidden: 20,
        max_seq_len: 40,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings,
    }
}

/// A tiny Llama with weights of order one and non-zero LoRA factors on three projections.
fn tiny_llama(tie_embeddings: bool, seed: u64) -> Llama {
    let dev = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut randomise = |model: Llama, scale: f32| {
        let mut params = model.to_param_set().unwrap();
        for (_, t) in params.iter_mut() {
            for v in t.data_mut() {
                *v = scale * rng.random_range(-1.0..1.0);
            }
        }
        model.load_param_set(&params).unwrap()
    };
    let base = randomise(
        Llama::init(&config(tie_embeddings), seed, &dev).unwrap(),
        0.5,
    );
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Down],
        seed,
    };
    randomise(base.with_lora(&lora).unwrap(), 0.3)
}

/// A tiny Llama (every input width a multiple of 32) whose projections hold `Q4_1` block
/// values and whose embedding holds `Q8_0` ones, as a model read from a quantised GGUF
/// file does, with non-zero LoRA factors on three projections.
fn block_valued_llama(tie_embeddings: bool, seed: u64) -> Llama {
    let dev = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let config = LlamaConfig {
        d_model: 32,
        head_dim: 8,
        d_hidden: 64,
        ..config(tie_embeddings)
    };
    let model = Llama::init(&config, seed, &dev).unwrap();
    let mut params = to_param_set(&model, &|_| true).unwrap();
    for (name, t) in params.iter_mut() {
        let &[rows, cols] = t.shape() else { continue };
        if name == "embed.weight" {
            block_values(PackedFormat::Q8_0, t.data_mut(), &mut rng);
        } else {
            // A `Linear` weight is `[in, out]`; its blocks run along `in`.
            let mut out_in = vec![0.0; rows * cols];
            block_values(PackedFormat::Q4_1, &mut out_in, &mut rng);
            for (o, row) in out_in.chunks_exact(rows).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    t.data_mut()[i * cols + o] = v;
                }
            }
        }
    }
    let base = load_param_set(model, &params, &|_| true).unwrap();
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        targets: vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Down],
        seed,
    };
    let mut adapted = base.with_lora(&lora).unwrap();
    let mut params = adapted.to_param_set().unwrap();
    for (_, t) in params.iter_mut() {
        for v in t.data_mut() {
            *v = 0.3 * rng.random_range(-1.0..1.0);
        }
    }
    adapted = adapted.load_param_set(&params).unwrap();
    adapted
}

/// Both kinds of tiny Llama: `f32` weights (a dense decode model) and block values (a
/// packed one).
fn both_llamas(tie_embeddings: bool, seed: u64) -> [Llama; 2] {
    [
        tiny_llama(tie_embeddings, seed),
        block_valued_llama(tie_embeddings, seed),
    ]
}

#[test]
fn block_valued_weights_are_packed_and_others_stay_dense() {
    for tied in [true, false] {
        let [dense, blocks] = both_llamas(tied, 7);
        let dense_model = dense.decode_model().unwrap();
        assert_eq!(
            dense_model.weight_bytes(),
            dense.dense_decode_model().weight_bytes()
        );
        assert!(!dense_model.steps_on_host());
        assert!(blocks.decode_model().unwrap().steps_on_host());
        let packed = blocks.decode_model().unwrap().weight_bytes();
        let unpacked = blocks.dense_decode_model().weight_bytes();
        // 40 bytes per 32 `Q4_1` values and 36 per 32 `Q8_0` ones, against 128, plus the
        // adapters' factors.
        assert!(2 * packed < unpacked, "tied {tied}: {packed} of {unpacked}");
    }
}

#[test]
fn a_wide_prefill_of_a_packed_model_takes_the_f32_weights_and_matches_the_policy() {
    // 2 rows × 20 tokens = 40 rows: more than a packed projection multiplies on the host.
    let dev = Device::flex();
    let policy = block_valued_llama(false, 9);
    let fast = policy.decode_model().unwrap();
    let plain = policy.inference_copy();
    let row = |first: i64| (first..first + 20).map(|t| t % 24).collect::<Vec<_>>();
    let prompt = ids(&[&row(1), &row(6)], &dev);
    let (mut c_fast, mut c_plain) = (fast.new_cache(), Decode::new_cache(&plain));
    let a = fast.last_logits(prompt.clone(), &[0, 0], &mut c_fast);
    let b = plain.last_logits(prompt, &[0, 0], &mut c_plain);
    let scale = b.clone().abs().max().into_scalar::<f32>();
    assert!(max_abs_diff(a, b) < 1e-4 * scale.max(1.0));
    let next = ids(&[&[3], &[4]], &dev);
    let a = fast.last_logits(next.clone(), &[], &mut c_fast);
    let b = plain.last_logits(next, &[], &mut c_plain);
    assert!(max_abs_diff(a, b) < 1e-4 * scale.max(1.0));
}

fn ids(rows: &[&[i64]], dev: &Device) -> Tensor<2, Int> {
    let t = rows[0].len();
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), t]), dev)
}

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn decode_model_logits_match_the_policy_through_prefill_repeat_and_steps() {
    let dev = Device::flex();
    for (tied, policy) in [true, false]
        .into_iter()
        .flat_map(|tied| both_llamas(tied, 3).map(|p| (tied, p)))
    {
        let fast = policy.decode_model().unwrap();
        let plain = policy.inference_copy();
        // Row 1 is left-padded by two tokens (pad id 0).
        let prompt = ids(&[&[3, 4, 5, 6, 7], &[0, 0, 9, 10, 11]], &dev);
        let pads = [0, 2];
        let (mut c_fast, mut c_plain) = (fast.new_cache(), Decode::new_cache(&plain));
        let a = fast.last_logits(prompt.clone(), &pads, &mut c_fast);
        let b = plain.last_logits(prompt, &pads, &mut c_plain);
        let scale = b.clone().abs().max().into_scalar::<f32>();
        assert!(scale > 0.3, "logits too small to test: {scale}");
        assert!(max_abs_diff(a, b) < 1e-4 * scale.max(1.0));
        // Three completions per prompt, then single-column steps.
        c_fast.repeat_rows(3);
        c_plain.repeat_rows(3);
        for step in 0..4 {
            let next: Vec<i64> = (0..6).map(|r| (r * 5 + step * 3 + 1) % 24).collect();
            let next = Tensor::<2, Int>::from_data(TensorData::new(next, [6, 1]), &dev);
            let a = fast.last_logits(next.clone(), &[], &mut c_fast);
            let b = plain.last_logits(next, &[], &mut c_plain);
            let d = max_abs_diff(a, b);
            assert!(d < 1e-4 * scale.max(1.0), "tied {tied}, step {step}: {d}");
        }
        assert_eq!(c_fast.len(), 9);
        assert_eq!(c_fast.left_pad(), [0, 0, 0, 2, 2, 2]);
    }
}

#[test]
fn a_multi_column_continuation_matches_the_policy() {
    // Several new columns after the prefill take the masked, causal path.
    let dev = Device::flex();
    for policy in both_llamas(true, 5) {
        let fast = policy.decode_model().unwrap();
        let plain = policy.inference_copy();
        let (mut c_fast, mut c_plain) = (fast.new_cache(), Decode::new_cache(&plain));
        let prompt = ids(&[&[0, 2, 3], &[4, 5, 6]], &dev);
        let _ = fast.last_logits(prompt.clone(), &[1, 0], &mut c_fast);
        let _ = plain.last_logits(prompt, &[1, 0], &mut c_plain);
        let more = ids(&[&[7, 8, 9], &[10, 11, 12]], &dev);
        let a = fast.last_logits(more.clone(), &[], &mut c_fast);
        let b = plain.last_logits(more, &[], &mut c_plain);
        assert!(max_abs_diff(a, b) < 1e-4);
    }
}

#[test]
fn host_steps_hand_their_keys_back_to_a_multi_column_continuation() {
    // Single-column steps of a packed model run on the host with the keys and values
    // there; a later multi-column call takes them back to the device.
    let dev = Device::flex();
    let policy = block_valued_llama(false, 17);
    let fast = policy.decode_model().unwrap();
    assert!(fast.steps_on_host());
    let plain = policy.inference_copy();
    let (mut c_fast, mut c_plain) = (fast.new_cache(), Decode::new_cache(&plain));
    let prompt = ids(&[&[0, 0, 3], &[4, 5, 6]], &dev);
    let _ = fast.last_logits(prompt.clone(), &[2, 0], &mut c_fast);
    let _ = plain.last_logits(prompt, &[2, 0], &mut c_plain);
    for (step, next) in [[[7], [8]], [[9], [10]], [[11], [12]]].iter().enumerate() {
        let next = ids(&[&next[0], &next[1]], &dev);
        let a = fast.last_logits(next.clone(), &[], &mut c_fast);
        let b = plain.last_logits(next, &[], &mut c_plain);
        let d = max_abs_diff(a, b);
        assert!(d < 1e-4, "host step {step}: {d}");
    }
    let more = ids(&[&[13, 14], &[15, 16]], &dev);
    let a = fast.last_logits(more.clone(), &[], &mut c_fast);
    let b = plain.last_logits(more, &[], &mut c_plain);
    assert!(max_abs_diff(a, b) < 1e-4);
    // And the device keys feed the next host step.
    let next = ids(&[&[17], &[18]], &dev);
    let a = fast.last_logits(next.clone(), &[], &mut c_fast);
    let b = plain.last_logits(next, &[], &mut c_plain);
    assert!(max_abs_diff(a, b) < 1e-4);
    assert_eq!(c_fast.len(), 9);
}

#[test]
fn sampling_through_the_decode_model_gives_the_policys_tokens() {
    let dev = Device::flex();
    for policy in both_llamas(false, 11) {
        sample_alike(&policy, &dev);
    }
}

fn sample_alike(policy: &Llama, dev: &Device) {
    let fast = policy.decode_model().unwrap();
    let plain = policy.inference_copy();
    let prompts = vec![vec![3, 4, 5, 6], vec![7, 8], vec![9, 10, 11]];
    let config = SamplingConfig {
        temperature: 1.0,
        top_p: 0.95,
        top_k: 0,
        max_new_tokens: 12,
        num_generations: 3,
    };
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let a = Sampler::new(seed)
            .generate(&fast, &prompts, &config, 1, 0, dev)
            .unwrap();
        let b = Sampler::new(seed)
            .generate(&plain, &prompts, &config, 1, 0, dev)
            .unwrap();
        assert_eq!(a, b, "seed {seed}");
        distinct.extend(a.into_iter().map(|c| c.tokens));
    }
    assert!(
        distinct.len() > 20,
        "the draws should differ: {}",
        distinct.len()
    );
}

#[test]
fn the_next_decode_model_sees_changed_adapters_and_base_weights() {
    // The packed frozen weights are kept between decode models; what changed must not be.
    let dev = Device::flex();
    let mut policy = block_valued_llama(true, 13);
    let prompt = ids(&[&[3, 4, 5, 6], &[7, 8, 9, 10]], &dev);
    let logits = |decoder: &dyn Decode| {
        decoder.last_logits(prompt.clone(), &[0, 0], &mut decoder.new_cache())
    };
    let first = logits(&policy.decode_model().unwrap());
    // New adapter factors: the next decode model follows them.
    let mut params = policy.to_param_set().unwrap();
    for (_, t) in params.iter_mut() {
        for v in t.data_mut() {
            *v = -0.5 * *v + 0.05;
        }
    }
    policy = policy.load_param_set(&params).unwrap();
    let second = policy.decode_model().unwrap();
    assert!(max_abs_diff(first, logits(&second)) > 1e-2);
    assert!(max_abs_diff(logits(&second), logits(&policy.inference_copy())) < 1e-4);
    // New base weights (the adapters merged in): no longer block values, so dense, and
    // still the policy's function.
    let merged = policy.inference_copy();
    let dense = merged.decode_model().unwrap();
    assert!(dense.weight_bytes() > second.weight_bytes());
    assert!(max_abs_diff(logits(&dense), logits(&merged)) < 1e-4);
}

/// The decode model with a record of the rows of every call, and, unless `drops`, without
/// [`Decode::retain_rows`].
struct Recorded<'a> {
    model: &'a DecodeModel,
    drops: bool,
    rows: std::cell::RefCell<Vec<usize>>,
}

impl Decode for Recorded<'_> {
    fn max_seq_len(&self) -> usize {
        self.model.max_seq_len()
    }

    fn new_cache(&self) -> KvCache {
        self.model.new_cache()
    }

    fn last_logits(
        &self,
        tokens: Tensor<2, Int>,
        left_pad: &[usize],
        cache: &mut KvCache,
    ) -> Tensor<2> {
        self.rows.borrow_mut().push(tokens.dims()[0]);
        self.model.last_logits(tokens, left_pad, cache)
    }

    fn retain_rows(&self, cache: &mut KvCache, rows: &[usize]) -> Option<Vec<usize>> {
        if self.drops {
            self.model.retain_rows(cache, rows)
        } else {
            None
        }
    }
}

#[test]
fn dropping_finished_rows_draws_the_same_tokens() {
    let dev = Device::flex();
    let prompts = vec![vec![3, 4, 5, 6], vec![7, 8], vec![9, 10, 11]];
    let config = SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        top_k: 0,
        max_new_tokens: 20,
        num_generations: 4,
    };
    for tie in [false, true] {
        let policy = block_valued_llama(tie, 17);
        let fast = policy.decode_model().unwrap();
        assert!(fast.steps_on_host());
        let mut narrowed = 0;
        for seed in 0..6 {
            let sample = |drops: bool| {
                let recorded = Recorded {
                    model: &fast,
                    drops,
                    rows: Default::default(),
                };
                let out = Sampler::new(seed)
                    .generate(&recorded, &prompts, &config, 1, 0, &dev)
                    .unwrap();
                (out, recorded.rows.into_inner())
            };
            let (dropped, rows) = sample(true);
            let (kept, all_rows) = sample(false);
            assert_eq!(dropped, kept, "seed {seed}");
            assert!(all_rows.iter().skip(1).all(|&r| r == 12), "{all_rows:?}");
            // Never fewer than two rows once several were decoding.
            assert!(rows.iter().all(|&r| r >= 2), "{rows:?}");
            narrowed += usize::from(rows.iter().any(|&r| r < 12));
        }
        // Completions end early often enough that some draws ran narrower batches.
        assert!(narrowed >= 3, "{narrowed}");
    }
}

#[test]
fn a_lone_row_keeps_a_companion_and_kept_rows_keep_their_logits() {
    let dev = Device::flex();
    let policy = block_valued_llama(true, 17);
    let fast = policy.decode_model().unwrap();
    // Prefill three rows, then one step each, so that the cache is on the host.
    let start = |cache: &mut KvCache| {
        let prompts = Tensor::<2, Int>::from_data([[3, 4], [5, 6], [7, 8]], &dev);
        fast.last_logits(prompts, &[0, 0, 0], cache);
        let step = Tensor::<2, Int>::from_data([[9], [10], [11]], &dev);
        fast.last_logits(step, &[], cache);
    };
    let next = |ids: Vec<i64>| {
        let n = ids.len();
        Tensor::<2, Int>::from_data(TensorData::new(ids, [n, 1]), &dev)
    };
    let mut all = fast.new_cache();
    start(&mut all);
    assert_eq!(all.host_rows(), Some(3));
    let every = fast.last_logits(next(vec![12, 13, 14]), &[], &mut all);
    for (rows, kept) in [
        (vec![1], vec![0, 1]),
        (vec![0], vec![0, 1]),
        (vec![0, 2], vec![0, 2]),
    ] {
        let mut cache = fast.new_cache();
        start(&mut cache);
        assert_eq!(
            fast.retain_rows(&mut cache, &rows),
            Some(kept.clone()),
            "{rows:?}"
        );
        assert_eq!(cache.host_rows(), Some(kept.len()));
        let ids = kept.iter().map(|&r| [12, 13, 14][r]).collect();
        let logits = fast.last_logits(next(ids), &[], &mut cache);
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(kept.iter().map(|&r| r as i64).collect(), [kept.len()]),
            &dev,
        );
        assert_eq!(
            logits.into_data(),
            every.clone().select(0, index).into_data(),
            "{rows:?}: the kept rows' logits changed"
        );
    }
    // Nothing to drop: every row kept.
    let mut cache = fast.new_cache();
    start(&mut cache);
    assert_eq!(fast.retain_rows(&mut cache, &[0, 1, 2]), None);
    assert_eq!(
        fast.retain_rows(&mut cache, &[1, 0]),
        None,
        "not increasing"
    );
}
