//! `GrpoTrainer` as a `LocalTrainer`: a valid `ClientUpdate`, per-objective gradients for
//! weighters that ask for them, FedProx's pull, evaluation and state round trips.

mod common;

use std::collections::BTreeMap;

use common::{assert_same_delta, digit_rewards, fixed, hypergradient, toy_config, toy_trainer};
use fedmoa_core::{LocalTrainer, RoundPlan, Split};
use fedmoa_grpo::Policy;

#[test]
fn train_returns_a_valid_client_update() {
    let mut trainer = toy_trainer(digit_rewards(), fixed(2), toy_config(3));
    let global = trainer.policy().to_param_set().unwrap();
    let update = trainer.train(&global, &RoundPlan::new(1, 7)).unwrap();
    assert_eq!(update.client_id.as_str(), "toy-0");
    assert_eq!(update.task.as_str(), "toy");
    assert_eq!(update.n_samples, 42);
    global.check_same_layout(&update.delta).unwrap();
    update.delta.check_finite().unwrap();
    assert!(update.delta.norm() > 0.0, "training moved nothing");
    assert!((0.0..=1.0).contains(&update.accuracy));
    assert_eq!(update.objectives.len(), 2);
    assert_eq!(update.objectives[0].id.as_str(), "seven");
    assert_eq!(update.weights, [0.5, 0.5]);
    assert_eq!(update.step_metrics.len(), 3);
    for key in [
        "reward_mean/seven",
        "reward_std/short",
        "zero_std_frac",
        "clip_region",
        "entropy",
        "completion_len",
        "weight/short",
        "step_secs",
    ] {
        assert!(update.step_metrics[0].contains_key(key), "missing {key}");
    }
    // Fixed weights need no per-objective gradients: that work is skipped.
    assert_eq!(update.step_metrics[0]["objective_grad_secs"], 0.0);
    assert!(update.timings.train_secs > 0.0 && update.timings.eval_secs > 0.0);
    // The local model is global + delta.
    let local = trainer.policy().to_param_set().unwrap();
    assert!(
        global
            .add(&update.delta)
            .unwrap()
            .sub(&local)
            .unwrap()
            .norm()
            < 1e-5
    );
    // plan.local_steps overrides the config.
    let mut plan = RoundPlan::new(2, 8);
    plan.local_steps = Some(1);
    assert_eq!(trainer.train(&global, &plan).unwrap().step_metrics.len(), 1);
}

#[test]
fn a_policy_built_on_a_plain_device_is_trained() {
    let (model, tok) = common::warm_digit_policy();
    let data = fedmoa_grpo::Dataset::from_prompts(common::digit_prompts(30, 4), 6, 0).unwrap();
    let plain = burn::module::Module::valid(&model);
    let global = plain.to_param_set().unwrap();
    let mut trainer = fedmoa_grpo::GrpoTrainer::new(
        "c",
        "toy",
        plain,
        tok,
        data,
        digit_rewards(),
        fixed(2),
        toy_config(2),
    )
    .unwrap();
    let update = trainer.train(&global, &RoundPlan::new(1, 1)).unwrap();
    assert!(update.delta.norm() > 0.0);
}

#[test]
fn gradient_weighter_gets_signals_and_state_round_trips() {
    let mut trainer = toy_trainer(digit_rewards(), hypergradient(2), toy_config(3));
    let global = trainer.policy().to_param_set().unwrap();
    let update = trainer.train(&global, &RoundPlan::new(1, 3)).unwrap();
    for m in &update.step_metrics {
        assert!(m["objective_grad_secs"] > 0.0);
        assert_eq!(m["weighter_error"], 0.0, "{m:?}");
    }
    let sum: f32 = update.weights.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "{:?}", update.weights);
    let state = trainer.state().unwrap();
    assert_eq!(state["steps_taken"], 3);
    let mut other = toy_trainer(digit_rewards(), hypergradient(2), toy_config(3));
    other.load_state(&state).unwrap();
    assert_eq!(other.weights(), trainer.weights());
    assert_eq!(other.state().unwrap(), state);
    assert!(other.load_state(&serde_json::json!({"bogus": 1})).is_err());
}

