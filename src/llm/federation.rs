//! [`run_federation`]: a federation of LoRA clients of a GGUF model in one call.

use std::path::Path;

use fedmoa_core::seeds::SeedStream;
use fedmoa_grpo::gguf::GgufFile;
use fedmoa_grpo::{Dataset, Llama, LlmTokenizer, StepObserver};

use super::{LlamaFactory, LlmFederationConfig};
use crate::experiment::{
    Experiment, ExperimentError, ExperimentObserver, ExperimentOutput, results_table, train_err,
    write_outputs,
};
use crate::plugins::Plugins;

/// What [`run_federation`] produced; its `files` end with one PEFT LoRA adapter directory
/// per arm (`peft_adapter_<arm>/`, the first seed's final global adapters).
pub type LlmFederationOutput = ExperimentOutput;

/// Loads the model in `gguf`, adds `config.model.lora` adapters, builds every client's
/// data from its task mix and runs `config.experiment` (FedAvg, FedMOA, ablations ×
/// seeds) over [`LlamaFactory`] clients; writes the results and the final adapters as PEFT
/// adapters. `progress` gets the round lines (the base model's accuracy per task first,
/// as round 0); `steps`, when given, is called after every local step.
///
/// # Errors
/// [`ExperimentError`] for an invalid config, an unreadable or unsupported model file,
/// data that cannot be built (e.g. GSM8K without `FEDMOA_DATA_DIR`) or a failed run.
pub fn run_federation(
    config: &LlmFederationConfig,
    gguf: &Path,
    progress: &dyn ExperimentObserver,
    steps: Option<StepObserver>,
) -> Result<LlmFederationOutput, ExperimentError> {
    run_federation_with_plugins(config, gguf, &Plugins::with_builtins(), progress, steps)
}

/// [`run_federation`] whose clients and arms may name the user's own rewards, aggregators
/// and weighters, registered in `plugins`.
///
/// # Errors
/// As [`run_federation`]; a name no registry holds fails before the model is loaded.
pub fn run_federation_with_plugins(
    config: &LlmFederationConfig,
    gguf: &Path,
    plugins: &Plugins,
    progress: &dyn ExperimentObserver,
    steps: Option<StepObserver>,
) -> Result<LlmFederationOutput, ExperimentError> {
    config.validate_with(&plugins.rewards)?;
    plugins.check_arms(&config.experiment, &config.clients)?;
    let context = format!("loading {}", gguf.display());
    let device = config
        .trainer
        .device
        .device()
        .map_err(|e| train_err("choosing the device", e))?;
    let file = GgufFile::open(gguf).map_err(|e| train_err(&context, e))?;
    let tokenizer = LlmTokenizer::from_gguf(&file).map_err(|e| train_err(&context, e))?;
    let base = Llama::from_gguf(&file, Some(config.model.max_seq_len), &device)
        .map_err(|e| train_err(&context, e))?;
    drop(file);
    let policy = base
        .with_lora(&config.model.lora)
        .map_err(|e| train_err("adding the LoRA adapters", e))?;

    let mut data: Vec<Dataset> = Vec::with_capacity(config.clients.len());
    for (i, spec) in config.clients.iter().enumerate() {
        let seed = SeedStream::ClientData(i).seed(config.scenario_seed);
        let d = config.data;
        data.push(
            spec.dataset(seed, d.train, d.validation, d.test)
                .map_err(|e| train_err(&format!("data of client {}", spec.id), e))?,
        );
    }
    let mut factory = LlamaFactory::new(
        policy,
        tokenizer,
        config.prompting.clone(),
        config.trainer.clone(),
        data,
    )?
    .with_registry(plugins.rewards.clone());
    if let Some(observer) = steps {
        factory = factory.with_step_observer(observer);
    }
    let runs = Experiment::with_registries(
        config.experiment.clone(),
        config.clients.clone(),
        &factory,
        plugins.aggregators.clone(),
        plugins.weighters.clone(),
    )?
    .run(progress)?;
    let table = results_table(&runs);
    let mut files = write_outputs(&config.experiment, &runs)?;
    let base_model = config.model.peft_base_model.as_deref();
    for run in runs.iter().filter(|r| r.seed_index == 0) {
        let dir = config
            .experiment
            .run_dir()
            .join(format!("peft_adapter_{}", run.arm));
        factory
            .save_peft_adapter(&run.final_params, &dir, base_model)
            .map_err(|e| train_err(&format!("writing the adapter {}", dir.display()), e))?;
        files.push(dir);
    }
    Ok(LlmFederationOutput { runs, table, files })
}
