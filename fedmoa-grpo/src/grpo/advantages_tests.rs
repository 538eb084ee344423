//! Tests of [`super::compute_advantages`]: a 2 groups × 3 completions, 2 objectives batch worked
//! by hand in every mode, unscored completions, errors, and the invariants.

use proptest::prelude::*;

use super::*;

const NAN: f32 = f32::NAN;

/// Objective 0 (max 3): group 0 = (3, 0, 0), group 1 = (3, 3, 3) (saturated).
/// Objective 1 (max 1): group 0 = (1, 1, 1) (saturated), group 1 = (1, 0, 0.5).
fn rewards() -> Vec<Vec<f32>> {
    vec![
        vec![3.0, 0.0, 0.0, 3.0, 3.0, 3.0],
        vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.5],
    ]
}
const WEIGHTS: [f32; 2] = [0.75, 0.25];
const MAX: [f32; 2] = [3.0, 1.0];

fn run(mode: AdvantageMode, scale: ScaleRewards, normalize_after_sum: bool) -> Advantages {
    let settings = AdvantageSettings {
        mode,
        scale,
        normalize_after_sum,
    };
    compute_advantages(&rewards(), &WEIGHTS, &MAX, 3, settings).unwrap()
}

fn assert_close(got: &[f32], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (j, (&g, &e)) in got.iter().zip(expected).enumerate() {
        assert!(
            (f64::from(g) - e).abs() < 2e-6,
            "{what}[{j}]: got {g}, expected {e}"
        );
    }
}

fn check(adv: &Advantages, total: [f64; 6], c0: [f64; 6], c1: [f64; 6]) {
    assert_close(&adv.total, &total, "total");
    assert_close(&adv.per_objective[0], &c0, "per_objective[0]");
    assert_close(&adv.per_objective[1], &c1, "per_objective[1]");
}

// Weighted totals R = 0.75 r0 + 0.25 r1:
//   group 0: (2.25 + 0.25, 0 + 0.25, 0 + 0.25) = (2.5, 0.25, 0.25), mean 1
//   group 1: (2.25 + 0.25, 2.25 + 0, 2.25 + 0.125) = (2.5, 2.25, 2.375), mean 2.375

#[test]
fn sum_then_normalize_group_scale() {
    // group 0: R − mean = (1.5, −0.75, −0.75); var = (2.25 + 0.5625 + 0.5625) / 2 = 1.6875,
    //   std = 1.299038106, divisor 1.299138106 → A = (1.154611656, −0.577305828, −0.577305828).
    // group 1: R − mean = (0.125, −0.125, 0); var = 0.03125 / 2 = 0.015625, std 0.125,
    //   divisor 0.1251 → A = (0.999200639, −0.999200639, 0).
    // C_0: r0 − group mean over the same divisors: group 0 (2, −1, −1) / 1.299138106 =
    //   (1.539482208, −0.769741104, −0.769741104); group 1 constant → 0.
    // C_1: group 0 constant → 0; group 1 (0.5, −0.5, 0) / 0.1251 = ±3.996802558.
    let adv = run(AdvantageMode::SumThenNormalize, ScaleRewards::Group, true);
    check(
        &adv,
        [
            1.154611656,
            -0.577305828,
            -0.577305828,
            0.999200639,
            -0.999200639,
            0.0,
        ],
        [1.539482208, -0.769741104, -0.769741104, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 3.996802558, -3.996802558, 0.0],
    );
}

#[test]
fn sum_then_normalize_batch_scale() {
    // Batch std of R = (2.5, 0.25, 0.25, 2.5, 2.25, 2.375): mean 10.125 / 6 = 1.6875,
    //   squared deviations 0.66015625 + 2.06640625 · 2 + 0.66015625 + 0.31640625 + 0.47265625
    //   = 6.2421875; / 5 = 1.2484375; std 1.117334999, divisor 1.117434999.
    // Centring stays per group: A = (1.5, −0.75, −0.75, 0.125, −0.125, 0) / 1.117434999.
    let adv = run(AdvantageMode::SumThenNormalize, ScaleRewards::Batch, true);
    check(
        &adv,
        [
            1.342359959,
            -0.671179980,
            -0.671179980,
            0.111863330,
            -0.111863330,
            0.0,
        ],
        [1.789813279, -0.894906640, -0.894906640, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.447453320, -0.447453320, 0.0],
    );
}

