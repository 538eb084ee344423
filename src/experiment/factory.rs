//! [`ClientFactory`]: how an experiment turns client specs into local trainers.

use fedmoa_core::{LocalTrainer, ObjectiveWeighter, ParamSet, TrainError};
use fedmoa_rewards::ClientSpec;

/// Builds the policy's initial parameters and one [`LocalTrainer`] per client.
///
/// The experiment calls it once per arm and seed, so every arm starts from the same
/// parameters and the same client data.
pub trait ClientFactory: Send + Sync {
    /// The global parameters every arm starts from (e.g. a warm-started policy).
    ///
    /// # Errors
    /// [`TrainError`] when the policy cannot be built.
    fn initial_params(&self, seed: u64) -> Result<ParamSet, TrainError>;

    /// Client `index`'s trainer, scoring with its own objectives and weighted by `weighter`.
    ///
    /// # Errors
    /// [`TrainError`] when the client cannot be built (bad spec, missing data, …).
    fn trainer(
        &self,
        index: usize,
        spec: &ClientSpec,
        weighter: Box<dyn ObjectiveWeighter>,
        seed: u64,
    ) -> Result<Box<dyn LocalTrainer>, TrainError>;
}
