//! Tests of [`super::grpo_loss`]: a case worked by hand, every loss type against an f64 scalar
//! reference with and without clipping and KL, micro-batching, errors, and a finite-difference
//! gradient check through a tiny differentiable model.

use burn::tensor::TensorData;

use super::*;
use crate::grpo::logprobs::token_logprobs;

const ALL_TYPES: [LossType; 4] = [
    LossType::Grpo,
    LossType::Bnpo,
    LossType::Dapo,
    LossType::DrGrpo,
];

fn settings(loss_type: LossType, beta: f64, epsilon_high: f64) -> LossSettings {
    LossSettings {
        loss_type,
        epsilon_low: 0.2,
        epsilon_high,
        beta,
        max_completion_length: 4,
    }
}

/// A batch in plain f64, row-major `[b, t]`.
#[derive(Clone)]
struct Case {
    b: usize,
    t: usize,
    lp: Vec<f64>,
    old: Vec<f64>,
    reference: Option<Vec<f64>>,
    mask: Vec<f64>,
    adv: Vec<f64>,
}

fn tensor2(values: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

impl Case {
    fn inputs(&self, totals: Option<BatchTotals>) -> LossInputs {
        let dev = Device::flex();
        let shape = [self.b, self.t];
        let adv: Vec<f32> = self.adv.iter().map(|&a| a as f32).collect();
        LossInputs {
            logprobs: tensor2(&self.lp, shape, &dev),
            old_logprobs: tensor2(&self.old, shape, &dev),
            ref_logprobs: self.reference.as_ref().map(|r| tensor2(r, shape, &dev)),
            mask: tensor2(&self.mask, shape, &dev),
            advantages: Tensor::from_data(TensorData::new(adv, [self.b]), &dev),
            batch_totals: totals,
        }
    }

    fn loss(&self, s: &LossSettings, totals: Option<BatchTotals>) -> (f64, LossStats) {
        let out = grpo_loss(self.inputs(totals), s).unwrap();
        let loss: f32 = out.loss.into_scalar();
        (f64::from(loss), out.stats)
    }

    /// Rows `range` as a case of their own.
    fn rows(&self, range: std::ops::Range<usize>) -> Case {
        let cut = |v: &[f64]| v[range.start * self.t..range.end * self.t].to_vec();
        Case {
            b: range.len(),
            t: self.t,
            lp: cut(&self.lp),
            old: cut(&self.old),
            reference: self.reference.as_ref().map(|r| cut(r)),
            mask: cut(&self.mask),
            adv: self.adv[range].to_vec(),
        }
    }
}

/// The loss written out token by token in f64, independently of Burn.
fn reference_loss(c: &Case, s: &LossSettings, totals: Option<(usize, f64)>) -> f64 {
    let mut seq_means = 0.0;
    let mut sum = 0.0;
    let mut n_tokens = 0.0;
    for i in 0..c.b {
        let (mut seq_sum, mut seq_tokens) = (0.0, 0.0);
        for t in 0..c.t {
            let k = i * c.t + t;
            let ratio = (c.lp[k] - c.old[k]).exp();
            let clipped = ratio.clamp(1.0 - s.epsilon_low, 1.0 + s.epsilon_high);
            let mut l = -(ratio * c.adv[i]).min(clipped * c.adv[i]);
            if s.beta > 0.0 {
                let d = c.reference.as_ref().expect("reference")[k] - c.lp[k];
                l += s.beta * (d.exp() - d - 1.0);
            }
            seq_sum += c.mask[k] * l;
            seq_tokens += c.mask[k];
        }
        seq_means += seq_sum / seq_tokens.max(1.0);
        sum += seq_sum;
        n_tokens += seq_tokens;
    }
    let (sequences, tokens) = totals.unwrap_or((c.b, f64::max(n_tokens, 1.0)));
    match s.loss_type {
        LossType::Grpo => seq_means / sequences as f64,
        LossType::Bnpo => sum / n_tokens.max(1.0),
        LossType::Dapo => sum / tokens,
        LossType::DrGrpo => sum / (sequences as f64 * s.max_completion_length as f64),
    }
}

/// The hand-worked batch: 2 groups × 3 completions, T = 2, log π_θ = −1 everywhere and
/// log π_old = −1 − ln ρ, so that the ratios are exactly these:
///   seq 0 (A = 1):    ρ = (1.5, 1.0)
///   seq 1 (A = 0):    ρ = (2.0, 0.5)
///   seq 2 (A = −1):   ρ = (0.5, 1.1)
///   seq 3 (A = 0.5):  ρ = (0.5, 3.0), second token masked
///   seq 4 (A = −0.5): ρ = (1.5, 0.9)
///   seq 5 (A = 0):    ρ = (1.0, 1.0), second token masked
/// Reference: log π_ref − log π_θ = ln 2 at (0,0), −ln 2 at (2,1), ln 2 at the masked (3,1),
/// 0 elsewhere.
fn hand_case() -> Case {
    let ratios = [1.5, 1.0, 2.0, 0.5, 0.5, 1.1, 0.5, 3.0, 1.5, 0.9, 1.0, 1.0];
    let ln2 = 2f64.ln();
    let mut reference = vec![-1.0; 12];
    reference[0] += ln2;
    reference[5] -= ln2;
    reference[7] += ln2;
    Case {
        b: 6,
        t: 2,
        lp: vec![-1.0; 12],
        old: ratios.iter().map(|r: &f64| -1.0 - r.ln()).collect(),
        reference: Some(reference),
        mask: vec![1., 1., 1., 1., 1., 1., 1., 0., 1., 1., 1., 0.],
        adv: vec![1.0, 0.0, -1.0, 0.5, -0.5, 0.0],
    }
}

fn assert_close(got: f64, expected: f64, what: &str) {
    assert!(
        (got - expected).abs() < 1e-5 * (1.0 + expected.abs()),
        "{what}: got {got}, expected {expected}"
    );
}

#[test]
fn hand_worked_case_in_every_loss_type() {
    // Per-token −min(ρA, clip(ρ, 0.8, 1.2)A):
    //   seq 0: −min(1.5, 1.2) = −1.2;  −min(1.0, 1.0) = −1.0
    //   seq 1: 0, 0 (A = 0)
    //   seq 2: −min(−0.5, −0.8) = 0.8;  −min(−1.1, −1.1) = 1.1
    //   seq 3: −min(0.25, 0.4) = −0.25; (masked)
    //   seq 4: −min(−0.75, −0.6) = 0.75; −min(−0.45, −0.45) = 0.45
    //   seq 5: 0; (masked)
    // Masked sum = −2.2 + 0 + 1.9 − 0.25 + 1.2 + 0 = 0.65 over 10 tokens.
    // grpo: sequence means (−1.1, 0, 0.95, −0.25, 0.6, 0) sum to 0.2; / 6 = 0.0333333.
    // bnpo = dapo = 0.65 / 10 = 0.065; dr_grpo = 0.65 / (6 · 4) = 0.0270833.
    let case = hand_case();
    let expected = [0.2 / 6.0, 0.065, 0.065, 0.65 / 24.0];
    for (loss_type, want) in ALL_TYPES.into_iter().zip(expected) {
        let (loss, stats) = case.loss(&settings(loss_type, 0.0, 0.2), None);
        assert_close(loss, want, &format!("{loss_type:?}"));
        assert_eq!(stats.kl, None);
    }
    // dapo with the whole generation batch holding 20 tokens: 0.65 / 20 = 0.0325.
    let totals = BatchTotals {
        sequences: 6,
        tokens: 20.0,
    };
    let (loss, _) = case.loss(&settings(LossType::Dapo, 0.0, 0.2), Some(totals));
    assert_close(loss, 0.0325, "dapo / 20");
    // ε_high = 0.28 only changes seq 0's first token: −min(1.5, 1.28) = −1.28, so the sum is
    // 0.57 and bnpo = 0.057.
    let (loss, _) = case.loss(&settings(LossType::Bnpo, 0.0, 0.28), None);
    assert_close(loss, 0.057, "bnpo, eps_high 0.28");
}

#[test]
fn hand_worked_case_with_kl() {
    // k3(d) = e^d − d − 1: k3(ln 2) = 2 − 0.693147 − 1 = 0.306853, k3(−ln 2) = 0.5 + 0.693147 − 1
    // = 0.193147, k3(0) = 0; the masked token does not count. Sum 0.5 exactly, mean KL 0.05.
    // β = 0.1: bnpo = (0.65 + 0.1 · 0.5) / 10 = 0.07.
    // grpo: seq 0 mean (−1.2 + 0.0306853 − 1.0) / 2, seq 2 mean (0.8 + 1.1 + 0.0193147) / 2, so
    //   the sum of means grows by 0.05 / 2 to 0.225; / 6 = 0.0375.
    // dr_grpo: 0.7 / 24 = 0.0291667.
    let case = hand_case();
    let expected = [0.0375, 0.07, 0.07, 0.7 / 24.0];
    for (loss_type, want) in ALL_TYPES.into_iter().zip(expected) {
        let (loss, stats) = case.loss(&settings(loss_type, 0.1, 0.2), None);
        assert_close(loss, want, &format!("{loss_type:?}"));
        assert_close(f64::from(stats.kl.unwrap()), 0.05, "kl");
    }
}

#[test]
fn hand_worked_statistics() {
    // Low-clipped (ρ < 0.8, A < 0): seq 2 token 0 only (seq 3's ρ = 0.5 has A > 0).
    // High-clipped (ρ > 1.2, A > 0): seq 0 token 0 only (seq 1 has A = 0, seq 4 A < 0).
    // Mean ρ over the 10 tokens: (1.5 + 1 + 2 + 0.5 + 0.5 + 1.1 + 0.5 + 1.5 + 0.9 + 1) / 10 = 1.05.
    let (_, stats) = hand_case().loss(&settings(LossType::Dapo, 0.0, 0.2), None);
    assert_eq!(stats.n_tokens, 10.0);
    assert_close(f64::from(stats.clip_low), 0.1, "clip_low");
    assert_close(f64::from(stats.clip_high), 0.1, "clip_high");
    assert_close(f64::from(stats.clip_region), 0.2, "clip_region");
    assert_close(f64::from(stats.ratio_mean), 1.05, "ratio_mean");
}

/// B = 6 (2 groups × 3), T = 3, with padding, GRPO-like advantages and log-ratios `log_ratios`.
fn reference_case(log_ratios: [f64; 18]) -> Case {
    let lp: Vec<f64> = (0..18).map(|k| -0.2 - 0.13 * k as f64).collect();
    let old = lp.iter().zip(log_ratios).map(|(l, r)| l - r).collect();
    let reference = lp
        .iter()
        .enumerate()
        .map(|(k, l)| l + 0.3 * ((k as f64) * 0.9).sin())
        .collect();
    Case {
        b: 6,
        t: 3,
        lp,
        old,
        reference: Some(reference),
        mask: vec![
            1., 1., 1., 1., 1., 0., 1., 1., 1., 1., 0., 0., 1., 1., 1., 1., 1., 0.,
        ],
        adv: vec![1.1547, -0.5773, -0.5773, 0.9992, -0.9992, 0.0],
    }
}

/// ln ρ well outside [ln 0.8, ln 1.2] on many tokens, for both advantage signs.
const CLIPPING_LOG_RATIOS: [f64; 18] = [
    0.5, -0.4, 0.05, -0.6, 0.3, 0.9, 0.45, -0.5, 0.0, -0.35, 0.4, 0.2, 0.6, -0.7, 0.1, 0.0, 0.5,
    -0.3,
];
/// ln ρ within (ln 0.85, ln 1.15): no clipping anywhere.
const INSIDE_LOG_RATIOS: [f64; 18] = [
    0.1, -0.1, 0.05, -0.12, 0.0, 0.13, 0.08, -0.05, 0.0, -0.15, 0.11, 0.02, 0.06, -0.07, 0.1, 0.0,
    0.12, -0.03,
];

#[test]
fn every_loss_type_matches_the_reference_with_and_without_clipping() {
    for (log_ratios, clipping) in [(CLIPPING_LOG_RATIOS, true), (INSIDE_LOG_RATIOS, false)] {
        let case = reference_case(log_ratios);
        for loss_type in ALL_TYPES {
            for beta in [0.0, 0.04] {
                for eps_high in [0.2, 0.28] {
                    let s = settings(loss_type, beta, eps_high);
                    let (loss, stats) = case.loss(&s, None);
                    let want = reference_loss(&case, &s, None);
                    assert_close(loss, want, &format!("{loss_type:?} β={beta} εh={eps_high}"));
                    assert_eq!(stats.clip_low > 0.0, clipping);
                    assert_eq!(stats.clip_high > 0.0, clipping);
                }
            }
        }
    }
}

#[test]
fn micro_batch_losses_add_up_to_the_full_batch_loss() {
    let case = reference_case(CLIPPING_LOG_RATIOS);
    let tokens: f64 = case.mask.iter().sum();
    let totals = BatchTotals {
        sequences: 6,
        tokens,
    };
    for loss_type in [LossType::Grpo, LossType::Dapo, LossType::DrGrpo] {
        let s = settings(loss_type, 0.04, 0.28);
        let (full, _) = case.loss(&s, None);
        let (first, _) = case.rows(0..2).loss(&s, Some(totals));
        let (second, _) = case.rows(2..6).loss(&s, Some(totals));
        assert_close(first + second, full, &format!("{loss_type:?}"));
        let want = reference_loss(&case.rows(0..2), &s, Some((6, tokens)));
        assert_close(first, want, &format!("{loss_type:?} micro-batch"));
    }
}

#[test]
fn fully_masked_sequence_counts_as_zero_in_grpo() {
    // Mask out sequence 0 entirely: its mean is 0 / max(0, 1) = 0, and it still counts in the
    // division by B.
    let mut case = reference_case(INSIDE_LOG_RATIOS);
    case.mask[0..3].copy_from_slice(&[0.0; 3]);
    let s = settings(LossType::Grpo, 0.04, 0.2);
    assert_close(
        case.loss(&s, None).0,
        reference_loss(&case, &s, None),
        "grpo",
    );
}

#[test]
fn bad_inputs_are_rejected() {
    let case = hand_case();
    let s = settings(LossType::Dapo, 0.1, 0.2);
    let mut inputs = case.inputs(None);
    inputs.ref_logprobs = None;
    assert!(matches!(
        grpo_loss(inputs.clone(), &s),
        Err(GrpoInputError::Missing(_))
    ));
    // Without β the reference is not needed.
    grpo_loss(inputs, &s.without_kl()).unwrap();

    let mut inputs = case.inputs(None);
    inputs.mask = Tensor::zeros([6, 3], &Device::flex());
    assert!(matches!(
        grpo_loss(inputs, &s),
        Err(GrpoInputError::Shape { what: "mask", .. })
    ));
    let mut inputs = case.inputs(None);
    inputs.advantages = Tensor::zeros([5], &Device::flex());
    assert!(matches!(
        grpo_loss(inputs, &s),
        Err(GrpoInputError::Shape {
            what: "advantages",
            ..
        })
    ));
    let totals = BatchTotals {
        sequences: 6,
        tokens: 0.0,
    };
    assert!(matches!(
        grpo_loss(case.inputs(Some(totals)), &s),
        Err(GrpoInputError::OutOfRange {
            what: "batch_totals.tokens",
            ..
        })
    ));
}

#[test]
fn settings_come_from_the_config() {
    let config = GrpoConfig {
        epsilon: 0.1,
        epsilon_high: Some(0.3),
        beta: 0.02,
        loss_type: LossType::DrGrpo,
        max_completion_length: 64,
        ..GrpoConfig::default()
    };
    let s = LossSettings::from(&config);
    assert_eq!(
        s,
        LossSettings {
            loss_type: LossType::DrGrpo,
            epsilon_low: 0.1,
            epsilon_high: 0.3,
            beta: 0.02,
            max_completion_length: 64
        }
    );
    assert_eq!(s.without_kl().beta, 0.0);
}

// ---- finite-difference gradient check -------------------------------------------------------

const B: usize = 6;
const T: usize = 3;
const DIM: usize = 4;
const VOCAB: usize = 5;

/// Fixed inputs x `[B·T, DIM]` and initial weights W `[DIM, VOCAB]` of the toy policy
/// logits = x · W.
fn toy_x() -> Vec<f64> {
    (0..B * T * DIM).map(|i| (i as f64 * 0.7).sin()).collect()
}
fn toy_w() -> Vec<f64> {
    (0..DIM * VOCAB)
        .map(|i| 0.5 * (i as f64 * 1.3).cos())
        .collect()
}
fn toy_target(row: usize) -> usize {
    (row * 3 + 1) % VOCAB
}

/// log-softmax(x · W)[target] for every row, in f64.
fn toy_logprobs(x: &[f64], w: &[f64]) -> Vec<f64> {
    (0..B * T)
        .map(|row| {
            let logits: Vec<f64> = (0..VOCAB)
                .map(|v| (0..DIM).map(|d| x[row * DIM + d] * w[d * VOCAB + v]).sum())
                .collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            logits[toy_target(row)] - lse
        })
        .collect()
}

#[test]
fn gradient_matches_central_differences() {
    let x = toy_x();
    let w0 = toy_w();
    let lp0 = toy_logprobs(&x, &w0);
    // Old and reference log-probs are constants: lp(W0) shifted so that the ratios at W0 sit
    // well away from the clip boundaries 0.8 and 1.2 / 1.28 (kinks), for both signs of A.
    // Round them to f32 first so that Burn and the f64 reference see the same numbers.
    let round = |v: f64| f64::from(v as f32);
    let base = reference_case(CLIPPING_LOG_RATIOS);
    let old: Vec<f64> = (0..B * T)
        .map(|k| round(lp0[k] - CLIPPING_LOG_RATIOS[k]))
        .collect();
    let reference: Vec<f64> = (0..B * T)
        .map(|k| round(lp0[k] + 0.3 * (k as f64).cos()))
        .collect();
    let x_f32: Vec<f64> = x.iter().map(|&v| round(v)).collect();
    let w_f32: Vec<f64> = w0.iter().map(|&v| round(v)).collect();
    let case_at = |w: &[f64]| Case {
        lp: toy_logprobs(&x_f32, w),
        old: old.clone(),
        reference: Some(reference.clone()),
        ..base.clone()
    };

    for loss_type in ALL_TYPES {
        let s = settings(loss_type, 0.04, 0.28);
        // Burn: forward through the tracked parameter W and backward.
        let dev = Device::flex().autodiff();
        let w = tensor2(&w_f32, [DIM, VOCAB], &dev).require_grad();
        let logits = tensor2(&x_f32, [B * T, DIM], &dev)
            .matmul(w.clone())
            .reshape([B, T, VOCAB]);
        let targets: Vec<i64> = (0..B * T).map(|r| toy_target(r) as i64).collect();
        let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [B, T]), &dev);
        let case = case_at(&w_f32);
        let mut inputs = case.inputs(None);
        inputs.logprobs = token_logprobs(logits, targets).unwrap();
        let out = grpo_loss(inputs, &s).unwrap();
        assert!(out.stats.clip_low > 0.0 && out.stats.clip_high > 0.0);
        let loss: f32 = out.loss.clone().into_scalar();
        assert_close(
            f64::from(loss),
            reference_loss(&case, &s, None),
            "loss at W0",
        );
        let grads = out.loss.backward();
        let grad: Vec<f32> = w.grad(&grads).unwrap().into_data().try_to_vec().unwrap();

        // Central differences of the f64 reference, h = 1e-5.
        let h = 1e-5;
        let mut largest = 0.0f64;
        for i in 0..DIM * VOCAB {
            let mut plus = w_f32.clone();
            plus[i] += h;
            let mut minus = w_f32.clone();
            minus[i] -= h;
            let fd = (reference_loss(&case_at(&plus), &s, None)
                - reference_loss(&case_at(&minus), &s, None))
                / (2.0 * h);
            largest = largest.max(fd.abs());
            let got = f64::from(grad[i]);
            assert!(
                (got - fd).abs() < 2e-5 + 1e-3 * fd.abs(),
                "{loss_type:?} ∂L/∂W[{i}]: backward {got}, finite difference {fd}"
            );
        }
        assert!(largest > 1e-2, "{loss_type:?}: gradient too small to test");
    }
}
