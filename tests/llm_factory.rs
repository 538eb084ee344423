//! `fedmoa::llm::LlamaFactory` in the experiment harness: a tiny random LoRA Llama with a
//! ChatML tokenizer runs a FedMOA round on two math clients; only adapters travel.

mod common;

use common::{base_model, data, lora, spec, tokenizer, trainer};
use fedmoa::experiment::{Arm, ClientFactory, Experiment, ExperimentConfig};
use fedmoa::llm::{ChatPrompting, LlamaFactory};

#[test]
fn a_lora_llama_federation_runs_through_the_harness() {
    let tok = tokenizer();
    let base = base_model(&tok);
    let lora = lora();
    let trainer = trainer();
    let data = data(2);

    // Without adapters the factory refuses (it would exchange every weight).
    let err = LlamaFactory::new(
        base.clone(),
        tok.clone(),
        ChatPrompting::default(),
        trainer.clone(),
        data.clone(),
    )
    .err()
    .unwrap();
    assert_eq!(err.field, "policy");

    let factory = LlamaFactory::new(
        base.with_lora(&lora).unwrap(),
        tok,
        ChatPrompting::default(),
        trainer,
        data,
    )
    .unwrap();
    let initial = factory.initial_params(0).unwrap();
    assert_eq!(
        initial.len(),
        2 * 7 * 2,
        "only the LoRA factors are exchanged"
    );
    assert!(initial.names().all(|n| n.contains(".lora.")));

    let dir = tempfile::tempdir().unwrap();
    let mut experiment = ExperimentConfig {
        name: "llm".into(),
        out_dir: dir.path().to_path_buf(),
        arms: vec![Arm::Fedmoa.into()],
        ..ExperimentConfig::default()
    };
    experiment.federation.rounds = 1;
    experiment.federation.local_steps = Some(2);
    let runs = Experiment::new(experiment, vec![spec(0), spec(1)], &factory)
        .unwrap()
        .run(&|_: &str| {})
        .unwrap();
    assert_eq!(runs.len(), 1);
    let result = &runs[0].result;
    assert!((0.0..=1.0).contains(&result.global_acc));
    assert!((0.0..=1.0).contains(&result.initial_global_acc));
    assert_eq!(result.acc_curve.len(), 1, "one round");
    for weights in runs[0].weights.values() {
        assert_eq!(weights.len(), 2, "initial weights and after round 1");
        let last = weights.last().unwrap();
        assert!((last.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // The final global adapters export as a PEFT adapter (names and layout are checked in
    // fedmoa-grpo's Llama tests).
    assert_eq!(runs[0].final_params.len(), initial.len());
    let peft = dir.path().join("peft");
    let files = factory
        .save_peft_adapter(&runs[0].final_params, &peft, None)
        .unwrap();
    assert!(files.iter().all(|f| f.exists()), "{files:?}");
    assert!(
        peft.join(fedmoa_grpo::model::llama::PEFT_WEIGHTS_FILE)
            .exists()
    );
}
