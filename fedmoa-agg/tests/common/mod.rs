//! Builders shared by the integration tests (included with `mod common;`).

#![allow(dead_code)]

use fedmoa_agg::AggregatorConfig;
use fedmoa_core::{ClientUpdate, ParamSet};

/// A two-tensor layout: `a` of shape [2, 3] and `b` of shape [4].
pub fn layout(a: [f32; 6], b: [f32; 4]) -> ParamSet {
    ParamSet::new()
        .with("a", vec![2, 3], a.to_vec())
        .and_then(|s| s.with("b", vec![4], b.to_vec()))
        .expect("valid layout")
}

/// A deterministic delta for client `k` in the two-tensor layout.
pub fn delta(k: usize) -> ParamSet {
    let v = |i: usize| ((k * 7 + i * 3) % 11) as f32 * 0.25 - 1.25;
    layout(
        [v(0), v(1), v(2), v(3), v(4), v(5)],
        [v(6), v(7), v(8), v(9)],
    )
}

/// Seven valid updates over two tasks with varied sample counts and accuracies.
pub fn valid_updates() -> Vec<ClientUpdate> {
    (0..7)
        .map(|k| {
            let task = if k % 3 == 0 { "code" } else { "math" };
            ClientUpdate::new(
                format!("ok-{k}"),
                task,
                (k as u64 + 1) * 3,
                delta(k),
                (k as f32 * 0.13) % 1.0,
            )
        })
        .collect()
}

/// One update per kind of defect, each named after it.
pub fn bad_updates() -> Vec<ClientUpdate> {
    let mut nan = delta(1);
    nan.get_mut("b").expect("b").data_mut()[2] = f32::NAN;
    let mut inf = delta(2);
    inf.get_mut("a").expect("a").data_mut()[0] = f32::NEG_INFINITY;
    let wrong_name = ParamSet::new()
        .with("a", vec![2, 3], vec![0.0; 6])
        .and_then(|s| s.with("c", vec![4], vec![0.0; 4]))
        .expect("valid set");
    let wrong_shape = ParamSet::new()
        .with("a", vec![3, 2], vec![0.0; 6])
        .and_then(|s| s.with("b", vec![4], vec![0.0; 4]))
        .expect("valid set");
    let missing = ParamSet::new()
        .with("a", vec![2, 3], vec![0.0; 6])
        .expect("valid set");
    vec![
        ClientUpdate::new("nan", "math", 5, nan, 0.5),
        ClientUpdate::new("inf", "code", 5, inf, 0.5),
        ClientUpdate::new("wrong_name", "math", 5, wrong_name, 0.5),
        ClientUpdate::new("wrong_shape", "math", 5, wrong_shape, 0.5),
        ClientUpdate::new("missing_tensor", "math", 5, missing, 0.5),
        ClientUpdate::new("zero_samples", "math", 0, delta(3), 0.5),
        ClientUpdate::new("accuracy_high", "math", 5, delta(4), 1.5),
        ClientUpdate::new("accuracy_negative", "code", 5, delta(5), -0.01),
        ClientUpdate::new("accuracy_nan", "math", 5, delta(6), f32::NAN),
    ]
}

/// Valid and bad updates interleaved.
pub fn mixed_updates() -> Vec<ClientUpdate> {
    let mut out = Vec::new();
    let mut bad = bad_updates().into_iter();
    for u in valid_updates() {
        out.push(u);
        out.extend(bad.next());
    }
    out.extend(bad);
    out
}

/// The global parameters the deltas apply to.
pub fn global() -> ParamSet {
    layout([0.5, -0.5, 1.0, 0.0, 2.0, -1.0], [0.25, 0.5, 0.75, 1.0])
}

/// One configuration of every rule, parsed from TOML (Krum with f = 1 and m = 2).
pub fn every_config() -> Vec<AggregatorConfig> {
    [
        "type = \"fedavg\"\nserver_lr = 0.5",
        "type = \"fedprox\"\nmu = 0.1",
        "type = \"task_accuracy\"\ntemperature = 0.2",
        "type = \"task_accuracy\"\ntemperature = inf\ntask_weighting = \"sample_proportional\"",
        "type = \"fedavgm\"\nmomentum = 0.5",
        "type = \"fedadam\"\nserver_lr = 0.1",
        "type = \"fedyogi\"\nserver_lr = 0.1",
        "type = \"fedadagrad\"\nserver_lr = 0.1",
        "type = \"coordinate_median\"",
        "type = \"trimmed_mean\"\nbeta = 0.2",
        "type = \"krum\"\nbyzantine = 1\nselect = 2",
        "type = \"norm_clip\"\nmax_norm = 1.5\ninner = { type = \"task_accuracy\" }",
        "type = \"norm_clip\"\nmax_norm = 1.5\ninner = { type = \"coordinate_median\" }",
        "type = \"norm_clip\"\nmax_norm = 1.5\ninner = { type = \"fedadam\" }",
    ]
    .iter()
    .map(|body| toml::from_str(body).expect("valid TOML config"))
    .collect()
}
