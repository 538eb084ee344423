//! [`WeighterRegistry`]: objective weighters by `type` name, so a user-written weighter
//! joins an experiment arm, a TOML file or a Flower client like the built-ins.

use std::sync::Arc;

use crate::{ConfigError, ObjectiveWeighter, PluginConfig, PluginRegistry};

use super::WeighterConfig;

/// What a weighter is built for: one client's objectives.
#[derive(Debug, Clone, PartialEq)]
pub struct WeighterContext {
    /// The client's configured objective weights (objective 0 is the primary); the
    /// built-ins start from them unless the table sets its own.
    pub initial_weights: Vec<f64>,
}

impl WeighterContext {
    /// A context for a client whose objectives start at `weights`.
    pub fn new(weights: &[f32]) -> Self {
        Self {
            initial_weights: weights.iter().map(|&w| f64::from(w)).collect(),
        }
    }

    /// The number of objectives.
    pub fn n_objectives(&self) -> usize {
        self.initial_weights.len()
    }
}

/// Builds a weighter from its table for one client.
pub type WeighterConstructor = dyn Fn(&PluginConfig, &WeighterContext) -> Result<Box<dyn ObjectiveWeighter>, ConfigError>
    + Send
    + Sync;

/// Objective weighter constructors by `type` name.
#[derive(Clone, Debug)]
pub struct WeighterRegistry {
    inner: PluginRegistry<WeighterConstructor>,
}

/// The name lookups (`contains`, `type_names`) of the underlying [`PluginRegistry`].
impl std::ops::Deref for WeighterRegistry {
    type Target = PluginRegistry<WeighterConstructor>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Default for WeighterRegistry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl WeighterRegistry {
    /// A registry without any weighter.
    pub fn empty() -> Self {
        Self {
            inner: PluginRegistry::new("weighter"),
        }
    }

    /// A registry holding the built-ins of [`WeighterConfig::TYPES`]. A built-in whose
    /// table leaves out its starting weights (`weights` for `fixed`, `initial_weights` for
    /// the others) starts from the client's configured weights.
    pub fn with_builtins() -> Self {
        let mut registry = Self::empty();
        for name in WeighterConfig::TYPES {
            let ctor: Arc<WeighterConstructor> = Arc::new(build_builtin);
            // Cannot fail: the built-in names are distinct and non-empty.
            let _ = registry.inner.insert(name, ctor);
        }
        registry
    }

    /// Registers a constructor under `type_name`.
    ///
    /// # Errors
    /// [`ConfigError`] on `type` when the name is empty or already registered.
    pub fn register<F>(&mut self, type_name: &str, constructor: F) -> Result<&mut Self, ConfigError>
    where
        F: Fn(&PluginConfig, &WeighterContext) -> Result<Box<dyn ObjectiveWeighter>, ConfigError>
            + Send
            + Sync
            + 'static,
    {
        self.inner.insert(type_name, Arc::new(constructor))?;
        Ok(self)
    }

    /// Builds the weighter of `plugin` for a client described by `context`.
    ///
    /// # Errors
    /// [`ConfigError`] for an unregistered type or from the constructor.
    pub fn build(
        &self,
        plugin: &PluginConfig,
        context: &WeighterContext,
    ) -> Result<Box<dyn ObjectiveWeighter>, ConfigError> {
        self.inner.constructor(plugin)?(plugin, context)
    }
}

fn build_builtin(
    plugin: &PluginConfig,
    context: &WeighterContext,
) -> Result<Box<dyn ObjectiveWeighter>, ConfigError> {
    let mut config: WeighterConfig = plugin.parse_tagged()?;
    config
        .initial_weights_mut()
        .get_or_insert_with(|| context.initial_weights.clone());
    config
        .build(context.n_objectives())
        .map_err(|e| e.within(plugin.type_name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::FixedConfig;

    fn table(text: &str) -> PluginConfig {
        PluginConfig::try_from(toml::from_str::<toml::Table>(text).unwrap()).unwrap()
    }

    #[test]
    fn builtins_start_from_the_clients_weights_unless_told_otherwise() {
        let registry = WeighterRegistry::with_builtins();
        assert_eq!(registry.type_names().len(), WeighterConfig::TYPES.len());
        let context = WeighterContext::new(&[0.75, 0.25]);
        for name in WeighterConfig::TYPES {
            let w = registry
                .build(&PluginConfig::named(name), &context)
                .unwrap();
            assert_eq!(w.weights(), [0.75, 0.25], "{name}");
        }
        let w = registry
            .build(&table("type = \"fixed\"\nweights = [0.5, 0.5]"), &context)
            .unwrap();
        assert_eq!(w.weights(), [0.5, 0.5]);
        let e = registry
            .build(&table("type = \"hypergradient\"\nbeta_w = -1.0"), &context)
            .err()
            .unwrap();
        assert_eq!(e.field, "hypergradient.beta_w");
        let e = registry
            .build(&table("type = \"hypergradient\"\nbeta = 1.0"), &context)
            .err()
            .unwrap();
        assert!(e.reason.contains("beta"), "{e}");
    }

    #[test]
    fn user_weighters_register_by_name() {
        let mut registry = WeighterRegistry::with_builtins();
        registry
            .register("equal", |_: &PluginConfig, c: &WeighterContext| {
                let equal = FixedConfig { weights: None };
                Ok(Box::new(equal.build(c.n_objectives())?) as Box<dyn ObjectiveWeighter>)
            })
            .unwrap();
        let w = registry
            .build(
                &PluginConfig::named("equal"),
                &WeighterContext::new(&[0.8, 0.2]),
            )
            .unwrap();
        assert_eq!(w.weights(), [0.5, 0.5]);
        let e = registry
            .build(&PluginConfig::named("nope"), &WeighterContext::new(&[1.0]))
            .err()
            .unwrap();
        assert!(e.reason.contains("equal"), "{e}");
        assert!(
            registry
                .register("fixed", |_: &PluginConfig, _: &WeighterContext| {
                    Err(ConfigError::new("x", "y"))
                })
                .is_err()
        );
    }
}
