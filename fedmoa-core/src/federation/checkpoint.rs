//! Atomic checkpoints of the server: parameters, aggregator state, sampling RNG state,
//! round number and each client's state.
//!
//! # File format (version 2)
//! `b"FEDMOACK"`, a little-endian `u32` version, a little-endian `u64` header length, the
//! JSON header ([`Header`]), then every tensor's f32 values, little-endian, in the order the
//! header lists them. Values are stored bit for bit, so a resumed run is bit-identical.
//! Version 2 adds the round summaries, the initial evaluation and the metrics file's
//! length to the header; version 1 files still load (without them).
//! The file is written to `<path>.tmp`, flushed to disk and renamed over `<path>`, so a
//! crash leaves either the old or the new checkpoint, never a torn one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FederationError, RoundSummary, non_finite};
use crate::{AggregatorState, ParamSet};

const MAGIC: &[u8; 8] = b"FEDMOACK";
const VERSION: u32 = 2;
/// Oldest version this build reads.
const OLDEST_VERSION: u32 = 1;
/// Largest header accepted (guards against a corrupted length field).
const MAX_HEADER: u64 = 1 << 30;

/// Everything needed to continue a federation exactly where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Last completed round (0 = none yet).
    pub round: u32,
    /// Federation seed; with `round` this is the whole sampling-RNG state.
    pub seed: u64,
    /// Name of the aggregator that wrote it (checked on resume).
    pub aggregator: String,
    /// Global parameters after `round`.
    pub params: ParamSet,
    /// Aggregator state (server-optimizer moments, …).
    pub aggregator_state: AggregatorState,
    /// State of each client that has any.
    pub clients: BTreeMap<String, serde_json::Value>,
    /// Summaries of rounds `1..=round`, so a resumed run reports every round.
    pub history: Vec<RoundSummary>,
    /// The evaluation of the initial parameters (round 0), once it has run.
    pub initial_eval: Option<BTreeMap<String, f64>>,
    /// Length in bytes of the JSONL metrics file when the checkpoint was written; a resumed
    /// run cuts the file there (`None`: no metrics file yet, or a version 1 checkpoint).
    pub metrics_offset: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    group: String,
    name: String,
    shape: Vec<usize>,
}

/// The JSON header of a checkpoint file.
#[derive(Serialize, Deserialize)]
struct Header {
    round: u32,
    seed: u64,
    aggregator: String,
    aggregator_scalars: serde_json::Value,
    clients: BTreeMap<String, serde_json::Value>,
    tensors: Vec<TensorEntry>,
    #[serde(default)]
    history: Vec<RoundSummary>,
    #[serde(default, deserialize_with = "non_finite::optional_float_map")]
    initial_eval: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    metrics_offset: Option<u64>,
}

const PARAMS_GROUP: &str = "params";

impl Checkpoint {
    fn groups(&self) -> impl Iterator<Item = (&str, &ParamSet)> {
        std::iter::once((PARAMS_GROUP, &self.params)).chain(
            self.aggregator_state
                .tensors
                .iter()
                .map(|(k, v)| (k.as_str(), v)),
        )
    }

    /// Writes the checkpoint atomically to `path`.
    ///
    /// # Errors
    /// [`FederationError::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), FederationError> {
        let header = Header {
            round: self.round,
            seed: self.seed,
            aggregator: self.aggregator.clone(),
            aggregator_scalars: self.aggregator_state.scalars.clone(),
            clients: self.clients.clone(),
            tensors: self
                .groups()
                .flat_map(|(group, set)| {
                    set.iter().map(move |(name, t)| TensorEntry {
                        group: group.to_string(),
                        name: name.to_string(),
                        shape: t.shape().to_vec(),
                    })
                })
                .collect(),
            history: self.history.clone(),
            initial_eval: self.initial_eval.clone(),
            metrics_offset: self.metrics_offset,
        };
        let header_json = serde_json::to_vec(&header).map_err(|e| {
            FederationError::io("encoding checkpoint header", path, std::io::Error::other(e))
        })?;
        let tmp = tmp_path(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| FederationError::io("creating checkpoint directory", dir, e))?;
        }
        let write = || -> std::io::Result<()> {
            let mut out = BufWriter::new(File::create(&tmp)?);
            out.write_all(MAGIC)?;
            out.write_all(&VERSION.to_le_bytes())?;
            out.write_all(&(header_json.len() as u64).to_le_bytes())?;
            out.write_all(&header_json)?;
            for (_, set) in self.groups() {
                for (_, t) in set.iter() {
                    for v in t.data() {
                        out.write_all(&v.to_le_bytes())?;
                    }
                }
            }
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        };
        write().map_err(|e| FederationError::io("writing checkpoint", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| FederationError::io("renaming checkpoint", path, e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename; not all platforms allow opening a directory, so ignore errors.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// # Errors
    /// [`FederationError::Io`] when unreadable, [`FederationError::BadCheckpoint`] when
    /// truncated, corrupted or of another version.
    pub fn load(path: &Path) -> Result<Self, FederationError> {
        let bytes =
            fs::read(path).map_err(|e| FederationError::io("reading checkpoint", path, e))?;
        Self::decode(&bytes).map_err(|reason| FederationError::BadCheckpoint {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut cursor = Cursor { bytes, pos: 0 };
        if cursor.take(8)? != MAGIC {
            return Err("not a fedmoa checkpoint (bad magic)".into());
        }
        let version = u32::from_le_bytes(cursor.array()?);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(format!(
                "version {version}, this build reads {OLDEST_VERSION} to {VERSION}"
            ));
        }
        let header_len = u64::from_le_bytes(cursor.array()?);
        if header_len > MAX_HEADER {
            return Err(format!("header length {header_len} is implausible"));
        }
        let header: Header = serde_json::from_slice(cursor.take(header_len as usize)?)
            .map_err(|e| format!("header: {e}"))?;
        let mut groups: BTreeMap<String, ParamSet> = BTreeMap::new();
        for entry in header.tensors {
            let n = entry
                .shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| format!("tensor {:?}: shape overflows", entry.name))?;
            let raw = cursor.take(n.checked_mul(4).ok_or("tensor too large")?)?;
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            groups
                .entry(entry.group)
                .or_default()
                .insert(entry.name, entry.shape, data)
                .map_err(|e| e.to_string())?;
        }
        if cursor.pos != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - cursor.pos));
        }
        let params = groups.remove(PARAMS_GROUP).unwrap_or_default();
        Ok(Self {
            round: header.round,
            seed: header.seed,
            aggregator: header.aggregator,
            params,
            aggregator_state: AggregatorState {
                scalars: header.aggregator_scalars,
                tensors: groups,
            },
            clients: header.clients,
            history: header.history,
            initial_eval: header.initial_eval,
            metrics_offset: header.metrics_offset,
        })
    }
}

