//! Rewards and tasks of fedmoa: what each client optimises, and what it is scored on.
//!
//! - [`math`]: a seeded generator of short word problems in five families, a GSM8K loader
//!   and robust final-answer extraction.
//! - [`code`]: a tiny, safe expression language (parser, interpreter with limits) and a
//!   generator of "write f(x)" tasks graded by hidden cases.
//! - [`rewards`]: the built-in [`fedmoa_core::RewardFn`] plugins (`math_accuracy`,
//!   `code_pass_rate`, `code_syntax`, `format`, `length`, `reasoning`, and the sandboxed
//!   `python_tests`).
//! - [`mbpp`]: the MBPP loader, prompt builder and code extraction; [`sandbox`]: the
//!   Python sandbox `python_tests` runs completions in (see `docs/SECURITY.md`).
//! - [`python_tasks`]: a seeded generator of short, MBPP-shaped Python function-writing
//!   tasks (list, string and arithmetic families) scored by `python_tests`.
//! - [`RewardConfig`], [`PluginConfig`], [`WeightedReward`] and [`RewardRegistry`]: reward
//!   sets as TOML data, with user plugins registered next to the built-ins.
//! - [`RewardSet`]: scores a batch with every objective, containing panics and NaN.
//! - [`TaskMix`], [`Dataset`], [`ClientSpec`] and [`Scenario`]: per-client data and
//!   heterogeneous objectives from a seed.
//!
//! ```
//! use fedmoa_rewards::{RewardRegistry, Scenario};
//!
//! let scenario = Scenario::heterogeneous(2, 2, 7);
//! let registry = RewardRegistry::with_builtins();
//! scenario.validate(&registry)?;
//! let client = &scenario.clients[0];
//! let data = client.dataset(scenario.client_seed(0), 8, 2, 2)?;
//! let rewards = client.reward_set(&registry)?;
//! let batch: Vec<_> = data
//!     .train
//!     .iter()
//!     .map(|p| (p, p.solution.as_deref().unwrap_or("")))
//!     .collect();
//! let scores = rewards.score_batch(&batch);
//! // Reference solutions satisfy every objective of their client.
//! assert!(scores.stats().iter().all(|s| s.satisfaction == 1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod code;
pub mod completion;
mod config;
mod corpus;
mod dataset;
mod error;
mod jsonl;
pub mod math;
pub mod mbpp;
pub mod python_tasks;
mod registry;
pub mod rewards;
pub mod sandbox;
mod scenario;
mod scenario_difficulty;
mod score_matrix;
mod scoring;
pub mod seeded;
mod task;
mod teacher;

pub use config::{PluginConfig, RewardConfig, WeightedReward};
pub use corpus::tokenizer_corpus;
pub use dataset::{Dataset, MAX_MISSES};
pub use error::DataError;
pub use registry::{PYTHON_TESTS, RewardConstructor, RewardRegistry};
pub use scenario::{ClientSpec, Scenario};
pub use scenario_difficulty::ScenarioDifficulty;
pub use score_matrix::ScoreMatrix;
pub use scoring::{RewardSet, score_contained};
pub use task::{Gsm8kTaskConfig, MbppTaskConfig, MixComponent, TaskMix, TaskSpec};
pub use teacher::TeacherConfig;
