//! [`QuadraticTrainer`]: a small deterministic [`LocalTrainer`] without Burn, for the
//! example binary, the loopback demo and the integration test.
//!
//! Each client owns a hidden target value for every parameter (derived from its seed,
//! the tensor name and the flat index, so any layout works) and minimises
//! `½‖θ − t‖²` by gradient descent: each step is `θ ← θ − lr·(θ − t)`.
//! Accuracy is `exp(−‖θ − t‖² / n)` with `n` the parameter count, in `(0, 1]`.

use std::collections::BTreeMap;

use fedmoa_core::federation::splitmix64;
use fedmoa_core::{
    ClientUpdate, ConfigError, EvalReport, LocalTrainer, ObjectiveStats, ParamSet, RoundPlan,
    Split, TrainError, require_in_range,
};

/// Configuration of [`QuadraticTrainer`].
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticConfig {
    /// Seed of the client's targets.
    pub seed: u64,
    /// Task tag reported with every update.
    pub task: String,
    /// Sample count reported with every update (`num-examples`).
    pub n_samples: u64,
    /// Step size in `(0, 1]`.
    pub lr: f32,
    /// Local steps when the round plan does not say.
    pub steps: u32,
    /// Seconds to sleep in every `train` call, to simulate a slow client (demos and
    /// the fault test, which kills a client in the middle of a round).
    pub delay_secs: f64,
}

impl QuadraticConfig {
    /// Validates and builds the trainer.
    ///
    /// # Errors
    /// [`ConfigError`] naming `lr`, `steps`, `n_samples` or `task`.
    pub fn build(self) -> Result<QuadraticTrainer, ConfigError> {
        require_in_range("lr", f64::from(self.lr), f64::MIN_POSITIVE, 1.0)?;
        if self.steps == 0 {
            return Err(ConfigError::new("steps", "must be ≥ 1"));
        }
        if self.n_samples == 0 {
            return Err(ConfigError::new("n_samples", "must be ≥ 1"));
        }
        if !(self.delay_secs.is_finite() && self.delay_secs >= 0.0) {
            return Err(ConfigError::new(
                "delay_secs",
                "must be a finite number ≥ 0",
            ));
        }
        if self.task.trim().is_empty() {
            return Err(ConfigError::new("task", "must not be empty"));
        }
        Ok(QuadraticTrainer { config: self })
    }
}

/// The deterministic quadratic trainer (see the module docs).
#[derive(Debug, Clone)]
pub struct QuadraticTrainer {
    config: QuadraticConfig,
}

fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    })
}

impl QuadraticTrainer {
    /// The target of parameter `index` of tensor `name`, uniform in `[-1, 1)`.
    pub fn target(&self, name: &str, index: usize) -> f32 {
        let h = splitmix64(self.config.seed ^ splitmix64(name_hash(name) ^ index as u64));
        // Top 24 bits → [0, 1) exactly representable in f32, then to [-1, 1).
        ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Mean squared distance of `params` to the targets.
    fn mse(&self, params: &ParamSet) -> f64 {
        let mut sum = 0.0f64;
        for (name, t) in params.iter() {
            for (i, v) in t.data().iter().enumerate() {
                let d = f64::from(*v - self.target(name, i));
                sum += d * d;
            }
        }
        sum / params.numel().max(1) as f64
    }
}

impl LocalTrainer for QuadraticTrainer {
    fn train(&mut self, global: &ParamSet, plan: &RoundPlan) -> Result<ClientUpdate, TrainError> {
        let start = std::time::Instant::now();
        if self.config.delay_secs > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(self.config.delay_secs));
        }
        let steps = plan.local_steps.unwrap_or(self.config.steps);
        let lr = self.config.lr;
        let mut local = global.clone();
        for (name, t) in local.iter_mut() {
            for (i, v) in t.data_mut().iter_mut().enumerate() {
                let target = self.target(name, i);
                for _ in 0..steps {
                    *v -= lr * (*v - target);
                }
            }
        }
        let delta = local.sub(global)?;
        let mse = self.mse(&local);
        let accuracy = (-mse).exp() as f32;
        let mut update = ClientUpdate::new(
            "quadratic",
            self.config.task.as_str(),
            self.config.n_samples,
            delta,
            accuracy,
        );
        update.objectives.push(ObjectiveStats {
            id: "closeness".into(),
            mean: accuracy,
            std: 0.0,
            satisfaction: if mse < 1e-4 { 1.0 } else { 0.0 },
            errors: 0,
        });
        update.weights = vec![1.0];
        update.metrics = BTreeMap::from([("mse".to_string(), mse)]);
        update.timings.train_secs = start.elapsed().as_secs_f64();
        Ok(update)
    }

    fn evaluate(&mut self, params: &ParamSet, _split: Split) -> Result<EvalReport, TrainError> {
        let mse = self.mse(params);
        Ok(EvalReport {
            accuracy: (-mse).exp() as f32,
            n_examples: self.config.n_samples,
            objectives: Vec::new(),
            metrics: BTreeMap::from([("mse".to_string(), mse)]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trainer(lr: f32) -> QuadraticTrainer {
        QuadraticConfig {
            seed: 1,
            task: "math".into(),
            n_samples: 10,
            lr,
            steps: 2,
            delay_secs: 0.0,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn steps_contract_towards_the_target() {
        let mut t = trainer(0.5);
        let g = ParamSet::new().with("w", vec![2], vec![0.0, 0.0]).unwrap();
        let u = t.train(&g, &RoundPlan::new(1, 0)).unwrap();
        // Two steps with lr ½ from 0: θ = t·(1 − ½²) = ¾·t.
        for i in 0..2 {
            let expected = 0.75 * t.target("w", i);
            assert!((u.delta.get("w").unwrap().data()[i] - expected).abs() < 1e-6);
        }
        // mse = mean((¼ t_i)²); accuracy = exp(−mse).
        let mse: f64 = (0..2)
            .map(|i| f64::from(0.25 * t.target("w", i)).powi(2))
            .sum::<f64>()
            / 2.0;
        assert!((f64::from(u.accuracy) - (-mse).exp()).abs() < 1e-6);
        assert_eq!(u.n_samples, 10);
        assert_eq!(u.task.as_str(), "math");
    }

    #[test]
    fn targets_are_deterministic_and_in_range() {
        let a = trainer(0.5);
        let b = trainer(0.5);
        for i in 0..100 {
            assert_eq!(a.target("w", i), b.target("w", i));
            assert!((-1.0..1.0).contains(&a.target("w", i)));
        }
        assert_ne!(a.target("w", 0), a.target("b", 0));
    }

    #[test]
    fn bad_config_names_the_field() {
        let c = |lr, steps, n| QuadraticConfig {
            seed: 0,
            task: "t".into(),
            n_samples: n,
            lr,
            steps,
            delay_secs: 0.0,
        };
        assert_eq!(c(0.0, 1, 1).build().unwrap_err().field, "lr");
        assert_eq!(c(0.5, 0, 1).build().unwrap_err().field, "steps");
        assert_eq!(c(0.5, 1, 0).build().unwrap_err().field, "n_samples");
        let slow = QuadraticConfig {
            delay_secs: -1.0,
            ..c(0.5, 1, 1)
        };
        assert_eq!(slow.build().unwrap_err().field, "delay_secs");
    }
}
