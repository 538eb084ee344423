//! [`TeacherConfig`]: a fallible demonstrator that rewrites worked solutions before SFT.
//!
//! Real warm starts imitate imperfect data: demonstrations that get some facts wrong, that
//! rarely use the format a deployment asks for, and that sometimes skip their reasoning.
//! GRPO with verifiable rewards then has something to correct. The generated tasks come
//! with perfect solutions, so a policy trained on them either copies them (nothing left to
//! learn) or fails to copy at all (no reward variance). The teacher rewrites each solution
//! the way a fallible demonstrator would:
//!
//! - **Misconceptions.** A fixed, seeded share of facts (`misconception_rate`; a fact is a
//!   solution's reasoning, such as `6 + 1 = 7`) is answered one too high with probability
//!   `misconception_strength`. A policy that imitates this answers those facts wrongly
//!   when greedy yet samples the right answer now and then: reward variance GRPO can use.
//! - **Answer format.** Only `answer_tag_rate` of the solutions wrap the answer in
//!   `<answer>` tags; the rest end with `#### 7`. A format objective that asks for the tags
//!   starts mostly unsatisfied and can be learnt.
//! - **Shortcuts.** On a seeded share of facts (`shortcut_rate`), the ones it deems easy,
//!   the teacher skips the `<think>` block with probability `shortcut_strength` and answers
//!   one too high with probability `shortcut_error`. A policy that imitates this guesses on
//!   those facts, so working them out is a behaviour GRPO can learn from the correctness
//!   reward, and a length budget that only shortcuts meet is in tension with correctness.
//!
//! Every choice is a pure function of the seed and the prompt (id and text), so the same
//! seed gives the same demonstrations on every machine. Prompts without a worked solution
//! are returned unchanged.

use fedmoa_core::{ConfigError, Prompt, require_in_range};
use serde::{Deserialize, Serialize};

use crate::completion::{ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, canonical_whitespace};
use crate::seeded::{FNV_OFFSET, fnv1a};

/// Settings of the fallible teacher (`[teacher]` in the quickstart's TOML). The default is
/// a perfect teacher: every solution is returned as generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeacherConfig {
    /// Share of facts the teacher holds a misconception about, in `[0, 1]`.
    pub misconception_rate: f32,
    /// Probability that a fact the teacher is wrong about is answered off by one, in `[0, 1]`.
    pub misconception_strength: f32,
    /// Probability that a solution wraps its answer in `<answer>` tags (else `#### N`).
    pub answer_tag_rate: f32,
    /// Share of facts the teacher deems easy enough to answer without reasoning.
    pub shortcut_rate: f32,
    /// Probability that a solution to such a fact skips its `<think>` block.
    pub shortcut_strength: f32,
    /// Probability that a shortcut answer is off by one.
    pub shortcut_error: f32,
    /// Probability that a one-equation solution with `*` or `/` is worked with `+` or `-`
    /// instead (`2 * 7 = 14` becomes `2 + 7 = 9`): a procedural error, the same on every
    /// fact, that a policy can unlearn as one behaviour.
    pub operator_confusion: f32,
    /// Seed of the teacher's choices.
    pub seed: u64,
}

impl Default for TeacherConfig {
    fn default() -> Self {
        Self {
            misconception_rate: 0.0,
            misconception_strength: 0.0,
            answer_tag_rate: 1.0,
            shortcut_rate: 0.0,
            shortcut_strength: 0.0,
            shortcut_error: 0.0,
            operator_confusion: 0.0,
            seed: 0,
        }
    }
}

/// The parts of a canonical worked solution.
struct Solution<'a> {
    think: Option<&'a str>,
    answer: &'a str,
}

