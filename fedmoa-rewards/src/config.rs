//! Reward plugins as data: the typed [`RewardConfig`] of the built-ins, the untyped
//! [`PluginConfig`] table (from `fedmoa-core`) that also carries user plugins, and [`WeightedReward`].
//!
//! In TOML a client's reward set reads
//! `rewards = [{ type = "math_accuracy", weight = 0.6 }, { type = "length", weight = 0.4, max = 48 }]`.

pub use fedmoa_core::PluginConfig;
use fedmoa_core::{ConfigError, RewardFn};
use serde::{Deserialize, Serialize};

use crate::rewards::{
    AnswerLineConfig, CodePassRateConfig, CodeSyntaxConfig, FormatConfig, LengthConfig,
    MathAccuracyConfig, ReasoningConfig,
};

/// The configuration of a built-in reward plugin, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RewardConfig {
    /// [`crate::rewards::MathAccuracy`].
    MathAccuracy(MathAccuracyConfig),
    /// [`crate::rewards::CodePassRate`].
    CodePassRate(CodePassRateConfig),
    /// [`crate::rewards::CodeSyntax`].
    CodeSyntax(CodeSyntaxConfig),
    /// [`crate::rewards::Format`].
    Format(FormatConfig),
    /// [`crate::rewards::Length`].
    Length(LengthConfig),
    /// [`crate::rewards::Reasoning`].
    Reasoning(ReasoningConfig),
    /// [`crate::rewards::AnswerLine`].
    AnswerLine(AnswerLineConfig),
}

impl RewardConfig {
    /// The `type` names of the built-ins.
    pub const TYPES: [&'static str; 7] = [
        "math_accuracy",
        "code_pass_rate",
        "code_syntax",
        "format",
        "length",
        "reasoning",
        "answer_line",
    ];

    /// This config's `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            RewardConfig::MathAccuracy(_) => "math_accuracy",
            RewardConfig::CodePassRate(_) => "code_pass_rate",
            RewardConfig::CodeSyntax(_) => "code_syntax",
            RewardConfig::Format(_) => "format",
            RewardConfig::Length(_) => "length",
            RewardConfig::Reasoning(_) => "reasoning",
            RewardConfig::AnswerLine(_) => "answer_line",
        }
    }

    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] whose field is prefixed with the type name (e.g. `length.max`).
    pub fn build(&self) -> Result<Box<dyn RewardFn>, ConfigError> {
        fn boxed<R: RewardFn + 'static>(r: R) -> Box<dyn RewardFn> {
            Box::new(r)
        }
        match self {
            RewardConfig::MathAccuracy(c) => c.build().map(boxed),
            RewardConfig::CodePassRate(c) => c.build().map(boxed),
            RewardConfig::CodeSyntax(c) => c.build().map(boxed),
            RewardConfig::Format(c) => c.build().map(boxed),
            RewardConfig::Length(c) => c.build().map(boxed),
            RewardConfig::Reasoning(c) => c.build().map(boxed),
            RewardConfig::AnswerLine(c) => c.build().map(boxed),
        }
        .map_err(|e| e.within(self.type_name()))
    }
}

impl From<&RewardConfig> for PluginConfig {
    fn from(config: &RewardConfig) -> Self {
        // Cannot fail: every built-in field is a string, bool, float, u32 or a list of
        // strings, all representable in TOML; the fallback keeps the type name.
        PluginConfig::from_tagged(config)
            .unwrap_or_else(|_| PluginConfig::named(config.type_name()))
    }
}

impl RewardConfig {
    /// The typed config of a plugin table whose `type` names a built-in.
    ///
    /// # Errors
    /// [`ConfigError`] for an unknown type or fields that do not fit it.
    pub fn from_plugin(plugin: &PluginConfig) -> Result<RewardConfig, ConfigError> {
        if !RewardConfig::TYPES.contains(&plugin.type_name()) {
            return Err(ConfigError::new(
                "type",
                format!("unknown reward type {:?}", plugin.type_name()),
            ));
        }
        plugin.parse_tagged()
    }
}

/// One objective of a client: a plugin and its initial weight, written as one table
/// (`{ type = "format", weight = 0.2, partial_credit = 0.5 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct WeightedReward {
    /// Initial weight, finite and ≥ 0 (the set is normalised to sum to 1).
    pub weight: f32,
    /// The plugin.
    pub plugin: PluginConfig,
}

impl WeightedReward {
    /// A built-in plugin with an initial weight.
    pub fn new(weight: f32, config: &RewardConfig) -> Self {
        Self {
            weight,
            plugin: config.into(),
        }
    }
}

