//! [`GrpoClients`]: what every GRPO client factory shares when it builds a trainer.

use fedmoa_core::seeds::SeedStream;
use fedmoa_core::{LocalTrainer, TrainError};
use fedmoa_grpo::{Dataset, GrpoTrainer, GrpoTrainerConfig, Policy, PolicyTokenizer, StepObserver};
use fedmoa_rewards::RewardRegistry;

use super::{ClientRequest, build_rewards, train_err};

/// The reward registry, the trainer config and an optional step observer, turned into a
/// [`GrpoTrainer`] per client by [`GrpoClients::build`] (used by the TinyLm and Llama
/// factories).
#[derive(Clone)]
pub struct GrpoClients {
    /// Builds each client's rewards from its spec.
    pub registry: RewardRegistry,
    /// Every client's trainer config (the GRPO seed is derived per client and seed).
    pub trainer: GrpoTrainerConfig,
    /// Called after every local step of every trainer.
    pub step_observer: Option<StepObserver>,
}

impl GrpoClients {
    /// The built-in rewards, `trainer` for every client, no observer.
    pub fn new(trainer: GrpoTrainerConfig) -> Self {
        Self {
            registry: RewardRegistry::with_builtins(),
            trainer,
            step_observer: None,
        }
    }

    /// The trainer config as JSON, for [`super::ClientFactory::fingerprint`].
    pub fn fingerprint(&self) -> serde_json::Value {
        serde_json::to_value(&self.trainer).unwrap_or(serde_json::Value::Null)
    }

    /// The requested client's trainer over `policy` and `tokenizer`, with its spec's
    /// rewards, the request's weighter and a GRPO seed derived from the request's seed
    /// and index.
    ///
    /// # Errors
    /// [`TrainError`] for a bad reward config or a trainer that cannot be built.
    pub fn build<P: Policy>(
        &self,
        request: ClientRequest<'_>,
        policy: P,
        tokenizer: impl PolicyTokenizer + 'static,
        data: Dataset,
    ) -> Result<Box<dyn LocalTrainer>, TrainError>
    where
        GrpoTrainer<P>: LocalTrainer,
    {
        let ClientRequest {
            index,
            spec,
            weighter,
            seed,
        } = request;
        let rewards = build_rewards(&self.registry, index, spec)?;
        let mut config = self.trainer.clone();
        config.grpo.seed = SeedStream::ClientTrainer(index).seed(seed);
        let trainer = GrpoTrainer::builder(policy, tokenizer)
            .client_id(spec.id.clone())
            .task(spec.task.clone())
            .data(data)
            .rewards(rewards)
            .weighter(weighter)
            .config(config)
            .build()
            .map_err(|e| train_err(&format!("trainer of client {}", spec.id), e))?;
        Ok(match &self.step_observer {
            Some(observer) => Box::new(trainer.with_step_observer(observer.clone())),
            None => Box::new(trainer),
        })
    }
}
