//! `ObjectiveGradientMode::PerRow` (one backward per completion) gives the weighter the
//! same per-objective gradients as one pass per objective, and the same update.

mod common;

use std::sync::{Arc, Mutex};

use common::{assert_same_delta, digit_rewards, toy_config, toy_trainer};
use fedmoa_core::{
    GradientSignals, LocalTrainer, ObjectiveWeighter, RoundPlan, Signals, StepSignals,
    WeighterError,
};
use fedmoa_grpo::grpo::LossType;
use fedmoa_grpo::{GrpoTrainerConfig, ObjectiveGradientMode, Policy};

/// Fixed equal weights that record the gradient signals of every step.
#[derive(Clone)]
struct Recorder {
    weights: Vec<f32>,
    seen: Arc<Mutex<Vec<GradientSignals>>>,
}

impl ObjectiveWeighter for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn weights(&self) -> &[f32] {
        &self.weights
    }
    fn needs(&self) -> Signals {
        Signals {
            gradient_dots: true,
        }
    }
    fn observe(&mut self, step: &StepSignals) -> Result<(), WeighterError> {
        let signals = step
            .gradients
            .clone()
            .ok_or_else(|| WeighterError::MissingSignal("gradients".into()))?;
        self.seen.lock().expect("recorder lock").push(signals);
        Ok(())
    }
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn load_state(&mut self, _: &serde_json::Value) -> Result<(), WeighterError> {
        Ok(())
    }
    fn clone_box(&self) -> Box<dyn ObjectiveWeighter> {
        Box::new(self.clone())
    }
}

/// What one run showed: the signals of each step, the update, the objective passes and
/// the loss of each step.
struct Run {
    signals: Vec<GradientSignals>,
    delta: fedmoa_core::ParamSet,
    passes: Vec<f64>,
    losses: Vec<f64>,
}

/// Two steps from the same start with `config` in `mode`.
fn run(mut config: GrpoTrainerConfig, mode: ObjectiveGradientMode) -> Run {
    config.objective_gradients = mode;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        weights: vec![0.6, 0.4],
        seen: Arc::clone(&seen),
    };
    let mut trainer = toy_trainer(digit_rewards(), Box::new(recorder), config);
    let global = trainer.policy().to_param_set().expect("parameters");
    let update = trainer
        .train(&global, &RoundPlan::new(1, 11))
        .expect("training");
    let signals = seen.lock().expect("recorder lock").clone();
    Run {
        signals,
        delta: update.delta,
        passes: update
            .step_metrics
            .iter()
            .map(|m| m["objective_passes"])
            .collect(),
        losses: update.step_metrics.iter().map(|m| m["loss"]).collect(),
    }
}

/// `|a − b| ≤ tol · scale` for every pair.
fn assert_close(a: &[f64], b: &[f64], scale: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn per_row_gradients_equal_the_per_objective_passes() {
    let mut both_objectives = 0;
    // (loss type, β, shared prompts, truncated completions left out of the loss, rows
    // per micro-batch)
    let cases = [
        (LossType::Grpo, 0.0, true, false, None),
        (LossType::Dapo, 0.0, true, true, Some(3)),
        (LossType::DrGrpo, 0.04, true, false, None),
        (LossType::Grpo, 0.04, false, false, Some(2)),
        (LossType::Bnpo, 0.0, true, false, None),
    ];
    for (loss_type, beta, share_prompts, mask_truncated, micro_batch_rows) in cases {
        let mut config = toy_config(2);
        config.grpo.loss_type = loss_type;
        config.grpo.beta = beta;
        config.grpo.mask_truncated_completions = mask_truncated;
        config.share_prompt_forward = share_prompts;
        config.micro_batch_rows = micro_batch_rows;
        let what = format!(
            "{loss_type:?}, β {beta}, shared prompts {share_prompts}, truncated masked \
             {mask_truncated}, micro-batches {micro_batch_rows:?}"
        );
        let rows = run(config.clone(), ObjectiveGradientMode::PerRow);
        let passes = run(config, ObjectiveGradientMode::PerObjective);
        assert_eq!(rows.signals.len(), 2, "{what}");
        for (step, (a, b)) in rows.signals.iter().zip(&passes.signals).enumerate() {
            let scale = b
                .gram
                .iter()
                .enumerate()
                .map(|(k, r)| r[k])
                .fold(1e-12, f64::max);
            let flat = |s: &GradientSignals| s.gram.concat();
            assert_close(
                &flat(a),
                &flat(b),
                scale,
                &format!("{what}: gram, step {step}"),
            );
            if b.gram[0][1] != 0.0 {
                both_objectives += 1;
            }
            if step == 1 {
                let dots = |s: &GradientSignals| s.lagged_primary_dots.clone().expect("lagged");
                let norms = |s: &GradientSignals| s.previous_norms.clone().expect("norms");
                let dot_scale = norms(b).iter().fold(1e-12_f64, |m, x| m.max(x * x)) + scale;
                assert_close(
                    &dots(a),
                    &dots(b),
                    dot_scale,
                    &format!("{what}: lagged dots"),
                );
                assert_close(
                    &norms(a),
                    &norms(b),
                    scale.sqrt(),
                    &format!("{what}: norms"),
                );
            }
        }
        assert_close(&rows.losses, &passes.losses, 1.0, &format!("{what}: loss"));
        assert_same_delta(&rows.delta, &passes.delta, &what);
        // One row pass per step with signal; bnpo keeps one pass per objective.
        for (a, b) in rows.passes.iter().zip(&passes.passes) {
            if loss_type == LossType::Bnpo {
                assert_eq!(a, b, "{what}");
            } else {
                assert_eq!(*a, f64::from(u8::from(*b > 0.0)), "{what}");
            }
        }
    }
    assert!(
        both_objectives >= 3,
        "only {both_objectives} steps had signal in both objectives"
    );
}
