//! Validation of the [`StepSignals`] a trainer hands to a weighter, shared by every weighter
//! so a malformed signal is caught whichever weighter is configured.

use crate::{GradientSignals, StepSignals, WeighterError};

/// Checks every field of `step` for `n` objectives: lengths, finiteness, saturations in
/// `[0, 1]`, and, when gradients are present, a square Gram matrix with a non-negative
/// diagonal and non-negative previous norms.
///
/// # Errors
/// [`WeighterError::ObjectiveCount`], [`WeighterError::NonFinite`] or
/// [`WeighterError::InvalidSignal`], naming the first offending entry.
pub(crate) fn check_step(step: &StepSignals, n: usize) -> Result<(), WeighterError> {
    check_vector(
        "reward_means",
        step.reward_means.iter().map(|&x| f64::from(x)),
        n,
    )?;
    check_vector(
        "saturation",
        step.saturation.iter().map(|&x| f64::from(x)),
        n,
    )?;
    for (k, &s) in step.saturation.iter().enumerate() {
        if !(0.0..=1.0).contains(&s) {
            return Err(WeighterError::InvalidSignal(format!(
                "saturation[{k}] = {s} is outside [0, 1]"
            )));
        }
    }
    if let Some(gradients) = &step.gradients {
        check_gradients(gradients, n)?;
    }
    Ok(())
}

/// The gradient signals of `step`, which a gradient-based weighter cannot do without.
///
/// # Errors
/// [`WeighterError::MissingSignal`] when the trainer sent none.
pub(crate) fn require_gradients(step: &StepSignals) -> Result<&GradientSignals, WeighterError> {
    step.gradients
        .as_ref()
        .ok_or_else(|| WeighterError::MissingSignal("gradients".to_owned()))
}

fn check_gradients(g: &GradientSignals, n: usize) -> Result<(), WeighterError> {
    if g.gram.len() != n {
        return Err(count_error(n, g.gram.len()));
    }
    for (k, row) in g.gram.iter().enumerate() {
        check_vector(&format!("gradients.gram[{k}]"), row.iter().copied(), n)?;
        if row[k] < 0.0 {
            return Err(WeighterError::InvalidSignal(format!(
                "gradients.gram[{k}][{k}] = {} is a squared norm and cannot be negative",
                row[k]
            )));
        }
    }
    if let Some(dots) = &g.lagged_primary_dots {
        check_vector("gradients.lagged_primary_dots", dots.iter().copied(), n)?;
    }
    if let Some(norms) = &g.previous_norms {
        check_vector("gradients.previous_norms", norms.iter().copied(), n)?;
        if let Some((k, v)) = norms.iter().enumerate().find(|(_, v)| **v < 0.0) {
            return Err(WeighterError::InvalidSignal(format!(
                "gradients.previous_norms[{k}] = {v} is a norm and cannot be negative"
            )));
        }
    }
    Ok(())
}

/// Checks a signal vector has `n` finite entries.
fn check_vector(
    name: &str,
    values: impl ExactSizeIterator<Item = f64>,
    n: usize,
) -> Result<(), WeighterError> {
    if values.len() != n {
        return Err(count_error(n, values.len()));
    }
    for (k, v) in values.enumerate() {
        if !v.is_finite() {
            return Err(WeighterError::NonFinite(format!("{name}[{k}] = {v}")));
        }
    }
    Ok(())
}

fn count_error(expected: usize, got: usize) -> WeighterError {
    WeighterError::ObjectiveCount { expected, got }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(n: usize) -> StepSignals {
        StepSignals {
            step: 0,
            reward_means: vec![0.5; n],
            saturation: vec![0.0; n],
            gradients: Some(GradientSignals {
                gram: vec![vec![1.0; n]; n],
                lagged_primary_dots: Some(vec![0.5; n]),
                previous_norms: Some(vec![1.0; n]),
            }),
        }
    }

    fn gradients(step: &mut StepSignals) -> &mut GradientSignals {
        step.gradients.as_mut().unwrap()
    }

    #[test]
    fn well_formed_signals_pass() {
        assert_eq!(check_step(&signals(3), 3), Ok(()));
        let mut no_gradients = signals(3);
        no_gradients.gradients = None;
        assert_eq!(check_step(&no_gradients, 3), Ok(()));
        assert!(matches!(
            require_gradients(&no_gradients),
            Err(WeighterError::MissingSignal(_))
        ));
    }

    #[test]
    fn every_length_is_checked() {
        let count = Err(WeighterError::ObjectiveCount {
            expected: 3,
            got: 2,
        });
        let mut s = signals(3);
        s.reward_means.pop();
        assert_eq!(check_step(&s, 3), count);
        let mut s = signals(3);
        s.saturation.pop();
        assert_eq!(check_step(&s, 3), count);
        let mut s = signals(3);
        gradients(&mut s).gram.pop();
        assert_eq!(check_step(&s, 3), count);
        let mut s = signals(3);
        gradients(&mut s).gram[1].pop();
        assert_eq!(check_step(&s, 3), count);
        let mut s = signals(3);
        gradients(&mut s).lagged_primary_dots = Some(vec![0.0; 2]);
        assert_eq!(check_step(&s, 3), count);
        let mut s = signals(3);
        gradients(&mut s).previous_norms = Some(vec![0.0; 2]);
        assert_eq!(check_step(&s, 3), count);
    }

    #[test]
    fn non_finite_values_are_named() {
        let mut s = signals(2);
        s.reward_means[1] = f32::NAN;
        assert_eq!(
            check_step(&s, 2),
            Err(WeighterError::NonFinite("reward_means[1] = NaN".to_owned()))
        );
        let mut s = signals(2);
        gradients(&mut s).gram[0][1] = f64::INFINITY;
        assert_eq!(
            check_step(&s, 2),
            Err(WeighterError::NonFinite(
                "gradients.gram[0][1] = inf".to_owned()
            ))
        );
        let mut s = signals(2);
        gradients(&mut s).lagged_primary_dots = Some(vec![0.0, f64::NAN]);
        assert!(matches!(
            check_step(&s, 2),
            Err(WeighterError::NonFinite(_))
        ));
    }

    #[test]
    fn values_outside_their_domain_are_rejected() {
        let mut s = signals(2);
        s.saturation[0] = 1.5;
        assert!(matches!(
            check_step(&s, 2),
            Err(WeighterError::InvalidSignal(_))
        ));
        let mut s = signals(2);
        gradients(&mut s).gram[1][1] = -1.0;
        assert!(matches!(
            check_step(&s, 2),
            Err(WeighterError::InvalidSignal(_))
        ));
        let mut s = signals(2);
        gradients(&mut s).previous_norms = Some(vec![1.0, -0.5]);
        assert!(matches!(
            check_step(&s, 2),
            Err(WeighterError::InvalidSignal(_))
        ));
    }
}
