//! The GRPO maths of a local client step: configuration, group-relative advantages from
//! several objectives, the clipped policy loss with its KL penalty, per-objective gradient
//! signals for the objective weighter, and the optimizer.
//!
//! See `algorithm.md` §1 for the formulas. Only [`loss`], [`logprobs`], [`param_grads`] and
//! [`optim`] touch Burn; [`advantages`] and [`objective_grads`] are plain Rust.

pub mod advantages;
pub mod config;
pub mod error;
pub mod logprobs;
pub mod loss;
pub mod objective_grads;
pub mod optim;
pub mod param_grads;

pub use advantages::{AdvantageSettings, Advantages, RewardStats, STD_EPSILON, compute_advantages};
pub use config::{AdvantageMode, GrpoConfig, LossType, LrSchedulerType, ScaleRewards};
pub use error::GrpoInputError;
pub use logprobs::{
    entropy, masked_mean, tempered_logits, token_entropy, token_logprobs,
    token_logprobs_and_entropy,
};
pub use loss::{BatchTotals, LossInputs, LossOutput, LossSettings, LossStats, grpo_loss};
pub use objective_grads::{GradientHistory, gram_matrix};
pub use optim::{GrpoOptimizer, LrSchedule, OptimStep, adamw_config};
pub use param_grads::{
    ClipReport, clip_gradient_norm, flatten_gradients, gradient_norm, trainable_len,
    unflatten_gradients,
};
