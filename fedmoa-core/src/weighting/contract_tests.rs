//! The contract every weighter keeps, checked on each of them: weights on the floored
//! simplex, malformed signals rejected without effect, state that survives serialisation
//! and resumes bit-for-bit, independent clones.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::stream::GradientStream;
use super::{
    DotProduct, FixedConfig, GradientInfluenceConfig, HypergradientConfig, SaturationAwareConfig,
    UpdateRule, WeighterConfig,
};
use crate::{ObjectiveWeighter, StepSignals, WeighterError};

const N: usize = 3;

/// One configuration of each weighter in each mode, with non-default floors and weights.
fn all_configs() -> Vec<WeighterConfig> {
    let mut configs = vec![
        WeighterConfig::Fixed(FixedConfig::default()),
        WeighterConfig::Fixed(FixedConfig {
            weights: Some(vec![0.7, 0.2, 0.1]),
        }),
        WeighterConfig::GradientInfluence(GradientInfluenceConfig::default()),
        WeighterConfig::GradientInfluence(GradientInfluenceConfig {
            eta: 0.5,
            lambda: Some(3.0),
            w_min: 0.0,
            w0_min: 0.0,
            initial_weights: Some(vec![1.0, 1.0, 2.0]),
        }),
        WeighterConfig::SaturationAware(SaturationAwareConfig::default()),
        WeighterConfig::SaturationAware(SaturationAwareConfig {
            gamma: 2.0,
            smoothing: 0.3,
            w_min: 0.05,
            w0_min: 0.5,
            initial_weights: Some(vec![0.2, 0.5, 0.3]),
        }),
    ];
    for dot in [DotProduct::Cosine, DotProduct::Raw] {
        for update in [UpdateRule::Multiplicative, UpdateRule::Additive] {
            configs.push(WeighterConfig::Hypergradient(HypergradientConfig {
                dot,
                update,
                beta_w: 0.3,
                warmup_steps: 2,
                ..HypergradientConfig::default()
            }));
        }
    }
    configs.push(WeighterConfig::Hypergradient(HypergradientConfig {
        w_min: 0.0,
        w0_min: 0.0,
        initial_weights: Some(vec![0.0, 1.0, 1.0]),
        ..HypergradientConfig::default()
    }));
    configs
}

/// A seeded random stream of `steps` signals with random gradients (sometimes exactly zero,
/// as for a saturated objective) and random saturations.
fn random_signals(seed: u64, steps: usize) -> Vec<StepSignals> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stream = GradientStream::default();
    (0..steps)
        .map(|_| {
            let grads: Vec<Vec<f64>> = (0..N)
                .map(|_| {
                    if rng.random_range(0.0..1.0) < 0.2 {
                        vec![0.0; 4]
                    } else {
                        (0..4).map(|_| rng.random_range(-2.0..2.0)).collect()
                    }
                })
                .collect();
            let saturation: Vec<f32> = (0..N).map(|_| rng.random_range(0.0..=1.0)).collect();
            stream.next(&grads, &saturation)
        })
        .collect()
}

fn floors(config: &WeighterConfig) -> (f32, f32) {
    let (w_min, w0_min) = match config {
        WeighterConfig::Fixed(_) => (0.0, 0.0),
        WeighterConfig::Hypergradient(c) => (c.w_min, c.w0_min),
        WeighterConfig::GradientInfluence(c) => (c.w_min, c.w0_min),
        WeighterConfig::SaturationAware(c) => (c.w_min, c.w0_min),
    };
    (w_min as f32, w_min.max(w0_min) as f32)
}

fn check_on_floored_simplex(config: &WeighterConfig, w: &[f32]) -> Result<(), TestCaseError> {
    let (w_min, w0_min) = floors(config);
    prop_assert_eq!(w.len(), N);
    let total: f64 = w.iter().map(|&x| f64::from(x)).sum();
    prop_assert!((total - 1.0).abs() < 1e-6, "{:?}: sum {}", config, total);
    prop_assert!(
        w[0] >= w0_min,
        "{:?}: primary {} < {}",
        config,
        w[0],
        w0_min
    );
    for &x in w {
        prop_assert!(
            x.is_finite() && x >= w_min,
            "{:?}: {:?} below {}",
            config,
            w,
            w_min
        );
    }
    Ok(())
}

