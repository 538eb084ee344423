//! [`PluginConfig`]: the TOML table of any plugin (reward, aggregator, weighter), a string
//! `type` plus the plugin's own fields. Registries map the `type` to a constructor, so a
//! user's plugin sits beside the built-ins and a configuration stays pure data.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The table of one plugin: `{ type = "length", max = 48 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct PluginConfig {
    table: toml::Table,
}

impl TryFrom<toml::Table> for PluginConfig {
    type Error = ConfigError;
    fn try_from(table: toml::Table) -> Result<Self, ConfigError> {
        match table.get("type") {
            Some(toml::Value::String(_)) => Ok(Self { table }),
            Some(other) => Err(ConfigError::new(
                "type",
                format!("must be a string, got {}", other.type_str()),
            )),
            None => Err(ConfigError::new("type", "is missing")),
        }
    }
}

impl From<PluginConfig> for toml::Table {
    fn from(config: PluginConfig) -> Self {
        config.table
    }
}

impl std::str::FromStr for PluginConfig {
    type Err = ConfigError;

    /// A plugin from the command line: a bare type name (`hypergradient`) or an inline
    /// TOML table (`{ type = "hypergradient", beta_w = 0.5 }`).
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if !text.starts_with('{') {
            if text.is_empty() {
                return Err(ConfigError::new("type", "is missing"));
            }
            return Ok(Self::named(text));
        }
        let mut wrapper: toml::Table =
            toml::from_str(&format!("plugin = {text}")).map_err(|e| {
                ConfigError::new(
                    "plugin",
                    format!("not an inline TOML table: {}", e.message()),
                )
            })?;
        match wrapper.remove("plugin") {
            Some(toml::Value::Table(table)) => Self::try_from(table),
            _ => Err(ConfigError::new("plugin", "not an inline TOML table")),
        }
    }
}

impl PluginConfig {
    /// A table holding just `type = type_name` (every other field at its default).
    pub fn named(type_name: &str) -> Self {
        let mut table = toml::Table::new();
        table.insert("type".into(), type_name.into());
        Self { table }
    }

    /// The table of a typed config that serialises with its own `type` tag (a
    /// `#[serde(tag = "type")]` enum such as an aggregator or weighter config).
    ///
    /// # Errors
    /// [`ConfigError`] on `type` when the value does not serialise to a table with a string
    /// `type`.
    pub fn from_tagged<T: Serialize>(config: &T) -> Result<Self, ConfigError> {
        let table = toml::Table::try_from(config)
            .map_err(|e| ConfigError::new("type", format!("cannot be written as TOML: {e}")))?;
        Self::try_from(table)
    }

    /// The plugin's `type` name.
    pub fn type_name(&self) -> &str {
        self.table
            .get("type")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
    }

    /// The whole table, `type` included.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// Whether the table sets `field`.
    pub fn has(&self, field: &str) -> bool {
        self.table.contains_key(field)
    }

    /// Deserialises the plugin's own fields (everything but `type`) into `T`; use a
    /// `deny_unknown_fields` struct to reject typos.
    ///
    /// # Errors
    /// [`ConfigError`] on the type name, with serde's message (which names the field).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let mut fields = self.table.clone();
        fields.remove("type");
        fields
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::new(self.type_name(), e.message()))
    }

    /// Deserialises the whole table, `type` included, into a type tagged by `type`.
    ///
    /// # Errors
    /// [`ConfigError`] on the type name, with serde's message.
    pub fn parse_tagged<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.table
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::new(self.type_name(), e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
    enum Tagged {
        Scaled { factor: f64 },
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        factor: f64,
    }

    fn plugin(text: &str) -> Result<PluginConfig, ConfigError> {
        PluginConfig::try_from(toml::from_str::<toml::Table>(text).unwrap())
    }

    #[test]
    fn parses_names_and_inline_tables_from_the_command_line() {
        let p: PluginConfig = "fixed".parse().unwrap();
        assert_eq!(p, PluginConfig::named("fixed"));
        let p: PluginConfig = "{ type = \"scaled\", factor = 2.0 }".parse().unwrap();
        assert_eq!(p.parse::<Fields>().unwrap().factor, 2.0);
        assert_eq!("".parse::<PluginConfig>().unwrap_err().field, "type");
        assert_eq!(
            "{ factor = 2.0 }"
                .parse::<PluginConfig>()
                .unwrap_err()
                .field,
            "type"
        );
        assert_eq!(
            "{ type = ".parse::<PluginConfig>().unwrap_err().field,
            "plugin"
        );
    }

    #[test]
    fn requires_a_string_type() {
        assert_eq!(plugin("factor = 1.0").unwrap_err().field, "type");
        assert_eq!(plugin("type = 3").unwrap_err().field, "type");
        assert_eq!(plugin("type = \"scaled\"").unwrap().type_name(), "scaled");
    }

    #[test]
    fn parses_fields_and_tagged_tables() {
        let p = plugin("type = \"scaled\"\nfactor = 2.5").unwrap();
        assert_eq!(p.parse::<Fields>().unwrap().factor, 2.5);
        assert_eq!(
            p.parse_tagged::<Tagged>().unwrap(),
            Tagged::Scaled { factor: 2.5 }
        );
        let typo = plugin("type = \"scaled\"\nfactr = 2.5").unwrap();
        let e = typo.parse::<Fields>().unwrap_err();
        assert_eq!(e.field, "scaled");
        assert!(e.reason.contains("factr"), "{e}");
    }

    #[test]
    fn round_trips_typed_configs() {
        let p = PluginConfig::from_tagged(&Tagged::Scaled {
            factor: f64::INFINITY,
        })
        .unwrap();
        assert_eq!(p.type_name(), "scaled");
        assert_eq!(
            p.parse_tagged::<Tagged>().unwrap(),
            Tagged::Scaled {
                factor: f64::INFINITY
            }
        );
        assert!(p.has("factor") && !PluginConfig::named("x").has("factor"));
        // JSON has no infinity: round-trip a finite table.
        let finite = PluginConfig::from_tagged(&Tagged::Scaled { factor: 0.5 }).unwrap();
        let json = serde_json::to_string(&finite).unwrap();
        assert_eq!(serde_json::from_str::<PluginConfig>(&json).unwrap(), finite);
    }
}
