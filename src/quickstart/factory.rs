//! [`TinyLmFactory`]: clients that run GRPO on the embedded TinyLm, all starting from one
//! cached SFT warm start.

use std::collections::HashSet;

use fedmoa_core::seeds::SeedStream;
use fedmoa_core::{LocalTrainer, ParamSet, Prompt, TrainError};
use fedmoa_grpo::burn::prelude::Device;
use fedmoa_grpo::sft::{WarmStartReport, load_or_train};
use fedmoa_grpo::{Policy, StepObserver, TaskTokenizer, TinyLm};
use fedmoa_rewards::{ClientSpec, Dataset};

use super::QuickstartConfig;
use crate::experiment::{ClientFactory, ClientRequest, GrpoClients, client_data, train_err};

/// Builds [`GrpoTrainer`](fedmoa_grpo::GrpoTrainer)s over one warm-started TinyLm.
pub struct TinyLmFactory {
    clients: GrpoClients,
    datasets: Vec<Dataset>,
    policy: TinyLm,
    tokenizer: TaskTokenizer,
    report: WarmStartReport,
    /// The quickstart config without its `[experiment]` table (which the experiment
    /// fingerprints itself).
    fingerprint: serde_json::Value,
}

impl TinyLmFactory {
    /// Generates every client's data, then loads the warm start from the cache or trains it
    /// on worked solutions drawn from the clients' task mixes (never on a prompt that is in
    /// any client's validation or test split), as `config.teacher` writes them.
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
            let seed = SeedStream::ClientData(i).seed(scenario_seed);
            datasets.push(
                spec.dataset(seed, d.train, d.validation, d.test)
                    .map_err(|e| train_err(&format!("data of client {}", spec.id), e))?,
            );
        }
        let held_out: HashSet<&str> = datasets
            .iter()
            .flat_map(|ds| {
                ds.validation
                    .iter()
                    .chain(&ds.test)
                    .map(|p| p.text.as_str())
            })
            .collect();
        let mut sft: Vec<Prompt> = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let seed = SeedStream::WarmStartPool(i).seed(scenario_seed);
            let pool = spec
                .dataset(seed, d.warm_start, 0, 0)
                .map_err(|e| train_err(&format!("warm-start data of client {}", spec.id), e))?;
            sft.extend(
                pool.train
                    .iter()
                    .filter(|p| !held_out.contains(p.text.as_str()))
                    .map(|p| config.teacher.teach(p)),
            );
        }
        let (policy, tokenizer, report) = load_or_train(&sft, &config.warm_start, device)
            .map_err(|e| train_err("warm start", e))?;
        let mut fingerprint = serde_json::to_value(&config).unwrap_or_default();
        if let Some(obj) = fingerprint.as_object_mut() {
            obj.remove("experiment");
        }
        Ok(Self {
            fingerprint,
            clients: GrpoClients::new(config.trainer.clone()),
            datasets,
            policy,
            tokenizer,
            report,
        })
    }

    /// Gives every trainer built from now on `observer`, called after each local step.
    #[must_use]
    pub fn with_step_observer(mut self, observer: StepObserver) -> Self {
        self.clients.step_observer = Some(observer);
        self
    }

    /// Builds rewards from this registry instead of the built-in one (custom plugins).
    #[must_use]
    pub fn with_registry(mut self, registry: fedmoa_rewards::RewardRegistry) -> Self {
        self.clients.registry = registry;
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

    fn fingerprint(&self) -> serde_json::Value {
        self.fingerprint.clone()
    }

    fn trainer(&self, request: ClientRequest<'_>) -> Result<Box<dyn LocalTrainer>, TrainError> {
        let data = client_data(&self.datasets, request.index)?;
        self.clients
            .build(request, self.policy.clone(), self.tokenizer.clone(), data)
    }
}
