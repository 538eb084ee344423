//! The seeded generator of "write a function" tasks in the tiny code language.
//!
//! A task hides a target function of `x`; the prompt shows a few `f(x) = y` examples
//! (`f(1) = 3 ; f(2) = 5 ; f(4) = 9 . write f(x)`) and the hidden cases, at other inputs,
//! grade the answer. Difficulty 1 is linear (`2 * x + 1`), 2 adds squares, `%`, `/` and
//! parentheses (`( x + 3 ) * 2`), 3 adds `if` and `let`.
//! The reference solution checks the first example by substitution:
//! `<think> f(1) = 2 * 1 + 1 = 3 </think> <answer> 2 * x + 1 </answer>`.

use fedmoa_core::{ConfigError, Prompt, Reference};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::ast::{BinOp, Expr};
use super::{Limits, eval};
use crate::completion::format_completion;

/// Inputs shown in prompts are drawn from here.
const SHOWN_INPUTS: std::ops::RangeInclusive<i64> = 0..=9;
/// Hidden test inputs are drawn from here (never one that is shown).
const HIDDEN_INPUTS: std::ops::RangeInclusive<i64> = -10..=20;

/// Settings of the code-task generator (`type = "code"` in a task mix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTaskConfig {
    /// 1 (linear), 2 (non-linear arithmetic) or 3 (conditionals and `let`).
    #[serde(default = "default_difficulty")]
    pub difficulty: u32,
    /// Examples shown in the prompt, 2 to 6.
    #[serde(default = "default_examples")]
    pub n_examples: usize,
    /// Hidden test cases, 1 to 16.
    #[serde(default = "default_hidden")]
    pub n_hidden: usize,
}

fn default_difficulty() -> u32 {
    1
}
fn default_examples() -> usize {
    3
}
fn default_hidden() -> usize {
    8
}

impl Default for CodeTaskConfig {
    fn default() -> Self {
        Self {
            difficulty: default_difficulty(),
            n_examples: default_examples(),
            n_hidden: default_hidden(),
        }
    }
}

impl CodeTaskConfig {
    /// Default config at `difficulty`.
    pub fn new(difficulty: u32) -> Self {
        Self {
            difficulty,
            ..Self::default()
        }
    }

    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming `difficulty`, `n_examples` or `n_hidden`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3).contains(&self.difficulty) {
            return Err(ConfigError::new(
                "difficulty",
                format!("must be 1, 2 or 3, got {}", self.difficulty),
            ));
        }
        if !(2..=6).contains(&self.n_examples) {
            return Err(ConfigError::new(
                "n_examples",
                format!("must be in 2..=6, got {}", self.n_examples),
            ));
        }
        if !(1..=16).contains(&self.n_hidden) {
            return Err(ConfigError::new(
                "n_hidden",
                format!("must be in 1..=16, got {}", self.n_hidden),
            ));
        }
        Ok(())
    }
}

/// One generated task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTask {
    /// The hidden target function.
    pub target: Expr,
    /// `(x, f(x))` pairs shown in the prompt.
    pub examples: Vec<(i64, i64)>,
    /// `(x, f(x))` pairs that grade the answer; no input is also an example.
    pub hidden: Vec<(i64, i64)>,
}

impl CodeTask {
    /// The prompt: `f(1) = 3 ; f(2) = 5 ; f(4) = 9 . write f(x)`.
    pub fn prompt_text(&self) -> String {
        let shown: Vec<String> = self
            .examples
            .iter()
            .map(|(x, y)| format!("f({x}) = {y}"))
            .collect();
        format!("{} . write f(x)", shown.join(" ; "))
    }

    /// The reference completion (see the module docs).
    pub fn solution(&self) -> String {
        let think = match self.examples.first() {
            Some((x, y)) => format!("f({x}) = {} = {y}", self.target.substitute_x(*x)),
            None => String::new(),
        };
        format_completion(&think, &self.target.to_string())
    }

    /// The task as a `"code"` prompt whose reference is the hidden cases.
    pub fn to_prompt(&self, id: impl Into<String>) -> Prompt {
        Prompt {
            id: id.into(),
            task: "code".into(),
            text: self.prompt_text(),
            reference: Reference::IoCases {
                cases: self.hidden.clone(),
            },
            solution: Some(self.solution()),
        }
    }
}