#[test]
fn fedprox_pull_shrinks_the_update() {
    let run = |mu: f32| {
        let mut trainer = toy_trainer(digit_rewards(), fixed(2), toy_config(4));
        let global = trainer.policy().to_param_set().unwrap();
        let mut plan = RoundPlan::new(1, 5);
        plan.proximal_mu = mu;
        trainer.train(&global, &plan).unwrap().delta.norm()
    };
    let (free, pulled) = (run(0.0), run(1e4));
    assert!(
        pulled < 0.5 * free,
        "μ = 1e4 gave ‖Δ‖ {pulled} vs {free} without"
    );
}

#[test]
fn evaluate_uses_the_given_parameters_and_split() {
    let mut trainer = toy_trainer(digit_rewards(), fixed(2), toy_config(1));
    let params = trainer.policy().to_param_set().unwrap();
    let val = trainer.evaluate(&params, Split::Validation).unwrap();
    assert_eq!(val.n_examples, 12);
    let test = trainer.evaluate(&params, Split::Test).unwrap();
    assert_eq!(test.n_examples, 6);
    assert!((0.0..=1.0).contains(&val.accuracy));
    // Wrong layout is an error, not a panic.
    let bad = fedmoa_core::ParamSet::new()
        .with("x", vec![1], vec![0.0])
        .unwrap();
    assert!(trainer.evaluate(&bad, Split::Validation).is_err());
}

/// The step reuses Σ_k w_k g_k as the update gradient when β = 0 and μ = 1; check that
/// identity against a direct backward of the weighted loss on a real model and batch.
#[test]
fn weighted_objective_gradients_equal_the_total_gradient() {
    use burn::optim::GradientsParams;
    use burn::prelude::*;
    use fedmoa_grpo::batch::SequenceBatch;
    use fedmoa_grpo::grpo::{
        AdvantageSettings, GrpoConfig, LossInputs, LossSettings, compute_advantages,
        flatten_gradients, grpo_loss, token_logprobs,
    };

    let (model, _) = common::warm_digit_policy();
    let dev = Device::flex().autodiff();
    let prompts: Vec<&[u32]> = vec![&[1, 5, 6], &[1, 5, 6], &[1, 7], &[1, 7]];
    let completions: Vec<&[u32]> = vec![&[9, 10, 2], &[11, 2], &[9, 2], &[12, 13, 14]];
    let batch = SequenceBatch::new(&prompts, &completions, 0).unwrap();
    // Two objectives, two groups of two.
    let rewards = vec![vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 1.0, 1.0, 1.0]];
    let weights = [0.7, 0.3];
    let cfg = GrpoConfig {
        beta: 0.0,
        ..Default::default()
    };
    let adv = compute_advantages(
        &rewards,
        &weights,
        &[1.0, 1.0],
        2,
        AdvantageSettings::from(&cfg),
    )
    .unwrap();
    let mask = batch.mask_tensor(&dev);
    let grad_for = |a: &[f32]| {
        let lp = token_logprobs(
            batch.completion_logits(&model, &dev),
            batch.target_tensor(&dev),
        )
        .unwrap();
        let out = grpo_loss(
            LossInputs {
                old_logprobs: lp.clone().detach(),
                logprobs: lp,
                ref_logprobs: None,
                mask: mask.clone(),
                advantages: Tensor::from_data(TensorData::new(a.to_vec(), [4]), &dev),
                batch_totals: None,
            },
            &LossSettings::from(&cfg),
        )
        .unwrap();
        flatten_gradients(
            &model,
            &GradientsParams::from_grads(out.loss.backward(), &model),
        )
    };
    let total = grad_for(&adv.total);
    let mut combined = vec![0.0f32; total.len()];
    for (w, a_k) in weights.iter().zip(&adv.per_objective) {
        fedmoa_core::axpy_slice(&mut combined, *w, &grad_for(a_k));
    }
    let norm = fedmoa_core::dot_slice(&total, &total).sqrt();
    assert!(norm > 1e-6);
    let diff: f64 = total
        .iter()
        .zip(&combined)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(diff < 1e-4 * norm, "‖Δ‖ {diff} vs ‖g‖ {norm}");
}

