//! [`TinyLmFactory`]: clients that run GRPO on the embedded TinyLm, all starting from one
//! cached SFT warm start.

use std::collections::HashSet;

use fedmoa_core::federation::derive_seed;
use fedmoa_core::{LocalTrainer, ObjectiveWeighter, ParamSet, Prompt, RewardFn, TrainError};
use fedmoa_grpo::burn::prelude::Device;
use fedmoa_grpo::sft::{WarmStartReport, load_or_train};
use fedmoa_grpo::{ClientData, GrpoTrainer, Policy, StepObserver, TaskTokenizer, TinyLm};
use fedmoa_rewards::{ClientSpec, Dataset, RewardRegistry};

use super::QuickstartConfig;
use crate::experiment::ClientFactory;

fn train_err(context: &str, e: impl std::error::Error + Send + Sync + 'static) -> TrainError {
    TrainError::Other {
        context: context.to_string(),
        source: Some(Box::new(e)),
    }
}

/// Builds [`GrpoTrainer`]s over one warm-started TinyLm.
pub struct TinyLmFactory {
    config: QuickstartConfig,
    registry: RewardRegistry,
    datasets: Vec<Dataset>,
    policy: TinyLm,
    tokenizer: TaskTokenizer,
    report: WarmStartReport,
    step_observer: Option<StepObserver>,
}

impl TinyLmFactory {
    /// Generates every client's data, then loads the warm start from the cache or trains it
    /// on worked solutions drawn from the clients' task mixes (never on a prompt that is in
    /// any client's validation or test split).
    ///
    /// # Errors
    /// [`TrainError`] when data cannot be generated or the warm start fails.
    pub fn new(
        config: QuickstartConfig,
        specs: &[ClientSpec],
        scenario_seed: u64,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let d = config.data;
        let mut datasets = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let seed = derive_seed(scenario_seed, &[i as u64, 1]);
            datasets.push(
                spec.dataset(seed, d.train, d.validation, d.test)
                    .map_err(|e| train_err(&format!("data of client {}", spec.id), e))?,
            );
        }
        let held_out: HashSet<&str> = datasets
            .iter()
            .flat_map(|ds| ds.valid.iter().chain(&ds.test).map(|p| p.text.as_str()))
            .collect();
        let mut sft: Vec<Prompt> = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let seed = derive_seed(scenario_seed, &[i as u64, 2]);
            let pool = spec
                .dataset(seed, d.warm_start, 0, 0)
                .map_err(|e| train_err(&format!("warm-start data of client {}", spec.id), e))?;
            sft.extend(
                pool.train
                    .into_iter()
                    .filter(|p| !held_out.contains(p.text.as_str())),
            );
        }
        let (policy, tokenizer, report) = load_or_train(&sft, &config.warm_start, device)
            .map_err(|e| train_err("warm start", e))?;
        Ok(Self {
            config,
            registry: RewardRegistry::with_builtins(),
            datasets,
            policy,
            tokenizer,
            report,
            step_observer: None,
        })
    }

    /// Gives every trainer built from now on `observer`, called after each local step.
    #[must_use]
    pub fn with_step_observer(mut self, observer: StepObserver) -> Self {
        self.step_observer = Some(observer);
        self
    }

    /// How the warm start went (or that it came from the cache).
    pub fn warm_start_report(&self) -> &WarmStartReport {
        &self.report
    }
}

impl ClientFactory for TinyLmFactory {
    fn initial_params(&self, _seed: u64) -> Result<ParamSet, TrainError> {
        self.policy
            .to_param_set()
            .map_err(|e| train_err("policy parameters", e))
    }

    fn trainer(
        &self,
        index: usize,
        spec: &ClientSpec,
        weighter: Box<dyn ObjectiveWeighter>,
        seed: u64,
    ) -> Result<Box<dyn LocalTrainer>, TrainError> {
        let ds = self
            .datasets
            .get(index)
            .ok_or_else(|| TrainError::msg(format!("no data for client {index}")))?;
        let data = ClientData {
            train: ds.train.clone(),
            validation: ds.valid.clone(),
            test: ds.test.clone(),
        };
        let rewards: Vec<Box<dyn RewardFn>> = spec
            .rewards
            .iter()
            .enumerate()
            .map(|(k, r)| {
                self.registry
                    .build(&r.plugin)
                    .map_err(|e| e.within(&format!("clients[{index}].rewards[{k}]")))
            })
            .collect::<Result<_, _>>()?;
        let mut config = self.config.trainer.clone();
        config.grpo.seed = derive_seed(seed, &[index as u64, 3]);
        let trainer = GrpoTrainer::new(
            spec.id.clone(),
            spec.task.clone(),
            self.policy.clone(),
            self.tokenizer.clone(),
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
