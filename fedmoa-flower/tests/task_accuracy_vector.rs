//! Runs fedmoa-agg's `TaskAccuracy` on the shared test vector that the Python
//! ServerApp strategy is also tested on (deploy/flower/tests/test_aggregation.py):
//! same inputs, same aggregate.

use std::collections::BTreeMap;

use fedmoa_agg::TaskAccuracyConfig;
use fedmoa_core::{Aggregator, ClientId, ClientUpdate, ParamSet};
use serde::Deserialize;

#[derive(Deserialize)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct Client {
    id: String,
    task: String,
    n: u64,
    accuracy: f32,
    params: BTreeMap<String, Tensor>,
}

#[derive(Deserialize)]
struct Expected {
    params: BTreeMap<String, Tensor>,
    weights: BTreeMap<String, f64>,
    rejected: Vec<String>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: TaskAccuracyConfig,
    global: BTreeMap<String, Tensor>,
    clients: Vec<Client>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

fn params(tensors: &BTreeMap<String, Tensor>) -> ParamSet {
    let mut p = ParamSet::new();
    for (name, t) in tensors {
        p.insert(
            name.clone(),
            t.shape.clone(),
            t.data.iter().map(|&v| v as f32).collect(),
        )
        .expect("valid tensor");
    }
    p
}

#[test]
fn fedmoa_agg_matches_the_shared_vector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/task_accuracy_vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let vectors: Vectors = serde_json::from_str(&text).expect("valid vector JSON");
    assert_eq!(vectors.cases.len(), 5);
    for case in &vectors.cases {
        let global = params(&case.global);
        let updates: Vec<ClientUpdate> = case
            .clients
            .iter()
            .map(|c| {
                let delta = params(&c.params).sub(&global).expect("same layout");
                ClientUpdate::new(c.id.as_str(), c.task.as_str(), c.n, delta, c.accuracy)
            })
            .collect();
        let mut agg = case.config.build().expect("valid config");
        let out = agg.aggregate(&global, &updates).expect("aggregates");
        for (name, t) in &case.expected.params {
            let got = out.params.get(name).expect("tensor present");
            assert_eq!(got.shape(), t.shape.as_slice(), "{}: {name}", case.name);
            for (g, e) in got.data().iter().zip(&t.data) {
                assert!(
                    (f64::from(*g) - e).abs() < 1e-5,
                    "{}: {name} {g} vs {e}",
                    case.name
                );
            }
        }
        assert_eq!(
            out.weights.len(),
            case.expected.weights.len(),
            "{}",
            case.name
        );
        for (id, w) in &case.expected.weights {
            let got = f64::from(out.weights[&ClientId::new(id.as_str())]);
            assert!(
                (got - w).abs() < 1e-6,
                "{}: weight of {id} {got} vs {w}",
                case.name
            );
        }
        let rejected: Vec<&str> = out.rejected.iter().map(|r| r.client_id.as_str()).collect();
        assert_eq!(rejected, case.expected.rejected, "{}", case.name);
    }
}