/// Everything a client carries between rounds is in `state()`: a fresh trainer restored
/// from it trains round 2 exactly like the trainer that ran round 1 (exact resume).
#[test]
fn a_restored_trainer_continues_exactly() {
    let mut first = toy_trainer(digit_rewards(), hypergradient(2), toy_config(2));
    let global = first.policy().to_param_set().unwrap();
    let round1 = first.train(&global, &RoundPlan::new(1, 21)).unwrap();
    let global2 = global.add(&round1.delta).unwrap();
    let saved = first.state().unwrap();
    let round2 = first.train(&global2, &RoundPlan::new(2, 22)).unwrap();

    let mut resumed = toy_trainer(digit_rewards(), hypergradient(2), toy_config(2));
    resumed.load_state(&saved).unwrap();
    let again = resumed.train(&global2, &RoundPlan::new(2, 22)).unwrap();
    assert_eq!(again.weights, round2.weights);
    assert_eq!(again.delta, round2.delta, "resumed round 2 differs");
}

/// Dynamic sampling (DAPO): groups without primary-reward variance are replaced by fresh
/// prompts before the update. The trained batch never holds more of them than the first
/// draw, clearly fewer over a run; with the option off nothing is replaced.
#[test]
fn dynamic_sampling_replaces_groups_without_primary_variance() {
    let run = |rounds: u32, seed: u64| {
        let mut config = toy_config(12);
        config.grpo.dynamic_sampling_rounds = rounds;
        config.grpo.seed = 300 + seed;
        let mut trainer = toy_trainer(digit_rewards(), fixed(2), config);
        trainer.run_steps(12, seed, None).unwrap()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for seed in 0..3 {
        for m in run(0, seed) {
            assert_eq!(m["resampled_groups"], 0.0);
            assert_eq!(m["frac_reward_zero_std"], m["zero_std_frac/seven"]);
        }
        let on = run(3, seed);
        let before: Vec<f64> = on.iter().map(|m| m["frac_reward_zero_std"]).collect();
        let after: Vec<f64> = on.iter().map(|m| m["zero_std_frac/seven"]).collect();
        eprintln!("seed {seed}: before {before:?}\n        after {after:?}");
        for (b, a) in before.iter().zip(&after) {
            assert!(a <= b, "seed {seed}: {a} > {b}");
        }
        assert!(on.iter().any(|m| m["resampled_groups"] > 0.0));
        assert!(
            mean(&after) < mean(&before) - 0.15,
            "seed {seed}: {} → {}",
            mean(&before),
            mean(&after)
        );
    }
}

/// The digit rewards with objective 1 replaced by `always`, saturated on every completion.
fn rewards_with_a_saturated_objective() -> Vec<Box<dyn fedmoa_core::RewardFn>> {
    let mut r = digit_rewards();
    r[1] = Box::new(fedmoa_core::FnReward::new(
        "always",
        fedmoa_core::RewardRange::UNIT,
        |_: &fedmoa_core::Prompt, _: &str| 1.0,
    ));
    r
}

/// A hypergradient weighter whose step β_w = 0 keeps the weights at their initial values.
fn frozen_hypergradient() -> Box<dyn fedmoa_core::ObjectiveWeighter> {
    fedmoa_core::weighting::WeighterConfig::Hypergradient(
        fedmoa_core::weighting::HypergradientConfig {
            beta_w: 0.0,
            ..Default::default()
        },
    )
    .build(2)
    .expect("frozen hypergradient")
}

/// Objective `always` is saturated on every completion, so its advantages are all zero and
/// its gradient pass is skipped: each step runs one pass per objective that has variance.
#[test]
fn objectives_without_signal_cost_no_gradient_pass() {
    let mut trainer = toy_trainer(
        rewards_with_a_saturated_objective(),
        hypergradient(2),
        toy_config(8),
    );
    // 8 steps: on a sweep of 8 seeds, between 1 and 4 of the first 4 steps had primary
    // variance, so the last assertion keeps a margin on other seeds and CPUs.
    let metrics = trainer.run_steps(8, 5, None).unwrap();
    for m in &metrics {
        assert_eq!(m["zero_std_frac/always"], 1.0);
        let primary_active = f64::from(u8::from(m["zero_std_frac/seven"] < 1.0));
        assert_eq!(m["objective_passes"], primary_active, "{m:?}");
        assert_eq!(m["weighter_error"], 0.0);
    }
    assert!(metrics.iter().any(|m| m["objective_passes"] == 1.0));
}

/// A weighter that asks for per-objective gradients but keeps its weights fixed trains the
/// same model as fixed weights, whichever way the update's gradient is formed: Σ_k w_k g_k
/// with the skipped g_k = 0 (β = 0), a separate backward of the whole loss (β > 0, the
/// default), or with the KL folded into g_0 (β > 0, `kl_in_primary_gradient = true`).
#[test]
fn the_update_from_objective_gradients_equals_the_direct_backward() {
    for (beta, fold) in [(0.0, true), (0.04, true), (0.04, false)] {
        let mut config = toy_config(2);
        config.grpo.beta = beta;
        config.kl_in_primary_gradient = fold;
        let mut via_passes = toy_trainer(
            rewards_with_a_saturated_objective(),
            frozen_hypergradient(),
            config.clone(),
        );
        let mut direct = toy_trainer(rewards_with_a_saturated_objective(), fixed(2), config);
        let global = direct.policy().to_param_set().unwrap();
        let a = via_passes.train(&global, &RoundPlan::new(1, 3)).unwrap();
        let b = direct.train(&global, &RoundPlan::new(1, 3)).unwrap();
        let m = &a.step_metrics[1];
        // The primary pass runs when its advantages have signal, and always when it carries
        // the KL term; `always` never gets a pass.
        let expected = if beta > 0.0 && fold {
            1.0
        } else {
            f64::from(u8::from(m["zero_std_frac/seven"] < 1.0))
        };
        assert_eq!(m["objective_passes"], expected, "β {beta}, fold {fold}");
        if beta > 0.0 {
            assert!(m["kl"] > 0.0 && (m["kl"] - b.step_metrics[1]["kl"]).abs() < 1e-6);
        }
        assert_same_delta(&a.delta, &b.delta, &format!("β {beta}, fold {fold}"));
    }
}

/// Every loss type: the row subsets must give the same update for each of them, and `bnpo`
/// (normalised by the pass's own token count) must never use one.
const LOSS_TYPES: [fedmoa_grpo::grpo::LossType; 4] = [
    fedmoa_grpo::grpo::LossType::Dapo,
    fedmoa_grpo::grpo::LossType::Grpo,
    fedmoa_grpo::grpo::LossType::DrGrpo,
    fedmoa_grpo::grpo::LossType::Bnpo,
];

/// The one-step toy config with this loss type, β and sampling seed.
fn one_step_config(
    loss_type: fedmoa_grpo::grpo::LossType,
    beta: f64,
    seed: u64,
) -> fedmoa_grpo::GrpoTrainerConfig {
    let mut config = toy_config(1);
    config.grpo.loss_type = loss_type;
    config.grpo.beta = beta;
    config.grpo.seed = seed;
    config
}

/// Trains `a` and `b` for one step from `b`'s parameters and asserts that their updates
/// agree to 1e-3 of the update's norm; returns the step metrics of `a` and `b`.
fn assert_same_update(
    mut a: fedmoa_grpo::GrpoTrainer<fedmoa_grpo::TinyLm>,
    mut b: fedmoa_grpo::GrpoTrainer<fedmoa_grpo::TinyLm>,
    seed: u64,
    what: &str,
) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let global = b.policy().to_param_set().expect("parameters");
    let ua = a
        .train(&global, &RoundPlan::new(1, seed))
        .expect("trainer a");
    let ub = b
        .train(&global, &RoundPlan::new(1, seed))
        .expect("trainer b");
    assert_same_delta(&ua.delta, &ub.delta, what);
    (ua.step_metrics[0].clone(), ub.step_metrics[0].clone())
}

