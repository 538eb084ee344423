//! `GrpoTrainer` over a LoRA Llama with a custom [`PolicyTokenizer`]: only the adapters are
//! trained and exchanged, the frozen base stays bit-identical.

use burn::prelude::*;
use fedmoa_core::weighting::{HypergradientConfig, WeighterConfig};
use fedmoa_core::{FnReward, LocalTrainer, Prompt, Reference, RewardFn, RewardRange, RoundPlan};

use super::tests::{LAYERS, VOCAB, gguf_of, random_weights};
use super::{Llama, LoraConfig};
use crate::model::Policy;
use crate::{Dataset, GrpoError, GrpoTrainer, GrpoTrainerConfig, PolicyTokenizer};

/// Ids: 0 pad, 1 bos, 2 eos, 3–12 the digits, 13 space, 14 `+`, 15 `=`.
#[derive(Debug)]
struct CharTokenizer;

impl CharTokenizer {
    fn id(c: char) -> Result<u32, GrpoError> {
        match c {
            '0'..='9' => Ok(3 + c as u32 - '0' as u32),
            ' ' => Ok(13),
            '+' => Ok(14),
            '=' => Ok(15),
            other => Err(GrpoError::Input(format!("no token for {other:?}"))),
        }
    }
}

impl PolicyTokenizer for CharTokenizer {
    fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        std::iter::once(Ok(1))
            .chain(text.chars().map(Self::id))
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, GrpoError> {
        Ok(ids
            .iter()
            .filter_map(|&i| match i {
                3..=12 => char::from_digit(i - 3, 10),
                13 => Some(' '),
                14 => Some('+'),
                15 => Some('='),
                _ => None,
            })
            .collect())
    }

    fn eos_id(&self) -> u32 {
        2
    }

    fn pad_id(&self) -> u32 {
        0
    }

    fn vocab_size(&self) -> usize {
        VOCAB
    }
}

fn prompts(n: usize) -> Vec<Prompt> {
    (0..n)
        .map(|i| Prompt {
            id: format!("p{i}"),
            task: "sum".into(),
            text: format!("{} + {} =", i % 10, (i * 3) % 10),
            reference: Reference::None,
            solution: None,
        })
        .collect()
}

/// Objective 0: the first digit's value / 9 (always some variance); 1: at most 2 chars.
fn rewards() -> Vec<Box<dyn RewardFn>> {
    vec![
        Box::new(FnReward::new(
            "first_digit",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| {
                c.chars()
                    .find_map(|ch| ch.to_digit(10))
                    .map_or(0.0, |d| d as f32 / 9.0)
            },
        )),
        Box::new(FnReward::new(
            "short",
            RewardRange::UNIT,
            |_: &Prompt, c: &str| f32::from(u8::from(c.len() <= 2)),
        )),
    ]
}

/// A random tiny Llama with rank-2 adapters on every projection.
fn lora_llama() -> Llama {
    let lora = LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    };
    Llama::from_gguf(&gguf_of(&random_weights(21, true)), None, &Device::flex())
        .unwrap()
        .with_lora(&lora)
        .unwrap()
}

/// `local_steps` steps of 2 prompts × 4 completions of at most 3 tokens at KL weight `beta`.
fn small_config(local_steps: u32, beta: f64) -> GrpoTrainerConfig {
    let mut config = GrpoTrainerConfig {
        local_steps,
        ..Default::default()
    };
    config.grpo.num_generations = 4;
    config.grpo.prompts_per_step = 2;
    config.grpo.max_completion_length = 3;
    config.grpo.learning_rate = 1e-2;
    config.grpo.beta = beta;
    config.grpo.seed = 5;
    config
}

/// The hypergradient weighter of two objectives, as configured by default.
fn hypergradient() -> Box<dyn fedmoa_core::ObjectiveWeighter> {
    WeighterConfig::Hypergradient(HypergradientConfig::default())
        .build(2)
        .unwrap()
}

/// A trainer of `model` on the sums task with the hypergradient weighter.
fn trainer(model: Llama, config: GrpoTrainerConfig) -> GrpoTrainer<Llama> {
    let data = Dataset::from_prompts(prompts(20), 4, 4).unwrap();
    GrpoTrainer::new(
        "llama-0",
        "sum",
        model,
        CharTokenizer,
        data,
        rewards(),
        hypergradient(),
        config,
    )
    .unwrap()
}

