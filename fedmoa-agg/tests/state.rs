//! Server-optimizer state survives a checkpoint: two rounds on one instance equal one
//! round, `state()` → JSON → `load_state()` into a fresh instance, and a second round,
//! bit for bit.

mod common;

use common::{delta, global, valid_updates};
use fedmoa_agg::AggregatorConfig;
use fedmoa_core::{AggError, AggregatorState, ClientUpdate, ParamSet};

fn round_two_updates() -> Vec<ClientUpdate> {
    valid_updates()
        .into_iter()
        .enumerate()
        .map(|(k, mut u)| {
            u.delta = delta(k + 20);
            u
        })
        .collect()
}

fn stateful_configs() -> Vec<AggregatorConfig> {
    [
        "type = \"fedavgm\"\nmomentum = 0.7",
        "type = \"fedadam\"\nserver_lr = 0.1\ntau = 0.01",
        "type = \"fedyogi\"\nserver_lr = 0.1\ntau = 0.01",
        "type = \"fedadagrad\"\nserver_lr = 0.1\ntau = 0.01",
        "type = \"norm_clip\"\nmax_norm = 1.0\ninner = { type = \"fedadam\" }",
    ]
    .iter()
    .map(|body| toml::from_str(body).expect("valid TOML config"))
    .collect()
}

#[test]
fn checkpoint_round_trip_is_bit_identical() {
    let g = global();
    for cfg in stateful_configs() {
        let mut straight = cfg.build().unwrap();
        let theta1 = straight.aggregate(&g, &valid_updates()).unwrap().params;
        let theta2 = straight
            .aggregate(&theta1, &round_two_updates())
            .unwrap()
            .params;

        let mut first = cfg.build().unwrap();
        let resumed_theta1 = first.aggregate(&g, &valid_updates()).unwrap().params;
        assert_eq!(resumed_theta1, theta1);
        let state = first.state();
        assert!(!state.tensors.is_empty(), "{}", first.name());
        assert_eq!(state.scalars["step"], 1);
        // Through JSON, as a checkpoint would store it.
        let json = serde_json::to_string(&state).unwrap();
        let restored: AggregatorState = serde_json::from_str(&json).unwrap();
        let mut second = cfg.build().unwrap();
        second.load_state(&restored).unwrap();
        let resumed_theta2 = second
            .aggregate(&theta1, &round_two_updates())
            .unwrap()
            .params;
        assert_eq!(resumed_theta2, theta2, "{}", second.name());
        assert_eq!(second.state(), straight.state(), "{}", second.name());
        // Without the state, the second round differs (the state matters).
        let mut fresh = cfg.build().unwrap();
        let amnesiac = fresh
            .aggregate(&theta1, &round_two_updates())
            .unwrap()
            .params;
        assert_ne!(amnesiac, theta2, "{}", fresh.name());
    }
}

#[test]
fn mismatched_state_is_refused() {
    let g = global();
    let other = ParamSet::new().with("z", vec![1], vec![0.0]).unwrap();
    for cfg in stateful_configs() {
        let mut agg = cfg.build().unwrap();
        agg.aggregate(&g, &valid_updates()).unwrap();
        let mut state = agg.state();
        for t in state.tensors.values_mut() {
            *t = other.clone();
        }
        let mut target = cfg.build().unwrap();
        // Consistent but for another model: accepted by load_state, refused at aggregation.
        target.load_state(&state).unwrap();
        assert!(matches!(
            target.aggregate(&g, &valid_updates()),
            Err(AggError::BadState(_))
        ));
        let garbage = AggregatorState {
            scalars: serde_json::json!({"step": "three"}),
            tensors: Default::default(),
        };
        assert!(matches!(
            cfg.build().unwrap().load_state(&garbage),
            Err(AggError::BadState(_))
        ));
    }
}
