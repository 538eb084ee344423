//! [`FlowerError`]: everything that can go wrong between a fedmoa client and a SuperLink.

use thiserror::Error;

/// An error of the Flower client.
#[derive(Debug, Error)]
pub enum FlowerError {
    /// The SuperLink could not be reached (connection refused, reset, timeout). The
    /// client retries these with backoff.
    #[error("cannot reach the SuperLink at {url}: {reason}")]
    Unreachable {
        /// The request URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The TLS handshake failed (untrusted or mismatched certificate, TLS to a plain
    /// HTTP port, …). Not retried: it does not heal by waiting.
    #[error("TLS with the SuperLink at {url} failed: {reason}")]
    Tls {
        /// The request URL.
        url: String,
        /// The TLS error.
        reason: String,
    },
    /// The SuperLink answered with an HTTP error status.
    #[error("SuperLink answered {status} to {rpc} (code {code:?}): {detail}")]
    Status {
        /// The Fleet RPC, e.g. `pull-messages`.
        rpc: String,
        /// HTTP status.
        status: u16,
        /// Flower's API error code from the JSON body, when there is one.
        code: Option<i64>,
        /// Flower's error detail, or the raw body.
        detail: String,
    },
    /// The peer does not speak the Fleet API version this crate implements.
    #[error("protocol mismatch: {0}")]
    ProtocolMismatch(String),
    /// A received object or message is malformed.
    #[error("cannot decode Flower data: {0}")]
    Decode(String),
    /// The trainer failed on an instruction (sent back to the server as an error reply).
    #[error("the trainer failed: {0}")]
    Trainer(String),
    /// The node key could not be created, read or used.
    #[error("node identity: {0}")]
    Identity(String),
    /// The client configuration is invalid.
    #[error(transparent)]
    Config(#[from] fedmoa_core::ConfigError),
    /// The SuperLink refused this node (unknown node, key not registered, …).
    #[error("the SuperLink refused this node: {0}")]
    Refused(String),
}

impl FlowerError {
    /// True for errors worth retrying after a pause: the SuperLink is down or
    /// restarting, or answered with a server-side (5xx) or rate-limit (429) status.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
