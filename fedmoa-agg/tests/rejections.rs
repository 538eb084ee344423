//! Every rule rejects every kind of bad update, reports it like `fedmoa_core::screen_updates`,
//! and aggregates the rest exactly as if the bad ones had never been sent.

mod common;

use common::{bad_updates, every_config, global, mixed_updates, valid_updates};
use fedmoa_core::{AggError, RejectReason, screen_updates};

#[test]
fn bad_updates_are_rejected_and_the_rest_aggregated() {
    let g = global();
    let mixed = mixed_updates();
    let clean = valid_updates();
    let (_, expected) = screen_updates(&g, &mixed);
    assert_eq!(expected.len(), bad_updates().len());
    for cfg in every_config() {
        let mut with_bad = cfg.build().unwrap();
        let mut without = cfg.build().unwrap();
        let got = with_bad.aggregate(&g, &mixed).unwrap();
        let want = without.aggregate(&g, &clean).unwrap();
        let name = with_bad.name().to_string();
        // Bit-identical: the bad updates leave no trace in the result.
        assert_eq!(got.params, want.params, "{name}");
        assert_eq!(got.weights, want.weights, "{name}");
        assert!(got.params.check_finite().is_ok(), "{name}");
        let screened: Vec<_> = got
            .rejected
            .iter()
            .filter(|r| !matches!(r.reason, RejectReason::Outlier { .. }))
            .cloned()
            .collect();
        // Debug form, because `accuracy: NaN` is not equal to itself.
        assert_eq!(format!("{screened:?}"), format!("{expected:?}"), "{name}");
        let outliers = got.rejected.len() - screened.len();
        assert_eq!(outliers, want.rejected.len(), "{name}");
    }
}

#[test]
fn rejection_reasons_name_the_defect() {
    let (_, rejected) = screen_updates(&global(), &bad_updates());
    let reason = |id: &str| {
        rejected
            .iter()
            .find(|r| r.client_id.as_str() == id)
            .map(|r| r.reason.clone())
            .unwrap()
    };
    assert_eq!(
        reason("nan"),
        RejectReason::NonFinite {
            name: "b".into(),
            index: 2
        }
    );
    assert_eq!(
        reason("inf"),
        RejectReason::NonFinite {
            name: "a".into(),
            index: 0
        }
    );
    for id in ["wrong_name", "wrong_shape", "missing_tensor"] {
        assert!(matches!(reason(id), RejectReason::Layout { .. }), "{id}");
    }
    assert_eq!(reason("zero_samples"), RejectReason::ZeroSamples);
    for id in ["accuracy_high", "accuracy_negative", "accuracy_nan"] {
        assert!(
            matches!(reason(id), RejectReason::AccuracyOutOfRange { .. }),
            "{id}"
        );
    }
}

#[test]
fn all_rejected_is_no_valid_updates() {
    let g = global();
    let bad = bad_updates();
    let (_, expected) = screen_updates(&g, &bad);
    for cfg in every_config() {
        let mut agg = cfg.build().unwrap();
        match agg.aggregate(&g, &bad) {
            Err(AggError::NoValidUpdates { rejected }) => {
                assert_eq!(
                    format!("{rejected:?}"),
                    format!("{expected:?}"),
                    "{}",
                    agg.name()
                );
            }
            other => panic!("{}: expected NoValidUpdates, got {other:?}", agg.name()),
        }
        assert!(matches!(
            agg.aggregate(&g, &[]),
            Err(AggError::NoValidUpdates { rejected }) if rejected.is_empty()
        ));
    }
}
