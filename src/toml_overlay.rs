//! TOML files laid over a default config key by key, so a file that sets one field of a
//! table keeps the default's other fields in that table.

use fedmoa_core::ConfigError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `text` (TOML) laid over `default`: tables merge recursively, any other value (arrays
/// included) replaces the default's.
///
/// # Errors
/// [`ConfigError`] on field `toml` for a syntax error, an unknown field or a value of the
/// wrong type.
pub(crate) fn overlay<T: Serialize + DeserializeOwned>(
    default: &T,
    text: &str,
) -> Result<T, ConfigError> {
    let overrides: toml::Table =
        toml::from_str(text).map_err(|e| ConfigError::new("toml", e.to_string()))?;
    let mut merged =
        toml::Table::try_from(default).map_err(|e| ConfigError::new("toml", e.to_string()))?;
    merge_tables(&mut merged, overrides);
    toml::Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::new("toml", e.to_string()))
}

/// Lays `overrides` over `base`: tables merge recursively, any other value replaces.
fn merge_tables(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