impl TeacherConfig {
    /// Checks that every probability lies in `[0, 1]`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("misconception_rate", self.misconception_rate),
            ("misconception_strength", self.misconception_strength),
            ("answer_tag_rate", self.answer_tag_rate),
            ("shortcut_rate", self.shortcut_rate),
            ("shortcut_strength", self.shortcut_strength),
            ("shortcut_error", self.shortcut_error),
            ("operator_confusion", self.operator_confusion),
        ] {
            require_in_range(field, f64::from(value), 0.0, 1.0)?;
        }
        Ok(())
    }

    /// Whether the teacher holds a misconception about the fact `reasoning`.
    pub fn misconceives(&self, reasoning: &str) -> bool {
        unit(self.seed, &[b"fact", reasoning.as_bytes()]) < f64::from(self.misconception_rate)
    }

    /// Whether the teacher deems the fact `reasoning` easy enough to skip its reasoning.
    pub fn shortcuts(&self, reasoning: &str) -> bool {
        unit(self.seed, &[b"easy", reasoning.as_bytes()]) < f64::from(self.shortcut_rate)
    }

    /// The prompt with its worked solution as this teacher writes it.
    pub fn teach(&self, prompt: &Prompt) -> Prompt {
        let Some(original) = prompt.solution.as_deref() else {
            return prompt.clone();
        };
        let Some(solution) = parse(original) else {
            return prompt.clone();
        };
        let draw = |what: &str| {
            unit(
                self.seed,
                &[
                    what.as_bytes(),
                    prompt.id.as_bytes(),
                    prompt.text.as_bytes(),
                ],
            )
        };
        let fact = solution.think.unwrap_or(solution.answer);
        let shortcut = solution.think.is_some()
            && self.shortcuts(fact)
            && draw("shortcut") < f64::from(self.shortcut_strength);
        let wrong = if shortcut {
            draw("shortcut_error") < f64::from(self.shortcut_error)
        } else {
            self.misconceives(fact)
                && draw("misconception") < f64::from(self.misconception_strength)
        };
        let confused = (draw("operator") < f64::from(self.operator_confusion))
            .then(|| solution.think.and_then(confuse_operator))
            .flatten();
        // One systematic slip (one too many), as a careless demonstrator makes it.
        let delta = 1;
        let (think, answer) = if let Some((think, answer)) = confused {
            (Some(think), answer)
        } else if wrong {
            (
                solution
                    .think
                    .map(|t| shift_result(t, solution.answer, delta)),
                shift_last_number(solution.answer, delta),
            )
        } else {
            (
                solution.think.map(str::to_owned),
                solution.answer.to_owned(),
            )
        };
        let tagged = draw("tags") < f64::from(self.answer_tag_rate);
        let mut parts: Vec<String> = Vec::new();
        if let (false, Some(think)) = (shortcut, think) {
            parts.extend([THINK_OPEN.into(), think, THINK_CLOSE.into()]);
        }
        if tagged {
            parts.extend([ANSWER_OPEN.into(), answer, ANSWER_CLOSE.into()]);
        } else {
            parts.extend(["####".into(), answer]);
        }
        Prompt {
            solution: Some(canonical_whitespace(&parts.join(" "))),
            ..prompt.clone()
        }
    }
}

/// Splits `<think> T </think> <answer> A </answer>` (the think block optional).
fn parse(solution: &str) -> Option<Solution<'_>> {
    let rest = solution.trim();
    let (think, rest) = match rest.strip_prefix(THINK_OPEN) {
        Some(after) => {
            let (think, rest) = after.split_once(THINK_CLOSE)?;
            (Some(think.trim()), rest.trim())
        }
        None => (None, rest),
    };
    let answer = rest
        .strip_prefix(ANSWER_OPEN)?
        .strip_suffix(ANSWER_CLOSE)?
        .trim();
    (!answer.is_empty()).then_some(Solution { think, answer })
}

/// `a * b = c` worked as `a + b = a+b` (and `a / b = c` as `a - b = a-b`): the reasoning
/// and the answer; `None` for any other reasoning.
fn confuse_operator(think: &str) -> Option<(String, String)> {
    let tokens: Vec<&str> = think.split_whitespace().collect();
    let [a, op, b, "=", _] = tokens.as_slice() else {
        return None;
    };
    let (a, b) = (a.parse::<i64>().ok()?, b.parse::<i64>().ok()?);
    let (op, value) = match *op {
        "*" => ("+", a.checked_add(b)?),
        "/" => ("-", a.checked_sub(b)?),
        _ => return None,
    };
    Some((format!("{a} {op} {b} = {value}"), value.to_string()))
}

/// `text` with its last integer token moved by `delta` (unchanged when it has none).
fn shift_last_number(text: &str, delta: i64) -> String {
    let mut tokens: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    if let Some((token, value)) = tokens
        .iter_mut()
        .rev()
        .find_map(|t| t.parse::<i64>().ok().map(|v| (t, v)))
    {
        *token = (value + delta).to_string();
    }
    tokens.join(" ")
}

/// The reasoning with its final result (`… = 7` where 7 is the answer) moved by `delta`,
/// so that the wrong answer follows from the written reasoning.
fn shift_result(think: &str, answer: &str, delta: i64) -> String {
    match think.split_whitespace().last() {
        Some(last) if last == answer.trim() => shift_last_number(think, delta),
        _ => think.to_owned(),
    }
}

