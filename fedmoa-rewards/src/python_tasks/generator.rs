//! The seeded generator of Python function-writing tasks.
//!
//! A task names a function and says what it returns; the prompt is MBPP's shape, the
//! statement and the first test as a signature hint:
//!
//! ```text
//! Write a python function `add_k(n)` that returns n plus 7.
//! Your code should pass this test:
//! assert add_k(3) == 10
//! ```
//!
//! The reference is `n_tests` asserts on distinct inputs whose expected values are
//! computed here, in Rust, from the template's semantics; the reference solution is a
//! fenced Python block (`def add_k(n):\n    return n + 7`).

use fedmoa_core::{ConfigError, Prompt, Reference};
use rand::Rng;

use super::literal::call_args;
use super::template::{Template, templates_of};
use super::{PyValue, PythonFamily, PythonTaskConfig};
use crate::mbpp::{prompt_text, solution_text};
use crate::seeded::{pick, rng_for};

/// One test of a generated task: `assert function(args) == expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonCase {
    /// The call's arguments.
    pub args: Vec<PyValue>,
    /// The value the call must return.
    pub expected: PyValue,
}

impl PythonCase {
    /// `assert function(args) == expected`, in Python.
    pub fn assert_line(&self, function: &str) -> String {
        format!(
            "assert {function}({}) == {}",
            call_args(&self.args),
            self.expected
        )
    }
}

/// One generated task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonTask {
    /// The family it was drawn from.
    pub family: PythonFamily,
    /// Its template's difficulty (1 or 2).
    pub difficulty: u32,
    /// The function to write (also the template's name, e.g. `count_greater`).
    pub function: &'static str,
    /// `Write a python function `add_k(n)` that returns n plus 7.`
    pub statement: String,
    /// The reference implementation (`def add_k(n):\n    return n + 7`).
    pub code: String,
    /// The tests, on distinct inputs; the first is shown in the prompt.
    pub cases: Vec<PythonCase>,
}

impl PythonTask {
    /// The tests as `assert` lines.
    pub fn asserts(&self) -> Vec<String> {
        self.cases
            .iter()
            .map(|c| c.assert_line(self.function))
            .collect()
    }

    /// The prompt: the statement and the first test, as MBPP's
    /// ([`crate::mbpp::prompt_text`]).
    pub fn prompt_text(&self) -> String {
        let first = self.cases.first().map(|c| c.assert_line(self.function));
        prompt_text(&self.statement, first.as_deref())
    }

    /// The reference solution: [`PythonTask::code`] as a fenced Python block.
    pub fn solution(&self) -> String {
        solution_text(&self.code)
    }

    /// The task as a `"code"` prompt with a [`Reference::PythonTests`] reference (no
    /// setup, every assert) and the reference solution, like an MBPP prompt.
    pub fn to_prompt(&self, id: impl Into<String>) -> Prompt {
        Prompt {
            id: id.into(),
            task: "code".into(),
            text: self.prompt_text(),
            reference: Reference::PythonTests {
                setup: String::new(),
                asserts: self.asserts(),
            },
            solution: Some(self.solution()),
        }
    }
}

/// Draws tasks from a validated [`PythonTaskConfig`].
#[derive(Debug, Clone)]
pub struct PythonTaskGenerator {
    config: PythonTaskConfig,
}

impl PythonTaskGenerator {
    /// A generator for `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the config is invalid.
    pub fn new(config: PythonTaskConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &PythonTaskConfig {
        &self.config
    }

    /// `n` tasks drawn from `seed`, as prompts with ids `py{seed}-{i}` (the same seed gives
    /// the same prompts).
    pub fn prompts(&self, n: usize, seed: u64) -> Vec<Prompt> {
        let mut rng = rng_for(seed, 0);
        (0..n)
            .map(|i| self.generate(&mut rng).to_prompt(format!("py{seed}-{i}")))
            .collect()
    }

    /// Draws one task: a configured family, then one of its templates at the configured
    /// difficulty, uniformly; the same RNG state gives the same task.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> PythonTask {
        let mut rng = rng;
        let rng: &mut dyn Rng = &mut rng;
        let family = *pick(rng, &self.config.families);
        let templates: Vec<&Template> = family.templates(self.config.difficulty).collect();
        // Validation keeps the difficulty at 1 or 2, where every family has templates.
        let template = *pick(rng, templates.as_slice());
        build(family, template, rng, self.config.n_tests)
    }

