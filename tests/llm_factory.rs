//! `fedmoa::llm::LlamaFactory` in the experiment harness: a tiny random LoRA Llama with a
//! ChatML tokenizer runs a FedMOA round on two math clients; only adapters travel.

use fedmoa::experiment::{Arm, ClientFactory, Experiment, ExperimentConfig};
use fedmoa::llm::{ChatPrompting, LlamaFactory};
use fedmoa_core::{Prompt, Reference};
use fedmoa_grpo::burn::prelude::Device;
use fedmoa_grpo::gguf::{GgufBuilder, GgufFile, MetadataValue};
use fedmoa_grpo::{Dataset, GrpoTrainerConfig, Llama, LlamaConfig, LlmTokenizer, LoraConfig};
use fedmoa_rewards::ClientSpec;

/// ChatML specials, the digits, space, newline, `#`, `+`, `=`, `##` (byte-level symbols).
fn tokenizer() -> LlmTokenizer {
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .map(String::from)
        .to_vec();
    tokens.extend((0..10).map(|d| d.to_string()));
    tokens.extend(["Ġ", "Ċ", "#", "+", "=", "##"].map(String::from));
    let mut types = vec![MetadataValue::I32(3); 3];
    types.extend(vec![MetadataValue::I32(1); tokens.len() - 3]);
    let strings = |v: &[String]| {
        MetadataValue::Array(v.iter().map(|s| MetadataValue::String(s.clone())).collect())
    };
    let bytes = GgufBuilder::new()
        .metadata("tokenizer.ggml.model", MetadataValue::String("gpt2".into()))
        .metadata("tokenizer.ggml.pre", MetadataValue::String("smollm".into()))
        .metadata("tokenizer.ggml.tokens", strings(&tokens))
        .metadata("tokenizer.ggml.token_type", MetadataValue::Array(types))
        .metadata("tokenizer.ggml.merges", strings(&["# #".to_string()]))
        .metadata("tokenizer.ggml.bos_token_id", MetadataValue::U32(1))
        .metadata("tokenizer.ggml.eos_token_id", MetadataValue::U32(2))
        .to_bytes();
    let file = GgufFile::parse(bytes).expect("tokenizer metadata");
    LlmTokenizer::from_gguf(&file).expect("tiny tokenizer")
}

fn problems(client: usize, n: usize) -> Vec<Prompt> {
    (0..n)
        .map(|i| {
            let (a, b) = ((i + client) % 5, (2 * i + 1) % 4);
            Prompt {
                id: format!("c{client}-{i}"),
                task: "math".into(),
                text: format!("{a} + {b} ="),
                reference: Reference::Number {
                    value: (a + b) as f64,
                },
                solution: None,
            }
        })
        .collect()
}

fn spec(i: usize) -> ClientSpec {
    ClientSpec::from_toml_str(&format!(
        "id = \"m{i}\"\ntask = \"math\"\n\
         mix = [{{ weight = 1.0, task = {{ type = \"math\", families = [\"add_sub\"] }} }}]\n\
         rewards = [{{ type = \"math_accuracy\", weight = 0.6 }}, \
         {{ type = \"length\", weight = 0.4, max = 3, mode = \"hard\" }}]\n"
    ))
    .expect("client spec")
}

#[test]
fn a_lora_llama_federation_runs_through_the_harness() {
    let tok = tokenizer();
    let config = LlamaConfig {
        vocab_size: tok.vocab_size(),
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 8,
        d_hidden: 24,
        max_seq_len: 96,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: true,
    };
    let base = Llama::init(&config, 1, &Device::flex()).unwrap();
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    };
    let mut trainer = GrpoTrainerConfig::default();
    trainer.grpo.num_generations = 4;
    trainer.grpo.prompts_per_step = 2;
    trainer.grpo.max_completion_length = 4;
    trainer.grpo.learning_rate = 1e-2;
    let data: Vec<Dataset> = (0..2)
        .map(|c| Dataset::from_prompts(problems(c, 12), 3, 3).unwrap())
        .collect();

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
        arms: vec![Arm::Fedmoa],
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
