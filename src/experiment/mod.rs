//! Experiments: FedMOA against FedAvg (and ablations) on the same heterogeneous clients,
//! with identical seeds and data, summarised as a table, `summary.json`, a combined
//! `metrics.jsonl` and plots (SVG, and PNG rendered from them).
//!
//! The policy is abstracted by [`ClientFactory`], so the same harness runs TinyLm, a real
//! model, or toy trainers in tests.

mod arm;
mod arm_spec;
mod config;
mod error;
mod evaluation;
mod factory;
mod grpo_clients;
mod hypervolume;
mod observer;
mod paired;
mod plot;
mod png;
mod report;
mod resume;
mod runner;
mod summary;

pub use arm::Arm;
pub use arm_spec::{ArmConfig, ArmSpec};
pub use config::ExperimentConfig;
pub use error::ExperimentError;
pub use evaluation::{evaluate_global, summarise};
pub use factory::{ClientFactory, ClientRequest, build_rewards, client_data, train_err};
pub use grpo_clients::GrpoClients;
pub use hypervolume::{point_hypervolume, set_hypervolume};
pub use observer::{ArmStart, ExperimentObserver};
pub use paired::{PairedDifference, paired_differences, paired_lines};
pub use plot::{fitted_range, mean_curve, plot_arm_curves, plot_curves, plot_weights};
pub use png::svg_to_png;
pub use report::{ExperimentOutput, results_table, summary_json, write_outputs};
pub use runner::{ArmRun, Experiment, resolve_arms, summarise_arm};
pub use summary::{ArmResult, MeanStd};
