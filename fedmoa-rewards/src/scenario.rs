//! Client reward specs and scenarios: N clients with heterogeneous tasks and objectives.
//!
//! A scenario is data. In TOML:
//! ```toml
//! seed = 7
//! [[clients]]
//! id = "math-0"
//! task = "math"
//! mix = [{ weight = 1.0, task = { type = "math", families = ["add_sub", "percent"], digits = 1, steps = 2 } }]
//! rewards = [
//!   { type = "math_accuracy", weight = 0.6 },
//!   { type = "format", weight = 0.2 },
//!   { type = "length", weight = 0.2, max = 48, mode = "soft", cache = 16 },
//! ]
//! primary = 0
//! ```

use std::collections::BTreeSet;

use fedmoa_core::{ClientId, ConfigError, Reference, TaskTag};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::code::CodeTaskConfig;
use crate::config::{RewardConfig, WeightedReward};
use crate::dataset::Dataset;
use crate::math::{MathFamily, MathTaskConfig};
use crate::registry::RewardRegistry;
use crate::rewards::{
    CodePassRateConfig, CodeSyntaxConfig, FormatConfig, LengthConfig, MathAccuracyConfig,
    ReasoningConfig,
};
use crate::scenario_difficulty::ScenarioDifficulty;
use crate::scoring::RewardSet;
use crate::seeded::{FNV_OFFSET, fnv1a, rng_for};
use crate::task::{TaskMix, TaskSpec};

/// One client's data and objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Client id, unique in a scenario (e.g. `math-0`).
    pub id: ClientId,
    /// The client's task family; every source of `mix` must produce it.
    pub task: TaskTag,
    /// Where its prompts come from.
    pub mix: TaskMix,
    /// Its objectives with initial weights.
    pub rewards: Vec<WeightedReward>,
    /// Index of the primary objective in `rewards` (default 0).
    #[serde(default)]
    pub primary: usize,
    /// Share of the client's training and validation prompts whose numeric reference is
    /// wrong (one too high), in `[0, 1]`; default 0. A client of poor data quality: its
    /// rewards teach wrong answers and its reported accuracy is measured against its own
    /// labels. Test prompts, which only the experiment reads, keep their true references.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_noise: f32,
}

fn is_zero(value: &f32) -> bool {
    *value == 0.0
}

impl ClientSpec {
    /// Parses one client from TOML (syntax and field names; see [`ClientSpec::validate`]).
    ///
    /// # Errors
    /// [`ConfigError`] on `client` with the parser's message.
    pub fn from_toml_str(text: &str) -> Result<ClientSpec, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::new("client", e.to_string()))
    }

    /// Checks the mix and builds every reward once.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field (`mix[0].task.digits`, `rewards[1].length.max`, …).
    pub fn validate(&self, registry: &RewardRegistry) -> Result<(), ConfigError> {
        fedmoa_core::require_in_range("label_noise", f64::from(self.label_noise), 0.0, 1.0)?;
        self.mix.validate()?;
        let tags = self.mix.task_tags();
        if tags.iter().any(|t| *t != self.task) {
            return Err(ConfigError::new(
                "mix",
                format!(
                    "produces {tags:?} but the client's task is {:?}",
                    self.task.as_str()
                ),
            ));
        }
        self.reward_set(registry).map(|_| ())
    }

    /// Builds the client's [`RewardSet`].
    ///
    /// # Errors
    /// [`ConfigError`] from the registry or the set.
    pub fn reward_set(&self, registry: &RewardRegistry) -> Result<RewardSet, ConfigError> {
        registry.build_set(&self.rewards, self.primary)
    }

    /// Builds the client's dataset (see [`TaskMix::build_dataset`]), with `label_noise` of
    /// its training and validation references made wrong (a seeded choice per prompt).
    ///
    /// # Errors
    /// [`DataError`] from the mix.
    pub fn dataset(
        &self,
        seed: u64,
        n_train: usize,
        n_valid: usize,
        n_test: usize,
    ) -> Result<Dataset, DataError> {
        let mut dataset = self.mix.build_dataset(seed, n_train, n_valid, n_test)?;
        if self.label_noise > 0.0 {
            for prompt in dataset.train.iter_mut().chain(&mut dataset.validation) {
                let draw: f64 = rng_for(
                    seed ^ LABEL_NOISE_STREAM,
                    fnv1a(FNV_OFFSET, prompt.text.as_bytes()),
                )
                .random();
                if let (true, Reference::Number { value }) =
                    (draw < f64::from(self.label_noise), &mut prompt.reference)
                {
                    *value += 1.0;
                }
            }
        }
        Ok(dataset)
    }
}

