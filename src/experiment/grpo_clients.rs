//! [`GrpoClients`]: what every GRPO client factory shares when it builds a trainer.

use fedmoa_core::seeds::SeedStream;
use fedmoa_core::{LocalTrainer, ObjectiveWeighter, TrainError};
use fedmoa_grpo::{Dataset, GrpoTrainer, GrpoTrainerConfig, Policy, PolicyTokenizer, StepObserver};
use fedmoa_rewards::{ClientSpec, RewardRegistry};

use super::{build_rewards, train_err};

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

    /// Client `index`'s trainer over `policy` and `tokenizer`, with `spec`'s rewards, the
    /// experiment's `weighter` and a GRPO seed derived from `seed` and `index`.
    ///
    /// # Errors
    /// [`TrainError`] for a bad reward config or a trainer that cannot be built.
    #[allow(clippy::too_many_arguments)]
    pub fn build<P: Policy>(
        &self,
        index: usize,
        spec: &ClientSpec,
        policy: P,
        tokenizer: impl PolicyTokenizer + 'static,
        data: Dataset,
        weighter: Box<dyn ObjectiveWeighter>,
        seed: u64,
    ) -> Result<Box<dyn LocalTrainer>, TrainError>
    where
        GrpoTrainer<P>: LocalTrainer,
    {
        let rewards = build_rewards(&self.registry, index, spec)?;
        let mut config = self.trainer.clone();
        config.grpo.seed = SeedStream::ClientTrainer(index).seed(seed);
        let trainer = GrpoTrainer::new(
            spec.id.clone(),
            spec.task.clone(),
            policy,
            tokenizer,
            data,
            rewards,
            weighter,
            config,
        )
        .map_err(|e| train_err(&format!("trainer of client {}", spec.id), e))?;
        Ok(match &self.step_observer {
            Some(observer) => Box::new(trainer.with_step_observer(observer.clone())),
            None => Box::new(trainer),
        })
    }
}
