//! [`GrpoTrainerBuilder`]: a [`GrpoTrainer`] from a policy, a tokenizer, rewards and data,
//! with defaults for everything else.

use fedmoa_core::weighting::FixedConfig;
use fedmoa_core::{ClientId, ConfigError, ObjectiveWeighter, RewardFn, TaskTag};

use super::{Dataset, GrpoTrainer, GrpoTrainerConfig};
use crate::grpo::GrpoConfig;
use crate::{GrpoError, Policy, PolicyTokenizer};

/// Collects the parts of a [`GrpoTrainer`]; made by [`GrpoTrainer::builder`].
///
/// Required: at least one reward ([`reward`](Self::reward) or [`rewards`](Self::rewards);
/// the first one added is the primary objective) and the [`data`](Self::data). Defaults:
/// fixed equal weights, [`GrpoTrainerConfig::default`], client id `client-0`, and the task
/// of the first training prompt.
pub struct GrpoTrainerBuilder<P: Policy, T: PolicyTokenizer + 'static> {
    policy: P,
    tokenizer: T,
    client_id: ClientId,
    task: Option<TaskTag>,
    data: Option<Dataset>,
    rewards: Vec<Box<dyn RewardFn>>,
    weighter: Option<Box<dyn ObjectiveWeighter>>,
    config: GrpoTrainerConfig,
}

impl<P: Policy> GrpoTrainer<P> {
    /// Starts building a trainer for `policy` with `tokenizer`; see [`GrpoTrainerBuilder`].
    pub fn builder<T: PolicyTokenizer + 'static>(
        policy: P,
        tokenizer: T,
    ) -> GrpoTrainerBuilder<P, T> {
        GrpoTrainerBuilder {
            policy,
            tokenizer,
            client_id: ClientId::from("client-0"),
            task: None,
            data: None,
            rewards: Vec::new(),
            weighter: None,
            config: GrpoTrainerConfig::default(),
        }
    }
}

impl<P: Policy, T: PolicyTokenizer + 'static> GrpoTrainerBuilder<P, T> {
    /// Adds one objective (the first one added is the primary objective).
    #[must_use]
    pub fn reward(mut self, reward: impl RewardFn + 'static) -> Self {
        self.rewards.push(Box::new(reward));
        self
    }

    /// Adds several objectives, in order, after those already added.
    #[must_use]
    pub fn rewards(mut self, rewards: impl IntoIterator<Item = Box<dyn RewardFn>>) -> Self {
        self.rewards.extend(rewards);
        self
    }

    /// The client's train / validation / test prompts.
    #[must_use]
    pub fn data(mut self, data: Dataset) -> Self {
        self.data = Some(data);
        self
    }

    /// The objective weighter (default: fixed equal weights). It must manage as many
    /// objectives as there are rewards.
    #[must_use]
    pub fn weighter(mut self, weighter: Box<dyn ObjectiveWeighter>) -> Self {
        self.weighter = Some(weighter);
        self
    }

    /// The whole trainer configuration (replaces earlier [`grpo`](Self::grpo) settings).
    #[must_use]
    pub fn config(mut self, config: GrpoTrainerConfig) -> Self {
        self.config = config;
        self
    }

    /// The GRPO settings (TRL's names), keeping the rest of the trainer configuration.
    #[must_use]
    pub fn grpo(mut self, grpo: GrpoConfig) -> Self {
        self.config.grpo = grpo;
        self
    }

    /// The client id in updates and logs (default `client-0`).
    #[must_use]
    pub fn client_id(mut self, id: impl Into<ClientId>) -> Self {
        self.client_id = id.into();
        self
    }

    /// The task tag the server's task-aware aggregation groups by (default: the task of
    /// the first training prompt).
    #[must_use]
    pub fn task(mut self, task: impl Into<TaskTag>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// Validates everything and builds the trainer.
    ///
    /// # Errors
    /// [`GrpoError::Config`] naming `data` when no dataset was given, `rewards` when no
    /// reward was, and otherwise as [`GrpoTrainer::new`].
    pub fn build(self) -> Result<GrpoTrainer<P>, GrpoError> {
        let data = self
            .data
            .ok_or_else(|| ConfigError::new("data", "no dataset: call .data(…)"))?;
        if self.rewards.is_empty() {
            return Err(ConfigError::new("rewards", "no reward: call .reward(…)").into());
        }
        let weighter = match self.weighter {
            Some(weighter) => weighter,
            None => Box::new(FixedConfig::default().build(self.rewards.len())?),
        };
        let task = match self.task {
            Some(task) => task,
            None => data
                .train
                .first()
                .map_or_else(|| TaskTag::from("default"), |p| p.task.clone()),
        };
        GrpoTrainer::new(
            self.client_id,
            task,
            self.policy,
            self.tokenizer,
            data,
            self.rewards,
            weighter,
            self.config,
        )
    }
}
