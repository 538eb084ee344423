//! `length`: rewards completions that stay within a length budget.

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn};
use serde::{Deserialize, Serialize};

use super::objective_id;

/// What [`Length`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Unicode scalar values (`chars()`).
    Chars,
    /// Whitespace-separated tokens.
    Tokens,
}

/// How [`Length`] turns a length into a reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthMode {
    /// 1 up to `max`, 0 beyond.
    Hard,
    /// DAPO's soft overlong penalty shifted into `[0, 1]`: 1 up to `max − cache`, then
    /// linearly down to 0 at `max`, 0 beyond.
    Soft,
}

/// Config of [`Length`] (`type = "length"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthConfig {
    /// Objective id (default `length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What to count (default tokens).
    #[serde(default = "default_unit")]
    pub unit: LengthUnit,
    /// The budget, at least 1.
    pub max: u32,
    /// Hard or soft (default hard).
    #[serde(default = "default_mode")]
    pub mode: LengthMode,
    /// Width of the soft penalty ramp (DAPO's `L_cache`), in `1..=max`; soft mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<u32>,
}

fn default_unit() -> LengthUnit {
    LengthUnit::Tokens
}
fn default_mode() -> LengthMode {
    LengthMode::Hard
}

impl LengthConfig {
    /// A hard budget of `max` tokens.
    pub fn hard(max: u32) -> Self {
        Self {
            id: None,
            unit: LengthUnit::Tokens,
            max,
            mode: LengthMode::Hard,
            cache: None,
        }
    }

    /// A soft budget of `max` tokens with a penalty ramp of `cache` tokens.
    pub fn soft(max: u32, cache: u32) -> Self {
        Self {
            mode: LengthMode::Soft,
            cache: Some(cache),
            ..Self::hard(max)
        }
    }

    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id`, `max` or `cache`.
    pub fn build(&self) -> Result<Length, ConfigError> {
        let id = objective_id(self.id.as_deref(), "length")?;
        if self.max == 0 {
            return Err(ConfigError::new("max", "must be at least 1"));
        }
        let cache = match (self.mode, self.cache) {
            (LengthMode::Hard, None) => 0,
            (LengthMode::Hard, Some(_)) => {
                return Err(ConfigError::new(
                    "cache",
                    "is only used with mode = \"soft\"",
                ));
            }
            (LengthMode::Soft, None) => {
                return Err(ConfigError::new(
                    "cache",
                    "is required with mode = \"soft\"",
                ));
            }
            (LengthMode::Soft, Some(c)) if c == 0 || c > self.max => {
                return Err(ConfigError::new(
                    "cache",
                    format!("must be in 1..={}, got {c}", self.max),
                ));
            }
            (LengthMode::Soft, Some(c)) => c,
        };
        Ok(Length {
            id,
            unit: self.unit,
            max: self.max as usize,
            cache: cache as usize,
        })
    }
}

/// Scores the completion's length `L` (in chars or whitespace tokens) against a budget:
/// hard mode gives 1 when `L ≤ max`, else 0; soft mode gives 1 when `L ≤ max − cache`,
/// `(max − L) / cache` when `max − cache < L ≤ max`, and 0 beyond `max` — DAPO's overlong
/// penalty `((max − cache) − L) / cache ∈ [−1, 0]` plus 1. Needs no reference.
#[derive(Debug, Clone)]
pub struct Length {
    id: ObjectiveId,
    unit: LengthUnit,
    max: usize,
    /// 0 in hard mode.
    cache: usize,
}

impl Length {
    /// The length of `completion` in this plugin's unit.
    pub fn measure(&self, completion: &str) -> usize {
        match self.unit {
            LengthUnit::Chars => completion.chars().count(),
            LengthUnit::Tokens => completion.split_whitespace().count(),
        }
    }
}

impl RewardFn for Length {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        let len = self.measure(completion);
        let full = self.max - self.cache;
        Ok(if len <= full {
            1.0
        } else if len <= self.max {
            (self.max - len) as f32 / self.cache as f32
        } else {
            0.0
        })
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;
    use crate::rewards::testing::prompt;

    fn score(config: LengthConfig, completion: &str) -> f32 {
        config
            .build()
            .unwrap()
            .score(&prompt("math", Reference::None), completion)
            .unwrap()
    }

    fn tokens(n: usize) -> String {
        vec!["w"; n].join(" ")
    }

    #[test]
    fn hard_budget() {
        assert_eq!(score(LengthConfig::hard(4), &tokens(4)), 1.0);
        assert_eq!(score(LengthConfig::hard(4), &tokens(5)), 0.0);
        assert_eq!(score(LengthConfig::hard(4), ""), 1.0);
        let chars = LengthConfig {
            unit: LengthUnit::Chars,
            ..LengthConfig::hard(3)
        };
        assert_eq!(score(chars.clone(), "äöü"), 1.0); // 3 chars, 6 bytes
        assert_eq!(score(chars, "abcd"), 0.0);
    }

    #[test]
    fn soft_ramp_by_hand() {
        // max 20, cache 8: full credit up to 12, then (20 − L)/8.
        let c = LengthConfig::soft(20, 8);
        assert_eq!(score(c.clone(), &tokens(12)), 1.0);
        assert_eq!(score(c.clone(), &tokens(14)), 0.75); // (20 − 14)/8
        assert_eq!(score(c.clone(), &tokens(18)), 0.25); // (20 − 18)/8
        assert_eq!(score(c.clone(), &tokens(20)), 0.0);
        assert_eq!(score(c, &tokens(10_000)), 0.0);
        // cache = max: the ramp starts at 0 tokens.
        assert_eq!(score(LengthConfig::soft(4, 4), &tokens(1)), 0.75);
    }

    #[test]
    fn config_validation() {
        let field = |c: LengthConfig| c.build().unwrap_err().field;
        assert_eq!(field(LengthConfig::hard(0)), "max");
        assert_eq!(field(LengthConfig::soft(10, 0)), "cache");
        assert_eq!(field(LengthConfig::soft(10, 11)), "cache");
        assert_eq!(
            field(LengthConfig {
                cache: Some(2),
                ..LengthConfig::hard(10)
            }),
            "cache"
        );
        assert_eq!(
            field(LengthConfig {
                cache: None,
                ..LengthConfig::soft(10, 2)
            }),
            "cache"
        );
        let parsed: LengthConfig =
            toml::from_str("max = 64\nmode = \"soft\"\ncache = 16\nunit = \"chars\"").unwrap();
        assert_eq!(
            parsed,
            LengthConfig {
                unit: LengthUnit::Chars,
                ..LengthConfig::soft(64, 16)
            }
        );
        assert!(toml::from_str::<LengthConfig>("mode = \"hard\"").is_err()); // max is required
    }
}
