//! [`LlmFederationConfig`]: a federation of LoRA clients of one pretrained model, as data
//! (`examples/configs/smollm2_federation.toml` is the reported SmolLM2 run).

use fedmoa_core::ConfigError;
use fedmoa_grpo::{GrpoTrainerConfig, LoraConfig};
use fedmoa_rewards::{ClientSpec, RewardRegistry};
use serde::{Deserialize, Serialize};

use super::ChatPrompting;
use crate::experiment::{Arm, ExperimentConfig};

/// How many prompts each client gets per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitSizes {
    /// Training prompts (GRPO samples from these).
    pub train: usize,
    /// Held-out prompts (the accuracy a client reports to the server).
    pub validation: usize,
    /// Test prompts (the global model's accuracy; never used for tuning).
    pub test: usize,
}

impl Default for SplitSizes {
    fn default() -> Self {
        Self {
            train: 64,
            validation: 16,
            test: 32,
        }
    }
}

/// The pretrained model's side of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// Context length to allocate (prompt + completion), at most the model's own.
    pub max_seq_len: usize,
    /// The adapters every client trains (only they travel).
    pub lora: LoraConfig,
    /// The Hugging Face id of the model, written as `base_model_name_or_path` in the PEFT
    /// adapters (none: left out).
    pub peft_base_model: Option<String>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            max_seq_len: 1024,
            lora: LoraConfig::default(),
            peft_base_model: None,
        }
    }
}

/// A federation of LoRA clients of one pretrained Llama-family model (read from a GGUF
/// file), each with its own task mix and rewards; every field can be set from TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmFederationConfig {
    /// The model's context and adapters.
    pub model: ModelSettings,
    /// Seed of the clients' data (client i draws with `SeedStream::ClientData(i)`).
    pub scenario_seed: u64,
    /// The clients (`[[clients]]`: id, task, mix of prompt sources, rewards; the first
    /// reward is the primary one).
    pub clients: Vec<ClientSpec>,
    /// Prompts per client and split.
    pub data: SplitSizes,
    /// The system prompt and each task's answer-format instruction.
    pub prompting: ChatPrompting,
    /// Every client's GRPO trainer.
    pub trainer: GrpoTrainerConfig,
    /// Arms, seeds, rounds and output location.
    pub experiment: ExperimentConfig,
}

/// A math client of the default scenario: one-step, one-digit problems of `family`.
fn math_client(id: &str, family: &str, rewards: &str) -> ClientSpec {
    let text = format!(
        "id = \"{id}\"\ntask = \"math\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"math\", families = [\"{family}\"], \
         digits = 1, steps = 1 }} }}]\nrewards = [{rewards}]\n"
    );
    // The text is fixed above; a failure here is a bug in this file, caught by its tests.
    ClientSpec::from_toml_str(&text).unwrap_or_else(|e| panic!("default client {id}: {e}"))
}