/// An auxiliary objective's pass covers only the rows where its advantage is non-zero, with
/// the whole batch's normalisers (every row for `bnpo`, which normalises per micro-batch):
/// the update still equals the direct backward of the weighted loss, for every loss type.
#[test]
fn auxiliary_passes_over_signal_rows_give_the_exact_update() {
    let mut subsets = 0;
    for loss_type in LOSS_TYPES {
        for seed in 0..3 {
            let config = one_step_config(loss_type, 0.04, 40 + seed);
            let via_passes = toy_trainer(digit_rewards(), frozen_hypergradient(), config.clone());
            let direct = toy_trainer(digit_rewards(), fixed(2), config);
            let what = format!("{loss_type:?} seed {seed}");
            let (a, _) = assert_same_update(via_passes, direct, seed, &what);
            if a["objective_pass_rows"].fract() != 0.0 {
                assert_ne!(loss_type, LOSS_TYPES[3], "bnpo must not use a subset");
                subsets += 1;
            }
        }
    }
    assert!(
        subsets > 0,
        "no step had an auxiliary pass over a row subset"
    );
}

/// At β = 0 the fixed-weight update skips the completions of groups without variance (here
/// every group of the saturated objective, and the primary's groups without variance): the
/// update and the loss equal those over every row, for every loss type (`bnpo` never skips).
#[test]
fn the_update_over_signal_rows_equals_the_update_over_every_row() {
    let mut skipped = 0;
    for loss_type in LOSS_TYPES {
        for seed in 0..3 {
            let config = one_step_config(loss_type, 0.0, 60 + seed);
            let mut every_row_config = config.clone();
            every_row_config.skip_rows_without_signal = false;
            let skipping = toy_trainer(rewards_with_a_saturated_objective(), fixed(2), config);
            let every_row = toy_trainer(
                rewards_with_a_saturated_objective(),
                fixed(2),
                every_row_config,
            );
            let what = format!("{loss_type:?} seed {seed}");
            let (a, b) = assert_same_update(skipping, every_row, seed, &what);
            assert_eq!(b["update_rows"], 1.0);
            if a["update_rows"] < 1.0 {
                assert_ne!(loss_type, LOSS_TYPES[3], "bnpo must not skip rows");
                skipped += 1;
            }
            let loss_gap = (a["loss"] - b["loss"]).abs();
            assert!(loss_gap < 1e-6, "{what}: loss gap {loss_gap}");
        }
    }
    assert!(skipped > 0, "no step skipped a group without variance");
}

