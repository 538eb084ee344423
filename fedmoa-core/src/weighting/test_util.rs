//! Assertions shared by the weighters' unit tests.

use crate::ObjectiveWeighter;

/// Asserts that `w`'s weights agree with `want` to within 1e-6, entry by entry.
pub(super) fn assert_weights(w: &dyn ObjectiveWeighter, want: &[f64]) {
    for (got, want) in w.weights().iter().zip(want) {
        assert!(
            (f64::from(*got) - want).abs() < 1e-6,
            "got {:?}, want {want:?}",
            w.weights()
        );
    }
}