#[test]
fn sum_then_normalize_unscaled() {
    // No division: A = R − group mean; C_k = r_k − group mean.
    let adv = run(
        AdvantageMode::SumThenNormalize,
        ScaleRewards::Unscaled,
        true,
    );
    check(
        &adv,
        [1.5, -0.75, -0.75, 0.125, -0.125, 0.0],
        [2.0, -1.0, -1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.5, -0.5, 0.0],
    );
}

// Decoupled, group scale, per objective:
//   r0 group 0 (3, 0, 0): mean 1, deviations (2, −1, −1), var 6 / 2 = 3, std 1.732050808,
//     divisor 1.732150808 → A_0 = (1.154633876, −0.577316938, −0.577316938); group 1 → 0.
//   r1 group 0 → 0; group 1 (1, 0, 0.5): mean 0.5, std 0.5, divisor 0.5001 → ±0.999800040, 0.
//   S = 0.75 A_0 + 0.25 A_1 = (0.865975407, −0.432987703, −0.432987703, 0.249950010,
//     −0.249950010, 0).
const DEC_GROUP_A0: [f64; 6] = [1.154633876, -0.577316938, -0.577316938, 0.0, 0.0, 0.0];
const DEC_GROUP_A1: [f64; 6] = [0.0, 0.0, 0.0, 0.999800040, -0.999800040, 0.0];

#[test]
fn decoupled_group_scale_without_batch_normalisation() {
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Group, false);
    check(
        &adv,
        [
            0.865975407,
            -0.432987703,
            -0.432987703,
            0.249950010,
            -0.249950010,
            0.0,
        ],
        DEC_GROUP_A0,
        DEC_GROUP_A1,
    );
}

#[test]
fn decoupled_group_scale_with_batch_normalisation() {
    // S has mean 0 (each A_k is centred per group); squared sum 0.865975407² + 2·0.432987703²
    //   + 2·0.249950010² = 1.249820130; / 5 = 0.249964026; std 0.499964023, divisor 0.500064023.
    // total = S / 0.500064023; C_k = A_k / 0.500064023 (A_k also has batch mean 0).
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Group, true);
    check(
        &adv,
        [
            1.731729072,
            -0.865864536,
            -0.865864536,
            0.499836018,
            -0.499836018,
            0.0,
        ],
        [2.308972096, -1.154486048, -1.154486048, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.999344071, -1.999344071, 0.0],
    );
}

#[test]
fn decoupled_batch_scale() {
    // r0 over the batch (3, 0, 0, 3, 3, 3): mean 2, squared deviations 1 + 4 + 4 + 1 + 1 + 1 = 12,
    //   var 2.4, std 1.549193338 → A_0 = (2, −1, −1, 0, 0, 0) / 1.549293338.
    // r1 over the batch (1, 1, 1, 1, 0, 0.5): mean 0.75, squared deviations 4·0.0625 + 0.5625
    //   + 0.0625 = 0.875, var 0.175, std 0.418330013 → A_1 = (0, 0, 0, 0.5, −0.5, 0) / 0.418430013.
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Batch, false);
    check(
        &adv,
        [
            0.968183341,
            -0.484091670,
            -0.484091670,
            0.298735741,
            -0.298735741,
            0.0,
        ],
        [1.290911121, -0.645455560, -0.645455560, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.194942963, -1.194942963, 0.0],
    );
    // Then the batch normalisation: std of the sum 0.562948409, divisor 0.563048409.
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Batch, true);
    check(
        &adv,
        [
            1.719538364,
            -0.859769182,
            -0.859769182,
            0.530568484,
            -0.530568484,
            0.0,
        ],
        [2.292717819, -1.146358910, -1.146358910, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 2.122273936, -2.122273936, 0.0],
    );
}

