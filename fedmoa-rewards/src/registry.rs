//! [`RewardRegistry`]: maps a plugin's `type` name to its constructor, so user plugins
//! sit next to the built-ins and a client's reward set is pure data.

use std::sync::Arc;

use fedmoa_core::{ConfigError, PluginRegistry, RewardFn};

use crate::config::{PluginConfig, RewardConfig, WeightedReward};
use crate::rewards::PythonTestsConfig;
use crate::scoring::RewardSet;

/// Builds a plugin from its table (see [`PluginConfig::parse`] for typed fields).
pub type RewardConstructor =
    Arc<dyn Fn(&PluginConfig) -> Result<Box<dyn RewardFn>, ConfigError> + Send + Sync>;

/// The `type` name of [`crate::rewards::PythonTests`] (registered by
/// [`RewardRegistry::with_builtins`], outside [`RewardConfig`] because building it runs
/// `python3`).
pub const PYTHON_TESTS: &str = "python_tests";

type Constructor = dyn Fn(&PluginConfig) -> Result<Box<dyn RewardFn>, ConfigError> + Send + Sync;

/// Reward plugin constructors by `type` name.
#[derive(Clone, Debug)]
pub struct RewardRegistry {
    inner: PluginRegistry<Constructor>,
}

/// The name lookups (`contains`, `type_names`) of the underlying [`PluginRegistry`].
impl std::ops::Deref for RewardRegistry {
    type Target = PluginRegistry<Constructor>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Default for RewardRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl RewardRegistry {
    /// A registry without any plugin.
    pub fn new() -> Self {
        Self {
            inner: PluginRegistry::new("reward"),
        }
    }

    /// A registry holding the seven built-ins of [`RewardConfig::TYPES`] and the sandboxed
    /// [`PYTHON_TESTS`] plugin (whose constructor checks for `python3` at start-up).
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        // Cannot fail: the built-in names are distinct and non-empty.
        for name in RewardConfig::TYPES {
            let _ = registry.register(name, |p: &PluginConfig| {
                RewardConfig::from_plugin(p)?.build()
            });
        }
        let _ = registry.register(PYTHON_TESTS, |p: &PluginConfig| {
            let config: PythonTestsConfig = p.parse()?;
            let reward = config.build().map_err(|e| e.within(PYTHON_TESTS))?;
            Ok(Box::new(reward) as Box<dyn RewardFn>)
        });
        registry
    }

    /// Registers a constructor under `type_name`.
    ///
    /// # Errors
    /// [`ConfigError`] on `type` when the name is empty or already registered.
    pub fn register<F>(&mut self, type_name: &str, constructor: F) -> Result<&mut Self, ConfigError>
    where
        F: Fn(&PluginConfig) -> Result<Box<dyn RewardFn>, ConfigError> + Send + Sync + 'static,
    {
        self.inner.insert(type_name, Arc::new(constructor))?;
        Ok(self)
    }

    /// Builds one plugin.
    ///
    /// # Errors
    /// [`ConfigError`] for an unregistered type or from the plugin's constructor.
    pub fn build(&self, plugin: &PluginConfig) -> Result<Box<dyn RewardFn>, ConfigError> {
        self.inner.constructor(plugin)?(plugin)
    }

    /// Builds a [`RewardSet`] from weighted plugins with objective `primary` first in
    /// importance.
    ///
    /// # Errors
    /// [`ConfigError`] whose field is `rewards[i]…` for a bad plugin, or from
    /// [`RewardSet::new`].
    pub fn build_set(
        &self,
        rewards: &[WeightedReward],
        primary: usize,
    ) -> Result<RewardSet, ConfigError> {
        let plugins = rewards
            .iter()
            .enumerate()
            .map(|(i, r)| {
                self.build(&r.plugin)
                    .map_err(|e| e.within(&format!("rewards[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let weights = rewards.iter().map(|r| r.weight).collect();
        RewardSet::new(plugins, weights, primary)
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::{FnReward, RewardRange};

    use super::*;
    use crate::rewards::LengthConfig;

    fn table(text: &str) -> PluginConfig {
        let t: toml::Table = toml::from_str(text).unwrap();
        PluginConfig::try_from(t).unwrap()
    }

    #[test]
    fn builds_builtins_and_custom_plugins() {
        let mut registry = RewardRegistry::with_builtins();
        assert_eq!(registry.type_names().len(), 8);
        assert!(registry.contains(PYTHON_TESTS));
        registry
            .register("constant", |p: &PluginConfig| {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Constant {
                    value: f32,
                }
                let c: Constant = p.parse()?;
                Ok(Box::new(FnReward::new(
                    "constant",
                    RewardRange::UNIT,
                    move |_, _| c.value,
                )))
            })
            .unwrap();
        assert!(registry.contains("constant"));
        let r = registry
            .build(&table("type = \"constant\"\nvalue = 0.5"))
            .unwrap();
        assert_eq!(r.id().as_str(), "constant");
        let e = registry
            .build(&table("type = \"constant\"\nvalu = 0.5"))
            .err()
            .unwrap();
        assert_eq!(e.field, "constant");
        let r = registry
            .build(&table("type = \"length\"\nmax = 3"))
            .unwrap();
        assert_eq!(r.id().as_str(), "length");
    }

    #[test]
    fn rejects_unknown_and_duplicate_types() {
        let mut registry = RewardRegistry::with_builtins();
        let e = registry.build(&table("type = \"mystery\"")).err().unwrap();
        assert_eq!(e.field, "type");
        assert!(e.reason.contains("math_accuracy"));
        let dup = registry.register("format", |p: &PluginConfig| {
            RewardConfig::from_plugin(p)?.build()
        });
        assert!(dup.is_err());
        assert!(
            registry
                .register(" ", |p: &PluginConfig| RewardConfig::from_plugin(p)?
                    .build())
                .is_err()
        );
        assert!(
            RewardRegistry::new()
                .build(&table("type = \"format\""))
                .is_err()
        );
    }

    #[test]
    fn build_set_names_the_bad_entry() {
        let registry = RewardRegistry::with_builtins();
        let good = WeightedReward::new(1.0, &RewardConfig::Length(LengthConfig::hard(4)));
        let bad = WeightedReward::new(1.0, &RewardConfig::Length(LengthConfig::hard(0)));
        let e = registry.build_set(&[good.clone(), bad], 0).err().unwrap();
        assert_eq!(e.field, "rewards[1].length.max");
        assert_eq!(registry.build_set(&[good], 0).unwrap().len(), 1);
    }
}