/// A federation's clients, built from one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed for the clients' data (see [`Scenario::client_seed`]).
    pub seed: u64,
    /// The clients.
    pub clients: Vec<ClientSpec>,
}

/// Primary-objective weights the heterogeneous scenario draws from.
const PRIMARY_WEIGHTS: [f32; 3] = [0.5, 0.6, 0.7];

impl Scenario {
    /// `n_math` math clients (`math-0`, …) and `n_code` code clients (`code-0`, …) with
    /// heterogeneous specs drawn from `seed`, at [`ScenarioDifficulty::default`] (tasks the
    /// embedded TinyLm learns in minutes). See [`Scenario::heterogeneous_with`].
    pub fn heterogeneous(n_math: usize, n_code: usize, seed: u64) -> Scenario {
        Self::heterogeneous_with(n_math, n_code, seed, &ScenarioDifficulty::default())
    }

    /// `n_math` math clients and `n_code` code clients with heterogeneous specs drawn from
    /// `seed`, their tasks as hard as `difficulty` says.
    ///
    /// Math client i sees two of `difficulty.math_families` (a seeded rotation, so
    /// neighbours differ), `math_digits[i % len]` digits and 1 to `math_max_steps` steps;
    /// code client i has difficulty `code_difficulties[i % len]`.
    /// Every client's primary objective (index 0) is correctness (`math_accuracy` or
    /// `code_pass_rate`) with weight 0.5, 0.6 or 0.7; the rest is shared by a `format`
    /// objective (strict or with partial credit) and one more auxiliary that rotates
    /// through a hard length budget, a soft (DAPO) length budget and `reasoning` for math,
    /// and `code_syntax`, a soft length budget and `reasoning` for code. Budgets and step
    /// counts are chosen so that each task's reference solution fully satisfies them (up to
    /// two steps; longer stories may exceed the hard 32-token budget).
    ///
    /// An invalid `difficulty` (see [`ScenarioDifficulty::validate`]) gives clients that
    /// [`Scenario::validate`] rejects, never a panic.
    pub fn heterogeneous_with(
        n_math: usize,
        n_code: usize,
        seed: u64,
        difficulty: &ScenarioDifficulty,
    ) -> Scenario {
        let mut rng = rng_for(seed, u64::MAX);
        let offset = rng.random_range(0..MathFamily::ALL.len());
        let mut clients = Vec::with_capacity(n_math + n_code);
        let cycle = |values: &[u32], i: usize| values.get(i % values.len().max(1)).copied();
        for i in 0..n_math {
            let families = if difficulty.math_families.is_empty() {
                Vec::new()
            } else {
                difficulty.families_of(i, offset)
            };
            let steps = rng.random_range(1..=difficulty.math_max_steps.max(1));
            let config = MathTaskConfig::new(families)
                .with_digits(cycle(&difficulty.math_digits, i).unwrap_or(0))
                .with_steps(steps);
            // Solutions take at most 4 + 7·max(steps, 2) + (steps − 1) ≤ 19 tokens at two
            // steps.
            let aux = match (i + offset) % 3 {
                0 => RewardConfig::Length(LengthConfig::hard(32)),
                1 => RewardConfig::Length(LengthConfig::soft(48, 16)),
                _ => RewardConfig::Reasoning(ReasoningConfig {
                    id: None,
                    min_steps: steps,
                }),
            };
            let primary = RewardConfig::MathAccuracy(MathAccuracyConfig::default());
            clients.push(client(
                format!("math-{i}"),
                "math",
                TaskSpec::Math(config),
                primary,
                [format_config(i), aux],
                *crate::seeded::pick(&mut rng, &PRIMARY_WEIGHTS),
            ));
        }
        for i in 0..n_code {
            let level = cycle(&difficulty.code_difficulties, i).unwrap_or(0);
            let aux = match (i + offset) % 3 {
                0 => RewardConfig::CodeSyntax(CodeSyntaxConfig::default()),
                1 => RewardConfig::Length(LengthConfig::soft(64, 16)),
                _ => RewardConfig::Reasoning(ReasoningConfig::default()),
            };
            let primary = RewardConfig::CodePassRate(CodePassRateConfig::default());
            clients.push(client(
                format!("code-{i}"),
                "code",
                TaskSpec::Code(CodeTaskConfig::new(level)),
                primary,
                [format_config(i + 1), aux],
                *crate::seeded::pick(&mut rng, &PRIMARY_WEIGHTS),
            ));
        }
        Scenario { seed, clients }
    }

