//! Per-run nonces that tag the harness's result lines.
//!
//! Deliberately *not* from a seeded RNG: the nonce must be unpredictable to the candidate
//! code, and it never influences a score or any other result, so determinism is unaffected.

use std::io::Read;

/// 128 random bits from the OS (`/dev/urandom`) as 32 lowercase hex digits.
///
/// # Errors
/// The I/O error when `/dev/urandom` cannot be read.
pub(crate) fn fresh_nonce() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_hex_and_differ() {
        let (a, b) = (fresh_nonce().unwrap(), fresh_nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
