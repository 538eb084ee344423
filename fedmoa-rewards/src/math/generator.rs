//! The seeded generator of synthetic math word problems.
//!
//! Every problem is a short story about one person's collection of objects, ends with
//! `how many <objects> does <name> have now ?`, has a non-negative integer answer and a
//! worked solution of one equation per step, e.g.
//! `ann has 12 apples . ann buys 5 more . how many apples does ann have now ?` →
//! `<think> 12 + 5 = 17 </think> <answer> 17 </answer>`.
//! The vocabulary is fixed: the names, objects and containers below, a handful of verbs,
//! digit strings and `. ? % + - * / = ;`.

use fedmoa_core::{ConfigError, Prompt, Reference};
use rand::{Rng, RngExt};

use super::{MathFamily, MathTaskConfig};
use crate::completion::format_completion;
use crate::seeded::pick;

/// People in the stories.
pub const NAMES: [&str; 10] = [
    "ann", "bob", "tom", "mia", "sam", "eva", "max", "lily", "ben", "zoe",
];
/// Objects they collect.
pub const OBJECTS: [&str; 8] = [
    "apples", "pens", "books", "cards", "stickers", "marbles", "cookies", "coins",
];
/// Containers for multiplication and division stories.
pub const CONTAINERS: [&str; 2] = ["bags", "boxes"];
const PERCENTS: [i64; 5] = [10, 20, 25, 50, 75];

/// One generated problem with its worked solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MathProblem {
    /// The family it was drawn from.
    pub family: MathFamily,
    /// The prompt text, in canonical whitespace.
    pub question: String,
    /// One equation per step, e.g. `"12 + 5 = 17"`.
    pub equations: Vec<String>,
    /// The final answer.
    pub answer: i64,
}

impl MathProblem {
    /// The worked solution in the canonical completion format (equations joined by ` ; `).
    pub fn solution(&self) -> String {
        format_completion(&self.equations.join(" ; "), &self.answer.to_string())
    }

    /// The problem as a `"math"` prompt with a numeric reference and its solution.
    pub fn to_prompt(&self, id: impl Into<String>) -> Prompt {
        Prompt {
            id: id.into(),
            task: "math".into(),
            text: self.question.clone(),
            reference: Reference::Number {
                value: self.answer as f64,
            },
            solution: Some(self.solution()),
        }
    }
}

/// Draws problems from a validated [`MathTaskConfig`].
#[derive(Debug, Clone)]
pub struct MathGenerator {
    config: MathTaskConfig,
}

/// The story being built: who holds what, and the steps so far.
struct Story {
    sentences: Vec<String>,
    equations: Vec<String>,
    holder: &'static str,
    other: &'static str,
    object: &'static str,
    value: i64,
}

impl Story {
    fn say(&mut self, sentence: String) {
        self.sentences.push(sentence);
    }

    /// Records `lhs = result` and makes `result` the holder's current amount.
    fn step(&mut self, lhs: String, result: i64) {
        self.equations.push(format!("{lhs} = {result}"));
        self.value = result;
    }
}

impl MathGenerator {
    /// A generator for `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the config is invalid.
    pub fn new(config: MathTaskConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &MathTaskConfig {
        &self.config
    }

    /// `n` problems drawn from `seed`, as prompts with ids `m{seed}-{i}` (the same seed
    /// gives the same prompts).
    pub fn prompts(&self, n: usize, seed: u64) -> Vec<Prompt> {
        let mut rng = crate::seeded::rng_for(seed, 0);
        (0..n)
            .map(|i| self.generate(&mut rng).to_prompt(format!("m{seed}-{i}")))
            .collect()
    }

    /// Draws one problem; the same RNG state gives the same problem.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> MathProblem {
        let family = *pick(rng, &self.config.families);
        let digits = self.config.digits;
        let first = *pick(rng, &NAMES);
        let second = loop {
            let n = *pick(rng, &NAMES);
            if n != first {
                break n;
            }
        };
        let mut story = Story {
            sentences: Vec::new(),
            equations: Vec::new(),
            holder: first,
            other: second,
            object: OBJECTS[rng.random_range(0..OBJECTS.len())],
            value: 0,
        };
        match family {
            MathFamily::AddSub => add_sub(rng, &mut story, digits),
            MathFamily::MulDiv => mul_div(rng, &mut story, digits),
            MathFamily::TwoStep => two_step(rng, &mut story, digits),
            MathFamily::Percent => percent(rng, &mut story, digits),
            MathFamily::Comparison => comparison(rng, &mut story, digits),
        }
        for _ in family.base_steps()..self.config.steps {
            event(rng, &mut story, digits);
        }
        let question = format!(
            "{} how many {} does {} have now ?",
            story.sentences.join(" "),
            story.object,
            story.holder
        );
        MathProblem {
            family,
            question,
            equations: story.equations,
            answer: story.value,
        }
    }
}

