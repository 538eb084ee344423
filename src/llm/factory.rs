//! [`LlamaFactory`]: clients that run GRPO on LoRA adapters of one pretrained Llama-family
//! model, each with its own data, rewards and chat instruction.

use fedmoa_core::{ConfigError, LocalTrainer, ParamSet, TrainError};
use fedmoa_grpo::{Dataset, GrpoTrainerConfig, Llama, LlmTokenizer, Policy, StepObserver};
use fedmoa_rewards::RewardRegistry;

use super::ChatPrompting;
use crate::experiment::{ClientRequest, GrpoClients, client_data, train_err};

/// Builds a [`GrpoTrainer<Llama>`](fedmoa_grpo::GrpoTrainer) per client over one shared base model with LoRA
/// adapters; only the adapters are trained and exchanged.
///
/// Every client starts from the same adapters (B = 0, so the first global model is the
/// base model); prompts are wrapped by [`ChatPrompting`] for the client's task.
pub struct LlamaFactory {
    policy: Llama,
    tokenizer: LlmTokenizer,
    prompting: ChatPrompting,
    data: Vec<Dataset>,
    clients: GrpoClients,
}

impl LlamaFactory {
    /// A factory over `policy` (which must carry LoRA adapters: see
    /// [`Llama::with_lora`]) for clients whose data is `data[i]` (in the order of the
    /// experiment's client specs: train prompts for GRPO, validation for the accuracy a
    /// client reports, test for the global evaluation).
    ///
    /// # Errors
    /// [`ConfigError`] when the policy has no adapters, the prompting or trainer config is
    /// invalid, or a client has no training prompt.
    pub fn new(
        policy: Llama,
        tokenizer: LlmTokenizer,
        prompting: ChatPrompting,
        trainer: GrpoTrainerConfig,
        data: Vec<Dataset>,
    ) -> Result<Self, ConfigError> {
        if policy.lora().is_none() {
            return Err(ConfigError::new(
                "policy",
                "has no LoRA adapters; call Llama::with_lora first (full fine-tuning would \
                 exchange every weight)",
            ));
        }
        prompting.validate().map_err(|e| e.within("prompting"))?;
        trainer.validate().map_err(|e| e.within("trainer"))?;
        if let Some(i) = data.iter().position(|d| d.train.is_empty()) {
            return Err(ConfigError::new(
                format!("data[{i}].train"),
                "no training prompt",
            ));
        }
        Ok(Self {
            policy,
            tokenizer,
            prompting,
            data,
            clients: GrpoClients::new(trainer),
        })
    }

    /// Builds rewards from this registry instead of the built-in one (custom plugins).
    #[must_use]
    pub fn with_registry(mut self, registry: RewardRegistry) -> Self {
        self.clients.registry = registry;
        self
    }

    /// Writes `adapters` (e.g. [`crate::experiment::ArmRun::final_params`]) as a Hugging
    /// Face PEFT LoRA adapter into `dir` (`adapter_config.json`, `adapter_model.safetensors`;
    /// see [`Llama::save_peft_adapter`]); returns the paths written.
    ///
    /// # Errors
    /// [`fedmoa_grpo::GrpoError`] when `adapters` do not fit the policy's adapters or a file
    /// cannot be written.
    pub fn save_peft_adapter(
        &self,
        adapters: &ParamSet,
        dir: &std::path::Path,
        base_model: Option<&str>,
    ) -> Result<Vec<std::path::PathBuf>, fedmoa_grpo::GrpoError> {
        let model = self.policy.clone().load_param_set(adapters)?;
        model.save_peft_adapter(dir, base_model)
    }

    /// Calls `observer` after every local step of every trainer built from now on.
    #[must_use]
    pub fn with_step_observer(mut self, observer: StepObserver) -> Self {
        self.clients.step_observer = Some(observer);
        self
    }
}

impl crate::experiment::ClientFactory for LlamaFactory {
    fn initial_params(&self, _seed: u64) -> Result<ParamSet, TrainError> {
        self.policy
            .to_param_set()
            .map_err(|e| train_err("adapter parameters", e))
    }

    fn fingerprint(&self) -> serde_json::Value {
        serde_json::json!({
            "trainer": self.clients.fingerprint(),
            "prompting": serde_json::to_value(&self.prompting).unwrap_or_default(),
        })
    }

    fn trainer(&self, request: ClientRequest<'_>) -> Result<Box<dyn LocalTrainer>, TrainError> {
        let data = client_data(&self.data, request.index)?;
        let tokenizer = self
            .prompting
            .tokenizer_for(&self.tokenizer, &request.spec.task);
        self.clients
            .build(request, self.policy.clone(), tokenizer, data)
    }
}
