//! `format`: does the completion follow a tag template such as `<think>…</think><answer>…</answer>`?

use fedmoa_core::{ConfigError, ObjectiveId, Prompt, RewardError, RewardFn, require_in_range};
use serde::{Deserialize, Serialize};

use super::objective_id;

/// Config of [`Format`] (`type = "format"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatConfig {
    /// Objective id (default `format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tag names, in the order their blocks must appear (default `["think", "answer"]`).
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// Credit for a completion that is not an exact match, times the fraction of tags that
    /// appear as one well-formed block; in `[0, 1)`, 0 (the default) disables it.
    #[serde(default)]
    pub partial_credit: f32,
    /// Whether every block must hold some non-whitespace text (default true).
    #[serde(default = "default_true")]
    pub require_content: bool,
}

fn default_tags() -> Vec<String> {
    vec!["think".into(), "answer".into()]
}
fn default_true() -> bool {
    true
}

impl Default for FormatConfig {
    fn default() -> Self {
        Self {
            id: None,
            tags: default_tags(),
            partial_credit: 0.0,
            require_content: true,
        }
    }
}

impl FormatConfig {
    /// Builds the plugin.
    ///
    /// # Errors
    /// [`ConfigError`] naming `id`, `tags` or `partial_credit`.
    pub fn build(&self) -> Result<Format, ConfigError> {
        let id = objective_id(self.id.as_deref(), "format")?;
        if self.tags.is_empty() {
            return Err(ConfigError::new("tags", "must list at least one tag"));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            let valid = !tag.is_empty()
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(ConfigError::new(
                    format!("tags[{i}]"),
                    format!("must be a non-empty ASCII name, got {tag:?}"),
                ));
            }
            if self.tags[..i].contains(tag) {
                return Err(ConfigError::new(
                    format!("tags[{i}]"),
                    format!("duplicate tag {tag:?}"),
                ));
            }
        }
        require_in_range("partial_credit", f64::from(self.partial_credit), 0.0, 1.0)?;
        if self.partial_credit >= 1.0 {
            return Err(ConfigError::new(
                "partial_credit",
                "must be below 1 so that only an exact match scores 1",
            ));
        }
        Ok(Format {
            id,
            tags: self.tags.clone(),
            partial_credit: self.partial_credit,
            require_content: self.require_content,
        })
    }
}

/// Scores 1 when the trimmed completion is exactly the template's blocks
/// `<t1>…</t1> <t2>…</t2> …` in order, separated only by whitespace, each block holding
/// no template tag (and, with `require_content`, some non-whitespace text). Otherwise it
/// scores `partial_credit × (tags whose opening and closing tag each appear exactly once,
/// in that order, around valid content) / (number of tags)`, which is 0 by default.
#[derive(Debug, Clone)]
pub struct Format {
    id: ObjectiveId,
    tags: Vec<String>,
    partial_credit: f32,
    require_content: bool,
}

impl Default for Format {
    fn default() -> Self {
        Self {
            id: ObjectiveId::new("format"),
            tags: default_tags(),
            partial_credit: 0.0,
            require_content: true,
        }
    }
}

impl Format {
    fn content_ok(&self, content: &str) -> bool {
        let has_tag = self
            .tags
            .iter()
            .any(|t| content.contains(&format!("<{t}>")) || content.contains(&format!("</{t}>")));
        !has_tag && (!self.require_content || !content.trim().is_empty())
    }

    fn exact(&self, completion: &str) -> bool {
        let mut rest = completion.trim();
        for tag in &self.tags {
            let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
            let Some(after_open) = rest.strip_prefix(&open) else {
                return false;
            };
            let Some(end) = after_open.find(&close) else {
                return false;
            };
            if !self.content_ok(&after_open[..end]) {
                return false;
            }
            rest = after_open[end + close.len()..].trim_start();
        }
        rest.is_empty()
    }

    fn well_formed_block(&self, completion: &str, tag: &str) -> bool {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        if completion.matches(&open).count() != 1 || completion.matches(&close).count() != 1 {
            return false;
        }
        match (completion.find(&open), completion.find(&close)) {
            (Some(o), Some(c)) if o + open.len() <= c => {
                self.content_ok(&completion[o + open.len()..c])
            }
            _ => false,
        }
    }
}

