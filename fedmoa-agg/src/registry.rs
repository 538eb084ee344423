//! [`AggregatorRegistry`]: server rules by `type` name, so a user-written aggregator joins
//! an experiment arm or a TOML file like the built-ins.

use std::sync::Arc;

use fedmoa_core::{Aggregator, ConfigError, PluginConfig, PluginRegistry};

use crate::AggregatorConfig;

/// Builds an aggregator from its table.
pub type AggregatorConstructor =
    dyn Fn(&PluginConfig) -> Result<Box<dyn Aggregator>, ConfigError> + Send + Sync;

/// Aggregator constructors by `type` name.
#[derive(Clone, Debug)]
pub struct AggregatorRegistry {
    inner: PluginRegistry<AggregatorConstructor>,
}

/// The name lookups (`contains`, `type_names`) of the underlying [`PluginRegistry`].
impl std::ops::Deref for AggregatorRegistry {
    type Target = PluginRegistry<AggregatorConstructor>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Default for AggregatorRegistry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl AggregatorRegistry {
    /// A registry without any aggregator.
    pub fn empty() -> Self {
        Self {
            inner: PluginRegistry::new("aggregator"),
        }
    }

    /// A registry holding the built-ins of [`AggregatorConfig::TYPES`].
    pub fn with_builtins() -> Self {
        let mut registry = Self::empty();
        for name in AggregatorConfig::TYPES {
            // Cannot fail: the built-in names are distinct and non-empty.
            let _ = registry.register(name, |p: &PluginConfig| {
                let config: AggregatorConfig = p.parse_tagged()?;
                config.build().map_err(|e| e.within(p.type_name()))
            });
        }
        registry
    }

    /// Registers a constructor under `type_name`.
    ///
    /// # Errors
    /// [`ConfigError`] on `type` when the name is empty or already registered.
    pub fn register<F>(&mut self, type_name: &str, constructor: F) -> Result<&mut Self, ConfigError>
    where
        F: Fn(&PluginConfig) -> Result<Box<dyn Aggregator>, ConfigError> + Send + Sync + 'static,
    {
        self.inner.insert(type_name, Arc::new(constructor))?;
        Ok(self)
    }

    /// Builds the aggregator of `plugin`.
    ///
    /// # Errors
    /// [`ConfigError`] for an unregistered type or from the constructor.
    pub fn build(&self, plugin: &PluginConfig) -> Result<Box<dyn Aggregator>, ConfigError> {
        self.inner.constructor(plugin)?(plugin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FedAvgConfig, TaskAccuracyConfig};

    fn table(text: &str) -> PluginConfig {
        PluginConfig::try_from(toml::from_str::<toml::Table>(text).unwrap()).unwrap()
    }

    #[test]
    fn builds_every_builtin_by_name() {
        let registry = AggregatorRegistry::with_builtins();
        assert_eq!(registry.type_names().len(), AggregatorConfig::TYPES.len());
        for name in AggregatorConfig::TYPES {
            let plugin = if name == "norm_clip" {
                table("type = \"norm_clip\"\nmax_norm = 1.0\ninner = { type = \"fedavg\" }")
            } else {
                PluginConfig::named(name)
            };
            let built = registry.build(&plugin).unwrap();
            assert!(!built.name().is_empty(), "{name}");
        }
        let a = registry
            .build(&table("type = \"task_accuracy\"\ntemperature = inf"))
            .unwrap();
        assert_eq!(a.name(), "task_accuracy");
        let e = registry
            .build(&table("type = \"task_accuracy\"\ntemperature = -1.0"))
            .err()
            .unwrap();
        assert!(e.field.starts_with("task_accuracy"), "{e}");
        let e = registry
            .build(&PluginConfig::named("fedsgd"))
            .err()
            .unwrap();
        assert!(
            e.reason.contains("fedavg") && e.reason.contains("krum"),
            "{e}"
        );
    }

    #[test]
    fn typed_configs_round_trip_through_their_tables() {
        let registry = AggregatorRegistry::with_builtins();
        for config in [
            AggregatorConfig::FedAvg(FedAvgConfig::default()),
            AggregatorConfig::TaskAccuracy(TaskAccuracyConfig::default()),
        ] {
            let plugin = PluginConfig::from_tagged(&config).unwrap();
            assert_eq!(plugin.parse_tagged::<AggregatorConfig>().unwrap(), config);
            assert!(registry.build(&plugin).is_ok());
        }
    }

    #[test]
    fn user_aggregators_register_by_name() {
        let mut registry = AggregatorRegistry::with_builtins();
        registry
            .register("my_fedavg", |p: &PluginConfig| {
                let config: FedAvgConfig = p.parse()?;
                Ok(Box::new(config.build()?) as Box<dyn Aggregator>)
            })
            .unwrap();
        assert!(registry.contains("my_fedavg"));
        assert!(registry.build(&PluginConfig::named("my_fedavg")).is_ok());
        let dup = registry.register("fedavg", |_: &PluginConfig| Err(ConfigError::new("x", "y")));
        assert!(dup.is_err());
    }
}
