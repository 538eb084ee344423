//! The weighters' dynamics on synthetic gradient streams: saturation shifts weight to the
//! primary objective, conflict is punished more than orthogonality.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::stream::GradientStream;
use super::{
    DotProduct, GradientInfluenceConfig, HypergradientConfig, SaturationAwareConfig, UpdateRule,
    WeighterConfig,
};

/// Every adaptive weighter that reads gradients, in each of its modes.
fn gradient_weighters() -> Vec<WeighterConfig> {
    let mut configs = Vec::new();
    for dot in [DotProduct::Cosine, DotProduct::Raw] {
        for update in [UpdateRule::Multiplicative, UpdateRule::Additive] {
            configs.push(WeighterConfig::Hypergradient(HypergradientConfig {
                dot,
                update,
                // Additive steps on raw dots of norm-1 gradients: a smaller step, so the
                // weights move over several steps rather than jumping to a vertex at once.
                beta_w: if update == UpdateRule::Additive {
                    0.02
                } else {
                    0.1
                },
                ..HypergradientConfig::default()
            }));
        }
    }
    configs.push(WeighterConfig::GradientInfluence(
        GradientInfluenceConfig::default(),
    ));
    configs
}

/// Runs `config` for 3 objectives over `steps` steps whose gradients `grads(t)` carry a
/// little seeded noise, and returns the weights after every step.
fn trajectory(
    config: &WeighterConfig,
    steps: usize,
    grads: impl Fn(usize) -> (Vec<Vec<f64>>, Vec<f32>),
) -> Vec<Vec<f64>> {
    let mut weighter = config.build(3).unwrap();
    let mut stream = GradientStream::default();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps {
        let (mut g, saturation) = grads(t);
        for gk in &mut g {
            // Noise only on non-zero gradients: a saturated objective's gradient is exactly 0.
            if gk.iter().any(|x| *x != 0.0) {
                for x in gk.iter_mut() {
                    *x += rng.random_range(-0.05..0.05);
                }
            }
        }
        weighter.observe(&stream.next(&g, &saturation)).unwrap();
        out.push(weighter.weights().iter().map(|&w| f64::from(w)).collect());
    }
    out
}

const SATURATES_AT: usize = 10;
const STEPS: usize = 40;

/// Primary (1, 0, 0); auxiliary 1 (0.6, 0.8, 0), aligned with the primary, until it
/// saturates at [`SATURATES_AT`] (then its gradient is 0 and its saturation 1) if `saturate`;
/// auxiliary 2 (0, 0, 1), orthogonal, never saturates.
fn saturating_stream(saturate: bool) -> impl Fn(usize) -> (Vec<Vec<f64>>, Vec<f32>) {
    move |t| {
        let saturated = saturate && t >= SATURATES_AT;
        let aux1 = if saturated {
            vec![0.0; 3]
        } else {
            vec![0.6, 0.8, 0.0]
        };
        let s1 = if saturated { 1.0 } else { 0.0 };
        (
            vec![vec![1.0, 0.0, 0.0], aux1, vec![0.0, 0.0, 1.0]],
            vec![0.0, s1, 0.0],
        )
    }
}

#[test]
fn a_saturated_auxiliary_loses_weight_to_the_primary() {
    let mut configs = gradient_weighters();
    configs.push(WeighterConfig::SaturationAware(
        SaturationAwareConfig::default(),
    ));
    for config in &configs {
        let saturating = trajectory(config, STEPS, saturating_stream(true));
        let steady = trajectory(config, STEPS, saturating_stream(false));
        let at = &saturating[SATURATES_AT - 1];
        let end = &saturating[STEPS - 1];
        assert!(
            end[1] < at[1],
            "{config:?}: aux 1 went {} → {}",
            at[1],
            end[1]
        );
        assert!(
            end[0] > at[0],
            "{config:?}: primary went {} → {}",
            at[0],
            end[0]
        );
        assert!(
            end[1] < steady[STEPS - 1][1],
            "{config:?}: saturation did not cost aux 1 weight"
        );
        // From the first step whose lagged gradient is the zero one, aux 1 never gains.
        for pair in saturating[SATURATES_AT + 1..].windows(2) {
            assert!(pair[1][1] <= pair[0][1] + 1e-7, "{config:?}: aux 1 rose");
        }
    }
}

#[test]
fn an_anti_aligned_auxiliary_loses_weight_faster_than_an_orthogonal_one() {
    // Primary (1, 0); auxiliary 1 (−0.5, 0) conflicts with it; auxiliary 2 (0, 1) is
    // orthogonal to it.
    let stream = |_t: usize| {
        (
            vec![vec![1.0, 0.0], vec![-0.5, 0.0], vec![0.0, 1.0]],
            vec![0.0; 3],
        )
    };
    for config in &gradient_weighters() {
        let run = trajectory(config, 15, stream);
        let end = &run[14];
        let initial = 1.0 / 3.0;
        assert!(
            initial - end[1] > initial - end[2],
            "{config:?}: anti-aligned {} vs orthogonal {}",
            end[1],
            end[2]
        );
        assert!(
            end[1] < initial,
            "{config:?}: the conflicting objective gained"
        );
    }
}

#[test]
fn hypergradient_weights_the_primary_up_when_auxiliaries_are_unhelpful() {
    // Only the primary's own gradient predicts its next gradient: with the default config
    // (multiplicative, cosine, β_w = 0.1) it gains every step until the others reach w_min.
    let stream = |_t: usize| {
        (
            vec![
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
            vec![0.0; 3],
        )
    };
    let config = WeighterConfig::Hypergradient(HypergradientConfig::default());
    let run = trajectory(&config, 200, stream);
    for pair in run.windows(2) {
        assert!(pair[1][0] >= pair[0][0] - 1e-7);
    }
    let end = &run[199];
    // Log-ratio grows by ≈ 0.1 a step: after 200 steps the auxiliaries sit on their floors.
    assert!(
        (end[1] - 0.02).abs() < 1e-6 && (end[2] - 0.02).abs() < 1e-6,
        "{end:?}"
    );
    assert!((end[0] - 0.96).abs() < 1e-6, "{end:?}");
}