#[test]
fn decoupled_unscaled() {
    // A_0 = r0 − group mean = (2, −1, −1, 0, 0, 0); A_1 = (0, 0, 0, 0.5, −0.5, 0);
    // S = (1.5, −0.75, −0.75, 0.125, −0.125, 0), the same as sum-then-normalise unscaled.
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Unscaled, false);
    check(
        &adv,
        [1.5, -0.75, -0.75, 0.125, -0.125, 0.0],
        [2.0, -1.0, -1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.5, -0.5, 0.0],
    );
    // Batch normalisation: squared sum 2.25 + 2·0.5625 + 2·0.015625 = 3.40625, var 0.68125,
    //   std 0.825378701, divisor 0.825478701.
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Unscaled, true);
    check(
        &adv,
        [
            1.817127442,
            -0.908563721,
            -0.908563721,
            0.151427287,
            -0.151427287,
            0.0,
        ],
        [2.422836589, -1.211418294, -1.211418294, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.605709147, -0.605709147, 0.0],
    );
}

#[test]
fn statistics_of_the_hand_batch() {
    let adv = run(AdvantageMode::Decoupled, ScaleRewards::Group, true);
    let s = &adv.stats;
    assert_eq!(s.n_groups, 2);
    assert_eq!(s.n_unscored, 0);
    // r0: 12 / 6 = 2, var 2.4; r1: 4.5 / 6 = 0.75, var 0.175 (see decoupled_batch_scale).
    assert_close(&s.reward_mean, &[2.0, 0.75], "reward_mean");
    assert_close(
        &s.reward_std,
        &[2.4f64.sqrt(), 0.175f64.sqrt()],
        "reward_std",
    );
    // r0 is constant in group 1, r1 in group 0; R varies in both groups.
    assert_eq!(s.zero_std_fraction, vec![0.5, 0.5]);
    assert_eq!(s.total_zero_std_fraction, 0.0);
    // r0 reaches its max 3 everywhere in group 1, r1 its max 1 everywhere in group 0.
    assert_eq!(s.saturation, vec![0.5, 0.5]);
}

#[test]
fn unscored_completion_gets_zero_and_leaves_the_statistics() {
    // Completion 1 is unscored. Group 0 keeps r0 = (3, 0) over completions 0 and 2: mean 1.5,
    // var (2.25 + 2.25) / 1 = 4.5, std 2.121320344, divisor 2.121420344 → A_0 = ±0.707073...
    let mut r = rewards();
    r[0][1] = NAN;
    r[1][1] = NAN;
    let settings = AdvantageSettings {
        mode: AdvantageMode::Decoupled,
        scale: ScaleRewards::Group,
        normalize_after_sum: false,
    };
    let adv = compute_advantages(&r, &WEIGHTS, &MAX, 3, settings).unwrap();
    let a0 = 1.5 / (4.5f64.sqrt() + STD_EPSILON);
    check(
        &adv,
        [0.75 * a0, 0.0, -0.75 * a0, 0.249950010, -0.249950010, 0.0],
        [a0, 0.0, -a0, 0.0, 0.0, 0.0],
        DEC_GROUP_A1,
    );
    assert_eq!(adv.stats.n_unscored, 1);
    // r0 over the five scored values (3, 0, 3, 3, 3): mean 2.4.
    assert_close(&adv.stats.reward_mean, &[2.4, 3.5 / 5.0], "reward_mean");
}

#[test]
fn single_scored_completion_gives_zero_advantage_and_counts_as_zero_std() {
    // Group 0 has only completion 0 scored: its mean is itself, so its advantage is 0.
    let r = vec![vec![1.0, NAN, NAN, 1.0, 0.0, 0.0]];
    for mode in [AdvantageMode::SumThenNormalize, AdvantageMode::Decoupled] {
        let settings = AdvantageSettings {
            mode,
            scale: ScaleRewards::Group,
            normalize_after_sum: false,
        };
        let adv = compute_advantages(&r, &[1.0], &[1.0], 3, settings).unwrap();
        assert_eq!(&adv.total[..3], &[0.0, 0.0, 0.0]);
        assert!(adv.total[3] > 0.0);
        assert_eq!(adv.stats.zero_std_fraction, vec![0.5]);
        assert_eq!(adv.stats.total_zero_std_fraction, 0.5);
        assert_eq!(adv.stats.saturation, vec![0.5]);
    }
}