impl Default for LlmFederationConfig {
    /// Three math clients on one-step, one-digit word problems (add/sub, comparisons,
    /// mul/div; SmolLM2-135M-Instruct solves 20–40 % of them at 96 new tokens), each
    /// scoring `math_accuracy` first, plus the `#### <number>` answer line the model writes
    /// only some of the time, or a length budget in tension with working the problem out;
    /// FedAvg against FedMOA for 2 rounds of 3 local steps, one prompt and G = 8
    /// completions per step, 8 validation and 16 test prompts per client.
    fn default() -> Self {
        const ACC: &str = "{ type = \"math_accuracy\", weight = 0.6 }";
        const ANSWER_LINE: &str = "{ type = \"answer_line\", weight = 0.4 }";
        const LENGTH: &str =
            "{ type = \"length\", max = 40, mode = \"soft\", cache = 20, weight = 0.4 }";
        let clients = vec![
            math_client("add", "add_sub", &format!("{ACC}, {ANSWER_LINE}")),
            math_client("compare", "comparison", &format!("{ACC}, {ANSWER_LINE}")),
            math_client("muldiv", "mul_div", &format!("{ACC}, {LENGTH}")),
        ];
        let mut experiment = ExperimentConfig {
            name: "smollm2_federation".into(),
            arms: vec![Arm::Fedavg.into(), Arm::Fedmoa.into()],
            ..ExperimentConfig::default()
        };
        experiment.federation.rounds = 2;
        experiment.federation.local_steps = Some(3);
        // One client at a time: a GRPO step of a 135M model already uses every core.
        experiment.federation.max_parallel = 1;
        // Greedy decoding of 32 prompts at once is 1.8× as fast as 8 at a time (SMOLLM2.md).
        let mut trainer = GrpoTrainerConfig {
            eval_batch_size: 32,
            ..GrpoTrainerConfig::default()
        };
        trainer.grpo.num_generations = 8;
        trainer.grpo.prompts_per_step = 1;
        // Working a problem out takes 60-100 tokens; at 64 the base model solves half as
        // many (docs/SMOLLM2.md).
        trainer.grpo.max_completion_length = 96;
        trainer.grpo.learning_rate = 1e-4;
        trainer.grpo.warmup_steps = 0;
        trainer.grpo.temperature = 0.8;
        // No KL reference (TRL's default): no reference forward pass per step.
        trainer.grpo.beta = 0.0;
        let mut prompting = ChatPrompting::default();
        prompting.instructions.insert(
            "math".into(),
            "Solve the problem step by step, then give the final answer after ####.".into(),
        );
        Self {
            model: ModelSettings {
                max_seq_len: 512,
                lora: LoraConfig {
                    rank: 8,
                    alpha: 16.0,
                    ..LoraConfig::default()
                },
                peft_base_model: Some("HuggingFaceTB/SmolLM2-135M-Instruct".into()),
            },
            scenario_seed: 11,
            clients,
            data: SplitSizes {
                train: 64,
                validation: 8,
                test: 16,
            },
            prompting,
            trainer,
            experiment,
        }
    }
}

