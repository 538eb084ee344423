//! Where an experiment keeps its checkpoints, and the guard that stops a run from being
//! continued with other settings.
//!
//! Every arm × seed checkpoints its federation after each round (and after the initial
//! evaluation) to `<run_dir>/checkpoints/<arm>-seed<i>.ckpt`. Beside them, `run.json`
//! records what determines the results: the experiment config (except the arms, the
//! number of seeds and rounds, which a resumed run may extend), the client specs and the
//! factory's [`super::ClientFactory::fingerprint`]. A resumed run with another `run.json`
//! is refused, naming the first setting that differs.

use std::path::{Path, PathBuf};

use fedmoa_core::ConfigError;
use fedmoa_rewards::ClientSpec;

use super::{ArmConfig, ExperimentConfig, ExperimentError};

/// The checkpoint directory of a run.
pub(crate) fn checkpoint_dir(config: &ExperimentConfig) -> PathBuf {
    config.run_dir().join("checkpoints")
}

/// The checkpoint of one arm × seed.
pub(crate) fn checkpoint_path(config: &ExperimentConfig, arm: &str, seed_index: u32) -> PathBuf {
    checkpoint_dir(config).join(format!("{arm}-seed{seed_index}.ckpt"))
}

/// Records the arm's aggregator and weighter beside its checkpoints (`<arm>.arm.json`),
/// or, when `resuming` its checkpoint, checks them against the record.
///
/// # Errors
/// [`ExperimentError::Config`] on field `resume` when the arm's settings changed.
pub(crate) fn check_arm(
    config: &ExperimentConfig,
    arm: &ArmConfig,
    resuming: bool,
) -> Result<(), ExperimentError> {
    let path = checkpoint_dir(config).join(format!("{}.arm.json", arm.name));
    let current = serde_json::to_value(arm).map_err(|e| encoding(&e))?;
    if resuming && path.exists() {
        let saved = read_record(&path)?;
        if let Some(at) = first_difference(&saved, &current, "") {
            return Err(ConfigError::new(
                "resume",
                format!(
                    "arm {:?} was run with another `{at}` (see {}); resume with that arm's \
                     settings, or start afresh without resuming",
                    arm.name,
                    path.display()
                ),
            )
            .into());
        }
        return Ok(());
    }
    let text = serde_json::to_string_pretty(&current).map_err(|e| encoding(&e))?;
    std::fs::write(&path, text).map_err(|e| ExperimentError::io(&path, e))
}

/// What must not change between a run and its resumption.
pub(crate) fn fingerprint(
    config: &ExperimentConfig,
    specs: &[ClientSpec],
    factory: serde_json::Value,
) -> Result<serde_json::Value, ExperimentError> {
    let mut experiment = serde_json::to_value(config).map_err(|e| encoding(&e))?;
    if let Some(obj) = experiment.as_object_mut() {
        for extent in ["arms", "seeds", "resume"] {
            obj.remove(extent);
        }
        if let Some(fed) = obj.get_mut("federation").and_then(|f| f.as_object_mut()) {
            fed.remove("rounds");
        }
    }
    let clients = serde_json::to_value(specs).map_err(|e| encoding(&e))?;
    Ok(serde_json::json!({"experiment": experiment, "clients": clients, "factory": factory}))
}

fn encoding(e: &serde_json::Error) -> ExperimentError {
    ConfigError::new("experiment", format!("cannot be encoded as JSON: {e}")).into()
}

/// Starts the checkpoint directory afresh: removes old checkpoints and writes `run.json`.
pub(crate) fn start_fresh(
    dir: &Path,
    fingerprint: &serde_json::Value,
) -> Result<(), ExperimentError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
    let path = dir.join("run.json");
    let text = serde_json::to_string_pretty(fingerprint).map_err(|e| encoding(&e))?;
    std::fs::write(&path, text).map_err(|e| ExperimentError::io(&path, e))
}

