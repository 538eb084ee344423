//! [`PluginRegistry`]: constructors by `type` name, the common part of the reward,
//! aggregator and weighter registries.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{ConfigError, PluginConfig};

/// Constructors of one kind of plugin (`F` is the constructor's `dyn Fn` type), by name.
pub struct PluginRegistry<F: ?Sized> {
    kind: &'static str,
    constructors: BTreeMap<String, Arc<F>>,
}

impl<F: ?Sized> Clone for PluginRegistry<F> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            constructors: self.constructors.clone(),
        }
    }
}

impl<F: ?Sized> std::fmt::Debug for PluginRegistry<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRegistry")
            .field("kind", &self.kind)
            .field("types", &self.type_names())
            .finish()
    }
}

impl<F: ?Sized> PluginRegistry<F> {
    /// An empty registry of `kind` plugins (`"reward"`, `"aggregator"`, …; used in errors).
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            constructors: BTreeMap::new(),
        }
    }

    /// Registers `constructor` under `type_name`.
    ///
    /// # Errors
    /// [`ConfigError`] on `type` when the name is empty or already registered.
    pub fn insert(&mut self, type_name: &str, constructor: Arc<F>) -> Result<(), ConfigError> {
        if type_name.trim().is_empty() {
            return Err(ConfigError::new(
                "type",
                format!("a {} type name must not be empty", self.kind),
            ));
        }
        if self.constructors.contains_key(type_name) {
            return Err(ConfigError::new(
                "type",
                format!("{} type {type_name:?} is already registered", self.kind),
            ));
        }
        self.constructors.insert(type_name.to_string(), constructor);
        Ok(())
    }

    /// Whether `type_name` is registered.
    pub fn contains(&self, type_name: &str) -> bool {
        self.constructors.contains_key(type_name)
    }

    /// The registered type names, sorted.
    pub fn type_names(&self) -> Vec<&str> {
        self.constructors.keys().map(String::as_str).collect()
    }

    /// The constructor for `plugin`'s `type`.
    ///
    /// # Errors
    /// [`ConfigError`] on `type` naming the registered types when it is unknown.
    pub fn constructor(&self, plugin: &PluginConfig) -> Result<&F, ConfigError> {
        let name = plugin.type_name();
        self.constructors.get(name).map(Arc::as_ref).ok_or_else(|| {
            ConfigError::new(
                "type",
                format!(
                    "unknown {} type {name:?}; registered: {}",
                    self.kind,
                    self.type_names().join(", ")
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ctor = dyn Fn(&PluginConfig) -> Result<u32, ConfigError> + Send + Sync;

    #[test]
    fn registers_looks_up_and_rejects_bad_names() {
        let mut r: PluginRegistry<Ctor> = PluginRegistry::new("widget");
        r.insert("one", Arc::new(|_: &PluginConfig| Ok(1))).unwrap();
        assert!(r.contains("one") && !r.contains("two"));
        let c = r.constructor(&PluginConfig::named("one")).unwrap();
        assert_eq!(c(&PluginConfig::named("one")).unwrap(), 1);
        let e = r.constructor(&PluginConfig::named("two")).err().unwrap();
        assert_eq!(e.field, "type");
        assert!(
            e.reason
                .contains("unknown widget type \"two\"; registered: one"),
            "{e}"
        );
        let dup = r.insert("one", Arc::new(|_: &PluginConfig| Ok(2)));
        assert!(dup.unwrap_err().reason.contains("already registered"));
        assert!(r.insert(" ", Arc::new(|_: &PluginConfig| Ok(3))).is_err());
        assert_eq!(r.clone().type_names(), vec!["one"]);
    }
}
