//! Builders shared by the unit tests.

use fedmoa_core::{ClientUpdate, ParamSet};

/// A parameter set with one tensor `w` holding `values`.
pub(crate) fn params(values: &[f32]) -> ParamSet {
    ParamSet::new()
        .with("w", vec![values.len()], values.to_vec())
        .expect("valid test tensor")
}

/// An update from `id` on `task` with `n` samples, accuracy `acc` and delta `delta`.
pub(crate) fn update(id: &str, task: &str, n: u64, acc: f32, delta: &[f32]) -> ClientUpdate {
    ClientUpdate::new(id, task, n, params(delta), acc)
}

/// Asserts two float slices agree within `tol`.
pub(crate) fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}