#[test]
fn grpo_trainer_trains_only_the_lora_adapters_of_a_llama() {
    let model = lora_llama();
    let base_before = model.blocks[0].attn.wq.weight.base().into_data();
    let embed_before = model.embed.weight.val().into_data();
    let mut trainer = trainer(model, small_config(3, 0.04));
    let global = trainer.policy().to_param_set().unwrap();
    assert_eq!(global.len(), LAYERS * 7 * 2, "only the adapter factors");
    assert!(global.names().all(|n| n.contains(".lora.")));

    let update = trainer.train(&global, &RoundPlan::new(1, 3)).unwrap();
    global.check_same_layout(&update.delta).unwrap();
    update.delta.check_finite().unwrap();
    assert!(update.delta.norm() > 0.0, "the adapters did not move");
    assert!(update.step_metrics[0]["objective_grad_secs"] > 0.0);
    assert!(update.step_metrics.iter().all(|m| m["kl"].is_finite()));
    // The frozen base and the tied embedding are untouched.
    let policy = trainer.policy();
    assert_eq!(
        policy.blocks[0].attn.wq.weight.base().into_data(),
        base_before
    );
    assert_eq!(policy.embed.weight.val().into_data(), embed_before);
    // Evaluation runs on the merged copy and scores both objectives.
    let report = trainer
        .evaluate(
            &global.add(&update.delta).unwrap(),
            fedmoa_core::Split::Test,
        )
        .unwrap();
    assert_eq!(report.objectives.len(), 2);
    assert_eq!(report.n_examples, 4);
}

#[test]
fn a_tokenizer_of_another_vocabulary_is_rejected() {
    #[derive(Debug)]
    struct Wide;
    impl PolicyTokenizer for Wide {
        fn encode_prompt(&self, _: &str) -> Result<Vec<u32>, GrpoError> {
            Ok(vec![1])
        }
        fn decode(&self, _: &[u32]) -> Result<String, GrpoError> {
            Ok(String::new())
        }
        fn eos_id(&self) -> u32 {
            2
        }
        fn pad_id(&self) -> u32 {
            0
        }
        fn vocab_size(&self) -> usize {
            VOCAB + 1
        }
    }
    let model =
        Llama::from_gguf(&gguf_of(&random_weights(2, true)), None, &Device::flex()).unwrap();
    let weighter = WeighterConfig::default().build(2).unwrap();
    let err = GrpoTrainer::new(
        "x",
        "sum",
        model,
        Wide,
        Dataset::from_prompts(prompts(8), 2, 2).unwrap(),
        rewards(),
        weighter,
        GrpoTrainerConfig::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("policy.vocab_size"), "{err}");
}

/// With LoRA adapters, one backward per completion (`ObjectiveGradientMode::PerRow`) gives
/// the hypergradient weighter the same signals, hence the same weights, and the same update
/// as one pass per objective, at β = 0 and β > 0.
#[test]
fn per_row_objective_gradients_of_a_lora_llama_match_the_per_objective_passes() {
    use crate::ObjectiveGradientMode;
    let model = lora_llama();
    for beta in [0.0, 0.04] {
        let run = |mode: ObjectiveGradientMode| {
            let mut config = small_config(2, beta);
            config.objective_gradients = mode;
            config.micro_batch_rows = Some(3);
            let mut trainer = trainer(model.clone(), config);
            let global = trainer.policy().to_param_set().unwrap();
            trainer.train(&global, &RoundPlan::new(1, 3)).unwrap()
        };
        let rows = run(ObjectiveGradientMode::PerRow);
        let passes = run(ObjectiveGradientMode::PerObjective);
        let gap = rows.delta.sub(&passes.delta).unwrap().norm();
        assert!(passes.delta.norm() > 0.0);
        assert!(
            gap < 1e-3 * passes.delta.norm(),
            "β {beta}: ‖Δ_rows − Δ_passes‖ {gap} vs ‖Δ‖ {}",
            passes.delta.norm()
        );
        for (a, b) in rows.weights.iter().zip(&passes.weights) {
            assert!(
                (a - b).abs() < 1e-4,
                "β {beta}: {:?} vs {:?}",
                rows.weights,
                passes.weights
            );
        }
        assert_ne!(
            passes.weights,
            vec![0.5, 0.5],
            "β {beta}: the weights never moved"
        );
    }
}
