//! [`TaskAccuracy`]: FedMOA's task- and accuracy-aware aggregation (design note §3).

use std::collections::BTreeMap;

use fedmoa_core::{AggError, Aggregated, ConfigError, ParamSet, TaskTag};
use serde::{Deserialize, Serialize};

use crate::Temperature;
use crate::batch::{BatchAggregator, Member, UpdateBatch, aggregator_via_batch};
use crate::weighted::aggregate_weighted;

/// How the task groups are weighted against each other (λ_τ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskWeighting {
    /// `λ_τ = 1 / |tasks|`: every task present in the round counts equally.
    #[default]
    TaskBalanced,
    /// `λ_τ = n_τ / Σ n`: a task counts by its clients' total number of samples.
    SampleProportional,
}

/// Configuration of [`TaskAccuracy`] (TOML `type = "task_accuracy"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskAccuracyConfig {
    /// Softmax temperature T over accuracies within a task; `inf` gives per-task FedAvg.
    pub temperature: Temperature,
    /// Weighting of tasks against each other.
    pub task_weighting: TaskWeighting,
    /// Compare accuracies only within a task (FedMOA). `false` is the "no task-awareness"
    /// ablation: one softmax over all clients, whatever their task.
    pub task_aware: bool,
    /// Server learning rate η_g.
    pub server_lr: f64,
}

impl Default for TaskAccuracyConfig {
    fn default() -> Self {
        Self {
            temperature: Temperature::new(0.1),
            task_weighting: TaskWeighting::TaskBalanced,
            task_aware: true,
            server_lr: 1.0,
        }
    }
}

