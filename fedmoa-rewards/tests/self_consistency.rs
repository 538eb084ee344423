//! Every generated task is self-consistent: its reference solution fully satisfies the
//! objectives it is meant for, in every client of the heterogeneous scenarios.

use fedmoa_core::RewardFn;
use fedmoa_rewards::code::{CodeGenerator, CodeTaskConfig};
use fedmoa_rewards::math::{MathFamily, MathGenerator, MathTaskConfig};
use fedmoa_rewards::rewards::{CodePassRate, CodeSyntax, Format, MathAccuracy, ReasoningConfig};
use fedmoa_rewards::seeded::rng_for;
use fedmoa_rewards::{RewardRegistry, Scenario};

#[test]
fn math_solutions_score_one() {
    let accuracy = MathAccuracy::default();
    let format = Format::default();
    for family in MathFamily::ALL {
        for digits in 1..=4 {
            for steps in 1..=4 {
                let config = MathTaskConfig::new(vec![family])
                    .with_digits(digits)
                    .with_steps(steps);
                let generator = MathGenerator::new(config).unwrap();
                let reasoning = ReasoningConfig {
                    id: None,
                    min_steps: steps,
                }
                .build()
                .unwrap();
                let mut rng = rng_for(u64::from(digits * 7 + steps), 3);
                for i in 0..40 {
                    let prompt = generator.generate(&mut rng).to_prompt(format!("m{i}"));
                    let solution = prompt.solution.clone().unwrap();
                    for reward in [&accuracy as &dyn RewardFn, &format, &reasoning] {
                        assert_eq!(
                            reward.score(&prompt, &solution),
                            Ok(1.0),
                            "{} on {solution}",
                            reward.id()
                        );
                    }
                    // A wrong answer is caught.
                    let wrong = solution.replace("<answer> ", "<answer> 1");
                    assert_eq!(accuracy.score(&prompt, &wrong), Ok(0.0), "{wrong}");
                }
            }
        }
    }
}

#[test]
fn code_solutions_pass_every_hidden_case() {
    let pass = CodePassRate::default();
    let syntax = CodeSyntax::default();
    let format = Format::default();
    for difficulty in 1..=3 {
        let generator = CodeGenerator::new(CodeTaskConfig::new(difficulty)).unwrap();
        let mut rng = rng_for(u64::from(difficulty), 4);
        for i in 0..300 {
            let prompt = generator.generate(&mut rng).to_prompt(format!("c{i}"));
            let solution = prompt.solution.clone().unwrap();
            for reward in [&pass as &dyn RewardFn, &syntax, &format] {
                assert_eq!(
                    reward.score(&prompt, &solution),
                    Ok(1.0),
                    "{} on {solution}",
                    reward.id()
                );
            }
        }
    }
}

#[test]
fn scenario_references_satisfy_every_objective() {
    let registry = RewardRegistry::with_builtins();
    for seed in 0..6 {
        let scenario = Scenario::heterogeneous(4, 4, seed);
        scenario.validate(&registry).unwrap();
        for (i, client) in scenario.clients.iter().enumerate() {
            let data = client.dataset(scenario.client_seed(i), 60, 20, 20).unwrap();
            let set = client.reward_set(&registry).unwrap();
            for split in [&data.train, &data.validation, &data.test] {
                assert!(split.iter().all(|p| p.task == client.task));
                let batch: Vec<_> = split
                    .iter()
                    .map(|p| (p, p.solution.as_deref().unwrap()))
                    .collect();
                let m = set.score_batch(&batch);
                for s in m.stats() {
                    assert_eq!(
                        (s.satisfaction, s.errors),
                        (1.0, 0),
                        "{} / {}",
                        client.id,
                        s.id
                    );
                }
            }
        }
    }
}
