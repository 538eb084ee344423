//! Per-objective gradient signals for the objective weighter (plain Rust).
//!
//! With decoupled advantages the policy gradient splits as `Σ_k w_k g_k`, g_k being the GRPO
//! gradient computed with objective k's advantage components alone (see
//! [`crate::grpo::advantages`]). The weighter wants the same-step Gram matrix
//! `⟨g_k(θ_t), g_j(θ_t)⟩` and the one-step-lagged hypergradients `⟨g_0(θ_t), g_k(θ_{t−1})⟩`;
//! [`GradientHistory`] keeps the previous step's vectors to produce both as a
//! [`fedmoa_core::GradientSignals`].

use fedmoa_core::{GradientSignals, dot_slice};

use super::error::GrpoInputError;

/// `gram[k][j] = ⟨g_k, g_j⟩`, accumulated in f64; symmetric, `gram[k][k] = ‖g_k‖²`.
///
/// # Errors
/// [`GrpoInputError::Shape`] when the vectors differ in length.
pub fn gram_matrix(grads: &[Vec<f32>]) -> Result<Vec<Vec<f64>>, GrpoInputError> {
    check_lengths(grads, "objective gradient")?;
    let k = grads.len();
    let mut gram = vec![vec![0.0; k]; k];
    for a in 0..k {
        for b in a..k {
            let dot = dot_slice(&grads[a], &grads[b]);
            gram[a][b] = dot;
            gram[b][a] = dot;
        }
    }
    Ok(gram)
}

fn check_lengths(grads: &[Vec<f32>], what: &'static str) -> Result<(), GrpoInputError> {
    let Some(first) = grads.first() else {
        return Ok(());
    };
    match grads.iter().find(|g| g.len() != first.len()) {
        Some(bad) => Err(GrpoInputError::Shape {
            what,
            expected: vec![first.len()],
            got: vec![bad.len()],
        }),
        None => Ok(()),
    }
}

/// Remembers the previous step's per-objective gradients g_k(θ_{t−1}).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradientHistory {
    previous: Option<Vec<Vec<f32>>>,
}