impl TaskAccuracyConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ConfigError`] naming `temperature` (must be > 0, `inf` allowed) or `server_lr`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.temperature.is_valid() {
            return Err(ConfigError::new(
                "temperature",
                format!("must be > 0 (or inf), got {}", self.temperature.value()),
            ));
        }
        fedmoa_core::require_positive("server_lr", self.server_lr)
    }

    /// Validates and builds the aggregator.
    ///
    /// # Errors
    /// As [`TaskAccuracyConfig::validate`].
    pub fn build(&self) -> Result<TaskAccuracy, ConfigError> {
        self.validate()?;
        Ok(TaskAccuracy {
            config: self.clone(),
        })
    }
}

/// FedMOA's server rule. Within each task τ a client's weight is
/// `p_i = n_i·exp(a_i/T) / Σ_{j∈τ} n_j·exp(a_j/T)` (accuracies are only compared within
/// a task); tasks are mixed with `λ_τ`, and `θ ← θ + η_g · Σ_τ λ_τ Σ_{i∈τ} p_i Δ_i`.
/// Reports `λ_τ·p_i` as each client's weight (they sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskAccuracy {
    config: TaskAccuracyConfig,
}

impl TaskAccuracy {
    /// The configuration it was built from.
    pub fn config(&self) -> &TaskAccuracyConfig {
        &self.config
    }
}

/// The weights `λ_τ·p_i` of the members, in member order.
///
/// Stable for any `T > 0`: with `a_max` the task's best accuracy, the log-weights
/// `s_i = ln n_i + (a_i − a_max)/T` are finite or −∞ (never NaN), and the softmax
/// subtracts their maximum, which is finite (the best client has `s = ln n`).
pub(crate) fn task_accuracy_weights(
    members: &[Member<'_>],
    temperature: f64,
    task_weighting: TaskWeighting,
    task_aware: bool,
) -> Vec<f64> {
    let everyone = TaskTag::new("");
    let mut tasks: BTreeMap<&TaskTag, Vec<usize>> = BTreeMap::new();
    for (k, m) in members.iter().enumerate() {
        let tag = if task_aware {
            &m.update().task
        } else {
            &everyone
        };
        tasks.entry(tag).or_default().push(k);
    }
    let n_total: f64 = members.iter().map(|m| m.update().n_samples as f64).sum();
    let n_tasks = tasks.len() as f64;
    let mut weights = vec![0.0; members.len()];
    for group in tasks.values() {
        let n = |k: usize| members[k].update().n_samples as f64;
        let acc = |k: usize| f64::from(members[k].update().accuracy);
        let a_max = group.iter().map(|&k| acc(k)).fold(f64::MIN, f64::max);
        let logits: Vec<f64> = group
            .iter()
            .map(|&k| n(k).ln() + (acc(k) - a_max) / temperature)
            .collect();
        let s_max = logits.iter().copied().fold(f64::MIN, f64::max);
        let exps: Vec<f64> = logits.iter().map(|s| (s - s_max).exp()).collect();
        let z: f64 = exps.iter().sum();
        let lambda = match task_weighting {
            TaskWeighting::TaskBalanced => 1.0 / n_tasks,
            TaskWeighting::SampleProportional => group.iter().map(|&k| n(k)).sum::<f64>() / n_total,
        };
        for (&k, e) in group.iter().zip(&exps) {
            weights[k] = lambda * e / z;
        }
    }
    weights
}

aggregator_via_batch!(TaskAccuracy, "task_accuracy" {});

impl BatchAggregator for TaskAccuracy {
    fn aggregate_batch(
        &mut self,
        global: &ParamSet,
        batch: UpdateBatch<'_>,
    ) -> Result<Aggregated, AggError> {
        let (t, tw, aware) = (
            self.config.temperature.value(),
            self.config.task_weighting,
            self.config.task_aware,
        );
        aggregate_weighted(global, batch, self.config.server_lr, |m| {
            task_accuracy_weights(m, t, tw, aware)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FedAvg;
    use crate::test_util::{assert_close, params, update};
    use fedmoa_core::ClientId;
    use fedmoa_core::{Aggregator, ClientUpdate};
    use std::f64::consts::LN_2;

    /// Math: A (n=1, a=1, Δ=12), B (n=2, a=0, Δ=0), C (n=4, a=1, Δ=3); code: D (n=5, Δ=2).
    fn two_tasks() -> Vec<ClientUpdate> {
        vec![
            update("A", "math", 1, 1.0, &[12.0]),
            update("B", "math", 2, 0.0, &[0.0]),
            update("D", "code", 5, 0.3, &[2.0]),
            update("C", "math", 4, 1.0, &[3.0]),
        ]
    }

    fn build(t: Temperature, tw: TaskWeighting) -> TaskAccuracy {
        TaskAccuracyConfig {
            temperature: t,
            task_weighting: tw,
            task_aware: true,
            server_lr: 1.0,
        }
        .build()
        .unwrap()
    }

    fn weight(out: &Aggregated, id: &str) -> f32 {
        out.weights[&ClientId::new(id)]
    }

    #[test]
    fn two_tasks_task_balanced() {
        // T = 1/ln 2 makes exp(a/T) = 2^a.
        // math: n·2^a = 1·2, 2·1, 4·2 = 2, 2, 8 (sum 12) → p = 1/6, 1/6, 2/3; code: p_D = 1.
        // λ = 1/2 each → weights A 1/12, B 1/12, C 1/3, D 1/2.
        // Δ = 12/12 + 0/12 + 3/3 + 2/2 = 3; θ = 10 + 3 = 13.
        let mut agg = build(Temperature::new(1.0 / LN_2), TaskWeighting::TaskBalanced);
        let out = agg.aggregate(&params(&[10.0]), &two_tasks()).unwrap();
        assert_close(&out.params.flatten(), &[13.0], 1e-5);
        assert!((weight(&out, "A") - 1.0 / 12.0).abs() < 1e-7);
        assert!((weight(&out, "B") - 1.0 / 12.0).abs() < 1e-7);
        assert!((weight(&out, "C") - 1.0 / 3.0).abs() < 1e-7);
        assert!((weight(&out, "D") - 0.5).abs() < 1e-7);
    }

    #[test]
    fn two_tasks_sample_proportional() {
        // As above but λ_math = 7/12, λ_code = 5/12 (n_math = 1+2+4 = 7, n_code = 5).
        // weights A 7/72, B 7/72, C 7/18, D 5/12.
        // Δ = 12·7/72 + 0 + 3·7/18 + 2·5/12 = 7/6 + 7/6 + 5/6 = 19/6; θ = 10 + 19/6.
        let mut agg = build(
            Temperature::new(1.0 / LN_2),
            TaskWeighting::SampleProportional,
        );
        let out = agg.aggregate(&params(&[10.0]), &two_tasks()).unwrap();
        assert_close(&out.params.flatten(), &[10.0 + 19.0 / 6.0], 1e-5);
        assert!((weight(&out, "A") - 7.0 / 72.0).abs() < 1e-7);
        assert!((weight(&out, "C") - 7.0 / 18.0).abs() < 1e-7);
        assert!((weight(&out, "D") - 5.0 / 12.0).abs() < 1e-7);
    }

    #[test]
    fn task_blind_ablation_uses_one_softmax_over_all_clients() {
        // One group: n·2^a = A 1·2, B 2·1, D 5·2^0.3, C 4·2 = 2, 2, 5·2^0.3, 8.
        let d = 5.0 * 2f64.powf(0.3);
        let z = 12.0 + d;
        let mut agg = TaskAccuracyConfig {
            temperature: Temperature::new(1.0 / LN_2),
            task_aware: false,
            ..TaskAccuracyConfig::default()
        }
        .build()
        .unwrap();
        let out = agg.aggregate(&params(&[10.0]), &two_tasks()).unwrap();
        // Δ = (12·2 + 0·2 + 2·d + 3·8) / z
        let expected = 10.0 + (24.0 + 2.0 * d + 24.0) / z;
        assert_close(&out.params.flatten(), &[expected as f32], 1e-5);
        assert!((f64::from(weight(&out, "D")) - d / z).abs() < 1e-6);
        assert!((f64::from(weight(&out, "A")) - 2.0 / z).abs() < 1e-6);
    }

    #[test]
    fn infinite_temperature_is_per_task_fedavg() {
        // T = ∞: math p = 1/7, 2/7, 4/7; code p = 1; λ = 1/2.
        // Δ = ½(12/7 + 0 + 12/7) + ½·2 = 12/7 + 1 = 19/7; θ = 10 + 19/7.
        let ups = two_tasks();
        let mut agg = build(Temperature::INFINITE, TaskWeighting::TaskBalanced);
        let out = agg.aggregate(&params(&[10.0]), &ups).unwrap();
        assert_close(&out.params.flatten(), &[10.0 + 19.0 / 7.0], 1e-5);
        assert!((weight(&out, "B") - 1.0 / 7.0).abs() < 1e-7);

        // The same as averaging FedAvg's per-task results: θ = g + ½Δ_math + ½Δ_code.
        let g = params(&[0.0]);
        let math: Vec<_> = ups
            .iter()
            .filter(|u| u.task.as_str() == "math")
            .cloned()
            .collect();
        let code: Vec<_> = ups
            .iter()
            .filter(|u| u.task.as_str() == "code")
            .cloned()
            .collect();
        let dm = FedAvg::default()
            .aggregate(&g, &math)
            .unwrap()
            .params
            .flatten()[0];
        let dc = FedAvg::default()
            .aggregate(&g, &code)
            .unwrap()
            .params
            .flatten()[0];
        assert_close(&out.params.flatten(), &[10.0 + 0.5 * (dm + dc)], 1e-5);
    }

    #[test]
    fn tiny_temperature_is_stable_and_picks_the_best_client() {
        // exp(0.9/1e-3) = e^900 overflows f64; the shifted form gives weights 1 and e^-800 ≈ 0.
        let ups = [
            update("good", "math", 1, 0.9, &[1.0]),
            update("poor", "math", 100, 0.1, &[-5.0]),
        ];
        let mut agg = build(Temperature::new(1e-3), TaskWeighting::TaskBalanced);
        let out = agg.aggregate(&params(&[0.0]), &ups).unwrap();
        assert_eq!(weight(&out, "good"), 1.0);
        assert_eq!(weight(&out, "poor"), 0.0);
        assert_close(&out.params.flatten(), &[1.0], 0.0);
        // Even a subnormal temperature gives finite weights.
        let mut agg = build(Temperature::new(1e-310), TaskWeighting::TaskBalanced);
        let out = agg.aggregate(&params(&[0.0]), &ups).unwrap();
        assert!(out.weights.values().all(|w| w.is_finite()));
    }

    #[test]
    fn bad_temperature_is_rejected_by_name() {
        for t in [0.0, -0.5, f64::NAN, f64::NEG_INFINITY] {
            let cfg = TaskAccuracyConfig {
                temperature: Temperature::new(t),
                ..TaskAccuracyConfig::default()
            };
            assert_eq!(cfg.build().unwrap_err().field, "temperature");
        }
    }
}
