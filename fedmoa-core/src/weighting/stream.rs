//! Test helper: turns explicit per-objective gradient vectors into the [`StepSignals`] a
//! trainer would send, computing the Gram matrix and the one-step-lagged dots as the trainer
//! does (no model involved).

use crate::{GradientSignals, StepSignals};

/// Remembers the previous step's gradients to produce the lagged signals.
#[derive(Debug, Default)]
pub(super) struct GradientStream {
    previous: Option<Vec<Vec<f64>>>,
    step: u64,
}

pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl GradientStream {
    /// Signals for a step whose objective gradients are `grads[k]` (all of one length) and
    /// whose batch saturation is `saturation`; reward means are `1 − saturation` stand-ins.
    pub(super) fn next(&mut self, grads: &[Vec<f64>], saturation: &[f32]) -> StepSignals {
        let gram = grads
            .iter()
            .map(|gk| grads.iter().map(|gj| dot(gk, gj)).collect())
            .collect();
        let (lagged, norms) = match &self.previous {
            Some(prev) => (
                Some(prev.iter().map(|pk| dot(&grads[0], pk)).collect()),
                Some(prev.iter().map(|pk| dot(pk, pk).sqrt()).collect()),
            ),
            None => (None, None),
        };
        self.previous = Some(grads.to_vec());
        let step = self.step;
        self.step += 1;
        StepSignals {
            step,
            reward_means: saturation.iter().map(|s| 1.0 - s).collect(),
            saturation: saturation.to_vec(),
            gradients: Some(GradientSignals {
                gram,
                lagged_primary_dots: lagged,
                previous_norms: norms,
            }),
        }
    }
}

#[test]
fn the_stream_lags_by_one_step() {
    let mut stream = GradientStream::default();
    // Step 0: g = ((1, 0), (1, 1)): gram = [[1, 1], [1, 2]], nothing lagged.
    let first = stream.next(&[vec![1.0, 0.0], vec![1.0, 1.0]], &[0.0, 0.0]);
    let g = first.gradients.unwrap();
    assert_eq!(g.gram, vec![vec![1.0, 1.0], vec![1.0, 2.0]]);
    assert_eq!(g.lagged_primary_dots, None);
    // Step 1: g_0 = (0, 2): lagged dots ⟨(0, 2), (1, 0)⟩ = 0 and ⟨(0, 2), (1, 1)⟩ = 2;
    // previous norms (1, √2).
    let second = stream.next(&[vec![0.0, 2.0], vec![0.0, 0.0]], &[0.0, 1.0]);
    let g = second.gradients.unwrap();
    assert_eq!(g.lagged_primary_dots, Some(vec![0.0, 2.0]));
    assert_eq!(g.previous_norms, Some(vec![1.0, 2f64.sqrt()]));
    assert_eq!(second.step, 1);
}