/// A uniform number in `[0, 1)` from the seed and the parts (FNV-1a, then a SplitMix64
/// finaliser), the same on every machine.
fn unit(seed: u64, parts: &[&[u8]]) -> f64 {
    // Each part is followed by a 0xff byte, which UTF-8 text never holds, so that
    // ("ab", "c") and ("a", "bc") hash apart.
    let mut hash = parts.iter().fold(
        FNV_OFFSET ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        |hash, part| fnv1a(fnv1a(hash, part), &[0xff]),
    );
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedmoa_core::Reference;

    fn prompt(id: &str, solution: &str) -> Prompt {
        Prompt {
            id: id.into(),
            task: "math".into(),
            text: format!("question {id}"),
            reference: Reference::Number { value: 7.0 },
            solution: Some(solution.into()),
        }
    }

    const SOLUTION: &str = "<think> 6 + 1 = 7 </think> <answer> 7 </answer>";

    #[test]
    fn the_default_teacher_is_perfect() {
        let teacher = TeacherConfig::default();
        let p = prompt("a", SOLUTION);
        assert_eq!(teacher.teach(&p), p);
    }

    #[test]
    fn rewrites_format_shortcuts_and_errors() {
        let p = prompt("a", SOLUTION);
        let untagged = TeacherConfig {
            answer_tag_rate: 0.0,
            ..TeacherConfig::default()
        };
        assert_eq!(
            untagged.teach(&p).solution.unwrap(),
            "<think> 6 + 1 = 7 </think> #### 7"
        );
        let shortcut = TeacherConfig {
            shortcut_rate: 1.0,
            shortcut_strength: 1.0,
            ..TeacherConfig::default()
        };
        assert_eq!(shortcut.teach(&p).solution.unwrap(), "<answer> 7 </answer>");
        let wrong = TeacherConfig {
            misconception_rate: 1.0,
            misconception_strength: 1.0,
            ..TeacherConfig::default()
        };
        let taught = wrong.teach(&p).solution.unwrap();
        assert_eq!(taught, "<think> 6 + 1 = 8 </think> <answer> 8 </answer>");
        // The reference (what the reward checks) never changes.
        assert_eq!(wrong.teach(&p).reference, p.reference);
    }

    #[test]
    fn rates_hold_over_many_prompts_and_are_deterministic() {
        let teacher = TeacherConfig {
            misconception_rate: 0.5,
            misconception_strength: 1.0,
            answer_tag_rate: 0.25,
            shortcut_rate: 0.4,
            shortcut_strength: 0.5,
            shortcut_error: 1.0,
            operator_confusion: 0.0,
            seed: 3,
        };
        teacher.validate().unwrap();
        let n = 4000;
        let (mut tagged, mut shortcut, mut wrong) = (0, 0, 0);
        for i in 0..n {
            let (a, b) = (i % 10, (i / 10) % 10);
            let solution = format!(
                "<think> {a} + {b} = {} </think> <answer> {} </answer>",
                a + b,
                a + b
            );
            let p = prompt(&i.to_string(), &solution);
            let taught = teacher.teach(&p);
            assert_eq!(taught, teacher.teach(&p));
            let text = taught.solution.unwrap();
            tagged += usize::from(text.contains(ANSWER_OPEN));
            shortcut += usize::from(!text.contains(THINK_OPEN));
            wrong += usize::from(
                !text.ends_with(&format!(" {}", a + b))
                    && !text.contains(&format!(" {} </answer>", a + b)),
            );
        }
        let share = |k: usize| k as f64 / f64::from(n);
        assert!((share(tagged) - 0.25).abs() < 0.03, "{tagged}");
        assert!((share(shortcut) - 0.2).abs() < 0.03, "{shortcut}");
        // Shortcuts are always wrong, and about half of the 100 facts are misconceived.
        let expected = 0.2 + 0.8 * 0.5;
        assert!((share(wrong) - expected).abs() < 0.12, "{wrong}");
    }

    #[test]
    fn operator_confusion_works_the_wrong_operation() {
        let teacher = TeacherConfig {
            operator_confusion: 1.0,
            ..TeacherConfig::default()
        };
        let mul = prompt("m", "<think> 2 * 7 = 14 </think> <answer> 14 </answer>");
        assert_eq!(
            teacher.teach(&mul).solution.unwrap(),
            "<think> 2 + 7 = 9 </think> <answer> 9 </answer>"
        );
        let div = prompt("d", "<think> 27 / 3 = 9 </think> <answer> 9 </answer>");
        assert_eq!(
            teacher.teach(&div).solution.unwrap(),
            "<think> 27 - 3 = 24 </think> <answer> 24 </answer>"
        );
        // Addition and multi-step reasoning are left as they are.
        let add = prompt("a", SOLUTION);
        assert_eq!(teacher.teach(&add), add);
        let two = prompt(
            "t",
            "<think> 3 * 4 = 12 ; 5 + 12 = 17 </think> <answer> 17 </answer>",
        );
        assert_eq!(teacher.teach(&two), two);
    }

    #[test]
    fn misconceptions_are_per_fact() {
        let teacher = TeacherConfig {
            misconception_rate: 0.5,
            misconception_strength: 1.0,
            ..TeacherConfig::default()
        };
        // The same fact in two prompts is treated alike.
        let a = teacher.teach(&prompt("x", SOLUTION)).solution.unwrap();
        let b = teacher.teach(&prompt("y", SOLUTION)).solution.unwrap();
        assert_eq!(a.contains("= 7 "), b.contains("= 7 "));
    }

    #[test]
    fn rejects_out_of_range_rates() {
        let bad = TeacherConfig {
            shortcut_error: 1.5,
            ..TeacherConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "shortcut_error");
    }
}
