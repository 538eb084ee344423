//! fedmoa types ⇄ Flower records: `ParamSet` ⇄ `ArrayRecord`, `ConfigRecord` →
//! `RoundPlan`, `ClientUpdate`/`EvalReport` → `MetricRecord`.
//!
//! Metric keys sent by fedmoa clients (all numbers, as MetricRecords hold only numbers):
//!
//! | key | value |
//! |---|---|
//! | `num-examples` | sample count (the weighting key of Flower's strategies) |
//! | `accuracy` | held-out accuracy in `[0, 1]` |
//! | `task-id` | [`task_id`] of the task tag (the tag itself goes in the `fedmoa` ConfigRecord) |
//! | `train-secs`, `eval-secs` | timings |
//! | `objective.<id>.{mean,std,satisfaction,errors}` | per-objective statistics |
//! | `weight.<id>` | the client's objective weights at the end of the round |
//! | `metric.<name>` | the trainer's free-form metrics |

use std::collections::BTreeMap;

use fedmoa_core::{ClientUpdate, ConfigError, EvalReport, ObjectiveStats, ParamSet, RoundPlan};
use sha2::{Digest, Sha256};

use crate::error::FlowerError;
use crate::npy;
use crate::proto;
use crate::proto::config_record_value::Value as Cv;
use crate::records::{ArrayData, ArrayRecord, MetricValue, NUMPY_STYPE, metric_record};

/// Converts a `ParamSet` into an `ArrayRecord` of float32 NPY arrays (name order).
pub fn params_to_arrays(params: &ParamSet) -> ArrayRecord {
    params
        .iter()
        .map(|(name, t)| {
            (
                name.to_string(),
                ArrayData {
                    dtype: "float32".into(),
                    shape: t.shape().iter().map(|&d| d as i64).collect(),
                    stype: NUMPY_STYPE.into(),
                    data: npy::encode_f32(t.shape(), t.data()),
                },
            )
        })
        .collect()
}

/// Converts an `ArrayRecord` of NPY arrays into a `ParamSet` (float64 is narrowed).
///
/// # Errors
/// [`FlowerError::Decode`] for a non-NumPy `stype`, a bad NPY file, a shape that
/// disagrees with the `Array` metadata, or an invalid tensor name.
pub fn arrays_to_params(arrays: &ArrayRecord) -> Result<ParamSet, FlowerError> {
    let mut out = ParamSet::new();
    for (name, a) in arrays {
        if a.stype != NUMPY_STYPE {
            return Err(FlowerError::Decode(format!(
                "array {name:?} has stype {:?}; only {NUMPY_STYPE:?} is supported",
                a.stype
            )));
        }
        let arr = npy::decode(&a.data)
            .map_err(|e| FlowerError::Decode(format!("array {name:?}: {e}")))?;
        let meta_shape: Vec<i64> = arr.shape.iter().map(|&d| d as i64).collect();
        if meta_shape != a.shape {
            return Err(FlowerError::Decode(format!(
                "array {name:?}: metadata shape {:?} but NPY shape {:?}",
                a.shape, arr.shape
            )));
        }
        out.insert(name.clone(), arr.shape, arr.data)
            .map_err(|e| FlowerError::Decode(e.to_string()))?;
    }
    Ok(out)
}

/// A stable integer id of a task tag: the first 6 bytes of SHA-256 of the tag, read
/// big-endian (below 2^48, so exact as a float64 in any metric aggregation).
pub fn task_id(tag: &str) -> i64 {
    let d = Sha256::digest(tag.as_bytes());
    d[..6]
        .iter()
        .fold(0i64, |acc, &b| (acc << 8) | i64::from(b))
}

/// Reads the round plan from a train/evaluate `ConfigRecord`.
///
/// Keys: `server-round` (required, ≥ 1), `seed` (federation seed, default 0; the
/// client's round seed is `derive_seed(seed, [round, client_index])` like the
/// in-process federation), `local-steps` (≥ 1), `proximal-mu` (≥ 0); every other key
/// goes to `RoundPlan::extra`.
///
/// # Errors
/// [`ConfigError`] naming the bad key.
pub fn plan_from_config(
    config: Option<&proto::ConfigRecord>,
    client_index: u64,
) -> Result<RoundPlan, ConfigError> {
    let mut round = None;
    let mut seed = 0u64;
    let mut local_steps = None;
    let mut mu = 0.0f32;
    let mut extra = BTreeMap::new();
    for item in config.map(|c| c.items.as_slice()).unwrap_or_default() {
        let v = item.value.as_ref().and_then(|v| v.value.as_ref());
        let key = item.key.as_str();
        match key {
            "server-round" => {
                let r = as_int(key, v)?;
                round = Some(u32::try_from(r).ok().filter(|&r| r >= 1).ok_or_else(|| {
                    ConfigError::new(key, format!("must be a round number ≥ 1, got {r}"))
                })?);
            }
            "seed" => seed = as_int(key, v)? as u64,
            "local-steps" => {
                let s = as_int(key, v)?;
                local_steps = Some(
                    u32::try_from(s)
                        .ok()
                        .filter(|&s| s >= 1)
                        .ok_or_else(|| ConfigError::new(key, format!("must be ≥ 1, got {s}")))?,
                );
            }
            "proximal-mu" => {
                let m = as_float(key, v)?;
                fedmoa_core::require_in_range(key, m, 0.0, f64::from(f32::MAX))?;
                mu = m as f32;
            }
            _ => {
                extra.insert(key.to_string(), to_json(v));
            }
        }
    }
    let server_round = round.ok_or_else(|| ConfigError::new("server-round", "is missing"))?;
    let mut plan = RoundPlan::new(
        server_round,
        fedmoa_core::seeds::SeedStream::RoundPlan {
            round: server_round,
            client: client_index,
        }
        .seed(seed),
    );
    plan.local_steps = local_steps;
    plan.proximal_mu = mu;
    plan.extra = extra;
    Ok(plan)
}