#[test]
fn partial_nan_counts_as_zero_in_the_sum() {
    // Completion 2 lacks objective 1: in sum mode it contributes 0.75·0 + 0.25·0 to R.
    let mut r = rewards();
    r[1][2] = NAN;
    let settings = AdvantageSettings {
        mode: AdvantageMode::SumThenNormalize,
        scale: ScaleRewards::Unscaled,
        normalize_after_sum: false,
    };
    let adv = compute_advantages(&r, &WEIGHTS, &MAX, 3, settings).unwrap();
    // R group 0 = (2.5, 0.25, 0), mean 2.75 / 3.
    let m = 2.75 / 3.0;
    assert_close(&adv.total[..3], &[2.5 - m, 0.25 - m, -m], "total");
    assert_eq!(adv.stats.n_unscored, 0);
}

#[test]
fn bad_inputs_are_rejected() {
    let s = AdvantageSettings {
        mode: AdvantageMode::Decoupled,
        scale: ScaleRewards::Group,
        normalize_after_sum: true,
    };
    let r = rewards();
    assert!(matches!(
        compute_advantages(&[], &[], &[], 3, s),
        Err(GrpoInputError::Missing(_))
    ));
    let ragged = vec![r[0].clone(), r[1][..5].to_vec()];
    assert!(matches!(
        compute_advantages(&ragged, &WEIGHTS, &MAX, 3, s),
        Err(GrpoInputError::Shape {
            what: "rewards row",
            ..
        })
    ));
    assert!(matches!(
        compute_advantages(&r, &[1.0], &MAX, 3, s),
        Err(GrpoInputError::Shape {
            what: "weights",
            ..
        })
    ));
    assert!(matches!(
        compute_advantages(&r, &WEIGHTS, &[1.0], 3, s),
        Err(GrpoInputError::Shape {
            what: "objective_max",
            ..
        })
    ));
    assert!(matches!(
        compute_advantages(&r, &WEIGHTS, &MAX, 4, s),
        Err(GrpoInputError::OutOfRange {
            what: "group_size",
            ..
        })
    ));
    assert!(matches!(
        compute_advantages(&r, &WEIGHTS, &MAX, 0, s),
        Err(GrpoInputError::OutOfRange {
            what: "group_size",
            ..
        })
    ));
    let mut inf = r.clone();
    inf[1][4] = f32::INFINITY;
    assert_eq!(
        compute_advantages(&inf, &WEIGHTS, &MAX, 3, s),
        Err(GrpoInputError::NonFinite {
            what: "rewards",
            index: 10,
            value: f64::INFINITY
        })
    );
    assert!(matches!(
        compute_advantages(&r, &[0.5, -0.5], &MAX, 3, s),
        Err(GrpoInputError::OutOfRange {
            what: "weights",
            ..
        })
    ));
    assert!(matches!(
        compute_advantages(&r, &[0.5, f32::NAN], &MAX, 3, s),
        Err(GrpoInputError::NonFinite {
            what: "weights",
            ..
        })
    ));
}

#[test]
fn empty_batch_gives_empty_output() {
    let s = AdvantageSettings {
        mode: AdvantageMode::Decoupled,
        scale: ScaleRewards::Batch,
        normalize_after_sum: true,
    };
    let adv = compute_advantages(&[vec![], vec![]], &WEIGHTS, &MAX, 3, s).unwrap();
    assert!(adv.total.is_empty());
    assert_eq!(adv.per_objective, vec![Vec::<f32>::new(), Vec::new()]);
    assert_eq!(adv.stats.zero_std_fraction, vec![0.0, 0.0]);
}

fn any_settings() -> impl Strategy<Value = AdvantageSettings> {
    (
        prop_oneof![
            Just(AdvantageMode::SumThenNormalize),
            Just(AdvantageMode::Decoupled)
        ],
        prop_oneof![
            Just(ScaleRewards::Group),
            Just(ScaleRewards::Batch),
            Just(ScaleRewards::Unscaled)
        ],
        any::<bool>(),
    )
        .prop_map(|(mode, scale, normalize_after_sum)| AdvantageSettings {
            mode,
            scale,
            normalize_after_sum,
        })
}