impl TryFrom<toml::Table> for WeightedReward {
    type Error = ConfigError;
    fn try_from(mut table: toml::Table) -> Result<Self, ConfigError> {
        let weight = match table.remove("weight") {
            Some(toml::Value::Float(w)) => w as f32,
            Some(toml::Value::Integer(w)) => w as f32,
            Some(other) => {
                return Err(ConfigError::new(
                    "weight",
                    format!("must be a number, got {}", other.type_str()),
                ));
            }
            None => return Err(ConfigError::new("weight", "is missing")),
        };
        Ok(Self {
            weight,
            plugin: PluginConfig::try_from(table)?,
        })
    }
}

impl From<WeightedReward> for toml::Table {
    fn from(reward: WeightedReward) -> Self {
        let mut table = toml::Table::from(reward.plugin);
        table.insert(
            "weight".into(),
            toml::Value::Float(f64::from(reward.weight)),
        );
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::LengthMode;

    #[derive(Debug, Deserialize)]
    struct Rewards {
        rewards: Vec<WeightedReward>,
    }

    #[test]
    fn parses_weighted_rewards_from_toml() {
        let text = r#"rewards = [
            { type = "math_accuracy", weight = 0.6 },
            { type = "length", weight = 1, max = 48, mode = "soft", cache = 16 },
        ]"#;
        let parsed: Rewards = toml::from_str(text).unwrap();
        assert_eq!(parsed.rewards[0].weight, 0.6);
        assert_eq!(parsed.rewards[1].weight, 1.0);
        match RewardConfig::from_plugin(&parsed.rewards[1].plugin).unwrap() {
            RewardConfig::Length(c) => {
                assert_eq!((c.max, c.mode, c.cache), (48, LengthMode::Soft, Some(16)));
            }
            other => panic!("expected a length config, got {other:?}"),
        }
    }

    #[test]
    fn malformed_tables_are_rejected() {
        let err = |text: &str| toml::from_str::<Rewards>(text).unwrap_err().to_string();
        assert!(err("rewards = [{ type = \"format\" }]").contains("weight"));
        assert!(err("rewards = [{ weight = 1.0 }]").contains("type"));
        assert!(err("rewards = [{ type = 3, weight = 1.0 }]").contains("type"));
        assert!(err("rewards = [{ type = \"format\", weight = \"x\" }]").contains("weight"));
    }

    #[test]
    fn typos_in_builtin_fields_name_the_field() {
        let t: toml::Table = toml::from_str("type = \"length\"\nmax = 4\nmaxx = 5").unwrap();
        let e = RewardConfig::from_plugin(&PluginConfig::try_from(t).unwrap()).unwrap_err();
        assert_eq!(e.field, "length");
        assert!(e.reason.contains("maxx"), "{e}");
        let t: toml::Table = toml::from_str("type = \"nope\"").unwrap();
        let e = RewardConfig::from_plugin(&PluginConfig::try_from(t).unwrap()).unwrap_err();
        assert_eq!(e.field, "type");
    }

    #[test]
    fn build_prefixes_the_type() {
        let e = RewardConfig::Length(LengthConfig::hard(0))
            .build()
            .err()
            .unwrap();
        assert_eq!(e.field, "length.max");
    }

    #[test]
    fn round_trips_through_toml_and_json() {
        let configs = [
            RewardConfig::MathAccuracy(MathAccuracyConfig::default()),
            RewardConfig::CodePassRate(CodePassRateConfig::default()),
            RewardConfig::CodeSyntax(CodeSyntaxConfig::default()),
            RewardConfig::Format(FormatConfig {
                partial_credit: 0.5,
                ..Default::default()
            }),
            RewardConfig::Length(LengthConfig::soft(64, 16)),
            RewardConfig::Reasoning(ReasoningConfig::default()),
            RewardConfig::AnswerLine(AnswerLineConfig::default()),
        ];
        for (config, name) in configs.iter().zip(RewardConfig::TYPES) {
            assert_eq!(config.type_name(), name);
            let w = WeightedReward::new(0.25, config);
            assert_eq!(w.plugin.type_name(), name);
            assert_eq!(RewardConfig::from_plugin(&w.plugin).unwrap(), *config);
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<WeightedReward>(&json).unwrap(), w);
            assert!(config.build().is_ok());
        }
        let json = serde_json::to_string(&WeightedReward::new(0.5, &configs[4])).unwrap();
        assert_eq!(
            json,
            r#"{"cache":16,"max":64,"mode":"soft","type":"length","unit":"tokens","weight":0.5}"#
        );
    }
}
