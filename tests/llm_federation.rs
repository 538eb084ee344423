//! `fedmoa::llm::run_federation`: a SmolLM2 federation from a GGUF path and a config in
//! one call. The end-to-end run needs the model file
//! (`export FEDMOA_SMOLLM2_GGUF="$(scripts/fetch-smollm2.sh)"`) and is skipped, saying so,
//! without it; the error cases run everywhere.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::PathBuf;

use fedmoa::llm::{LlmFederationConfig, run_federation};

fn gguf() -> Option<PathBuf> {
    match std::env::var("FEDMOA_SMOLLM2_GGUF") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            eprintln!(
                "skipped: set FEDMOA_SMOLLM2_GGUF to the SmolLM2-135M-Instruct GGUF \
                 (scripts/fetch-smollm2.sh) to run SmolLM2 federations"
            );
            None
        }
    }
}

/// The shipped scenario cut to seconds: its first client, one round of one local step
/// with G = 2 completions of at most 8 tokens, one validation and two test prompts.
fn tiny(out_dir: &std::path::Path) -> LlmFederationConfig {
    let mut config = LlmFederationConfig::default().quick();
    config.clients.truncate(1);
    config.data.validation = 1;
    config.data.test = 2;
    config.trainer.grpo.num_generations = 2;
    config.trainer.grpo.max_completion_length = 8;
    config.experiment.out_dir = out_dir.to_path_buf();
    config
}

#[test]
fn a_missing_model_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model.gguf");
    let err = run_federation(&tiny(dir.path()), &missing, &|_: &str| {}, None).unwrap_err();
    let report = fedmoa::cli::error_report(&err);
    assert!(report.contains("no-such-model.gguf"), "{report}");
}

#[test]
fn an_invalid_config_is_refused_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny(dir.path());
    config.data.test = 0;
    let err = run_federation(&config, &dir.path().join("x.gguf"), &|_: &str| {}, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("data"), "{err}");
}

#[test]
fn smollm2_federation_runs_end_to_end_and_writes_peft_adapters() {
    let Some(gguf) = gguf() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = tiny(dir.path());
    let lines = std::sync::Mutex::new(Vec::new());
    let out = run_federation(
        &config,
        &gguf,
        &|line: &str| lines.lock().unwrap().push(line.to_string()),
        None,
    )
    .unwrap();
    let lines = lines.into_inner().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("round 0/1 (initial model)")),
        "{lines:?}"
    );
    assert_eq!(out.runs.len(), 2, "FedAvg and FedMOA");
    for run in &out.runs {
        let acc = run.result.initial_global_acc_by_task["math"];
        assert!((0.0..=1.0).contains(&acc), "{acc}");
        assert_eq!(run.result.acc_curve.len(), 1);
        assert!(run.final_params.names().all(|n| n.contains(".lora.")));
    }
    let run_dir = dir.path().join("smollm2_federation-quick");
    for arm in ["fedavg", "fedmoa"] {
        let adapter = run_dir.join(format!("peft_adapter_{arm}"));
        assert!(out.files.contains(&adapter), "{:?}", out.files);
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            config["base_model_name_or_path"],
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        );
    }
    assert!(run_dir.join("summary.json").exists());
}
