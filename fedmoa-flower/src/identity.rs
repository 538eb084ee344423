//! The node's P-384 identity and the signed headers every Fleet request carries.

use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p384::ecdsa::signature::hazmat::PrehashSigner;
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::error::FlowerError;
use crate::timestamp::iso8601_utc;

/// Header with base64 of the node's PEM public key.
pub const PUBLIC_KEY_HEADER: &str = "flwr-public-key";
/// Header with the ISO-8601 UTC time of the request.
pub const TIMESTAMP_HEADER: &str = "flwr-timestamp";
/// Header with base64 of the DER ECDSA/SHA-256 signature of the timestamp.
pub const SIGNATURE_HEADER: &str = "flwr-signature";

/// A SuperNode identity: an ECDSA key on NIST P-384, as Flower's SuperNodes use.
///
/// The SuperLink identifies a node by the exact bytes of its PEM public key, so the
/// PEM is computed once and reused.
#[derive(Clone)]
pub struct NodeIdentity {
    key: SigningKey,
    public_pem: String,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// A fresh key from the operating system's CSPRNG (a signing key must be
    /// unpredictable, so this is the one place that does not use a seeded RNG).
    ///
    /// # Errors
    /// [`FlowerError::Identity`] if the PEM cannot be written (does not happen for
    /// valid keys).
    pub fn generate() -> Result<Self, FlowerError> {
        Self::from_key(SigningKey::random(&mut rand_core::OsRng))
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), e.g. one made by
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384` for a node that
    /// an operator registered beforehand with `flwr supernode register`.
    ///
    /// # Errors
    /// [`FlowerError::Identity`] when the file cannot be read or is not a P-384 key.
    pub fn from_pkcs8_pem_file(path: &Path) -> Result<Self, FlowerError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| FlowerError::Identity(format!("reading {}: {e}", path.display())))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            FlowerError::Identity(format!("{} is not a P-384 PKCS#8 key: {e}", path.display()))
        })?;
        Self::from_key(key)
    }

    /// Writes the private key as PKCS#8 PEM (so a node keeps its identity across
    /// restarts).
    ///
    /// # Errors
    /// [`FlowerError::Identity`] on I/O failure.
    pub fn write_pkcs8_pem_file(&self, path: &Path) -> Result<(), FlowerError> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| FlowerError::Identity(format!("encoding private key: {e}")))?;
        std::fs::write(path, pem.as_bytes())
            .map_err(|e| FlowerError::Identity(format!("writing {}: {e}", path.display())))
    }

    fn from_key(key: SigningKey) -> Result<Self, FlowerError> {
        let public_pem = VerifyingKey::from(&key)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| FlowerError::Identity(format!("encoding public key: {e}")))?;
        Ok(Self { key, public_pem })
    }

    /// The PEM SubjectPublicKeyInfo bytes (`RegisterNode`/`ActivateNode` `public_key`).
    pub fn public_key_pem(&self) -> &[u8] {
        self.public_pem.as_bytes()
    }

    /// DER ECDSA signature over SHA-256 of `message` (Flower verifies with
    /// `ECDSA(SHA256)`; the P-384 default of SHA-384 would be rejected).
    ///
    /// # Errors
    /// [`FlowerError::Identity`] if signing fails (not expected for valid keys).
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, FlowerError> {
        let digest = Sha256::digest(message);
        let sig: Signature = self
            .key
            .sign_prehash(&digest)
            .map_err(|e| FlowerError::Identity(format!("signing: {e}")))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }

    /// The three authentication headers for a request sent at `now`.
    ///
    /// # Errors
    /// As [`NodeIdentity::sign_sha256`].
    pub fn auth_headers(
        &self,
        now: SystemTime,
    ) -> Result<[(&'static str, String); 3], FlowerError> {
        let ts = iso8601_utc(now);
        let sig = self.sign_sha256(ts.as_bytes())?;
        Ok([
            (PUBLIC_KEY_HEADER, B64.encode(self.public_key_pem())),
            (TIMESTAMP_HEADER, ts),
            (SIGNATURE_HEADER, B64.encode(sig)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    use p384::pkcs8::DecodePublicKey;

    #[test]
    fn headers_verify_with_the_advertised_key() {
        let id = NodeIdentity::generate().unwrap();
        let [(k1, pk), (k2, ts), (k3, sig)] = id.auth_headers(SystemTime::now()).unwrap();
        assert_eq!(
            (k1, k2, k3),
            (PUBLIC_KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
        );
        let pem = String::from_utf8(B64.decode(pk).unwrap()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let vk = VerifyingKey::from_public_key_pem(&pem).unwrap();
        let sig = Signature::from_der(&B64.decode(sig).unwrap()).unwrap();
        vk.verify_prehash(&Sha256::digest(ts.as_bytes()), &sig)
            .unwrap();
        // A different message must not verify.
        assert!(vk.verify_prehash(&Sha256::digest(b"other"), &sig).is_err());
    }

    #[test]
    fn key_file_round_trip_keeps_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.pem");
        let id = NodeIdentity::generate().unwrap();
        id.write_pkcs8_pem_file(&path).unwrap();
        let back = NodeIdentity::from_pkcs8_pem_file(&path).unwrap();
        assert_eq!(back.public_key_pem(), id.public_key_pem());
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            NodeIdentity::from_pkcs8_pem_file(&path),
            Err(FlowerError::Identity(_))
        ));
    }
}