    /// Draws one task of the template whose function is `function` (of any family and
    /// difficulty; see [`PythonFamily::template_names`]) with the configured number of
    /// tests, or `None` when there is no such template.
    pub fn generate_from<R: Rng + ?Sized>(
        &self,
        function: &str,
        rng: &mut R,
    ) -> Option<PythonTask> {
        let mut rng = rng;
        let rng: &mut dyn Rng = &mut rng;
        PythonFamily::ALL.into_iter().find_map(|family| {
            templates_of(family)
                .iter()
                .find(|t| t.name == function)
                .map(|t| build(family, t, rng, self.config.n_tests))
        })
    }
}

/// Draws a task of `template` with `n_tests` tests.
fn build(
    family: PythonFamily,
    template: &Template,
    rng: &mut dyn Rng,
    n_tests: usize,
) -> PythonTask {
    let drawn = (template.build)(rng, n_tests);
    let (name, params) = (template.name, template.params);
    PythonTask {
        family,
        difficulty: template.difficulty,
        function: name,
        statement: format!(
            "Write a python function `{name}({params})` that {}.",
            drawn.does
        ),
        code: format!("def {name}({params}):\n{}", drawn.body),
        cases: drawn.cases,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::python_tasks::MAX_TESTS;

    fn all_names() -> Vec<&'static str> {
        PythonFamily::ALL
            .iter()
            .flat_map(|f| [1, 2].into_iter().flat_map(move |d| f.template_names(d)))
            .collect()
    }

    fn generator(families: Vec<PythonFamily>, difficulty: u32) -> PythonTaskGenerator {
        PythonTaskGenerator::new(PythonTaskConfig::new(families, difficulty)).unwrap()
    }

    #[test]
    fn deterministic_per_seed() {
        for difficulty in [1, 2] {
            let g = generator(PythonFamily::ALL.to_vec(), difficulty);
            assert_eq!(g.prompts(40, 5), g.prompts(40, 5));
            assert_ne!(g.prompts(40, 5), g.prompts(40, 6));
        }
        let g = generator(PythonFamily::ALL.to_vec(), 1);
        let a = g.generate_from("clamp", &mut rng_for(3, 0));
        assert_eq!(a, g.generate_from("clamp", &mut rng_for(3, 0)));
        assert_ne!(a, g.generate_from("clamp", &mut rng_for(4, 0)));
    }

    #[test]
    fn hand_checked_examples() {
        let g = generator(PythonFamily::ALL.to_vec(), 1);
        let task = |name: &str| g.generate_from(name, &mut rng_for(42, 0)).unwrap();

        // 47 + 14 = 61, 10 + 14 = 24, 24 + 14 = 38.
        let t = task("add_k");
        assert_eq!(
            t.prompt_text(),
            "Write a python function `add_k(n)` that returns n plus 14.\n\
             Your code should pass this test:\nassert add_k(47) == 61"
        );
        assert_eq!(
            t.asserts(),
            [
                "assert add_k(47) == 61",
                "assert add_k(10) == 24",
                "assert add_k(24) == 38"
            ]
        );
        assert_eq!(
            t.solution(),
            "```python\ndef add_k(n):\n    return n + 14\n```"
        );
        assert_eq!((t.family, t.difficulty), (PythonFamily::Arithmetic, 1));

        // Greater than 7: [14]; [15, 14]; [8, 14, 17].
        let t = task("count_greater");
        assert_eq!(
            t.statement,
            "Write a python function `count_greater(numbers)` that returns how many numbers \
             in the list numbers are greater than 7."
        );
        assert_eq!(
            t.asserts(),
            [
                "assert count_greater([14, 1]) == 1",
                "assert count_greater([-1, -5, 0, 15, 14]) == 2",
                "assert count_greater([7, 2, 8, 14, 17, 0]) == 3"
            ]
        );

        let t = task("reverse_string");
        assert_eq!(
            t.asserts(),
            [
                "assert reverse_string('orange') == 'egnaro'",
                "assert reverse_string('train') == 'niart'",
                "assert reverse_string('moon lemon garden') == 'nedrag nomel noom'"
            ]
        );

        // Difficulty 2: limited to 7..=27.
        let t = task("clamp");
        assert_eq!(
            t.asserts(),
            [
                "assert clamp(13) == 13",
                "assert clamp(23) == 23",
                "assert clamp(6) == 7"
            ]
        );
        assert_eq!(
            t.code,
            "def clamp(n):\n    if n < 7:\n        return 7\n    if n > 27:\n        return 27\n    return n"
        );
        assert_eq!((t.family, t.difficulty), (PythonFamily::Arithmetic, 2));

        // 14² = 196; 0² + 14² = 196; 2² + 8² + 14² + 0² = 4 + 64 + 196 = 264.
        let t = task("sum_even_squares");
        assert_eq!(
            t.asserts(),
            [
                "assert sum_even_squares([-5, 14, 1]) == 196",
                "assert sum_even_squares([-1, -5, 0, 15, 14]) == 196",
                "assert sum_even_squares([7, 2, 8, 14, 17, 0]) == 264"
            ]
        );

        // `light` + `hgil` reads the same both ways.
        let t = task("is_palindrome");
        assert_eq!(
            t.asserts(),
            [
                "assert is_palindrome('lighthgil') == True",
                "assert is_palindrome('moon') == False",
                "assert is_palindrome('summer') == False"
            ]
        );
        let p = t.to_prompt("py-0");
        assert_eq!((p.id.as_str(), p.task.as_str()), ("py-0", "code"));
        assert_eq!(
            p.reference,
            Reference::PythonTests {
                setup: String::new(),
                asserts: t.asserts()
            }
        );
        assert_eq!(p.solution, Some(t.solution()));
    }

    #[test]
    fn every_family_has_eight_templates_per_difficulty_with_unique_names() {
        for family in PythonFamily::ALL {
            assert_eq!(family.template_names(1).len(), 8, "{family:?}");
            assert_eq!(family.template_names(2).len(), 8, "{family:?}");
            assert!(family.template_names(3).is_empty());
        }
        let names = all_names();
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
        let g = generator(vec![PythonFamily::List], 1);
        assert_eq!(g.generate_from("no_such_task", &mut rng_for(0, 0)), None);
    }

    #[test]
    fn every_template_gives_well_formed_tasks() {
        let lowercase =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b == b' ' || b.is_ascii_lowercase());
        for n_tests in [1, 2, 3, MAX_TESTS] {
            let g =
                PythonTaskGenerator::new(PythonTaskConfig::default().with_tests(n_tests)).unwrap();
            for name in all_names() {
                for seed in 0..8 {
                    let t = g.generate_from(name, &mut rng_for(seed, 0)).unwrap();
                    assert_eq!(t.function, name);
                    assert_eq!(t.cases.len(), n_tests, "{name}");
                    let inputs: BTreeSet<String> =
                        t.cases.iter().map(|c| call_args(&c.args)).collect();
                    assert_eq!(inputs.len(), n_tests, "{name}: repeated inputs");
                    if n_tests >= 2 {
                        assert!(
                            t.cases.iter().any(|c| c.expected != t.cases[0].expected),
                            "{name}: constant outputs {:?}",
                            t.asserts()
                        );
                    }
                    // Arguments hold lowercase letters and spaces; results may be uppercased.
                    for value in t.cases.iter().flat_map(|c| &c.args) {
                        if let PyValue::Str(s) = value {
                            assert!(lowercase(s), "{name}: {s:?}");
                        }
                    }
                    for c in &t.cases {
                        let shown = c.expected.to_string();
                        assert!(
                            shown
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b" '[],-".contains(&b)),
                            "{name}: {shown}"
                        );
                    }
                    let head = format!("Write a python function `{name}(");
                    assert!(t.statement.starts_with(&head), "{}", t.statement);
                    assert!(t.statement.ends_with('.'), "{}", t.statement);
                    assert!(t.code.starts_with(&format!("def {name}(")), "{}", t.code);
                    assert!(t.code.lines().skip(1).all(|l| l.starts_with("    ")));
                    let first = t.asserts().swap_remove(0);
                    assert!(t.prompt_text().ends_with(&format!("\n{first}")));
                }
            }
        }
    }

    #[test]
    fn draws_follow_the_config() {
        let g = generator(vec![PythonFamily::String], 2);
        let mut rng = rng_for(9, 0);
        let mut seen = BTreeSet::new();
        for _ in 0..300 {
            let t = g.generate(&mut rng);
            assert_eq!((t.family, t.difficulty), (PythonFamily::String, 2));
            seen.insert(t.function);
        }
        assert_eq!(seen.len(), 8, "{seen:?}");
        let g = generator(PythonFamily::ALL.to_vec(), 1);
        let families: BTreeSet<PythonFamily> =
            (0..60).map(|_| g.generate(&mut rng).family).collect();
        assert_eq!(families.len(), 3);
        assert!(PythonTaskGenerator::new(PythonTaskConfig::new(vec![], 1)).is_err());
    }
}
