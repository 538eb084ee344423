//! JSONL metrics: one line per client step, per client reply and per round.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FederationError, non_finite};
use crate::{ClientId, ClientUpdate, Rejection};

/// A client dropped from a round, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// Which client.
    pub client_id: ClientId,
    /// The error, in words.
    pub error: String,
}

/// What happened in one round (also the `"kind":"round"` JSONL line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundSummary {
    /// Round number, from 1.
    pub round: u32,
    /// Clients asked to train.
    pub sampled: Vec<ClientId>,
    /// Clients that replied with an update.
    pub replied: Vec<ClientId>,
    /// Clients that failed or timed out.
    pub dropped: Vec<Dropped>,
    /// Updates the aggregator rejected.
    pub rejected: Vec<Rejection>,
    /// Whether the global parameters changed this round.
    pub aggregated: bool,
    /// Why aggregation was skipped, if it was.
    pub skip_reason: Option<String>,
    /// Aggregation weight of each client.
    #[serde(deserialize_with = "non_finite::float_map")]
    pub weights: BTreeMap<ClientId, f32>,
    /// Mean held-out accuracy the replying clients reported.
    pub mean_client_accuracy: Option<f32>,
    /// Held-out accuracy each replying client reported (after its local training).
    #[serde(deserialize_with = "non_finite::float_map")]
    pub client_accuracy: BTreeMap<ClientId, f32>,
    /// Objective weights each replying client ended the round with.
    #[serde(deserialize_with = "non_finite::float_vec_map")]
    pub client_weights: BTreeMap<ClientId, Vec<f32>>,
    /// Metrics of the global evaluation hook, if any (NaN is written as `null`).
    #[serde(deserialize_with = "non_finite::float_map")]
    pub eval: BTreeMap<String, f64>,
    /// Error of the global evaluation hook, if it failed.
    pub eval_error: Option<String>,
    /// Wall-clock seconds of the round.
    #[serde(deserialize_with = "non_finite::float")]
    pub secs: f64,
}

/// Appends JSON lines to a file.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl MetricsLog {
    /// Opens `path` for appending, first dropping every line whose `round` is after
    /// `keep_through_round` (lines a crashed run wrote after its last checkpoint).
    ///
    /// # Errors
    /// [`FederationError::Io`].
    pub fn open(path: &Path, keep_through_round: u32) -> Result<Self, FederationError> {
        if path.exists() {
            truncate_after_round(path, keep_through_round)?;
        }
        Self::append(path)
    }

    /// Creates the directory if needed and opens `path` for appending.
    fn append(path: &Path) -> Result<Self, FederationError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| FederationError::io("creating metrics directory", dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| FederationError::io("opening metrics", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Opens `path` for appending, first cutting it to exactly `offset` bytes: the length
    /// it had when the checkpoint being resumed was written (see [`MetricsLog::flushed_len`]).
    ///
    /// # Errors
    /// [`FederationError::Io`]; [`FederationError::BadCheckpoint`] naming the metrics file
    /// when it is shorter than `offset` (it was truncated or replaced since the checkpoint,
    /// so the lines of earlier rounds are lost).
    pub fn open_at(path: &Path, offset: u64) -> Result<Self, FederationError> {
        let len = match fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(FederationError::io("reading metrics", path, e)),
        };
        if len < offset {
            return Err(FederationError::BadCheckpoint {
                path: path.to_path_buf(),
                reason: format!(
                    "the metrics file has {len} bytes but the checkpoint was written when it \
                     had {offset}: it was truncated or replaced since"
                ),
            });
        }
        if len > offset {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| FederationError::io("truncating metrics", path, e))?;
            file.set_len(offset)
                .and_then(|()| file.sync_all())
                .map_err(|e| FederationError::io("truncating metrics", path, e))?;
        }
        Self::append(path)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and returns the file's length in bytes: the offset a checkpoint records so
    /// that a resumed run can drop exactly the lines written after it.
    ///
    /// # Errors
    /// [`FederationError::Io`].
    pub fn flushed_len(&mut self) -> Result<u64, FederationError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().metadata())
            .map(|m| m.len())
            .map_err(|e| FederationError::io("flushing metrics", &self.path, e))
    }

    /// Writes one line.
    ///
    /// # Errors
    /// [`FederationError::Io`].
    pub fn write(&mut self, value: &serde_json::Value) -> Result<(), FederationError> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| FederationError::io("writing metrics", &self.path, e.into()))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| FederationError::io("writing metrics", &self.path, e))
    }

    /// Writes a client's step lines and reply line for `round`.
    ///
    /// # Errors
    /// [`FederationError::Io`].
    pub fn write_client(&mut self, round: u32, u: &ClientUpdate) -> Result<(), FederationError> {
        for (step, m) in u.step_metrics.iter().enumerate() {
            let mut line = serde_json::json!({
                "kind": "client_step", "round": round, "client": u.client_id, "step": step,
            });
            if let Some(obj) = line.as_object_mut() {
                for (k, v) in m {
                    obj.insert(k.clone(), finite_or_null(*v));
                }
            }
            self.write(&line)?;
        }
        self.write(&serde_json::json!({
            "kind": "client", "round": round, "client": u.client_id, "task": u.task,
            "n_samples": u.n_samples, "accuracy": u.accuracy, "weights": u.weights,
            "objectives": u.objectives, "timings": u.timings, "metrics": u.metrics,
        }))
    }

    /// Writes the round line and flushes.
    ///
    /// # Errors
    /// [`FederationError::Io`].
    pub fn write_round(&mut self, summary: &RoundSummary) -> Result<(), FederationError> {
        let mut line = serde_json::to_value(summary)
            .map_err(|e| FederationError::io("writing metrics", &self.path, e.into()))?;
        if let Some(obj) = line.as_object_mut() {
            obj.insert("kind".into(), "round".into());
        }
        self.write(&line)?;
        self.out
            .flush()
            .map_err(|e| FederationError::io("flushing metrics", &self.path, e))
    }
}