/// A quantity with exactly `digits` digits (1..=9 for one digit).
fn quantity<R: Rng + ?Sized>(rng: &mut R, digits: u32) -> i64 {
    let hi = 10i64.pow(digits) - 1;
    let lo = 10i64.pow(digits - 1);
    rng.random_range(lo..=hi)
}

/// One gain or loss for the holder: `cur + b` or `cur - b` (never below zero).
fn event<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    let cur = s.value;
    if cur < 1 || rng.random_bool(0.5) {
        let b = quantity(rng, digits);
        let verb = *pick(rng, &["buys", "finds", "gets"]);
        s.say(format!("{} {verb} {b} more .", s.holder));
        s.step(format!("{cur} + {b}"), cur + b);
    } else {
        let b = rng.random_range(1..=cur.min(10i64.pow(digits) - 1));
        if rng.random_bool(0.5) {
            s.say(format!("{} loses {b} .", s.holder));
        } else {
            s.say(format!("{} gives {b} to {} .", s.holder, s.other));
        }
        s.step(format!("{cur} - {b}"), cur - b);
    }
}

fn add_sub<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    s.value = quantity(rng, digits);
    s.say(format!("{} has {} {} .", s.holder, s.value, s.object));
    event(rng, s, digits);
}

fn mul_div<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    let container = *pick(rng, &CONTAINERS);
    let k = rng.random_range(2..=9i64);
    if rng.random_bool(0.5) {
        let b = quantity(rng, digits);
        s.say(format!(
            "{} buys {k} {container} with {b} {} each .",
            s.holder, s.object
        ));
        s.step(format!("{k} * {b}"), k * b);
    } else {
        let q = quantity(rng, digits);
        let total = q * k;
        s.say(format!(
            "{} packs {total} {} into {container} of {k} .",
            s.holder, s.object
        ));
        s.object = container;
        s.step(format!("{total} / {k}"), q);
    }
}

fn two_step<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    let container = *pick(rng, &CONTAINERS);
    let k = rng.random_range(2..=9i64);
    let b = quantity(rng, digits);
    let p = k * b;
    let (holder, object) = (s.holder, s.object);
    if rng.random_bool(0.5) {
        let a = quantity(rng, digits);
        s.say(format!("{holder} has {a} {object} ."));
        s.say(format!(
            "{holder} buys {k} {container} with {b} {object} each ."
        ));
        s.step(format!("{k} * {b}"), p);
        s.step(format!("{a} + {p}"), a + p);
    } else {
        let a = p + quantity(rng, digits);
        s.say(format!("{holder} has {a} {object} ."));
        s.say(format!(
            "{holder} gives away {k} {container} with {b} {object} each ."
        ));
        s.step(format!("{k} * {b}"), p);
        s.step(format!("{a} - {p}"), a - p);
    }
}

fn percent<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    let p = *pick(rng, &PERCENTS);
    // The smallest amount whose p % is whole: 100 / gcd(p, 100).
    let unit = 100 / gcd(p, 100);
    let hi = 10i64.pow(digits) - 1;
    let lo = 10i64.pow(digits - 1);
    let k_lo = ((lo + unit - 1) / unit).max(1);
    let k_hi = (hi / unit).max(k_lo);
    let a = unit * rng.random_range(k_lo..=k_hi);
    let g = a * p / 100;
    let (holder, object) = (s.holder, s.object);
    s.say(format!("{holder} has {a} {object} ."));
    s.step(format!("{a} * {p} / 100"), g);
    if rng.random_bool(0.5) {
        s.say(format!("{holder} gives away {p} % of them ."));
        s.step(format!("{a} - {g}"), a - g);
    } else {
        s.say(format!("{holder} gets {p} % more ."));
        s.step(format!("{a} + {g}"), a + g);
    }
}

