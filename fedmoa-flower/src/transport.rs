//! The Fleet API over HTTP: `POST {base}/v1/fleet/<rpc>` with protobuf bodies and the
//! signed identity headers. [`FleetTransport`] abstracts it so the client loop can be
//! driven by another transport (or a test double).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::FlowerError;
use crate::identity::NodeIdentity;
use crate::version::{
    COMPONENT_NAME, COMPONENT_NAME_HEADER, FLOWER_VERSION, PACKAGE_NAME_HEADER,
    PACKAGE_VERSION_HEADER,
};

/// Flower's API error code for a peer whose version the SuperLink rejects.
pub const RUNTIME_VERSION_INCOMPATIBLE: i64 = 1001;
/// Flower's API error code for a request body that is not a valid protobuf of the
/// expected type (a sign of schema drift between releases).
pub const INVALID_PROTOBUF_PAYLOAD: i64 = 1003;

/// Flower's API error code when the run's status does not allow the operation (e.g.
/// `get-run` or `push-messages` for a finished run).
pub const FLEET_RUN_STATUS_NOT_ALLOWED: i64 = 2007;

/// Largest response body accepted (a pulled object is at most one 5 MiB chunk plus
/// header; other responses are small).
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// Sends one serialized Fleet request and returns the serialized response.
pub trait FleetTransport: Send + Sync {
    /// Calls `rpc` (kebab-case, e.g. `pull-messages`) with the encoded request `body`.
    ///
    /// # Errors
    /// [`FlowerError::Unreachable`] when the SuperLink cannot be reached,
    /// [`FlowerError::Status`] for an HTTP error, [`FlowerError::ProtocolMismatch`] when
    /// the answer shows the SuperLink speaks another Fleet API version.
    fn call(&self, rpc: &str, body: Vec<u8>) -> Result<Vec<u8>, FlowerError>;
}

impl<T: FleetTransport + ?Sized> FleetTransport for Box<T> {
    fn call(&self, rpc: &str, body: Vec<u8>) -> Result<Vec<u8>, FlowerError> {
        (**self).call(rpc, body)
    }
}

/// Where and how to reach the SuperLink.
#[derive(Debug, Clone)]
pub struct HttpFleetOptions {
    /// `http://host:port` (insecure) or `https://host:port` (TLS).
    pub base_url: String,
    /// PEM file of the CA that signed the SuperLink's certificate (TLS only; without
    /// it the Mozilla roots are trusted).
    pub root_certificates: Option<std::path::PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// [`FleetTransport`] over HTTP/1.1 (`ureq`, rustls with the ring provider for TLS).
pub struct HttpFleet {
    agent: ureq::Agent,
    base: String,
    identity: Arc<NodeIdentity>,
}

impl HttpFleet {
    /// Builds the transport.
    ///
    /// # Errors
    /// [`FlowerError::Config`] for a URL that is not `http://` or `https://`, a CA file
    /// that cannot be read or holds no certificate, or a CA given for plain HTTP.
    pub fn new(opts: &HttpFleetOptions, identity: Arc<NodeIdentity>) -> Result<Self, FlowerError> {
        let base = opts.base_url.trim_end_matches('/').to_string();
        let tls = base.starts_with("https://");
        if !tls && !base.starts_with("http://") {
            return Err(fedmoa_core::ConfigError::new(
                "superlink",
                format!("must start with http:// or https://, got {base:?}"),
            )
            .into());
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(opts.timeout))
            .timeout_connect(Some(Duration::from_secs(5)));
        if let Some(ca) = &opts.root_certificates {
            if !tls {
                return Err(fedmoa_core::ConfigError::new(
                    "root_certificates",
                    "a CA certificate needs an https:// SuperLink address",
                )
                .into());
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::Specific(Arc::new(load_certs(ca)?)))
                    .build(),
            );
        }
        Ok(Self {
            agent: config.build().into(),
            base,
            identity,
        })
    }
}

fn load_certs(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, FlowerError> {
    let bad = |why: String| {
        FlowerError::Config(fedmoa_core::ConfigError::new(
            "root_certificates",
            format!("{}: {why}", path.display()),
        ))
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(bad("no PEM certificate found".into()));
    }
    Ok(certs)
}

impl FleetTransport for HttpFleet {
    fn call(&self, rpc: &str, body: Vec<u8>) -> Result<Vec<u8>, FlowerError> {
        let url = format!("{}/v1/fleet/{rpc}", self.base);
        let mut req = self
            .agent
            .post(&url)
            .header("content-type", "application/protobuf")
            .header("accept", "application/protobuf")
            .header(PACKAGE_NAME_HEADER, "flwr")
            .header(PACKAGE_VERSION_HEADER, FLOWER_VERSION)
            .header(COMPONENT_NAME_HEADER, COMPONENT_NAME);
        for (k, v) in self.identity.auth_headers(SystemTime::now())? {
            req = req.header(k, v);
        }
        let mut resp = req.send(&body[..]).map_err(|e| send_error(&url, e))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| FlowerError::Unreachable {
                url: url.clone(),
                reason: format!("reading the response: {e}"),
            })?;
        if status == 200 {
            if !content_type.starts_with("application/protobuf") {
                return Err(FlowerError::ProtocolMismatch(format!(
                    "{url} answered with content-type {content_type:?}, expected \
                     application/protobuf (is this a flwr {FLOWER_VERSION} SuperLink?)"
                )));
            }
            return Ok(bytes);
        }
        Err(classify_error(rpc, &url, status, &bytes))
    }
}

