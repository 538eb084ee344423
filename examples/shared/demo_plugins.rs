//! Two user-written plugins, registered by name like the built-ins: the objective weighter
//! `primary_ramp` and the aggregator `best_half` (used by `custom_plugins` and
//! `flower_client`; each includes this file with `#[path]`).

use fedmoa::agg::{Threads, weighted_sum_into};
use fedmoa::core::weighting::WeighterContext;
use fedmoa::core::{
    AggError, Aggregated, Aggregator, ClientUpdate, ConfigError, ObjectiveWeighter, ParamSet,
    PluginConfig, Signals, StepSignals, WeighterError, screen_updates,
};
use fedmoa::plugins::Plugins;
use serde::Deserialize;

/// Registers `primary_ramp` and `best_half` in `plugins`.
///
/// # Errors
/// [`ConfigError`] when either name is taken.
pub fn register_demo_plugins(plugins: &mut Plugins) -> Result<(), ConfigError> {
    plugins
        .weighters
        .register("primary_ramp", PrimaryRamp::build)?;
    plugins.aggregators.register("best_half", BestHalf::build)?;
    Ok(())
}

/// `primary_ramp`: a schedule that moves the objective weights linearly from the client's
/// configured ones to the primary objective alone over `steps` local steps
/// (`{ type = "primary_ramp", steps = 20 }`). It needs no gradients.
#[derive(Debug, Clone)]
pub struct PrimaryRamp {
    initial: Vec<f32>,
    steps: u64,
    seen: u64,
    weights: Vec<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrimaryRampConfig {
    #[serde(default = "default_ramp_steps")]
    steps: u64,
}

fn default_ramp_steps() -> u64 {
    20
}

impl PrimaryRamp {
    fn build(
        table: &PluginConfig,
        context: &WeighterContext,
    ) -> Result<Box<dyn ObjectiveWeighter>, ConfigError> {
        let config: PrimaryRampConfig = table.parse()?;
        if config.steps == 0 {
            return Err(ConfigError::new("primary_ramp.steps", "must be at least 1"));
        }
        let total: f64 = context.initial_weights.iter().sum();
        if context.n_objectives() == 0 || total.is_nan() || total <= 0.0 {
            return Err(ConfigError::new(
                "primary_ramp",
                "needs at least one objective with a positive weight",
            ));
        }
        let initial: Vec<f32> = context
            .initial_weights
            .iter()
            .map(|w| (w / total) as f32)
            .collect();
        Ok(Box::new(Self {
            weights: initial.clone(),
            initial,
            steps: config.steps,
            seen: 0,
        }))
    }

    fn update_weights(&mut self) {
        let ramp = (self.seen as f32 / self.steps as f32).min(1.0);
        for (k, (w, w0)) in self.weights.iter_mut().zip(&self.initial).enumerate() {
            let target = if k == 0 { 1.0 } else { 0.0 };
            *w = (1.0 - ramp) * w0 + ramp * target;
        }
    }
}

impl ObjectiveWeighter for PrimaryRamp {
    fn name(&self) -> &str {
        "primary_ramp"
    }

    fn weights(&self) -> &[f32] {
        &self.weights
    }

    fn needs(&self) -> Signals {
        Signals::default()
    }

    fn observe(&mut self, step: &StepSignals) -> Result<(), WeighterError> {
        if step.reward_means.len() != self.weights.len() {
            return Err(WeighterError::ObjectiveCount {
                expected: self.weights.len(),
                got: step.reward_means.len(),
            });
        }
        self.seen += 1;
        self.update_weights();
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!({ "seen": self.seen })
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), WeighterError> {
        self.seen = state
            .get("seen")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| WeighterError::BadState("primary_ramp wants {\"seen\": n}".into()))?;
        self.update_weights();
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn ObjectiveWeighter> {
        Box::new(self.clone())
    }
}

/// `best_half`: each round, the sample-weighted mean of the updates whose held-out
/// accuracy is in the better `keep` fraction (`{ type = "best_half", keep = 0.5 }`); the
/// others are left out of the mean for this round.
#[derive(Debug, Clone)]
pub struct BestHalf {
    keep: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BestHalfConfig {
    #[serde(default = "default_keep")]
    keep: f64,
}

fn default_keep() -> f64 {
    0.5
}

impl BestHalf {
    fn build(table: &PluginConfig) -> Result<Box<dyn Aggregator>, ConfigError> {
        let config: BestHalfConfig = table.parse()?;
        if !(config.keep > 0.0 && config.keep <= 1.0) {
            return Err(ConfigError::new(
                "best_half.keep",
                format!("must be in (0, 1], got {}", config.keep),
            ));
        }
        Ok(Box::new(Self { keep: config.keep }))
    }
}

impl Aggregator for BestHalf {
    fn name(&self) -> &str {
        "best_half"
    }

    fn aggregate(
        &mut self,
        global: &ParamSet,
        updates: &[ClientUpdate],
    ) -> Result<Aggregated, AggError> {
        let (mut valid, rejected) = screen_updates(global, updates);
        if valid.is_empty() {
            return Err(AggError::NoValidUpdates { rejected });
        }
        valid.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
        let kept = ((valid.len() as f64 * self.keep).ceil() as usize).clamp(1, valid.len());
        let valid = &valid[..kept];
        let total: f64 = valid.iter().map(|u| u.n_samples as f64).sum();
        let terms: Vec<(&ParamSet, f32)> = valid
            .iter()
            .map(|u| (&u.delta, (u.n_samples as f64 / total) as f32))
            .collect();
        let mut params = global.clone();
        // Screening rejected non-finite deltas, so no term can make the sum non-finite.
        weighted_sum_into(&mut params, &terms, Threads::Auto)?;
        Ok(Aggregated {
            params,
            weights: valid
                .iter()
                .zip(&terms)
                .map(|(u, (_, w))| (u.client_id.clone(), *w))
                .collect(),
            rejected,
        })
    }
}