    /// Parses a scenario from TOML (checks syntax and field names; see
    /// [`Scenario::validate`] for the rest).
    ///
    /// # Errors
    /// [`ConfigError`] on `scenario` with the parser's message.
    pub fn from_toml_str(text: &str) -> Result<Scenario, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::new("scenario", e.to_string()))
    }

    /// Writes the scenario as TOML.
    ///
    /// # Errors
    /// [`ConfigError`] if a plugin table holds a value TOML cannot represent.
    pub fn to_toml_string(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::new("scenario", e.to_string()))
    }

    /// Checks that there is at least one client, ids are unique and every client is valid.
    ///
    /// # Errors
    /// [`ConfigError`] with a field like `clients[2].rewards[1].length.max`.
    pub fn validate(&self, registry: &RewardRegistry) -> Result<(), ConfigError> {
        if self.clients.is_empty() {
            return Err(ConfigError::new("clients", "must hold at least one client"));
        }
        let mut ids = BTreeSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if !ids.insert(&c.id) {
                return Err(ConfigError::new(
                    format!("clients[{i}].id"),
                    format!("duplicate client id {:?}", c.id.as_str()),
                ));
            }
            c.validate(registry)
                .map_err(|e| e.within(&format!("clients[{i}]")))?;
        }
        Ok(())
    }

    /// The data seed of client `index`: distinct per client, fixed by the scenario seed.
    pub fn client_seed(&self, index: usize) -> u64 {
        rng_for(self.seed, index as u64).random()
    }
}

/// Mixed into the data seed for the label-noise draws ("noise").
const LABEL_NOISE_STREAM: u64 = 0x006e_6f69_7365;

/// Format objective: strict for even `i`, with partial credit 0.5 for odd `i`.
fn format_config(i: usize) -> RewardConfig {
    RewardConfig::Format(FormatConfig {
        partial_credit: if i.is_multiple_of(2) { 0.0 } else { 0.5 },
        ..FormatConfig::default()
    })
}