impl LlmFederationConfig {
    /// Reads a config from TOML laid over the default key by key (`[trainer.grpo]` with
    /// only `learning_rate` keeps the default's group size; a `[[clients]]` list replaces
    /// the default's clients), and validates it.
    ///
    /// # Errors
    /// [`ConfigError`] for bad TOML or an invalid field (named with its path).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_str_with(text, &RewardRegistry::with_builtins())
    }

    /// [`LlmFederationConfig::from_toml_str`] for configs whose clients name the user's own
    /// reward plugins, checked against `rewards` (pass `Plugins::rewards` to
    /// [`super::run_federation_with_plugins`] too).
    ///
    /// # Errors
    /// As [`LlmFederationConfig::from_toml_str`].
    pub fn from_toml_str_with(text: &str, rewards: &RewardRegistry) -> Result<Self, ConfigError> {
        let config = crate::toml_overlay::overlay(&Self::default(), text)?;
        config.validate_with(rewards)?;
        Ok(config)
    }

    /// The `--quick` variant, a smoke test of about four minutes on 2 cores, not a result:
    /// the first two clients, one round of one local step (one prompt, G = 4) per client,
    /// FedAvg and FedMOA, 2 validation and 8 test prompts per client, under `<name>-quick`.
    #[must_use]
    pub fn quick(mut self) -> Self {
        self.clients.truncate(2);
        self.experiment.name = format!("{}-quick", self.experiment.name);
        self.experiment.federation.rounds = 1;
        self.experiment.federation.local_steps = Some(1);
        self.experiment.seeds = 1;
        self.experiment.arms = vec![Arm::Fedavg.into(), Arm::Fedmoa.into()];
        self.data.validation = self.data.validation.min(2);
        self.data.test = self.data.test.min(8);
        self.trainer.grpo.prompts_per_step = 1;
        self.trainer.grpo.num_generations = self.trainer.grpo.num_generations.min(4);
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field (`clients[1].rewards[0].type`, `data`, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(&RewardRegistry::with_builtins())
    }

    /// [`LlmFederationConfig::validate`] with the clients' rewards checked against
    /// `registry` (for configs that name the user's own reward plugins).
    ///
    /// # Errors
    /// As [`LlmFederationConfig::validate`].
    pub fn validate_with(&self, registry: &RewardRegistry) -> Result<(), ConfigError> {
        if self.model.max_seq_len == 0 {
            return Err(ConfigError::new("model.max_seq_len", "must be at least 1"));
        }
        self.model
            .lora
            .validate()
            .map_err(|e| e.within("model.lora"))?;
        if self.clients.is_empty() {
            return Err(ConfigError::new("clients", "list at least one client"));
        }
        for (i, client) in self.clients.iter().enumerate() {
            if self.clients[..i].iter().any(|c| c.id == client.id) {
                return Err(ConfigError::new(
                    format!("clients[{i}].id"),
                    format!("{:?} is used by an earlier client", client.id.as_str()),
                ));
            }
            client
                .validate(registry)
                .map_err(|e| e.within(&format!("clients[{i}]")))?;
        }
        if self.data.train == 0 || self.data.validation == 0 || self.data.test == 0 {
            return Err(ConfigError::new(
                "data",
                "every split needs at least one prompt",
            ));
        }
        self.prompting
            .validate()
            .map_err(|e| e.within("prompting"))?;
        self.trainer.validate().map_err(|e| e.within("trainer"))?;
        self.experiment
            .validate()
            .map_err(|e| e.within("experiment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_its_quick_variant_is_small() {
        let config = LlmFederationConfig::default();
        config.validate().unwrap();
        let quick = config.quick();
        quick.validate().unwrap();
        assert_eq!(quick.experiment.federation.rounds, 1);
        assert_eq!(quick.experiment.name, "smollm2_federation-quick");
    }

    #[test]
    fn user_rewards_load_with_their_registry() {
        let text = "[[clients]]\nid = \"m\"\ntask = \"math\"\n\
                    mix = [{ weight = 1.0, task = { type = \"math\" } }]\n\
                    rewards = [{ type = \"math_accuracy\", weight = 0.5 }, \
                    { type = \"constant\", weight = 0.5 }]\n";
        let e = LlmFederationConfig::from_toml_str(text).unwrap_err();
        assert!(e.reason.contains("constant"), "{e}");
        let mut rewards = RewardRegistry::with_builtins();
        rewards
            .register("constant", |_: &fedmoa_rewards::PluginConfig| {
                Ok(Box::new(fedmoa_core::FnReward::new(
                    "constant",
                    fedmoa_core::RewardRange::UNIT,
                    |_, _| 1.0,
                )) as Box<dyn fedmoa_core::RewardFn>)
            })
            .unwrap();
        let config = LlmFederationConfig::from_toml_str_with(text, &rewards).unwrap();
        assert_eq!(config.clients[0].rewards.len(), 2);
    }

    #[test]
    fn every_shipped_config_is_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configs");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let config = LlmFederationConfig::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(config.quick().validate().is_ok(), "{}", path.display());
            n += 1;
        }
        assert!(n >= 2, "{n} configs in {dir}");
    }

    #[test]
    fn the_shipped_toml_is_the_default() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/configs/smollm2_federation.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            LlmFederationConfig::from_toml_str(&text).unwrap(),
            LlmFederationConfig::default()
        );
    }

    #[test]
    fn toml_overrides_keep_the_other_defaults() {
        let config =
            LlmFederationConfig::from_toml_str("[trainer.grpo]\nlearning_rate = 2e-4\n").unwrap();
        let default = LlmFederationConfig::default();
        assert_eq!(config.trainer.grpo.learning_rate, 2e-4);
        assert_eq!(config.trainer.grpo.num_generations, 8);
        assert_eq!(config.clients, default.clients);
    }

    #[test]
    fn errors_name_the_field() {
        let err = LlmFederationConfig::from_toml_str("[data]\ntest = 0\n").unwrap_err();
        assert_eq!(err.field, "data");
        let err = LlmFederationConfig::from_toml_str("[model.lora]\nrank = 0\n").unwrap_err();
        assert!(err.field.starts_with("model.lora"), "{err}");
        let err = LlmFederationConfig::from_toml_str(
            "[[clients]]\nid = \"x\"\ntask = \"math\"\n\
             mix = [{ weight = 1.0, task = { type = \"math\" } }]\n\
             rewards = [{ type = \"no_such_reward\", weight = 1.0 }]\n",
        )
        .unwrap_err();
        assert!(err.field.starts_with("clients[0]"), "{err}");
    }
}
