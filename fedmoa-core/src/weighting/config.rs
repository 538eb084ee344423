//! [`WeighterConfig`]: the choice of weighter in a TOML or JSON config, and its `build`.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, ObjectiveWeighter};

use super::{FixedConfig, GradientInfluenceConfig, HypergradientConfig, SaturationAwareConfig};

/// Which objective weighter a client uses, tagged by `type`.
///
/// ```toml
/// [weighter]
/// type = "hypergradient"
/// beta_w = 0.5
/// dot = "cosine"
/// ```
///
/// Fields left out take the documented defaults; unknown fields are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WeighterConfig {
    /// Static weights (the FedAvg baseline's weighting).
    Fixed(FixedConfig),
    /// FedMOA's hypergradient descent on the weights (the default).
    Hypergradient(HypergradientConfig),
    /// Same-step gradient-influence rule on the Gram matrix.
    GradientInfluence(GradientInfluenceConfig),
    /// Weights shrunk by each objective's reward saturation.
    SaturationAware(SaturationAwareConfig),
}

impl Default for WeighterConfig {
    fn default() -> Self {
        Self::Hypergradient(HypergradientConfig::default())
    }
}

impl WeighterConfig {
    /// The `type` names of the built-ins.
    pub const TYPES: [&'static str; 4] = [
        "fixed",
        "hypergradient",
        "gradient_influence",
        "saturation_aware",
    ];

    /// The starting weights the config sets (`weights` for `fixed`, `initial_weights` for
    /// the others); `None` means the client's configured weights.
    pub fn initial_weights_mut(&mut self) -> &mut Option<Vec<f64>> {
        match self {
            Self::Fixed(c) => &mut c.weights,
            Self::Hypergradient(c) => &mut c.initial_weights,
            Self::GradientInfluence(c) => &mut c.initial_weights,
            Self::SaturationAware(c) => &mut c.initial_weights,
        }
    }

    /// Validates the configuration and builds the weighter for `n_objectives` objectives
    /// (objective 0 is the primary).
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field (e.g. `beta_w`, `initial_weights[2]`), or
    /// `n_objectives` when it is 0.
    pub fn build(&self, n_objectives: usize) -> Result<Box<dyn ObjectiveWeighter>, ConfigError> {
        Ok(match self {
            Self::Fixed(c) => Box::new(c.build(n_objectives)?),
            Self::Hypergradient(c) => Box::new(c.build(n_objectives)?),
            Self::GradientInfluence(c) => Box::new(c.build(n_objectives)?),
            Self::SaturationAware(c) => Box::new(c.build(n_objectives)?),
        })
    }
}

/// Checks the number of objectives a weighter is built for.
///
/// # Errors
/// [`ConfigError`] on `n_objectives` when it is 0.
pub(crate) fn check_objective_count(n_objectives: usize) -> Result<(), ConfigError> {
    if n_objectives == 0 {
        return Err(ConfigError::new(
            "n_objectives",
            "a weighter needs at least one objective",
        ));
    }
    Ok(())
}

/// Checks a float field is finite and ≥ 0.
///
/// # Errors
/// [`ConfigError`] naming `field`.
pub(crate) fn require_non_negative(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a finite number ≥ 0, got {value}"),
        ))
    }
}

/// Resolves configured weights: uniform when absent; otherwise `n_objectives` finite,
/// non-negative values with a positive sum, which are normalised to sum to 1.
///
/// # Errors
/// [`ConfigError`] naming `field` (wrong length, zero sum) or `field[k]` (bad entry).
pub(crate) fn resolve_weights(
    field: &str,
    weights: Option<&[f64]>,
    n_objectives: usize,
) -> Result<Vec<f64>, ConfigError> {
    check_objective_count(n_objectives)?;
    let Some(weights) = weights else {
        return Ok(vec![1.0 / n_objectives as f64; n_objectives]);
    };
    if weights.len() != n_objectives {
        return Err(ConfigError::new(
            field,
            format!(
                "has {} entries but the client has {n_objectives} objectives",
                weights.len()
            ),
        ));
    }
    for (k, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w >= 0.0) {
            return Err(ConfigError::new(
                format!("{field}[{k}]"),
                format!("must be a finite number ≥ 0, got {w}"),
            ));
        }
    }
    let total: f64 = weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(ConfigError::new(
            field,
            format!("must have a finite positive sum, got {total}"),
        ));
    }
    Ok(weights.iter().map(|w| w / total).collect())
}

#[cfg(test)]
mod tests {
    use super::super::{DotProduct, UpdateRule};
    use super::*;