/// Draws tasks from a validated [`CodeTaskConfig`].
#[derive(Debug, Clone)]
pub struct CodeGenerator {
    config: CodeTaskConfig,
}

impl CodeGenerator {
    /// A generator for `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the config is invalid.
    pub fn new(config: CodeTaskConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &CodeTaskConfig {
        &self.config
    }

    /// Draws one task; the same RNG state gives the same task.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> CodeTask {
        loop {
            let target = match self.config.difficulty {
                1 => linear(rng),
                2 => nonlinear(rng),
                _ => conditional(rng),
            };
            let shown = distinct_inputs(rng, SHOWN_INPUTS, self.config.n_examples, &[]);
            let hidden = distinct_inputs(rng, HIDDEN_INPUTS, self.config.n_hidden, &shown);
            // The templates keep values small, so evaluation cannot fail; a failing draw
            // would be skipped rather than produce an unsolvable task.
            let limits = Limits::default();
            let run = |xs: &[i64]| -> Option<Vec<(i64, i64)>> {
                xs.iter()
                    .map(|&x| eval(&target, x, &limits).ok().map(|y| (x, y)))
                    .collect()
            };
            if let (Some(examples), Some(hidden)) = (run(&shown), run(&hidden)) {
                return CodeTask {
                    target,
                    examples,
                    hidden,
                };
            }
        }
    }
}

/// `n` distinct sorted inputs from `range`, none in `exclude`.
fn distinct_inputs<R: Rng + ?Sized>(
    rng: &mut R,
    range: std::ops::RangeInclusive<i64>,
    n: usize,
    exclude: &[i64],
) -> Vec<i64> {
    let mut pool: Vec<i64> = range.filter(|x| !exclude.contains(x)).collect();
    let mut chosen = Vec::with_capacity(n);
    while chosen.len() < n && !pool.is_empty() {
        chosen.push(pool.swap_remove(rng.random_range(0..pool.len())));
    }
    chosen.sort_unstable();
    chosen
}

fn int(n: i64) -> Expr {
    Expr::Int(n)
}

/// `e + b`, `e - |b|` or `e` for `b = 0`.
fn plus_const(e: Expr, b: i64) -> Expr {
    match b {
        0 => e,
        b if b > 0 => Expr::bin(BinOp::Add, e, int(b)),
        b => Expr::bin(BinOp::Sub, e, int(-b)),
    }
}

/// `x` or `a * x`.
fn times_x(a: i64) -> Expr {
    if a == 1 {
        Expr::x()
    } else {
        Expr::bin(BinOp::Mul, int(a), Expr::x())
    }
}

/// `a * x + b` with a ∈ 1..=5, b ∈ −9..=9, never the bare `x`.
fn linear<R: Rng + ?Sized>(rng: &mut R) -> Expr {
    let a = rng.random_range(1..=5);
    let b = loop {
        let b = rng.random_range(-9..=9);
        if a != 1 || b != 0 {
            break b;
        }
    };
    plus_const(times_x(a), b)
}

fn nonlinear<R: Rng + ?Sized>(rng: &mut R) -> Expr {
    let x = Expr::x;
    match rng.random_range(0..5) {
        0 => plus_const(Expr::bin(BinOp::Mul, x(), x()), rng.random_range(-9..=9)),
        1 => Expr::bin(
            BinOp::Mul,
            Expr::bin(BinOp::Add, x(), int(rng.random_range(1..=9))),
            int(rng.random_range(2..=5)),
        ),
        2 => plus_const(
            Expr::bin(BinOp::Rem, x(), int(rng.random_range(2..=5))),
            rng.random_range(0..=9),
        ),
        3 => plus_const(
            Expr::bin(BinOp::Div, x(), int(rng.random_range(2..=5))),
            rng.random_range(0..=9),
        ),
        _ => Expr::bin(
            BinOp::Sub,
            Expr::bin(BinOp::Mul, x(), x()),
            times_x(rng.random_range(1..=5)),
        ),
    }
}