fn finite_or_null(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn truncate_after_round(path: &Path, keep: u32) -> Result<(), FederationError> {
    let file = File::open(path).map_err(|e| FederationError::io("reading metrics", path, e))?;
    let mut kept = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| FederationError::io("reading metrics", path, e))?;
        // A line that does not parse was torn by a crash while it was written: drop it.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let round = value.get("round").and_then(serde_json::Value::as_u64);
        if round.is_none_or(|r| r <= u64::from(keep)) {
            kept.push(line);
        }
    }
    let tmp = super::checkpoint::tmp_path(path);
    let mut body = kept.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    fs::write(&tmp, body).map_err(|e| FederationError::io("rewriting metrics", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| FederationError::io("rewriting metrics", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_drops_lines_after_the_checkpointed_round() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for r in 1..=4u32 {
            log.write(&serde_json::json!({"kind": "round", "round": r}))
                .unwrap();
        }
        drop(log);
        let log = MetricsLog::open(&path, 2).unwrap();
        drop(log);
        let text = fs::read_to_string(&path).unwrap();
        let rounds: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["round"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(rounds, vec![1, 2]);
    }

    #[test]
    fn reopening_drops_a_line_torn_by_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        fs::write(
            &path,
            "{\"kind\":\"round\",\"round\":1}\n{\"kind\":\"client_st",
        )
        .unwrap();
        drop(MetricsLog::open(&path, 1).unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"kind\":\"round\",\"round\":1}\n"
        );
    }

    #[test]
    fn open_at_cuts_to_the_recorded_offset_and_refuses_a_shorter_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        log.write(&serde_json::json!({"round": 1})).unwrap();
        let offset = log.flushed_len().unwrap();
        assert_eq!(offset, fs::read(&path).unwrap().len() as u64);
        log.write(&serde_json::json!({"round": 2})).unwrap();
        drop(log);
        let mut log = MetricsLog::open_at(&path, offset).unwrap();
        assert_eq!(log.flushed_len().unwrap(), offset);
        drop(log);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"round\":1}\n");
        let err = MetricsLog::open_at(&path, offset + 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("truncated or replaced"), "{err}");
    }
}