/// Classifies a failed request: TLS failures are permanent, everything else (refused
/// connection, reset, timeout, unknown host) is worth retrying.
fn send_error(url: &str, e: ureq::Error) -> FlowerError {
    let tls = match &e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        // rustls reports handshake failures (bad certificate, …) through the I/O stream.
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    };
    if tls {
        FlowerError::Tls {
            url: url.to_string(),
            reason: e.to_string(),
        }
    } else {
        FlowerError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        }
    }
}

/// Turns an HTTP error answer into a [`FlowerError`].
pub fn classify_error(rpc: &str, url: &str, status: u16, body: &[u8]) -> FlowerError {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let code = json
        .as_ref()
        .and_then(|j| j.get("code"))
        .and_then(serde_json::Value::as_i64);
    let detail = json
        .as_ref()
        .and_then(|j| j.get("detail"))
        .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    match (status, code) {
        (404 | 405, _) => FlowerError::ProtocolMismatch(format!(
            "{url} does not exist ({status}); the SuperLink does not serve the HTTP Fleet \
             API of flwr {FLOWER_VERSION} (flwr < 1.40, or a newer incompatible release)"
        )),
        (_, Some(RUNTIME_VERSION_INCOMPATIBLE)) => FlowerError::ProtocolMismatch(format!(
            "the SuperLink rejects flwr {FLOWER_VERSION} peers: {detail}"
        )),
        (_, Some(INVALID_PROTOBUF_PAYLOAD)) => FlowerError::ProtocolMismatch(format!(
            "the SuperLink cannot parse our {rpc} request (schema drift from flwr \
             {FLOWER_VERSION}?): {detail}"
        )),
        (401, _) => FlowerError::Refused(format!("{rpc}: {status} {detail}")),
        _ => FlowerError::Status {
            rpc: rpc.to_string(),
            status,
            code,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_status_and_flower_code() {
        let e = classify_error("pull-messages", "u", 404, b"Not Found");
        assert!(matches!(e, FlowerError::ProtocolMismatch(_)));
        let e = classify_error("x", "u", 400, br#"{"code": 1003, "detail": "bad"}"#);
        assert!(matches!(e, FlowerError::ProtocolMismatch(ref m) if m.contains("bad")));
        let e = classify_error("x", "u", 426, br#"{"code": 1001, "detail": "too old"}"#);
        assert!(matches!(e, FlowerError::ProtocolMismatch(ref m) if m.contains("too old")));
        let e = classify_error("x", "u", 401, br#"{"detail": "Unauthorized"}"#);
        assert!(matches!(e, FlowerError::Refused(_)));
        let e = classify_error(
            "get-run",
            "u",
            403,
            br#"{"code": 2007, "detail": "finished"}"#,
        );
        assert!(matches!(
            e,
            FlowerError::Status {
                status: 403,
                code: Some(2007),
                ..
            }
        ));
        let e = classify_error("x", "u", 503, b"busy");
        assert!(e.is_transient());
        assert!(matches!(
            e,
            FlowerError::Status {
                status: 503,
                code: None,
                ..
            }
        ));
        let e = classify_error("x", "u", 400, br#"{"code": 2003, "detail": "interval"}"#);
        assert!(!e.is_transient());
        assert!(matches!(
            e,
            FlowerError::Status {
                code: Some(2003),
                ..
            }
        ));
    }

    #[test]
    fn bad_urls_and_ca_without_tls_are_config_errors() {
        let id = Arc::new(NodeIdentity::generate().unwrap());
        let mut opts = HttpFleetOptions {
            base_url: "ftp://x".into(),
            root_certificates: None,
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(
            HttpFleet::new(&opts, id.clone()),
            Err(FlowerError::Config(_))
        ));
        opts.base_url = "http://127.0.0.1:1".into();
        opts.root_certificates = Some("/nonexistent.pem".into());
        let err = HttpFleet::new(&opts, id.clone()).err().unwrap();
        assert!(matches!(err, FlowerError::Config(ref c) if c.field == "root_certificates"));
        opts.base_url = "https://127.0.0.1:1".into();
        let err = HttpFleet::new(&opts, id.clone()).err().unwrap();
        assert!(err.to_string().contains("nonexistent.pem"));
    }

    #[test]
    fn unreachable_superlink_is_transient() {
        let id = Arc::new(NodeIdentity::generate().unwrap());
        // Port 1 on loopback: nothing listens there.
        let opts = HttpFleetOptions {
            base_url: "http://127.0.0.1:1".into(),
            root_certificates: None,
            timeout: Duration::from_secs(2),
        };
        let t = HttpFleet::new(&opts, id).unwrap();
        let err = t.call("pull-messages", Vec::new()).unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
}
