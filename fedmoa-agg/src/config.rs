//! [`AggregatorConfig`]: the TOML/JSON choice of aggregation rule.

use fedmoa_core::{Aggregator, ConfigError};
use serde::{Deserialize, Serialize};

use crate::{
    BatchAggregator, CoordinateMedianConfig, FedAdagradConfig, FedAdamConfig, FedAvgConfig,
    FedAvgMConfig, FedProxConfig, FedYogiConfig, KrumConfig, NormClipConfig, TaskAccuracyConfig,
    TrimmedMeanConfig,
};

/// Which aggregation rule the server uses, tagged by `type`:
///
/// ```toml
/// [aggregator]
/// type = "task_accuracy"
/// temperature = 0.1
/// ```
///
/// Omitted fields take their defaults; unknown fields are errors. See `docs/AGGREGATORS.md`
/// for every rule's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AggregatorConfig {
    /// [`crate::FedAvg`].
    #[serde(rename = "fedavg")]
    FedAvg(FedAvgConfig),
    /// [`crate::FedProx`].
    #[serde(rename = "fedprox")]
    FedProx(FedProxConfig),
    /// [`crate::TaskAccuracy`] (FedMOA).
    TaskAccuracy(TaskAccuracyConfig),
    /// [`crate::FedAvgM`].
    #[serde(rename = "fedavgm")]
    FedAvgM(FedAvgMConfig),
    /// [`crate::FedAdam`].
    #[serde(rename = "fedadam")]
    FedAdam(FedAdamConfig),
    /// [`crate::FedYogi`].
    #[serde(rename = "fedyogi")]
    FedYogi(FedYogiConfig),
    /// [`crate::FedAdagrad`].
    #[serde(rename = "fedadagrad")]
    FedAdagrad(FedAdagradConfig),
    /// [`crate::CoordinateMedian`].
    CoordinateMedian(CoordinateMedianConfig),
    /// [`crate::TrimmedMean`].
    TrimmedMean(TrimmedMeanConfig),
    /// [`crate::NormClip`] around another rule.
    NormClip(NormClipConfig),
    /// [`crate::Krum`] / Multi-Krum.
    Krum(KrumConfig),
}

impl Default for AggregatorConfig {
    /// FedMOA's rule with its default settings.
    fn default() -> Self {
        AggregatorConfig::TaskAccuracy(TaskAccuracyConfig::default())
    }
}

impl AggregatorConfig {
    /// The `type` names of the built-ins.
    pub const TYPES: [&'static str; 11] = [
        "fedavg",
        "fedprox",
        "task_accuracy",
        "fedavgm",
        "fedadam",
        "fedyogi",
        "fedadagrad",
        "coordinate_median",
        "trimmed_mean",
        "norm_clip",
        "krum",
    ];

