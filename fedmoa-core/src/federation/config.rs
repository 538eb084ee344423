//! [`FederationConfig`]: rounds, client sampling, parallelism, timeouts.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, require_in_range, require_positive};

/// Settings of the federation loop (the server side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Number of rounds to run.
    pub rounds: u32,
    /// Fraction of clients sampled each round, in `(0, 1]` (Flower's `fraction_train`).
    pub fraction: f64,
    /// At least this many clients are sampled each round (capped at the number of clients).
    pub min_clients: usize,
    /// Aggregation needs at least this many successful replies; otherwise the round keeps
    /// the old parameters and is recorded as skipped.
    pub min_replies: usize,
    /// How many clients train at the same time (threads).
    pub max_parallel: usize,
    /// A client that has not replied after this many seconds is dropped from the round.
    pub client_timeout_secs: Option<f64>,
    /// Local steps each client runs per round (`None`: the trainer's default).
    pub local_steps: Option<u32>,
    /// Seed of client sampling and of the per-client round seeds.
    pub seed: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            rounds: 10,
            fraction: 1.0,
            min_clients: 1,
            min_replies: 1,
            max_parallel: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            client_timeout_secs: None,
            local_steps: None,
            seed: 0,
        }
    }
}

impl FederationConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rounds == 0 {
            return Err(ConfigError::new("rounds", "must be at least 1"));
        }
        require_in_range("fraction", self.fraction, f64::MIN_POSITIVE, 1.0)?;
        if self.min_clients == 0 {
            return Err(ConfigError::new("min_clients", "must be at least 1"));
        }
        if self.min_replies == 0 {
            return Err(ConfigError::new("min_replies", "must be at least 1"));
        }
        if self.max_parallel == 0 {
            return Err(ConfigError::new("max_parallel", "must be at least 1"));
        }
        if let Some(t) = self.client_timeout_secs {
            require_positive("client_timeout_secs", t)?;
        }
        if self.local_steps == Some(0) {
            return Err(ConfigError::new(
                "local_steps",
                "must be at least 1 when set",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let bad = FederationConfig {
            fraction: 0.0,
            ..FederationConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "fraction");
        let bad = FederationConfig {
            client_timeout_secs: Some(-1.0),
            ..FederationConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "client_timeout_secs");
        assert!(FederationConfig::default().validate().is_ok());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<FederationConfig>(r#"{"roundz": 3}"#).unwrap_err();
        assert!(err.to_string().contains("roundz"));
    }
}
