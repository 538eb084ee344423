//! [`FlowerClientConfig`]: how a fedmoa client joins a Flower federation.

use std::path::PathBuf;
use std::time::Duration;

use fedmoa_core::{ConfigError, require_in_range, require_positive};
use serde::{Deserialize, Serialize};

/// Configuration of a [`crate::FlowerClient`] (TOML/JSON; unknown fields rejected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowerClientConfig {
    /// SuperLink address: `http://host:8000` (insecure) or `https://host:8000` (TLS).
    pub superlink: String,
    /// CA certificate (PEM) that signed the SuperLink's certificate; needs `https://`.
    pub root_certificates: Option<PathBuf>,
    /// PKCS#8 PEM P-384 key of this node. Created on first use when the file does not
    /// exist, so the node keeps its identity across restarts; `None`: a fresh key per
    /// process.
    pub key_file: Option<PathBuf>,
    /// Register the key with the SuperLink (`false` when an operator registered it
    /// with `flwr supernode register`, required with `--enable-supernode-auth`).
    pub self_register: bool,
    /// Heartbeat interval announced to the SuperLink, in `[10, 1800]` seconds; the
    /// node is declared offline after twice this without a heartbeat.
    pub heartbeat_interval_secs: f64,
    /// Pause between `pull-messages` calls when nothing is waiting.
    pub poll_interval_secs: f64,
    /// Timeout of one HTTP request.
    pub request_timeout_secs: f64,
    /// Longest pause between reconnection attempts (the backoff doubles from 0.5 s).
    pub max_backoff_secs: f64,
    /// Give up after the SuperLink has been unreachable this long.
    pub give_up_after_secs: f64,
    /// This client's index in the federation: seeds `derive_seed(seed, [round, index])`.
    pub client_index: u64,
    /// Name reported in the reply's `fedmoa` record (default `client-<index>`).
    pub client_id: Option<String>,
    /// Leave the federation once the run of the last message finished (demos, CI);
    /// `false`: serve runs until shut down, like a Flower SuperNode.
    pub exit_after_run: bool,
    /// Print one line per event on stderr.
    pub verbose: bool,
}

impl Default for FlowerClientConfig {
    fn default() -> Self {
        Self {
            superlink: "http://127.0.0.1:8000".into(),
            root_certificates: None,
            key_file: None,
            self_register: true,
            heartbeat_interval_secs: 30.0,
            poll_interval_secs: 1.0,
            request_timeout_secs: 120.0,
            max_backoff_secs: 10.0,
            give_up_after_secs: 300.0,
            client_index: 0,
            client_id: None,
            exit_after_run: false,
            verbose: true,
        }
    }
}

impl FlowerClientConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.superlink.starts_with("http://") || self.superlink.starts_with("https://")) {
            return Err(ConfigError::new(
                "superlink",
                format!(
                    "must start with http:// or https://, got {:?}",
                    self.superlink
                ),
            ));
        }
        if self.root_certificates.is_some() && !self.superlink.starts_with("https://") {
            return Err(ConfigError::new(
                "root_certificates",
                "a CA certificate needs an https:// superlink address",
            ));
        }
        require_in_range(
            "heartbeat_interval_secs",
            self.heartbeat_interval_secs,
            10.0,
            1800.0,
        )?;
        require_positive("poll_interval_secs", self.poll_interval_secs)?;
        require_positive("request_timeout_secs", self.request_timeout_secs)?;
        require_positive("max_backoff_secs", self.max_backoff_secs)?;
        require_positive("give_up_after_secs", self.give_up_after_secs)?;
        if let Some(id) = &self.client_id
            && id.trim().is_empty()
        {
            return Err(ConfigError::new("client_id", "must not be empty"));
        }
        Ok(())
    }

    /// The client id reported to the server.
    pub fn client_name(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("client-{}", self.client_index))
    }

    pub(crate) fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        FlowerClientConfig::default().validate().unwrap();
        let field = |c: FlowerClientConfig| c.validate().unwrap_err().field;
        let d = FlowerClientConfig::default;
        assert_eq!(
            field(FlowerClientConfig {
                superlink: "127.0.0.1:8000".into(),
                ..d()
            }),
            "superlink"
        );
        assert_eq!(
            field(FlowerClientConfig {
                root_certificates: Some("ca.pem".into()),
                ..d()
            }),
            "root_certificates"
        );
        assert_eq!(
            field(FlowerClientConfig {
                heartbeat_interval_secs: 5.0,
                ..d()
            }),
            "heartbeat_interval_secs"
        );
        assert_eq!(
            field(FlowerClientConfig {
                poll_interval_secs: 0.0,
                ..d()
            }),
            "poll_interval_secs"
        );
        assert_eq!(
            field(FlowerClientConfig {
                client_id: Some(" ".into()),
                ..d()
            }),
            "client_id"
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<FlowerClientConfig>(r#"{"superlnk": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("superlnk"));
        let ok: FlowerClientConfig =
            serde_json::from_str(r#"{"superlink": "https://h:8000", "client_index": 3}"#).unwrap();
        assert_eq!(ok.client_name(), "client-3");
    }
}