    /// Checks every field (those of a wrapped rule included, prefixed `inner.`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            AggregatorConfig::FedAvg(c) => c.validate(),
            AggregatorConfig::FedProx(c) => c.validate(),
            AggregatorConfig::TaskAccuracy(c) => c.validate(),
            AggregatorConfig::FedAvgM(c) => c.validate(),
            AggregatorConfig::FedAdam(c) => c.validate(),
            AggregatorConfig::FedYogi(c) => c.validate(),
            AggregatorConfig::FedAdagrad(c) => c.validate(),
            AggregatorConfig::CoordinateMedian(c) => c.validate(),
            AggregatorConfig::TrimmedMean(c) => c.validate(),
            AggregatorConfig::NormClip(c) => c.validate(),
            AggregatorConfig::Krum(c) => c.validate(),
        }
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`AggregatorConfig::validate`].
    pub fn build(&self) -> Result<Box<dyn Aggregator>, ConfigError> {
        Ok(self.build_batch()?)
    }

    /// Validates and builds the aggregator as a [`BatchAggregator`] (what wrappers such as
    /// [`crate::NormClip`] need).
    ///
    /// # Errors
    /// As [`AggregatorConfig::validate`].
    pub fn build_batch(&self) -> Result<Box<dyn BatchAggregator>, ConfigError> {
        Ok(match self {
            AggregatorConfig::FedAvg(c) => Box::new(c.build()?),
            AggregatorConfig::FedProx(c) => Box::new(c.build()?),
            AggregatorConfig::TaskAccuracy(c) => Box::new(c.build()?),
            AggregatorConfig::FedAvgM(c) => Box::new(c.build()?),
            AggregatorConfig::FedAdam(c) => Box::new(c.build()?),
            AggregatorConfig::FedYogi(c) => Box::new(c.build()?),
            AggregatorConfig::FedAdagrad(c) => Box::new(c.build()?),
            AggregatorConfig::CoordinateMedian(c) => Box::new(c.build()?),
            AggregatorConfig::TrimmedMean(c) => Box::new(c.build()?),
            AggregatorConfig::NormClip(c) => Box::new(c.build()?),
            AggregatorConfig::Krum(c) => Box::new(c.build()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskWeighting, Temperature};

    #[derive(Debug, Deserialize)]
    struct Run {
        aggregator: AggregatorConfig,
    }

    fn parse(toml_text: &str) -> AggregatorConfig {
        toml::from_str::<Run>(toml_text).unwrap().aggregator
    }

    #[test]
    fn parses_task_accuracy_with_defaults() {
        let cfg = parse("[aggregator]\ntype = \"task_accuracy\"\ntemperature = 0.1\n");
        let AggregatorConfig::TaskAccuracy(c) = &cfg else {
            panic!("wrong variant {cfg:?}");
        };
        assert_eq!(c.temperature, Temperature::new(0.1));
        assert_eq!(c.task_weighting, TaskWeighting::TaskBalanced);
        assert_eq!(c.server_lr, 1.0);
        assert_eq!(cfg.build().unwrap().name(), "task_accuracy");
        let cfg = parse(
            "[aggregator]\ntype = \"task_accuracy\"\ntemperature = inf\n\
             task_weighting = \"sample_proportional\"\n",
        );
        let AggregatorConfig::TaskAccuracy(c) = cfg else {
            panic!("wrong variant");
        };
        assert_eq!(c.temperature, Temperature::INFINITE);
        assert_eq!(c.task_weighting, TaskWeighting::SampleProportional);
    }

    #[test]
    fn every_type_name_builds_with_defaults() {
        let names = AggregatorConfig::TYPES
            .iter()
            .filter(|&&n| n != "norm_clip");
        for name in names {
            let cfg = parse(&format!("[aggregator]\ntype = \"{name}\"\n"));
            assert_eq!(cfg.build().unwrap().name(), *name);
        }
    }

    #[test]
    fn parses_nested_norm_clip() {
        let cfg = parse(
            "[aggregator]\ntype = \"norm_clip\"\nmax_norm = 2.5\n\
             [aggregator.inner]\ntype = \"fedadam\"\nserver_lr = 0.1\n",
        );
        let agg = cfg.build().unwrap();
        assert_eq!(agg.name(), "norm_clip");
        let AggregatorConfig::NormClip(c) = cfg else {
            panic!("wrong variant");
        };
        assert_eq!(c.max_norm, 2.5);
        assert!(matches!(*c.inner, AggregatorConfig::FedAdam(ref a) if a.server_lr == 0.1));
    }

    #[test]
    fn validation_names_the_bad_field() {
        let cases = [
            (
                "type = \"task_accuracy\"\ntemperature = -1.0",
                "temperature",
            ),
            ("type = \"task_accuracy\"\ntemperature = 0.0", "temperature"),
            ("type = \"fedavg\"\nserver_lr = nan", "server_lr"),
            ("type = \"fedprox\"\nmu = -0.1", "mu"),
            ("type = \"fedadam\"\nbeta1 = 1.0", "beta1"),
            ("type = \"fedyogi\"\ntau = 0.0", "tau"),
            ("type = \"fedavgm\"\nmomentum = 1.5", "momentum"),
            ("type = \"trimmed_mean\"\nbeta = 0.5", "beta"),
            ("type = \"krum\"\nselect = 0", "select"),
            (
                "type = \"norm_clip\"\nmax_norm = 1.0\ninner = { type = \"krum\", server_lr = 0.0 }",
                "inner.server_lr",
            ),
            (
                "type = \"norm_clip\"\nmax_norm = -1.0\ninner = { type = \"fedavg\" }",
                "max_norm",
            ),
        ];
        for (body, field) in cases {
            let cfg = parse(&format!("[aggregator]\n{body}\n"));
            let err = cfg.build().err().unwrap_or_else(|| panic!("{body} built"));
            assert_eq!(err.field, field, "{body}");
            assert_eq!(cfg.validate().unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn unknown_fields_and_types_are_parse_errors() {
        let typo = "[aggregator]\ntype = \"task_accuracy\"\ntempreature = 0.1\n";
        let err = toml::from_str::<Run>(typo).unwrap_err().to_string();
        assert!(err.contains("tempreature"), "{err}");
        assert!(toml::from_str::<Run>("[aggregator]\ntype = \"fedsgd\"\n").is_err());
        assert!(toml::from_str::<Run>("[aggregator]\nserver_lr = 1.0\n").is_err());
    }

    #[test]
    fn json_round_trip_keeps_infinite_temperature() {
        let cfg = AggregatorConfig::NormClip(NormClipConfig {
            max_norm: 1.0,
            inner: Box::new(AggregatorConfig::TaskAccuracy(TaskAccuracyConfig {
                temperature: Temperature::INFINITE,
                ..TaskAccuracyConfig::default()
            })),
        });
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(
            json,
            r#"{"type":"norm_clip","max_norm":1.0,"inner":{"type":"task_accuracy","temperature":"inf","task_weighting":"task_balanced","task_aware":true,"server_lr":1.0}}"#
        );
        assert_eq!(
            serde_json::from_str::<AggregatorConfig>(&json).unwrap(),
            cfg
        );
    }
}
