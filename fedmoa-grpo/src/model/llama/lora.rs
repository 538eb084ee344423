//! LoRA adapters on a [`Llama`] (Hu et al. 2021, arXiv 2106.09685) with Burn's built-in
//! [`Lora`] reparameterisation.
//!
//! Every base parameter is frozen; each targeted projection `W` (`[d_in, d_out]`) gets
//! trainable factors `A: [d_in, r]` and `B: [r, d_out]` and acts as `W + (α/r)·A·B`. `B`
//! starts at zero, so attaching adapters does not change the model; `A` is drawn from
//! `N(0, 1/r²)` with a seeded RNG (Burn's own init uses the device RNG). The tied
//! embedding and the norms never get adapters. Only the factors reach the trainer's
//! [`fedmoa_core::ParamSet`] ([`Policy::is_trainable`]).

use burn::module::{Lora, Module, ParamGroup};
use fedmoa_core::ConfigError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Llama;
use crate::GrpoError;
use crate::model::Policy;

/// A projection LoRA can adapt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoraTarget {
    /// Query projection `attn.wq`.
    Q,
    /// Key projection `attn.wk`.
    K,
    /// Value projection `attn.wv`.
    V,
    /// Attention output `attn.wo`.
    O,
    /// MLP gate `mlp.gate`.
    Gate,
    /// MLP up `mlp.up`.
    Up,
    /// MLP down `mlp.down`.
    Down,
}

impl LoraTarget {
    /// All seven projections.
    pub const ALL: [LoraTarget; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    /// Module path of the projection inside a block (`attn.wq`).
    pub fn module_path(self) -> &'static str {
        match self {
            Self::Q => "attn.wq",
            Self::K => "attn.wk",
            Self::V => "attn.wv",
            Self::O => "attn.wo",
            Self::Gate => "mlp.gate",
            Self::Up => "mlp.up",
            Self::Down => "mlp.down",
        }
    }
}

/// Rank, scaling and targets of the adapters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoraConfig {
    /// Rank `r` of the factors.
    pub rank: usize,
    /// Scaling numerator: the update is `(alpha / rank)·A·B`.
    pub alpha: f64,
    /// Projections to adapt in every block.
    pub targets: Vec<LoraTarget>,
    /// Seed of the `A` initialisation.
    pub seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 16,
            alpha: 32.0,
            targets: LoraTarget::ALL.to_vec(),
            seed: 0,
        }
    }
}

impl LoraConfig {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rank == 0 {
            return Err(ConfigError::new("rank", "must be > 0"));
        }
        fedmoa_core::require_positive("alpha", self.alpha)?;
        if self.targets.is_empty() {
            return Err(ConfigError::new(
                "targets",
                "must name at least one projection",
            ));
        }
        Ok(())
    }

    /// Regex over parameter paths matching the targeted weights (never `embed.weight`).
    pub fn path_regex(&self) -> String {
        let mut names: Vec<&str> = self.targets.iter().map(|t| t.module_path()).collect();
        names.sort_unstable();
        names.dedup();
        let alt = names
            .iter()
            .map(|n| n.replace('.', r"\."))
            .collect::<Vec<_>>()
            .join("|");
        format!(r"^blocks\.\d+\.({alt})\.weight$")
    }
}

impl Llama {
    /// Freezes the model and attaches LoRA adapters to the configured projections.
    ///
    /// Build the model on an autodiff device (or call `.train()` first) to train the
    /// adapters.
    ///
    /// # Errors
    /// [`GrpoError::Config`] for a bad config or a model that already has adapters.
    pub fn with_lora(self, config: &LoraConfig) -> Result<Self, GrpoError> {
        config.validate()?;
        if self.lora.is_some() {
            return Err(ConfigError::new("lora", "the model already has LoRA adapters").into());
        }
        let group = ParamGroup::from_regex(config.path_regex())
            .map_err(|e| ConfigError::new("targets", format!("{e:?}")))?;
        let mut model =
            self.apply_lora(Lora::new(config.rank, config.alpha).set_param_group(group));
        model.lora = Some(config.clone());
        // Re-draw A from the seeded RNG: N(0, (1/r)²), Burn's default std with our seed.
        let mut params = model.to_param_set()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let std = 1.0 / config.rank as f64;
        for (name, t) in params.iter_mut() {
            if name.ends_with(".lora.a") {
                for v in t.data_mut() {
                    *v = (standard_normal(&mut rng) * std) as f32;
                }
            }
        }
        model.load_param_set(&params)
    }

    /// A plain-device copy with the adapters merged into dense weights (`W + (α/r)·A·B`),
    /// for fast sampling: the merge happens once instead of in every forward.
    pub fn merged(&self) -> Self {
        let mut merged = self.valid().materialize();
        merged.lora = None;
        merged
    }
}

/// One standard normal draw (Box–Muller).
pub(super) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random_range(0.0..1.0); // (0, 1]
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_matches_only_targeted_weights() {
        let cfg = LoraConfig {
            targets: vec![LoraTarget::Q, LoraTarget::Down, LoraTarget::Q],
            ..LoraConfig::default()
        };
        assert_eq!(
            cfg.path_regex(),
            r"^blocks\.\d+\.(attn\.wq|mlp\.down)\.weight$"
        );
    }

    #[test]
    fn validate_names_the_field() {
        let bad = LoraConfig {
            rank: 0,
            ..LoraConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "rank");
        let bad = LoraConfig {
            targets: vec![],
            ..LoraConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "targets");
        let bad = LoraConfig {
            alpha: -1.0,
            ..LoraConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "alpha");
    }

    #[test]
    fn config_serde_uses_lowercase_targets() {
        let cfg: LoraConfig =
            serde_json::from_str(r#"{"rank": 4, "targets": ["q", "gate"]}"#).unwrap();
        assert_eq!(cfg.targets, [LoraTarget::Q, LoraTarget::Gate]);
        assert!(serde_json::from_str::<LoraConfig>(r#"{"rnk": 4}"#).is_err());
    }
}