fn comparison<R: Rng + ?Sized>(rng: &mut R, s: &mut Story, digits: u32) {
    let (first, second, object) = (s.holder, s.other, s.object);
    let a = quantity(rng, digits);
    s.say(format!("{first} has {a} {object} ."));
    // The question is about the second person; extra events happen to them.
    s.holder = second;
    s.other = first;
    match rng.random_range(0..3) {
        0 => {
            let b = quantity(rng, digits);
            s.say(format!("{second} has {b} more {object} than {first} ."));
            s.step(format!("{a} + {b}"), a + b);
        }
        1 if a >= 2 => {
            let b = rng.random_range(1..a);
            s.say(format!("{second} has {b} fewer {object} than {first} ."));
            s.step(format!("{a} - {b}"), a - b);
        }
        _ => {
            let k = rng.random_range(2..=5i64);
            s.say(format!(
                "{second} has {k} times as many {object} as {first} ."
            ));
            s.step(format!("{a} * {k}"), a * k);
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded::rng_for;

    fn generator(families: Vec<MathFamily>, digits: u32, steps: u32) -> MathGenerator {
        let config = MathTaskConfig::new(families)
            .with_digits(digits)
            .with_steps(steps);
        MathGenerator::new(config).unwrap()
    }

    /// Re-evaluates an equation `a op b [op c] = r` left to right.
    fn check_equation(eq: &str) -> i64 {
        let tokens: Vec<&str> = eq.split(' ').collect();
        let (lhs, rhs) = tokens.split_at(tokens.iter().position(|t| *t == "=").unwrap());
        let mut acc: i64 = lhs[0].parse().unwrap();
        for pair in lhs[1..].chunks(2) {
            let v: i64 = pair[1].parse().unwrap();
            acc = match pair[0] {
                "+" => acc + v,
                "-" => acc - v,
                "*" => acc * v,
                "/" => {
                    assert_eq!(acc % v, 0, "inexact division in {eq}");
                    acc / v
                }
                op => panic!("unknown operator {op}"),
            };
        }
        let r: i64 = rhs[1].parse().unwrap();
        assert_eq!(acc, r, "wrong equation {eq}");
        r
    }

    #[test]
    fn same_seed_same_problems() {
        let g = generator(MathFamily::ALL.to_vec(), 2, 2);
        let a: Vec<_> = (0..20)
            .map(|_| ())
            .scan(rng_for(3, 0), |r, ()| Some(g.generate(r)))
            .collect();
        let b: Vec<_> = (0..20)
            .map(|_| ())
            .scan(rng_for(3, 0), |r, ()| Some(g.generate(r)))
            .collect();
        let c: Vec<_> = (0..20)
            .map(|_| ())
            .scan(rng_for(4, 0), |r, ()| Some(g.generate(r)))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // `prompts` draws the same problems from stream 0 of the seed.
        let prompts = g.prompts(20, 3);
        assert_eq!(prompts.len(), 20);
        assert_eq!(prompts[7], a[7].to_prompt("m3-7"));
        assert_ne!(g.prompts(20, 4), prompts);
    }

    #[test]
    fn every_equation_is_correct_and_chained() {
        for family in MathFamily::ALL {
            for digits in 1..=4 {
                for steps in 1..=4 {
                    let g = generator(vec![family], digits, steps);
                    let mut rng = rng_for(u64::from(digits * 10 + steps), 1);
                    for _ in 0..50 {
                        let p = g.generate(&mut rng);
                        let expected_steps = steps.max(family.base_steps()) as usize;
                        assert_eq!(p.equations.len(), expected_steps, "{p:?}");
                        let results: Vec<i64> =
                            p.equations.iter().map(|e| check_equation(e)).collect();
                        assert_eq!(*results.last().unwrap(), p.answer);
                        assert!(p.answer >= 0, "{p:?}");
                        assert!(p.question.ends_with("have now ?"));
                    }
                }
            }
        }
    }

    #[test]
    fn texts_are_short_and_canonical() {
        let g = generator(MathFamily::ALL.to_vec(), 3, 4);
        let mut rng = rng_for(9, 0);
        for _ in 0..200 {
            let p = g.generate(&mut rng);
            let words = p.question.split(' ').count();
            assert!(words <= 40, "{words} words: {}", p.question);
            let solution = p.solution();
            assert!(solution.split(' ').count() <= 40, "{solution}");
            for text in [&p.question, &solution] {
                assert_eq!(*text, crate::completion::canonical_whitespace(text));
            }
        }
    }

    #[test]
    fn worked_example_by_hand() {
        // Two-step, hand-checked: 3 * 4 = 12 ; 5 + 12 = 17.
        let p = MathProblem {
            family: MathFamily::TwoStep,
            question: "q".into(),
            equations: vec!["3 * 4 = 12".into(), "5 + 12 = 17".into()],
            answer: 17,
        };
        assert_eq!(
            p.solution(),
            "<think> 3 * 4 = 12 ; 5 + 12 = 17 </think> <answer> 17 </answer>"
        );
        assert_eq!(
            p.to_prompt("m0").reference,
            Reference::Number { value: 17.0 }
        );
    }

    #[test]
    fn gcd_by_hand() {
        assert_eq!(gcd(75, 100), 25);
        assert_eq!(gcd(10, 100), 10);
        assert_eq!(gcd(7, 3), 1);
    }
}
