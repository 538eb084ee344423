//! Server optimizers (Reddi et al., "Adaptive Federated Optimization", ICLR 2021): the
//! FedAvg-weighted mean delta `Δ = Σ p_i Δ_i` is treated as a pseudo-gradient and fed to a
//! momentum or adaptive update of the global parameters.
//!
//! Their moments and step counter are the aggregator state: `state()` puts the moments in
//! [`AggregatorState::tensors`] (`"m"`, and `"v"` for the adaptive ones) and the step in
//! `scalars` as `{"step": t}`.

mod adaptive;
mod fedadagrad;
mod fedadam;
mod fedavgm;
mod fedyogi;

pub use fedadagrad::{FedAdagrad, FedAdagradConfig};
pub use fedadam::{FedAdam, FedAdamConfig};
pub use fedavgm::{FedAvgM, FedAvgMConfig};
pub use fedyogi::{FedYogi, FedYogiConfig};

use std::collections::BTreeMap;

use fedmoa_core::{AggError, AggregatorState, ConfigError, ParamSet};

use crate::batch::UpdateBatch;
use crate::weighted::{Base, sample_weights, weighted_mean};

/// The FedAvg-weighted mean delta and its weights.
fn pseudo_gradient(
    global: &ParamSet,
    batch: &mut UpdateBatch<'_>,
) -> Result<(ParamSet, Vec<f64>), AggError> {
    weighted_mean(global, batch, Base::Zero, 1.0, sample_weights)
}

/// Checks a decay rate is finite and in `[0, 1)`.
fn require_decay(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be in [0, 1), got {value}"),
        ))
    }
}

/// Checks that every existing moment has `global`'s layout, before any work is done.
///
/// # Errors
/// [`AggError::BadState`] naming the moment that does not fit.
fn check_fits(global: &ParamSet, moments: &[(&str, &Option<ParamSet>)]) -> Result<(), AggError> {
    for (name, slot) in moments {
        if let Some(m) = slot {
            m.check_same_layout(global).map_err(|e| {
                AggError::BadState(format!("moment {name:?} does not fit the model: {e}"))
            })?;
        }
    }
    Ok(())
}

/// Packs the step counter and the moments that exist.
fn save(step: u64, moments: &[(&str, &Option<ParamSet>)]) -> AggregatorState {
    let tensors: BTreeMap<String, ParamSet> = moments
        .iter()
        .filter_map(|(name, m)| m.as_ref().map(|m| ((*name).to_string(), m.clone())))
        .collect();
    AggregatorState {
        scalars: serde_json::json!({ "step": step }),
        tensors,
    }
}

/// Unpacks what [`save`] wrote: the step and one moment per name (all present when the step
/// is > 0, all absent when it is 0). An empty default state means "start afresh".
///
/// # Errors
/// [`AggError::BadState`] for a missing or extra tensor, a bad step, moments of different
/// layouts or non-finite values.
fn load(state: &AggregatorState, names: &[&str]) -> Result<(u64, Vec<Option<ParamSet>>), AggError> {
    let bad = |msg: String| AggError::BadState(msg);
    if state.scalars.is_null() && state.tensors.is_empty() {
        return Ok((0, vec![None; names.len()]));
    }
    let step = state
        .scalars
        .get("step")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            bad(format!(
                "`step` missing or not an integer in {}",
                state.scalars
            ))
        })?;
    if let Some(extra) = state.tensors.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(bad(format!("unexpected moment {extra:?}")));
    }
    if step == 0 {
        if !state.tensors.is_empty() {
            return Err(bad("moments present at step 0".into()));
        }
        return Ok((0, vec![None; names.len()]));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let m = state
            .tensors
            .get(*name)
            .ok_or_else(|| bad(format!("moment {name:?} missing at step {step}")))?;
        m.check_finite()
            .map_err(|e| bad(format!("moment {name:?}: {e}")))?;
        if let Some(Some(first)) = out.first() {
            ParamSet::check_same_layout(first, m)
                .map_err(|e| bad(format!("moment {name:?}: {e}")))?;
        }
        out.push(Some(m.clone()));
    }
    Ok((step, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::params;

    #[test]
    fn save_then_load_round_trips() {
        let m = Some(params(&[1.0, 2.0]));
        let v = Some(params(&[3.0, 4.0]));
        let state = save(5, &[("m", &m), ("v", &v)]);
        let (step, moments) = load(&state, &["m", "v"]).unwrap();
        assert_eq!(step, 5);
        assert_eq!(moments, vec![m, v]);
        assert_eq!(
            load(&AggregatorState::default(), &["m"]).unwrap(),
            (0, vec![None])
        );
    }

    #[test]
    fn load_rejects_inconsistent_states() {
        let m = Some(params(&[1.0, 2.0]));
        let short = Some(params(&[1.0]));
        let nan = Some(params(&[f32::NAN, 0.0]));
        for state in [
            save(3, &[("m", &m)]),
            save(3, &[("m", &m), ("v", &short)]),
            save(3, &[("m", &m), ("v", &nan)]),
            save(0, &[("m", &m), ("v", &m)]),
            save(3, &[("m", &m), ("v", &m), ("w", &m)]),
            AggregatorState {
                scalars: serde_json::json!({"step": -1}),
                tensors: BTreeMap::new(),
            },
        ] {
            assert!(matches!(
                load(&state, &["m", "v"]),
                Err(AggError::BadState(_))
            ));
        }
    }
}
