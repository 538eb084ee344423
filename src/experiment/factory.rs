//! [`ClientFactory`]: how an experiment turns client specs into local trainers.

use fedmoa_core::{LocalTrainer, ObjectiveWeighter, ParamSet, RewardFn, TrainError};
use fedmoa_rewards::{ClientSpec, RewardRegistry};

/// One client's trainer to build: which client, its spec, the arm's weighter for it and the
/// seed of the arm × seed run.
pub struct ClientRequest<'a> {
    /// The client's position in the experiment's client list.
    pub index: usize,
    /// Its spec (task, rewards, data mix).
    pub spec: &'a ClientSpec,
    /// Its objective weighter, built from the arm's weighter table.
    pub weighter: Box<dyn ObjectiveWeighter>,
    /// The run's seed (trainers derive their own from it and `index`).
    pub seed: u64,
}

/// Builds the policy's initial parameters and one [`LocalTrainer`] per client.
///
/// The experiment calls it once per arm and seed, so every arm starts from the same
/// parameters and the same client data.
pub trait ClientFactory: Send + Sync {
    /// The global parameters every arm starts from (e.g. a warm-started policy).
    ///
    /// # Errors
    /// [`TrainError`] when the policy cannot be built.
    fn initial_params(&self, seed: u64) -> Result<ParamSet, TrainError>;

    /// The trainer of the client `request` names, scoring with its own objectives and
    /// weighted by the request's weighter.
    ///
    /// # Errors
    /// [`TrainError`] when the client cannot be built (bad spec, missing data, …).
    fn trainer(&self, request: ClientRequest<'_>) -> Result<Box<dyn LocalTrainer>, TrainError>;

    /// The settings that shape the trainers (trainer config, warm start, prompting, …),
    /// recorded beside an experiment's checkpoints and compared when it resumes, so that
    /// a run is never continued with other settings (default: nothing to compare).
    fn fingerprint(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// Client `index`'s objectives, built from its spec by `registry`.
///
/// # Errors
/// [`TrainError::Config`] naming `clients[index].rewards[k]…` for a bad reward config.
pub fn build_rewards(
    registry: &RewardRegistry,
    index: usize,
    spec: &ClientSpec,
) -> Result<Vec<Box<dyn RewardFn>>, TrainError> {
    spec.rewards
        .iter()
        .enumerate()
        .map(|(k, r)| {
            registry
                .build(&r.plugin)
                .map_err(|e| e.within(&format!("clients[{index}].rewards[{k}]")).into())
        })
        .collect()
}

/// A copy of client `index`'s data from a factory's per-client list.
///
/// # Errors
/// [`TrainError`] when the list has no entry for `index`.
pub fn client_data<D: Clone>(data: &[D], index: usize) -> Result<D, TrainError> {
    data.get(index)
        .cloned()
        .ok_or_else(|| TrainError::msg(format!("no data for client {index}")))
}

/// A [`TrainError`] with `context` around `source`.
pub fn train_err(
    context: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> TrainError {
    TrainError::Other {
        context: context.to_string(),
        source: Some(Box::new(source)),
    }
}
