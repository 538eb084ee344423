//! Property tests of the weighted rules.

use fedmoa_agg::{AggregatorConfig, FedAvg, TaskAccuracyConfig, TaskWeighting, Temperature};
use fedmoa_core::{Aggregator, ClientId, ClientUpdate, ParamSet};
use proptest::prelude::*;

fn set(values: &[f32]) -> ParamSet {
    ParamSet::new()
        .with("w", vec![values.len()], values.to_vec())
        .expect("valid tensor")
}

/// (n_samples, accuracy, task index) for up to 12 clients.
fn clients() -> impl Strategy<Value = Vec<(u64, f32, usize)>> {
    prop::collection::vec((1u64..10_000, 0.0f32..=1.0, 0usize..3), 1..12)
}

fn weighted_configs(temperature: f64) -> Vec<AggregatorConfig> {
    let ta = |tw| {
        AggregatorConfig::TaskAccuracy(TaskAccuracyConfig {
            temperature: Temperature::new(temperature),
            task_weighting: tw,
            task_aware: true,
            server_lr: 1.0,
        })
    };
    let mut out = vec![
        ta(TaskWeighting::TaskBalanced),
        ta(TaskWeighting::SampleProportional),
    ];
    for body in [
        "type = \"fedavg\"",
        "type = \"fedprox\"",
        "type = \"fedadam\"",
        "type = \"fedavgm\"",
        "type = \"coordinate_median\"",
        "type = \"trimmed_mean\"",
        "type = \"krum\"\nbyzantine = 0\nselect = 1",
    ] {
        out.push(toml::from_str(body).expect("valid TOML config"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fedavg_of_identical_updates_is_that_update(
        delta in prop::collection::vec(-100.0f32..100.0, 1..40),
        ns in prop::collection::vec(1u64..1_000_000, 1..20),
    ) {
        let global = set(&vec![0.0; delta.len()]);
        let updates: Vec<_> = ns
            .iter()
            .enumerate()
            .map(|(k, &n)| ClientUpdate::new(format!("c{k}"), "math", n, set(&delta), 0.5))
            .collect();
        let out = FedAvg::default().aggregate(&global, &updates).unwrap();
        for (got, want) in out.params.flatten().iter().zip(&delta) {
            // Σ p_i = 1 up to f32 rounding of the p_i and of the sum.
            prop_assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{got} vs {want}");
        }
    }

    #[test]
    fn weights_sum_to_one_and_reproduce_the_result(
        clients in clients(),
        temperature in prop_oneof![Just(f64::INFINITY), 1e-3f64..10.0],
    ) {
        let global = set(&[1.0, -2.0]);
        let tasks = ["math", "code", "chat"];
        let updates: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(k, &(n, acc, t))| {
                let d = set(&[k as f32 - 3.0, (k * k) as f32 * 0.1]);
                ClientUpdate::new(format!("c{k}"), tasks[t], n, d, acc)
            })
            .collect();
        for cfg in weighted_configs(temperature) {
            let mut agg = cfg.build().unwrap();
            let name = agg.name().to_string();
            if name == "krum" && updates.len() < 3 {
                continue;
            }
            let out = agg.aggregate(&global, &updates).unwrap();
            let total: f64 = out.weights.values().map(|&w| f64::from(w)).sum();
            prop_assert!((total - 1.0).abs() < 1e-5, "{name}: Σw = {total}");
            prop_assert!(out.weights.values().all(|&w| (0.0..=1.0).contains(&w)), "{name}");
            if matches!(name.as_str(), "fedavg" | "fedprox" | "task_accuracy") {
                // θ = g + Σ w_i Δ_i, recomputed in f64 from the reported weights.
                let mut want = [1.0f64, -2.0];
                for u in &updates {
                    let w = f64::from(out.weights[&u.client_id]);
                    for (o, d) in want.iter_mut().zip(u.delta.flatten()) {
                        *o += w * f64::from(d);
                    }
                }
                for (got, want) in out.params.flatten().iter().zip(want) {
                    prop_assert!((f64::from(*got) - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "{name}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn task_accuracy_prefers_the_more_accurate_of_equal_clients(
        n in 1u64..1000,
        a in 0.0f32..0.5,
        gap in 0.01f32..0.5,
        temperature in 1e-2f64..10.0,
    ) {
        // Same task and sample count: the client with higher accuracy weighs more.
        let global = set(&[0.0]);
        let updates = [
            ClientUpdate::new("low", "math", n, set(&[1.0]), a),
            ClientUpdate::new("high", "math", n, set(&[1.0]), a + gap),
        ];
        let mut agg = AggregatorConfig::TaskAccuracy(TaskAccuracyConfig {
            temperature: Temperature::new(temperature),
            ..TaskAccuracyConfig::default()
        })
        .build()
        .unwrap();
        let out = agg.aggregate(&global, &updates).unwrap();
        let (lo, hi) = (out.weights[&ClientId::new("low")], out.weights[&ClientId::new("high")]);
        prop_assert!(hi > lo || (hi - lo).abs() < 1e-6, "{hi} vs {lo}");
        // The exact ratio is exp(gap/T).
        let ratio = (f64::from(gap) / temperature).exp();
        if ratio < 1e6 {
            prop_assert!((f64::from(hi) / f64::from(lo) - ratio).abs() < 1e-3 * ratio);
        }
    }
}