fn bits(w: &dyn ObjectiveWeighter) -> Vec<u32> {
    w.weights().iter().map(|x| x.to_bits()).collect()
}

#[test]
fn resuming_from_saved_state_is_bit_identical() {
    for config in all_configs() {
        let signals = random_signals(11, 30);
        let mut straight = config.build(N).unwrap();
        let mut first_half = config.build(N).unwrap();
        for s in &signals[..12] {
            straight.observe(s).unwrap();
            first_half.observe(s).unwrap();
        }
        // Through a JSON string, as a checkpoint file would hold it.
        let saved = serde_json::to_string(&first_half.state()).unwrap();
        let mut resumed = config.build(N).unwrap();
        resumed
            .load_state(&serde_json::from_str(&saved).unwrap())
            .unwrap();
        assert_eq!(
            bits(resumed.as_ref()),
            bits(first_half.as_ref()),
            "{config:?}"
        );
        assert_eq!(resumed.state(), first_half.state(), "{config:?}");
        for s in &signals[12..] {
            straight.observe(s).unwrap();
            resumed.observe(s).unwrap();
            assert_eq!(
                bits(resumed.as_ref()),
                bits(straight.as_ref()),
                "{config:?}"
            );
        }
    }
}

#[test]
fn adaptive_weighters_actually_move_on_random_streams() {
    // Guards the other contract tests against weighters that trivially never move.
    for config in all_configs() {
        let mut w = config.build(N).unwrap();
        let initial = w.weights().to_vec();
        for s in &random_signals(3, 10) {
            w.observe(s).unwrap();
        }
        let moved = w.weights() != initial.as_slice();
        assert_eq!(
            moved,
            !matches!(config, WeighterConfig::Fixed(_)),
            "{config:?}"
        );
    }
}

#[test]
fn malformed_signals_are_errors_and_leave_the_weights() {
    type Corruption = fn(&mut StepSignals);
    let corruptions: [(Corruption, &str); 6] = [
        (|s| s.reward_means.push(0.0), "count"),
        (|s| s.saturation.truncate(1), "count"),
        (|s| s.saturation[2] = f32::NAN, "nan"),
        (|s| s.reward_means[0] = f32::INFINITY, "nan"),
        (
            |s| {
                if let Some(g) = &mut s.gradients {
                    g.gram[1][0] = f64::NAN;
                }
            },
            "nan",
        ),
        (
            |s| {
                if let Some(g) = &mut s.gradients {
                    g.lagged_primary_dots = Some(vec![f64::NAN; N]);
                }
            },
            "nan",
        ),
    ];
    for config in all_configs() {
        let signals = random_signals(5, 8);
        let mut w = config.build(N).unwrap();
        for s in &signals[..5] {
            w.observe(s).unwrap();
        }
        let before = (bits(w.as_ref()), w.state());
        for (corrupt, kind) in corruptions {
            let mut bad = signals[5].clone();
            corrupt(&mut bad);
            let err = w.observe(&bad).unwrap_err();
            match kind {
                "count" => assert!(
                    matches!(err, WeighterError::ObjectiveCount { expected: N, .. }),
                    "{config:?}: {err}"
                ),
                _ => assert!(
                    matches!(err, WeighterError::NonFinite(_)),
                    "{config:?}: {err}"
                ),
            }
            assert_eq!((bits(w.as_ref()), w.state()), before, "{config:?}");
        }
        // The weighter still works after the rejected steps.
        w.observe(&signals[5]).unwrap();
    }
}