fn as_int(key: &str, v: Option<&Cv>) -> Result<i64, ConfigError> {
    match v {
        Some(Cv::Sint64(x)) => Ok(*x),
        Some(Cv::Uint64(x)) => {
            i64::try_from(*x).map_err(|_| ConfigError::new(key, format!("{x} is too large")))
        }
        other => Err(ConfigError::new(
            key,
            format!("must be an integer, got {other:?}"),
        )),
    }
}

fn as_float(key: &str, v: Option<&Cv>) -> Result<f64, ConfigError> {
    match v {
        Some(Cv::Double(x)) => Ok(*x),
        Some(Cv::Sint64(x)) => Ok(*x as f64),
        Some(Cv::Uint64(x)) => Ok(*x as f64),
        other => Err(ConfigError::new(
            key,
            format!("must be a number, got {other:?}"),
        )),
    }
}

fn to_json(v: Option<&Cv>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        None => J::Null,
        Some(Cv::Double(x)) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Some(Cv::Sint64(x)) => J::from(*x),
        Some(Cv::Uint64(x)) => J::from(*x),
        Some(Cv::Bool(x)) => J::from(*x),
        Some(Cv::String(x)) => J::from(x.clone()),
        Some(Cv::Bytes(x)) => J::from(x.clone()),
        Some(Cv::DoubleList(l)) => J::from(l.vals.clone()),
        Some(Cv::SintList(l)) => J::from(l.vals.clone()),
        Some(Cv::UintList(l)) => J::from(l.vals.clone()),
        Some(Cv::BoolList(l)) => J::from(l.vals.clone()),
        Some(Cv::StringList(l)) => J::from(l.vals.clone()),
        Some(Cv::BytesList(l)) => J::Array(l.vals.iter().map(|b| J::from(b.clone())).collect()),
    }
}

fn objective_metrics(objectives: &[ObjectiveStats], out: &mut Vec<(String, MetricValue)>) {
    for o in objectives {
        let id = o.id.as_str();
        out.push((
            format!("objective.{id}.mean"),
            MetricValue::Double(f64::from(o.mean)),
        ));
        out.push((
            format!("objective.{id}.std"),
            MetricValue::Double(f64::from(o.std)),
        ));
        out.push((
            format!("objective.{id}.satisfaction"),
            MetricValue::Double(f64::from(o.satisfaction)),
        ));
        out.push((
            format!("objective.{id}.errors"),
            MetricValue::Int(i64::try_from(o.errors).unwrap_or(i64::MAX)),
        ));
    }
}