impl GradientHistory {
    /// An empty history: the next step has no lagged signals.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a previous step is stored.
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }

    /// Forgets the previous step (e.g. when the model was replaced by a new global one).
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Builds this step's signals from `grads[k] = g_k(θ_t)` (objective 0 first) and stores
    /// them as the previous step for the next call.
    ///
    /// The lagged dots and previous norms are `None` on the first step, and also after a
    /// [`reset`](Self::reset).
    ///
    /// # Errors
    /// [`GrpoInputError::Shape`] when the vectors differ in length, or differ in number or
    /// length from the stored previous step; the history is then left unchanged.
    pub fn signals(&mut self, grads: Vec<Vec<f32>>) -> Result<GradientSignals, GrpoInputError> {
        let gram = gram_matrix(&grads)?;
        let (lagged_primary_dots, previous_norms) = match &self.previous {
            None => (None, None),
            Some(previous) => {
                if previous.len() != grads.len() {
                    return Err(GrpoInputError::Shape {
                        what: "number of objective gradients",
                        expected: vec![previous.len()],
                        got: vec![grads.len()],
                    });
                }
                let len = grads.first().map_or(0, Vec::len);
                if let Some(bad) = previous.iter().find(|p| p.len() != len) {
                    return Err(GrpoInputError::Shape {
                        what: "objective gradient vs previous step",
                        expected: vec![bad.len()],
                        got: vec![len],
                    });
                }
                let lagged = match grads.first() {
                    Some(primary) => previous.iter().map(|p| dot_slice(primary, p)).collect(),
                    None => Vec::new(),
                };
                let norms = previous.iter().map(|p| dot_slice(p, p).sqrt()).collect();
                (Some(lagged), Some(norms))
            }
        };
        self.previous = Some(grads);
        Ok(GradientSignals {
            gram,
            lagged_primary_dots,
            previous_norms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_by_hand() {
        // g0 = (1, 2, 0), g1 = (0, 1, −1), g2 = (3, 0, 4):
        // ⟨g0,g0⟩ = 5, ⟨g0,g1⟩ = 2, ⟨g0,g2⟩ = 3, ⟨g1,g1⟩ = 2, ⟨g1,g2⟩ = −4, ⟨g2,g2⟩ = 25.
        let g = vec![
            vec![1.0, 2.0, 0.0],
            vec![0.0, 1.0, -1.0],
            vec![3.0, 0.0, 4.0],
        ];
        let gram = gram_matrix(&g).unwrap();
        assert_eq!(
            gram,
            vec![
                vec![5.0, 2.0, 3.0],
                vec![2.0, 2.0, -4.0],
                vec![3.0, -4.0, 25.0]
            ]
        );
        assert_eq!(gram_matrix(&[]).unwrap(), Vec::<Vec<f64>>::new());
    }

    #[test]
    fn gram_rejects_ragged_vectors() {
        let g = vec![vec![1.0, 2.0], vec![1.0]];
        assert_eq!(
            gram_matrix(&g),
            Err(GrpoInputError::Shape {
                what: "objective gradient",
                expected: vec![2],
                got: vec![1]
            })
        );
    }

    #[test]
    fn history_lags_by_one_step() {
        let mut history = GradientHistory::new();
        // Step 1: g0 = (1, 0), g1 = (0, 2). No previous step.
        let first = history
            .signals(vec![vec![1.0, 0.0], vec![0.0, 2.0]])
            .unwrap();
        assert_eq!(first.gram, vec![vec![1.0, 0.0], vec![0.0, 4.0]]);
        assert_eq!(first.lagged_primary_dots, None);
        assert_eq!(first.previous_norms, None);
        assert!(history.has_previous());
        // Step 2: g0 = (3, 4), g1 = (1, 1).
        // Lagged: ⟨(3,4), (1,0)⟩ = 3, ⟨(3,4), (0,2)⟩ = 8; previous norms 1 and 2.
        // Gram: ⟨g0,g0⟩ = 25, ⟨g0,g1⟩ = 7, ⟨g1,g1⟩ = 2.
        let second = history
            .signals(vec![vec![3.0, 4.0], vec![1.0, 1.0]])
            .unwrap();
        assert_eq!(second.gram, vec![vec![25.0, 7.0], vec![7.0, 2.0]]);
        assert_eq!(second.lagged_primary_dots, Some(vec![3.0, 8.0]));
        assert_eq!(second.previous_norms, Some(vec![1.0, 2.0]));
        // Step 3 lags against step 2: g0 = (0, 1): ⟨(0,1),(3,4)⟩ = 4, ⟨(0,1),(1,1)⟩ = 1;
        // norms 5 and √2.
        let third = history
            .signals(vec![vec![0.0, 1.0], vec![0.0, 0.0]])
            .unwrap();
        assert_eq!(third.lagged_primary_dots, Some(vec![4.0, 1.0]));
        assert_eq!(third.previous_norms, Some(vec![5.0, 2f64.sqrt()]));
    }

    #[test]
    fn reset_drops_the_lag_and_mismatches_are_errors() {
        let mut history = GradientHistory::new();
        history.signals(vec![vec![1.0, 0.0]]).unwrap();
        let before = history.clone();
        assert!(matches!(
            history.signals(vec![vec![1.0, 0.0], vec![0.0, 1.0]]),
            Err(GrpoInputError::Shape { .. })
        ));
        assert!(matches!(
            history.signals(vec![vec![1.0, 0.0, 0.0]]),
            Err(GrpoInputError::Shape { .. })
        ));
        assert_eq!(
            history, before,
            "a failed call leaves the history unchanged"
        );
        history.reset();
        assert!(!history.has_previous());
        let s = history.signals(vec![vec![1.0, 0.0, 0.0]]).unwrap();
        assert_eq!(s.lagged_primary_dots, None);
    }
}