#[test]
fn bad_saved_states_are_rejected_and_change_nothing() {
    for config in all_configs() {
        let mut w = config.build(N).unwrap();
        for s in &random_signals(9, 4) {
            w.observe(s).unwrap();
        }
        let good = w.state();
        let before = bits(w.as_ref());
        let mut bad_states = Vec::new();
        let mut edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut s = good.clone();
            f(&mut s);
            bad_states.push(s);
        };
        edit(&|s| s["weights"] = serde_json::json!([0.5, 0.5]));
        edit(&|s| s["weights"] = serde_json::json!([0.5, 0.3, 0.1]));
        edit(&|s| s["weights"] = serde_json::json!([1.2, -0.1, -0.1]));
        edit(&|s| s["weights"] = serde_json::json!([0.5, null, 0.5]));
        edit(&|s| s["weighter"] = serde_json::json!("another"));
        edit(&|s| s["version"] = serde_json::json!(99));
        edit(&|s| s["unexpected"] = serde_json::json!(1));
        bad_states.push(serde_json::json!("not a state"));
        for bad in &bad_states {
            assert!(
                matches!(w.load_state(bad), Err(WeighterError::BadState(_))),
                "{config:?} accepted {bad}"
            );
            assert_eq!(bits(w.as_ref()), before);
        }
        w.load_state(&good).unwrap();
    }
}

#[test]
fn weights_below_the_floors_are_rejected_on_restore() {
    let config = WeighterConfig::Hypergradient(HypergradientConfig::default());
    let mut w = config.build(N).unwrap();
    let mut state = w.state();
    // On the simplex, but the primary is below w0_min = 0.2.
    state["weights"] = serde_json::json!([0.1, 0.45, 0.45]);
    assert!(matches!(
        w.load_state(&state),
        Err(WeighterError::BadState(_))
    ));
}

#[test]
fn clones_are_independent() {
    for config in all_configs() {
        let mut original = config.build(N).unwrap();
        let copy = original.clone();
        let before = bits(copy.as_ref());
        for s in &random_signals(1, 6) {
            original.observe(s).unwrap();
        }
        assert_eq!(bits(copy.as_ref()), before, "{config:?}");
        assert_eq!(copy.name(), original.name());
    }
}

prop_compose! {
    /// A valid random configuration of any weighter.
    fn any_config()(
        kind in 0usize..4,
        beta_w in 0.0f64..3.0,
        w_min in prop_oneof![Just(0.0), 0.0f64..0.15],
        w0_min in prop_oneof![Just(0.0), 0.0f64..0.6],
        raw in any::<bool>(),
        additive in any::<bool>(),
        lambda in prop_oneof![Just(None), (0.1f64..10.0).prop_map(Some)],
        gamma in 0.0f64..4.0,
        smoothing in 0.01f64..=1.0,
        initial in proptest::collection::vec(0.0f64..1.0, N),
    ) -> WeighterConfig {
        let initial_weights =
            if initial.iter().sum::<f64>() > 0.0 { Some(initial) } else { None };
        match kind {
            0 => WeighterConfig::Fixed(FixedConfig { weights: initial_weights }),
            1 => WeighterConfig::Hypergradient(HypergradientConfig {
                beta_w,
                dot: if raw { DotProduct::Raw } else { DotProduct::Cosine },
                update: if additive { UpdateRule::Additive } else { UpdateRule::Multiplicative },
                w_min,
                w0_min,
                warmup_steps: 0,
                initial_weights,
            }),
            2 => WeighterConfig::GradientInfluence(GradientInfluenceConfig {
                eta: beta_w,
                lambda,
                w_min,
                w0_min,
                initial_weights,
            }),
            _ => WeighterConfig::SaturationAware(SaturationAwareConfig {
                gamma,
                smoothing,
                w_min,
                w0_min,
                initial_weights,
            }),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn weights_stay_on_the_floored_simplex(
        config in any_config(),
        steps in proptest::collection::vec(
            (
                proptest::collection::vec(
                    prop_oneof![
                        1 => Just(vec![0.0; 3]),
                        4 => proptest::collection::vec(-50.0f64..50.0, 3),
                    ],
                    N,
                ),
                proptest::collection::vec(0.0f32..=1.0, N),
            ),
            1..25,
        ),
    ) {
        let mut w = config.build(N).unwrap();
        check_on_floored_simplex(&config, w.weights())?;
        let mut stream = GradientStream::default();
        for (grads, saturation) in &steps {
            w.observe(&stream.next(grads, saturation)).unwrap();
            check_on_floored_simplex(&config, w.weights())?;
        }
    }
}