impl RewardFn for Format {
    fn id(&self) -> &ObjectiveId {
        &self.id
    }

    fn score(&self, _prompt: &Prompt, completion: &str) -> Result<f32, RewardError> {
        if self.exact(completion) {
            return Ok(1.0);
        }
        if self.partial_credit == 0.0 {
            return Ok(0.0);
        }
        let good = self
            .tags
            .iter()
            .filter(|t| self.well_formed_block(completion, t))
            .count();
        Ok(self.partial_credit * good as f32 / self.tags.len() as f32)
    }
}

#[cfg(test)]
mod tests {
    use fedmoa_core::Reference;

    use super::*;
    use crate::rewards::testing::prompt;

    fn score(r: &Format, completion: &str) -> f32 {
        r.score(&prompt("math", Reference::None), completion)
            .unwrap()
    }

    #[test]
    fn strict_template() {
        let r = Format::default();
        let cases = [
            ("<think> 1 + 1 = 2 </think> <answer> 2 </answer>", 1.0),
            ("  <think>a</think>\n\n<answer>b</answer>\n", 1.0),
            ("<think>é 😀</think><answer>ü</answer>", 1.0),
            ("<answer> 2 </answer> <think> x </think>", 0.0), // wrong order
            ("<think> a </think> <answer> 2 </answer> extra", 0.0),
            ("so <think> a </think> <answer> 2 </answer>", 0.0),
            ("<think> </think> <answer> 2 </answer>", 0.0), // empty block
            (
                "<think> a <answer> 2 </answer> </think> <answer> 2 </answer>",
                0.0,
            ), // nested
            ("<think> a </think> <answer> 2", 0.0),         // unclosed
            ("<think> a </think>", 0.0),
            ("", 0.0),
        ];
        for (completion, expected) in cases {
            assert_eq!(score(&r, completion), expected, "{completion:?}");
        }
    }

    #[test]
    fn partial_credit_counts_well_formed_blocks() {
        let r = FormatConfig {
            partial_credit: 0.5,
            ..Default::default()
        }
        .build()
        .unwrap();
        // Both blocks well-formed but out of order: 0.5 · 2/2.
        assert_eq!(score(&r, "<answer> 2 </answer> <think> x </think>"), 0.5);
        // Only the think block is well-formed: 0.5 · 1/2.
        assert_eq!(score(&r, "<think> x </think> <answer> 2"), 0.25);
        // Duplicated answer block: only think counts.
        assert_eq!(
            score(
                &r,
                "<think> x </think> <answer>1</answer><answer>2</answer>"
            ),
            0.25
        );
        assert_eq!(score(&r, "plain text"), 0.0);
        assert_eq!(score(&r, "<think> x </think> <answer> 2 </answer>"), 1.0);
    }

    #[test]
    fn custom_tags_and_empty_content() {
        let r = FormatConfig {
            tags: vec!["code".into()],
            require_content: false,
            ..Default::default()
        }
        .build()
        .unwrap();
        assert_eq!(score(&r, "<code></code>"), 1.0);
        assert_eq!(score(&r, "<think>a</think><code>x</code>"), 0.0);
    }

    #[test]
    fn config_errors_name_the_field() {
        let bad = |c: FormatConfig| c.build().unwrap_err().field;
        assert_eq!(
            bad(FormatConfig {
                tags: vec![],
                ..Default::default()
            }),
            "tags"
        );
        assert_eq!(
            bad(FormatConfig {
                tags: vec!["a b".into()],
                ..Default::default()
            }),
            "tags[0]"
        );
        assert_eq!(
            bad(FormatConfig {
                tags: vec!["a".into(), "a".into()],
                ..Default::default()
            }),
            "tags[1]"
        );
        assert_eq!(
            bad(FormatConfig {
                partial_credit: 1.0,
                ..Default::default()
            }),
            "partial_credit"
        );
        assert_eq!(
            bad(FormatConfig {
                partial_credit: f32::NAN,
                ..Default::default()
            }),
            "partial_credit"
        );
    }
}
