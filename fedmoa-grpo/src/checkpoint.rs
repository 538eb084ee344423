//! Parameter files and the on-disk cache of warm-start checkpoints.
//!
//! A parameter file is `FMPARAMS1\n`, a little-endian `u64` header length, a JSON header
//! (`[{"name", "shape"}, …]` in name order) and the f32 values in little-endian order, so
//! a save/load round trip is bit-exact. Writes go to a temporary file renamed into place.

use std::fs;
use std::path::{Path, PathBuf};

use fedmoa_core::ParamSet;
use serde::{Deserialize, Serialize};

use crate::GrpoError;

/// Environment variable naming the cache directory (default `.cache/fedmoa`).
pub const CACHE_DIR_ENV: &str = "FEDMOA_CACHE_DIR";

const MAGIC: &[u8] = b"FMPARAMS1\n";

#[derive(Serialize, Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
}

/// The cache directory: `$FEDMOA_CACHE_DIR`, else `.cache/fedmoa` under the current dir.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(".cache").join("fedmoa"),
    }
}

/// 64-bit FNV-1a hash, stable across platforms and Rust versions (for cache keys).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Writes `params` to `path` atomically.
///
/// # Errors
/// [`GrpoError::Io`] when the file cannot be written.
pub fn save_params(path: &Path, params: &ParamSet) -> Result<(), GrpoError> {
    let header: Vec<Entry> = params
        .iter()
        .map(|(name, t)| Entry {
            name: name.to_string(),
            shape: t.shape().to_vec(),
        })
        .collect();
    let header = serde_json::to_vec(&header).map_err(|e| GrpoError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + header.len() + 4 * params.numel());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for (_, t) in params.iter() {
        for v in t.data() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_atomic(path, &bytes)
}

/// Reads a file written by [`save_params`].
///
/// # Errors
/// [`GrpoError::Io`] when unreadable, [`GrpoError::Checkpoint`] when malformed.
pub fn load_params(path: &Path) -> Result<ParamSet, GrpoError> {
    let bytes = fs::read(path).map_err(|e| GrpoError::io(path, e))?;
    let bad = |reason: &str| GrpoError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("bad magic"))?;
    let (len, rest) = rest
        .split_at_checked(8)
        .ok_or_else(|| bad("truncated header"))?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| bad("truncated header"))?);
    let len = usize::try_from(len).map_err(|_| bad("header too long"))?;
    let (header, mut data) = rest
        .split_at_checked(len)
        .ok_or_else(|| bad("truncated header"))?;
    let header: Vec<Entry> =
        serde_json::from_slice(header).map_err(|e| bad(&format!("header: {e}")))?;
    let mut params = ParamSet::new();
    for entry in header {
        let n: usize = entry.shape.iter().product();
        let (chunk, tail) = data
            .split_at_checked(4 * n)
            .ok_or_else(|| bad(&format!("tensor {} truncated", entry.name)))?;
        data = tail;
        let values = chunk
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        params.insert(entry.name, entry.shape, values)?;
    }
    if !data.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(params)
}

/// Writes `bytes` to a sibling temporary file, then renames it onto `path`.
///
/// # Errors
/// [`GrpoError::Io`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GrpoError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| GrpoError::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| GrpoError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| GrpoError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_values() {
        // Published FNV-1a 64 test vectors: "" and "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn params_round_trip_bit_exactly() {
        let p = ParamSet::new()
            .with(
                "a.weight",
                vec![2, 2],
                vec![1.0, -0.0, f32::MIN_POSITIVE, 3.5e-9],
            )
            .unwrap()
            .with("b", vec![1], vec![f32::MAX])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("p.bin");
        save_params(&path, &p).unwrap();
        let back = load_params(&path).unwrap();
        assert_eq!(back, p);
        let bits = |s: &ParamSet| s.flatten().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&p));
    }

    #[test]
    fn rejects_truncated_files() {
        let p = ParamSet::new()
            .with("a", vec![3], vec![1.0, 2.0, 3.0])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.bin");
        save_params(&path, &p).unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        let err = load_params(&path).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