fn client(
    id: String,
    task: &str,
    spec: TaskSpec,
    primary: RewardConfig,
    aux: [RewardConfig; 2],
    primary_weight: f32,
) -> ClientSpec {
    let aux_weight = (1.0 - primary_weight) / aux.len() as f32;
    let mut rewards = vec![WeightedReward::new(primary_weight, &primary)];
    rewards.extend(aux.iter().map(|a| WeightedReward::new(aux_weight, a)));
    ClientSpec {
        id: ClientId::new(id),
        task: TaskTag::new(task),
        mix: TaskMix::single(spec),
        rewards,
        primary: 0,
        label_noise: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heterogeneous_is_deterministic_and_varied() {
        let s = Scenario::heterogeneous(4, 4, 3);
        assert_eq!(s, Scenario::heterogeneous(4, 4, 3));
        assert_ne!(s, Scenario::heterogeneous(4, 4, 4));
        let ids: Vec<&str> = s.clients.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "math-0", "math-1", "math-2", "math-3", "code-0", "code-1", "code-2", "code-3"
            ]
        );
        s.validate(&RewardRegistry::with_builtins()).unwrap();
        // Neighbouring math clients see different families.
        assert_ne!(s.clients[0].mix, s.clients[1].mix);
        // The reward definitions are heterogeneous: more than one distinct set per task.
        let sets: BTreeSet<Vec<&str>> = s.clients[..4]
            .iter()
            .map(|c| c.rewards.iter().map(|r| r.plugin.type_name()).collect())
            .collect();
        assert!(sets.len() >= 2, "{sets:?}");
        for c in &s.clients {
            let total: f32 = c.rewards.iter().map(|r| r.weight).sum();
            assert!((total - 1.0).abs() < 1e-6);
            assert_eq!(c.primary, 0);
        }
        assert_ne!(s.client_seed(0), s.client_seed(1));
    }

    #[test]
    fn difficulty_shapes_the_tasks() {
        let registry = RewardRegistry::with_builtins();
        let tasks = |s: &Scenario| -> Vec<TaskSpec> {
            s.clients
                .iter()
                .map(|c| c.mix.components()[0].task.clone())
                .collect()
        };
        let easy = Scenario::heterogeneous(2, 2, 5);
        easy.validate(&registry).unwrap();
        for task in tasks(&easy) {
            match task {
                TaskSpec::Math(m) => {
                    assert_eq!((m.digits, m.steps), (1, 1));
                    assert!(m.families.iter().all(|f| f.base_steps() == 1), "{m:?}");
                }
                TaskSpec::Code(c) => assert_eq!(c.difficulty, 1),
                other => panic!("unexpected task {other:?}"),
            }
        }
        let hard = Scenario::heterogeneous_with(2, 3, 5, &ScenarioDifficulty::hard());
        hard.validate(&registry).unwrap();
        let levels: Vec<u32> = tasks(&hard)
            .into_iter()
            .map(|t| match t {
                TaskSpec::Math(m) => m.digits,
                TaskSpec::Code(c) => c.difficulty,
                other => panic!("unexpected task {other:?}"),
            })
            .collect();
        assert_eq!(levels, [1, 2, 1, 2, 3]);
        // A bad difficulty yields clients that validation rejects, not a panic.
        let bad = ScenarioDifficulty {
            code_difficulties: vec![],
            math_digits: vec![9],
            ..ScenarioDifficulty::default()
        };
        let s = Scenario::heterogeneous_with(1, 1, 5, &bad);
        assert!(s.validate(&registry).is_err());
    }

    #[test]
    fn toml_round_trip() {
        let s = Scenario::heterogeneous(2, 2, 9);
        let text = s.to_toml_string().unwrap();
        assert_eq!(Scenario::from_toml_str(&text).unwrap(), s);
    }

    #[test]
    fn parses_the_documented_form() {
        let text = r#"
            seed = 7
            [[clients]]
            id = "math-0"
            task = "math"
            mix = [{ weight = 1.0, task = { type = "math", families = ["add_sub", "percent"], digits = 1, steps = 2 } }]
            rewards = [
              { type = "math_accuracy", weight = 0.6 },
              { type = "format", weight = 0.2 },
              { type = "length", weight = 0.2, max = 48, mode = "soft", cache = 16 },
            ]
            primary = 0
        "#;
        let s = Scenario::from_toml_str(text).unwrap();
        s.validate(&RewardRegistry::with_builtins()).unwrap();
        let client_text = text.split("[[clients]]").nth(1).unwrap();
        assert_eq!(
            ClientSpec::from_toml_str(client_text).unwrap(),
            s.clients[0]
        );
        assert_eq!(
            ClientSpec::from_toml_str("id = 3").unwrap_err().field,
            "client"
        );
        let set = s.clients[0]
            .reward_set(&RewardRegistry::with_builtins())
            .unwrap();
        assert_eq!(set.len(), 3);
        assert!(Scenario::from_toml_str("seed = 1\nclients = []\nextra = 2").is_err());
    }

    #[test]
    fn validation_errors_have_paths() {
        let registry = RewardRegistry::with_builtins();
        let mut s = Scenario::heterogeneous(2, 1, 0);
        s.clients[1].id = s.clients[0].id.clone();
        assert_eq!(s.validate(&registry).unwrap_err().field, "clients[1].id");

        let mut s = Scenario::heterogeneous(1, 1, 0);
        s.clients[1].rewards[0] =
            WeightedReward::new(0.5, &RewardConfig::Length(LengthConfig::hard(0)));
        assert_eq!(
            s.validate(&registry).unwrap_err().field,
            "clients[1].rewards[0].length.max"
        );

        let mut s = Scenario::heterogeneous(1, 0, 0);
        s.clients[0].task = TaskTag::new("code");
        assert_eq!(s.validate(&registry).unwrap_err().field, "clients[0].mix");

        let mut s = Scenario::heterogeneous(1, 0, 0);
        s.clients[0].primary = 7;
        assert_eq!(
            s.validate(&registry).unwrap_err().field,
            "clients[0].primary"
        );

        let empty = Scenario {
            seed: 0,
            clients: vec![],
        };
        assert_eq!(empty.validate(&registry).unwrap_err().field, "clients");
    }

    #[test]
    fn label_noise_corrupts_train_and_validation_only() {
        let mut spec = Scenario::heterogeneous(1, 0, 3).clients.remove(0);
        let clean = spec.dataset(11, 200, 100, 100).unwrap();
        spec.label_noise = 0.3;
        spec.validate(&RewardRegistry::with_builtins()).unwrap();
        let noisy = spec.dataset(11, 200, 100, 100).unwrap();
        assert_eq!(noisy, spec.dataset(11, 200, 100, 100).unwrap());
        assert_eq!(noisy.test, clean.test);
        let changed = |a: &[fedmoa_core::Prompt], b: &[fedmoa_core::Prompt]| {
            a.iter()
                .zip(b)
                .filter(|(x, y)| x.reference != y.reference)
                .count()
        };
        let train = changed(&noisy.train, &clean.train);
        let valid = changed(&noisy.validation, &clean.validation);
        // 30 % of 300 prompts: 90 expected; a wide band for the binomial spread.
        assert!((60..=120).contains(&(train + valid)), "{train} + {valid}");
        assert!(train > 0 && valid > 0);
        spec.label_noise = 1.5;
        let err = spec.validate(&RewardRegistry::with_builtins()).unwrap_err();
        assert_eq!(err.field, "label_noise");
    }
}