    fn parse(json: &str) -> Result<WeighterConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn build_err(json: &str, n: usize) -> ConfigError {
        match parse(json).unwrap().build(n) {
            Ok(_) => panic!("{json} should not build"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_readme_example_parses_with_defaults_elsewhere() {
        let config = parse(r#"{"type": "hypergradient", "beta_w": 0.5, "dot": "cosine"}"#).unwrap();
        let expected = HypergradientConfig {
            beta_w: 0.5,
            dot: DotProduct::Cosine,
            ..HypergradientConfig::default()
        };
        assert_eq!(config, WeighterConfig::Hypergradient(expected));
        let weighter = config.build(3).unwrap();
        assert_eq!(weighter.name(), "hypergradient");
        assert!(weighter.needs().gradient_dots);
    }

    #[test]
    fn every_type_parses_and_builds() {
        for (json, name, needs_gradients) in [
            (r#"{"type": "fixed"}"#, "fixed", false),
            (r#"{"type": "hypergradient"}"#, "hypergradient", true),
            (
                r#"{"type": "gradient_influence"}"#,
                "gradient_influence",
                true,
            ),
            (r#"{"type": "saturation_aware"}"#, "saturation_aware", false),
        ] {
            let weighter = parse(json).unwrap().build(2).unwrap();
            assert_eq!(weighter.name(), name);
            assert_eq!(weighter.needs().gradient_dots, needs_gradients);
        }
        assert_eq!(
            WeighterConfig::default().build(2).unwrap().name(),
            "hypergradient"
        );
    }

    #[test]
    fn configs_round_trip_through_json() {
        let config = WeighterConfig::Hypergradient(HypergradientConfig {
            update: UpdateRule::Additive,
            dot: DotProduct::Raw,
            warmup_steps: 5,
            initial_weights: Some(vec![2.0, 1.0]),
            ..HypergradientConfig::default()
        });
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(parse(&json).unwrap(), config);
    }

    #[test]
    fn unknown_types_and_fields_are_rejected() {
        assert!(parse(r#"{"type": "magic"}"#).is_err());
        assert!(parse(r#"{"type": "fixed", "beta_w": 0.1}"#).is_err());
        assert!(parse(r#"{"type": "hypergradient", "beta": 0.1}"#).is_err());
        assert!(parse(r#"{"type": "hypergradient", "dot": "sine"}"#).is_err());
        assert!(parse(r#"{"type": "saturation_aware", "eta": 1}"#).is_err());
        assert!(parse(r#"{"type": "gradient_influence", "gamma": 1}"#).is_err());
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (r#"{"type": "hypergradient", "beta_w": -0.1}"#, 2, "beta_w"),
            (r#"{"type": "hypergradient", "w_min": 0.6}"#, 2, "w_min"),
            (r#"{"type": "hypergradient", "w0_min": 0.99}"#, 2, "w0_min"),
            (
                r#"{"type": "hypergradient", "initial_weights": [1, 2, 3]}"#,
                2,
                "initial_weights",
            ),
            (
                r#"{"type": "hypergradient", "initial_weights": [1, -2]}"#,
                2,
                "initial_weights[1]",
            ),
            (
                r#"{"type": "hypergradient", "initial_weights": [0, 0]}"#,
                2,
                "initial_weights",
            ),
            (r#"{"type": "hypergradient"}"#, 0, "n_objectives"),
            (r#"{"type": "fixed", "weights": [1]}"#, 2, "weights"),
            (r#"{"type": "fixed"}"#, 0, "n_objectives"),
            (r#"{"type": "gradient_influence", "eta": -1}"#, 2, "eta"),
            (
                r#"{"type": "gradient_influence", "lambda": 0}"#,
                2,
                "lambda",
            ),
            (r#"{"type": "gradient_influence", "w_min": 2}"#, 2, "w_min"),
            (r#"{"type": "saturation_aware", "gamma": -1}"#, 2, "gamma"),
            (
                r#"{"type": "saturation_aware", "smoothing": 0}"#,
                2,
                "smoothing",
            ),
            (
                r#"{"type": "saturation_aware", "smoothing": 1.5}"#,
                2,
                "smoothing",
            ),
            (
                r#"{"type": "saturation_aware", "initial_weights": [1]}"#,
                2,
                "initial_weights",
            ),
        ];
        for (json, n, field) in cases {
            assert_eq!(build_err(json, n).field, field, "{json}");
        }
    }

    #[test]
    fn weights_are_normalised_or_uniform() {
        // (1, 3) / 4 = (0.25, 0.75).
        assert_eq!(
            resolve_weights("w", Some(&[1.0, 3.0]), 2).unwrap(),
            vec![0.25, 0.75]
        );
        assert_eq!(resolve_weights("w", None, 4).unwrap(), vec![0.25; 4]);
        let err = resolve_weights("w", Some(&[1.0, f64::NAN]), 2).unwrap_err();
        assert_eq!(err.field, "w[1]");
        let err = resolve_weights("w", Some(&[f64::MAX, f64::MAX]), 2).unwrap_err();
        assert_eq!(err.field, "w");
    }
}