fn count(n: u64) -> MetricValue {
    MetricValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The train reply's `MetricRecord` (keys in the module docs). Objective weights are
/// keyed by the objective ids of `update.objectives` (same order); extra weights
/// without a matching objective are sent as `weight.<index>`.
pub fn update_metrics(update: &ClientUpdate) -> proto::MetricRecord {
    let mut m = vec![
        ("num-examples".to_string(), count(update.n_samples)),
        (
            "accuracy".into(),
            MetricValue::Double(f64::from(update.accuracy)),
        ),
        (
            "task-id".into(),
            MetricValue::Int(task_id(update.task.as_str())),
        ),
        (
            "train-secs".into(),
            MetricValue::Double(update.timings.train_secs),
        ),
        (
            "eval-secs".into(),
            MetricValue::Double(update.timings.eval_secs),
        ),
    ];
    objective_metrics(&update.objectives, &mut m);
    for (i, w) in update.weights.iter().enumerate() {
        let key = update
            .objectives
            .get(i)
            .map_or_else(|| i.to_string(), |o| o.id.as_str().to_string());
        m.push((format!("weight.{key}"), MetricValue::Double(f64::from(*w))));
    }
    for (k, v) in &update.metrics {
        m.push((format!("metric.{k}"), MetricValue::Double(*v)));
    }
    metric_record(m)
}

/// The evaluate reply's `MetricRecord`: `num-examples`, `accuracy`, objectives and
/// `metric.<name>` entries.
pub fn eval_metrics(report: &EvalReport) -> proto::MetricRecord {
    let mut m = vec![
        ("num-examples".to_string(), count(report.n_examples)),
        (
            "accuracy".into(),
            MetricValue::Double(f64::from(report.accuracy)),
        ),
    ];
    objective_metrics(&report.objectives, &mut m);
    for (k, v) in &report.metrics {
        m.push((format!("metric.{k}"), MetricValue::Double(*v)));
    }
    metric_record(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::metric_record_value::Value as Mv;

    fn cfg(items: Vec<(&str, Cv)>) -> proto::ConfigRecord {
        proto::ConfigRecord {
            items: items
                .into_iter()
                .map(|(k, v)| proto::config_record::Item {
                    key: k.into(),
                    value: Some(proto::ConfigRecordValue { value: Some(v) }),
                })
                .collect(),
        }
    }

    #[test]
    fn params_round_trip_through_arrays() {
        let p = ParamSet::new()
            .with("b", vec![2], vec![0.5, -1.0])
            .unwrap()
            .with("a.w", vec![2, 1], vec![3.0, 4.0])
            .unwrap();
        let arrays = params_to_arrays(&p);
        assert_eq!(arrays[0].0, "a.w");
        assert_eq!(arrays[0].1.shape, vec![2, 1]);
        assert_eq!(arrays_to_params(&arrays).unwrap(), p);
        let mut bad = arrays.clone();
        bad[0].1.shape = vec![2];
        assert!(
            arrays_to_params(&bad)
                .unwrap_err()
                .to_string()
                .contains("metadata shape")
        );
        bad[0].1.stype = "torch.Tensor".into();
        assert!(
            arrays_to_params(&bad)
                .unwrap_err()
                .to_string()
                .contains("stype")
        );
    }

    #[test]
    fn plan_reads_known_keys_and_keeps_the_rest() {
        let c = cfg(vec![
            ("server-round", Cv::Sint64(3)),
            ("seed", Cv::Sint64(42)),
            ("local-steps", Cv::Sint64(5)),
            ("proximal-mu", Cv::Double(0.01)),
            ("lr", Cv::Double(0.5)),
            ("mode", Cv::String("fast".into())),
        ]);
        let plan = plan_from_config(Some(&c), 2).unwrap();
        assert_eq!(plan.server_round, 3);
        assert_eq!(plan.seed, fedmoa_core::federation::derive_seed(42, &[3, 2]));
        assert_ne!(plan.seed, plan_from_config(Some(&c), 1).unwrap().seed);
        assert_eq!(plan.local_steps, Some(5));
        assert_eq!(plan.proximal_mu, 0.01);
        assert_eq!(plan.extra["lr"], serde_json::json!(0.5));
        assert_eq!(plan.extra["mode"], serde_json::json!("fast"));
    }

    #[test]
    fn plan_errors_name_the_key() {
        assert_eq!(plan_from_config(None, 0).unwrap_err().field, "server-round");
        let c = cfg(vec![("server-round", Cv::Sint64(0))]);
        assert_eq!(
            plan_from_config(Some(&c), 0).unwrap_err().field,
            "server-round"
        );
        let c = cfg(vec![
            ("server-round", Cv::Sint64(1)),
            ("local-steps", Cv::String("x".into())),
        ]);
        assert_eq!(
            plan_from_config(Some(&c), 0).unwrap_err().field,
            "local-steps"
        );
        let c = cfg(vec![
            ("server-round", Cv::Sint64(1)),
            ("proximal-mu", Cv::Double(-1.0)),
        ]);
        assert_eq!(
            plan_from_config(Some(&c), 0).unwrap_err().field,
            "proximal-mu"
        );
    }

    #[test]
    fn update_metrics_carry_weighting_key_task_and_objectives() {
        let mut u = ClientUpdate::new("c1", "math", 12, ParamSet::new(), 0.75);
        u.objectives.push(ObjectiveStats {
            id: "correct".into(),
            mean: 0.5,
            std: 0.25,
            satisfaction: 0.5,
            errors: 2,
        });
        u.weights = vec![0.625];
        u.metrics.insert("loss".into(), 1.5);
        let m = update_metrics(&u);
        let get = |k: &str| {
            m.items
                .iter()
                .find(|i| i.key == k)
                .and_then(|i| i.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(get("num-examples"), Some(Mv::Sint64(12)));
        assert_eq!(get("accuracy"), Some(Mv::Double(0.75)));
        assert_eq!(get("task-id"), Some(Mv::Sint64(task_id("math"))));
        assert_eq!(get("objective.correct.errors"), Some(Mv::Sint64(2)));
        assert_eq!(get("weight.correct"), Some(Mv::Double(0.625)));
        assert_eq!(get("metric.loss"), Some(Mv::Double(1.5)));
    }

    #[test]
    fn task_id_is_the_sha256_prefix() {
        // Python: hashlib.sha256(b"math").digest()[:6].hex() == "58a6d6801ae7",
        // int("58a6d6801ae7", 16) == 97473586535143.
        assert_eq!(task_id("math"), 97_473_586_535_143);
        assert!(task_id("math") < 1 << 48);
        assert_ne!(task_id("math"), task_id("code"));
    }
}