/// Whether `dir` holds a run to resume, after checking that it was written with the same
/// settings (`Ok(false)`: no run there yet, start afresh).
///
/// # Errors
/// [`ExperimentError::Config`] on field `resume` naming the first setting that differs.
pub(crate) fn can_resume(
    dir: &Path,
    fingerprint: &serde_json::Value,
) -> Result<bool, ExperimentError> {
    let path = dir.join("run.json");
    if !path.exists() {
        return Ok(false);
    }
    let saved = read_record(&path)?;
    match first_difference(&saved, fingerprint, "") {
        None => Ok(true),
        Some(at) => Err(ConfigError::new(
            "resume",
            format!(
                "the checkpoints in {} were written with another `{at}`; resume with the \
                 settings of that run, or start afresh without resuming",
                dir.display()
            ),
        )
        .into()),
    }
}

/// A JSON record written beside the checkpoints.
///
/// # Errors
/// [`ExperimentError::Io`] when unreadable, [`ExperimentError::Config`] on `resume` when
/// it is not JSON.
fn read_record(path: &Path) -> Result<serde_json::Value, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExperimentError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        ConfigError::new(
            "resume",
            format!("{} is not valid JSON: {e}", path.display()),
        )
        .into()
    })
}

/// The path of the first value that differs between `a` and `b` (`None`: equal).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &join(k)),
                _ => Some(join(k)),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{at}[{i}]"))),
        _ => (a != b).then(|| {
            if at.is_empty() {
                "(root)".to_string()
            } else {
                at.to_string()
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = serde_json::json!({"x": {"lr": 1e-4, "steps": [1, 2]}, "y": 1});
        assert_eq!(first_difference(&a, &a, ""), None);
        let b = serde_json::json!({"x": {"lr": 2e-4, "steps": [1, 2]}, "y": 1});
        assert_eq!(first_difference(&a, &b, "").as_deref(), Some("x.lr"));
        let c = serde_json::json!({"x": {"lr": 1e-4, "steps": [1, 3]}, "y": 1});
        assert_eq!(first_difference(&a, &c, "").as_deref(), Some("x.steps[1]"));
        let d = serde_json::json!({"x": {"lr": 1e-4, "steps": [1, 2]}});
        assert_eq!(first_difference(&a, &d, "").as_deref(), Some("y"));
    }

    #[test]
    fn a_changed_arm_is_refused_when_its_checkpoint_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let config = ExperimentConfig {
            out_dir: dir.path().to_path_buf(),
            ..ExperimentConfig::default()
        };
        std::fs::create_dir_all(checkpoint_dir(&config)).unwrap();
        let hyper = fedmoa_core::weighting::HypergradientConfig::default();
        let arm = super::super::Arm::Fedmoa.config(0.1, &hyper).unwrap();
        check_arm(&config, &arm, false).unwrap();
        check_arm(&config, &arm, true).unwrap();
        let hotter = super::super::Arm::Fedmoa.config(0.5, &hyper).unwrap();
        let err = check_arm(&config, &hotter, true).unwrap_err().to_string();
        assert!(err.contains("`aggregator.temperature`"), "{err}");
        check_arm(&config, &hotter, false).unwrap();
        check_arm(&config, &hotter, true).unwrap();
    }

    #[test]
    fn extents_may_change_but_settings_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let config = ExperimentConfig::default();
        let fp = fingerprint(&config, &[], serde_json::json!({"lr": 1e-4})).unwrap();
        assert!(!can_resume(dir.path(), &fp).unwrap());
        start_fresh(dir.path(), &fp).unwrap();
        let mut longer = config.clone();
        longer.federation.rounds += 4;
        longer.seeds = 3;
        longer.arms.push(super::super::Arm::FedmoaNoTask.into());
        longer.resume = true;
        let same = fingerprint(&longer, &[], serde_json::json!({"lr": 1e-4})).unwrap();
        assert!(can_resume(dir.path(), &same).unwrap());
        let other_lr = fingerprint(&config, &[], serde_json::json!({"lr": 2e-4})).unwrap();
        let err = can_resume(dir.path(), &other_lr).unwrap_err().to_string();
        assert!(err.contains("`factory.lr`"), "{err}");
        let mut other_steps = config;
        other_steps.federation.local_steps = Some(3);
        let other = fingerprint(&other_steps, &[], serde_json::json!({"lr": 1e-4})).unwrap();
        let err = can_resume(dir.path(), &other).unwrap_err().to_string();
        assert!(err.contains("`experiment.federation.local_steps`"), "{err}");
    }
}