/// Micro-batches (`micro_batch_rows`) give the update and the loss statistics of the whole
/// batch in one pass, for the fixed-weight update (β = 0 and β > 0, one and two inner
/// iterations) and for the per-objective passes of a gradient weighter; the chunks of 3 rows
/// split the groups of 8, so a micro-batch's rows mix prompts and cut them in two.
#[test]
fn micro_batches_give_the_update_of_the_whole_batch() {
    use fedmoa_grpo::grpo::LossType;
    for loss_type in [LossType::Grpo, LossType::Dapo, LossType::DrGrpo] {
        for (beta, iterations) in [(0.0, 1), (0.04, 1), (0.04, 2)] {
            for gradient_weighter in [false, true] {
                let mut config = one_step_config(loss_type, beta, 80);
                config.grpo.num_iterations = iterations;
                let mut split = config.clone();
                split.micro_batch_rows = Some(3);
                let weighter = || {
                    if gradient_weighter {
                        frozen_hypergradient()
                    } else {
                        fixed(2)
                    }
                };
                let micro = toy_trainer(digit_rewards(), weighter(), split);
                let whole = toy_trainer(digit_rewards(), weighter(), config);
                let what = format!(
                    "{loss_type:?}, β {beta}, μ {iterations}, gradient weighter {gradient_weighter}"
                );
                let (a, b) = assert_same_update(micro, whole, 5, &what);
                for key in ["loss", "kl", "clip_region", "entropy"] {
                    let (x, y) = (a.get(key), b.get(key));
                    assert_eq!(x.is_some(), y.is_some(), "{what}: {key}");
                    if let (Some(x), Some(y)) = (x, y) {
                        assert!((x - y).abs() < 1e-5, "{what}: {key} {x} vs {y}");
                    }
                }
            }
        }
    }
}