/// `<path>.tmp`, where a checkpoint is written before the atomic rename.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {} (needed {n} more)", self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let params = ParamSet::new()
            .with("w", vec![2, 2], vec![0.1, -0.0, f32::MIN_POSITIVE, 3.0e38])
            .unwrap();
        let mut tensors = BTreeMap::new();
        tensors.insert("m".to_string(), params.zeros_like());
        Checkpoint {
            round: 4,
            seed: 99,
            aggregator: "fedadam".into(),
            params,
            aggregator_state: AggregatorState {
                scalars: serde_json::json!({"step": 4}),
                tensors,
            },
            clients: BTreeMap::from([("c0".to_string(), serde_json::json!({"w": [0.5, 0.5]}))]),
            history: Vec::new(),
            initial_eval: Some(BTreeMap::from([("acc".to_string(), 0.25)])),
            metrics_offset: Some(1234),
        }
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ckpt.bin");
        let ck = sample();
        ck.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, ck);
        let bits = |c: &Checkpoint| {
            c.params
                .flatten()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&back), bits(&ck));
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn round_summaries_with_missing_metrics_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.bin");
        let mut ck = sample();
        let summary = RoundSummary {
            round: 1,
            sampled: vec!["c0".into()],
            replied: vec!["c0".into()],
            dropped: Vec::new(),
            rejected: Vec::new(),
            aggregated: true,
            skip_reason: None,
            weights: BTreeMap::from([("c0".into(), 1.0)]),
            mean_client_accuracy: Some(0.5),
            client_accuracy: BTreeMap::from([("c0".into(), 0.5)]),
            client_weights: BTreeMap::from([("c0".into(), vec![0.25, 0.75])]),
            eval: BTreeMap::from([("acc".into(), 0.125), ("hv".into(), f64::NAN)]),
            eval_error: None,
            secs: 1.5,
        };
        ck.history = vec![summary.clone()];
        ck.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert!(back.history[0].eval["hv"].is_nan());
        let mut expected = summary;
        expected.eval.remove("hv");
        let mut got = back.history[0].clone();
        got.eval.remove("hv");
        assert_eq!(got, expected);
        assert_eq!(back.initial_eval, ck.initial_eval);
        assert_eq!(back.metrics_offset, Some(1234));
    }

    #[test]
    fn a_version_1_checkpoint_still_loads() {
        let header = br#"{"round":3,"seed":7,"aggregator":"fedavg","aggregator_scalars":null,"clients":{},"tensors":[{"group":"params","name":"w","shape":[1]}]}"#;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&2.5f32.to_le_bytes());
        let ck = Checkpoint::decode(&bytes).unwrap();
        assert_eq!((ck.round, ck.seed), (3, 7));
        assert_eq!(ck.params.flatten(), vec![2.5]);
        assert!(ck.history.is_empty());
        assert_eq!((ck.initial_eval, ck.metrics_offset), (None, None));
        let mut newer = bytes;
        newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        assert!(Checkpoint::decode(&newer).unwrap_err().contains("version"));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.bin");
        sample().save(&path).unwrap();
        let bytes = fs::read(&path).unwrap();
        for len in 0..bytes.len() {
            assert!(Checkpoint::decode(&bytes[..len]).is_err(), "length {len}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Checkpoint::decode(&extra).is_err());
        let mut corrupt = bytes;
        corrupt[0] = b'X';
        assert!(Checkpoint::decode(&corrupt).unwrap_err().contains("magic"));
    }
}