fn conditional<R: Rng + ?Sized>(rng: &mut R) -> Expr {
    let x = Expr::x;
    let branch = |c, a, b| Expr::If(Box::new(c), Box::new(a), Box::new(b));
    match rng.random_range(0..4) {
        0 => {
            let c = rng.random_range(1..=8);
            branch(
                Expr::bin(BinOp::Gt, x(), int(c)),
                Expr::bin(BinOp::Sub, x(), int(c)),
                Expr::bin(BinOp::Sub, int(c), x()),
            )
        }
        1 => branch(
            Expr::bin(BinOp::Eq, Expr::bin(BinOp::Rem, x(), int(2)), int(0)),
            Expr::bin(BinOp::Div, x(), int(2)),
            plus_const(times_x(rng.random_range(2..=3)), rng.random_range(1..=3)),
        ),
        2 => branch(
            Expr::bin(BinOp::Lt, x(), int(rng.random_range(2..=7))),
            int(rng.random_range(0..=9)),
            plus_const(x(), rng.random_range(-5..=5)),
        ),
        _ => {
            let y = || Expr::Var("y".into());
            Expr::Let(
                "y".into(),
                Box::new(Expr::bin(BinOp::Add, x(), int(rng.random_range(1..=5)))),
                Box::new(plus_const(
                    Expr::bin(BinOp::Mul, y(), y()),
                    -rng.random_range(0..=9),
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::parse;
    use crate::seeded::rng_for;

    fn tasks(difficulty: u32, seed: u64, n: usize) -> Vec<CodeTask> {
        let g = CodeGenerator::new(CodeTaskConfig::new(difficulty)).unwrap();
        let mut rng = rng_for(seed, 0);
        (0..n).map(|_| g.generate(&mut rng)).collect()
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(tasks(2, 5, 30), tasks(2, 5, 30));
        assert_ne!(tasks(2, 5, 30), tasks(2, 6, 30));
    }

    #[test]
    fn tasks_are_self_consistent() {
        for difficulty in 1..=3 {
            for task in tasks(difficulty, 11, 200) {
                // The printed target parses back to a program with the same behaviour.
                let reparsed = parse(&task.target.to_string()).unwrap();
                for (x, y) in task.examples.iter().chain(&task.hidden) {
                    assert_eq!(eval(&reparsed, *x, &Limits::default()), Ok(*y));
                }
                assert_eq!(task.examples.len(), 3);
                assert_eq!(task.hidden.len(), 8);
                assert!(
                    task.hidden
                        .iter()
                        .all(|(h, _)| !task.examples.iter().any(|(e, _)| e == h))
                );
                assert!(
                    task.solution().split(' ').count() <= 45,
                    "{}",
                    task.solution()
                );
            }
        }
    }

    #[test]
    fn prompt_and_solution_shapes() {
        let task = CodeTask {
            target: parse("2 * x + 1").unwrap(),
            examples: vec![(1, 3), (2, 5), (4, 9)],
            hidden: vec![(0, 1)],
        };
        assert_eq!(
            task.prompt_text(),
            "f(1) = 3 ; f(2) = 5 ; f(4) = 9 . write f(x)"
        );
        assert_eq!(
            task.solution(),
            "<think> f(1) = 2 * 1 + 1 = 3 </think> <answer> 2 * x + 1 </answer>"
        );
        assert_eq!(
            task.to_prompt("c0").reference,
            Reference::IoCases {
                cases: vec![(0, 1)]
            }
        );
    }

    #[test]
    fn config_validation_names_fields() {
        assert_eq!(
            CodeTaskConfig::new(4).validate().unwrap_err().field,
            "difficulty"
        );
        let c = CodeTaskConfig {
            n_examples: 1,
            ..CodeTaskConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "n_examples");
        let c = CodeTaskConfig {
            n_hidden: 0,
            ..CodeTaskConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "n_hidden");
        let c: CodeTaskConfig = toml::from_str("difficulty = 3").unwrap();
        assert_eq!(c, CodeTaskConfig::new(3));
        assert!(toml::from_str::<CodeTaskConfig>("level = 3").is_err());
    }
}