/// A reward in {0, 0.5, 1} or NaN (one in eight).
fn any_reward() -> impl Strategy<Value = f32> {
    prop_oneof![1 => Just(NAN), 7 => (0u8..3).prop_map(|x| f32::from(x) * 0.5)]
}

proptest! {
    #[test]
    fn components_add_up_to_the_total_and_groups_are_centred(
        settings in any_settings(),
        r in proptest::collection::vec(proptest::collection::vec(any_reward(), 12), 3),
        w in proptest::collection::vec(0.0f32..2.0, 3),
    ) {
        let adv = compute_advantages(&r, &w, &[1.0; 3], 4, settings).unwrap();
        for j in 0..12 {
            let sum: f64 = (0..3).map(|k| f64::from(w[k]) * f64::from(adv.per_objective[k][j])).sum();
            prop_assert!((sum - f64::from(adv.total[j])).abs() < 1e-3 * (1.0 + sum.abs()));
            if r.iter().all(|row| row[j].is_nan()) {
                prop_assert_eq!(adv.total[j], 0.0);
            }
        }
        let unnormalised = settings.mode == AdvantageMode::SumThenNormalize || !settings.normalize_after_sum;
        if unnormalised {
            // Without the batch step every group's advantages sum to zero.
            for g in 0..3 {
                let s: f32 = adv.total[4 * g..4 * g + 4].iter().sum();
                prop_assert!(s.abs() < 1e-3, "group {} sums to {}", g, s);
            }
        }
    }

    #[test]
    fn unscaled_modes_agree_when_every_reward_is_present(
        r in proptest::collection::vec(proptest::collection::vec((0u8..5).prop_map(f32::from), 9), 2),
        w in proptest::collection::vec(0.0f32..1.0, 2),
    ) {
        // Centring is linear, so Σ w_k (r_k − mean r_k) = R − mean R.
        let run = |mode| compute_advantages(&r, &w, &[4.0; 2], 3, AdvantageSettings {
            mode, scale: ScaleRewards::Unscaled, normalize_after_sum: false,
        }).unwrap();
        let a = run(AdvantageMode::SumThenNormalize);
        let b = run(AdvantageMode::Decoupled);
        for (x, y) in a.total.iter().zip(&b.total) {
            prop_assert!((x - y).abs() < 1e-5);
        }
        prop_assert_eq!(a.per_objective, b.per_objective);
    }
}

/// A group whose rewards are all equal gets exactly 0, even where `x − mean` would leave a
/// rounding residue (the f64 mean of seven 0.1s can differ from 0.1 in its last bit): an objective without signal has an
/// all-zero column, so the trainer can skip its gradient pass without changing the step.
#[test]
fn constant_groups_get_exactly_zero_advantage() {
    // Objective 1: group 0 constant (0.1 × 7), group 1 varied; objective 2: constant.
    let varied = [0.0f32, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let half: Vec<f32> = [0.1f32; 7].iter().chain(&varied).copied().collect();
    let both: Vec<f32> = varied.iter().chain(&varied).copied().collect();
    let constant = vec![0.1f32; 14];
    for mode in [AdvantageMode::Decoupled, AdvantageMode::SumThenNormalize] {
        for scale in [
            ScaleRewards::Group,
            ScaleRewards::Batch,
            ScaleRewards::Unscaled,
        ] {
            for normalize_after_sum in [false, true] {
                let settings = AdvantageSettings {
                    mode,
                    scale,
                    normalize_after_sum,
                };
                let adv = compute_advantages(
                    &[both.clone(), half.clone(), constant.clone()],
                    &[0.4, 0.3, 0.3],
                    &[1.0, 1.0, 1.0],
                    7,
                    settings,
                )
                .unwrap();
                let what = format!("{mode:?} {scale:?} {normalize_after_sum}");
                assert!(adv.per_objective[2].iter().all(|&a| a == 0.0), "{what}");
                assert!(
                    adv.per_objective[1][..7].iter().all(|&a| a == 0.0),
                    "{what}"
                );
                assert!(
                    adv.per_objective[1][7..].iter().any(|&a| a != 0.0),
                    "{what}"
                );
                assert!(adv.per_objective[0].iter().all(|&a| a != 0.0), "{what}");
            }
        }
    }
}
