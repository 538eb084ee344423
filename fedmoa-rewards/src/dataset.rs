//! Building a client's train / validation / test prompts from a [`TaskMix`].

use std::collections::HashSet;

use fedmoa_core::{Prompt, Split};
use rand::{Rng, RngExt};

use crate::DataError;
use crate::code::CodeGenerator;
use crate::math::gsm8k::{DATA_DIR_VAR, data_dir};
use crate::math::{Gsm8kProblem, MathGenerator, load_gsm8k};
use crate::mbpp::{MbppProblem, load_mbpp, mbpp_path};
use crate::python_tasks::PythonTaskGenerator;
use crate::seeded::rng_for;
use crate::task::{TaskMix, TaskSpec};

/// A client's private prompts, split into train, validation and test: the one client-data
/// type of the workspace (the GRPO trainer takes it as it is). A [`TaskMix`] builds one in
/// which no prompt text appears twice, within or across splits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Prompts GRPO samples from (ids `train-0`, `train-1`, … when generated).
    pub train: Vec<Prompt>,
    /// Held-out prompts for the accuracy reported to the server (`valid-…`).
    pub validation: Vec<Prompt>,
    /// Prompts for final reporting only, never for tuning (`test-…`).
    pub test: Vec<Prompt>,
}

impl Dataset {
    /// Splits `prompts` in order: the first `n_validation` to validation, the next `n_test`
    /// to test, the rest to train.
    ///
    /// # Errors
    /// [`DataError::Config`] on `prompts` when fewer than `n_validation + n_test + 1`
    /// prompts are given.
    pub fn from_prompts(
        mut prompts: Vec<Prompt>,
        n_validation: usize,
        n_test: usize,
    ) -> Result<Self, DataError> {
        if prompts.len() <= n_validation.saturating_add(n_test) {
            return Err(DataError::Config(fedmoa_core::ConfigError::new(
                "prompts",
                format!(
                    "{} prompts cannot give {n_validation} validation, {n_test} test and any train",
                    prompts.len()
                ),
            )));
        }
        let train = prompts.split_off(n_validation + n_test);
        let test = prompts.split_off(n_validation);
        Ok(Self {
            train,
            validation: prompts,
            test,
        })
    }

    /// The prompts of one split.
    pub fn get(&self, split: Split) -> &[Prompt] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }

    /// Every prompt text and reference solution (for training a tokenizer).
    pub fn texts(&self) -> Vec<String> {
        [&self.train, &self.validation, &self.test]
            .into_iter()
            .flatten()
            .flat_map(|p| std::iter::once(p.text.clone()).chain(p.solution.clone()))
            .collect()
    }
}

/// Consecutive draws without a new distinct prompt after which a mix counts as exhausted.
pub const MAX_MISSES: usize = 10_000;

/// A ready-to-draw prompt source.
enum Source {
    Math(MathGenerator),
    Code(CodeGenerator),
    /// GSM8K problems in a seeded order, drawn without replacement.
    Gsm8k(Vec<Gsm8kProblem>),
    /// MBPP tasks in a seeded order, drawn without replacement; with challenge tests?
    Mbpp(Vec<MbppProblem>, bool),
    Python(PythonTaskGenerator),
}

impl Source {
    fn open<R: Rng + ?Sized>(spec: &TaskSpec, rng: &mut R) -> Result<Self, DataError> {
        Ok(match spec {
            TaskSpec::Math(c) => Source::Math(MathGenerator::new(c.clone())?),
            TaskSpec::Code(c) => Source::Code(CodeGenerator::new(c.clone())?),
            TaskSpec::Python(c) => Source::Python(PythonTaskGenerator::new(c.clone())?),
            TaskSpec::Gsm8k(c) => {
                let mut problems = load_gsm8k(&c.split.path_in(&resolve_dir(c.dir.as_ref())?))?;
                shuffle(&mut problems, rng);
                Source::Gsm8k(problems)
            }
            TaskSpec::Mbpp(c) => {
                let path = mbpp_path(&resolve_dir(c.dir.as_ref())?);
                let mut problems = load_mbpp(&path, Some(c.split))?;
                shuffle(&mut problems, rng);
                Source::Mbpp(problems, c.challenge_tests)
            }
        })
    }

    fn draw<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<Prompt> {
        match self {
            Source::Math(g) => Some(g.generate(rng).to_prompt("")),
            Source::Code(g) => Some(g.generate(rng).to_prompt("")),
            Source::Python(g) => Some(g.generate(rng).to_prompt("")),
            Source::Gsm8k(problems) => problems.pop().map(|p| p.to_prompt("")),
            Source::Mbpp(problems, challenge) => {
                problems.pop().map(|p| p.to_prompt("", *challenge))
            }
        }
    }
}

/// The configured data directory, else `$FEDMOA_DATA_DIR`.
fn resolve_dir(dir: Option<&std::path::PathBuf>) -> Result<std::path::PathBuf, DataError> {
    match dir {
        Some(dir) => Ok(dir.clone()),
        None => data_dir().ok_or(DataError::NoDataDir { var: DATA_DIR_VAR }),
    }
}

/// Fisher–Yates with the dataset's RNG (items are then drawn from the back).
fn shuffle<T, R: Rng + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.random_range(0..=i));
    }
}

impl TaskMix {
    /// Draws `n_train + n_valid + n_test` distinct prompts from the mix with `seed` and
    /// splits them; the same seed gives the same dataset.
    ///
    /// # Errors
    /// [`DataError::Config`] for an invalid mix, GSM8K loading errors, and
    /// [`DataError::Exhausted`] when the sources cannot produce enough distinct prompts
    /// (after [`MAX_MISSES`] draws in a row without a new one).
    pub fn build_dataset(
        &self,
        seed: u64,
        n_train: usize,
        n_valid: usize,
        n_test: usize,
    ) -> Result<Dataset, DataError> {
        self.validate()?;
        let mut rng = rng_for(seed, 0);
        let mut sources = self
            .components()
            .iter()
            .map(|c| Source::open(&c.task, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let weights: Vec<f64> = self
            .components()
            .iter()
            .map(|c| f64::from(c.weight))
            .collect();
        let total_weight: f64 = weights.iter().sum();
        let total = n_train.saturating_add(n_valid).saturating_add(n_test);
        // Preallocate modestly: an absurd request must fail with `Exhausted`, not abort.
        let mut seen = HashSet::with_capacity(total.min(1 << 16));
        let mut prompts = Vec::with_capacity(total.min(1 << 16));
        let mut misses = 0;
        while prompts.len() < total && misses < MAX_MISSES {
            let k = weighted_index(&weights, rng.random_range(0.0..total_weight));
            match sources[k].draw(&mut rng) {
                Some(p) if seen.insert(p.text.clone()) => {
                    prompts.push(p);
                    misses = 0;
                }
                _ => misses += 1,
            }
        }
        if prompts.len() < total {
            return Err(DataError::Exhausted {
                requested: total,
                produced: prompts.len(),
            });
        }
        let mut rest = prompts.into_iter();
        let mut take = |n: usize, name: &str| -> Vec<Prompt> {
            rest.by_ref()
                .take(n)
                .enumerate()
                .map(|(i, p)| Prompt {
                    id: format!("{name}-{i}"),
                    ..p
                })
                .collect()
        };
        Ok(Dataset {
            train: take(n_train, "train"),
            validation: take(n_valid, "valid"),
            test: take(n_test, "test"),
        })
    }
}

/// The index whose cumulative weight first exceeds `u` (zero weights are never chosen).
fn weighted_index(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc && *w > 0.0 {
            return i;
        }
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::CodeTaskConfig;
    use crate::math::{MathFamily, MathTaskConfig};
    use crate::task::MixComponent;

    fn mix() -> TaskMix {
        TaskMix(vec![
            MixComponent {
                weight: 3.0,
                task: TaskSpec::Math(MathTaskConfig::new(vec![MathFamily::AddSub])),
            },
            MixComponent {
                weight: 1.0,
                task: TaskSpec::Code(CodeTaskConfig::new(2)),
            },
        ])
    }

    #[test]
    fn splits_are_disjoint_sized_and_deterministic() {
        let d = mix().build_dataset(1, 200, 50, 50).unwrap();
        assert_eq!(
            (d.train.len(), d.validation.len(), d.test.len()),
            (200, 50, 50)
        );
        let texts: HashSet<&str> = d
            .train
            .iter()
            .chain(&d.validation)
            .chain(&d.test)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(texts.len(), 300);
        assert_eq!(d.validation[3].id, "valid-3");
        assert_eq!(d, mix().build_dataset(1, 200, 50, 50).unwrap());
        assert_ne!(d, mix().build_dataset(2, 200, 50, 50).unwrap());
        // Weight 3 : 1 → about 75 % math; allow a wide band.
        let math = d.train.iter().filter(|p| p.task.as_str() == "math").count();
        assert!((120..=180).contains(&math), "{math} math prompts of 200");
        assert_eq!(d.get(Split::Test).len(), 50);
        assert_eq!(d.texts().len(), 600);
    }

    #[test]
    fn small_spaces_are_exhausted_not_looped() {
        // Difficulty-1 code tasks with 2 shown inputs: at most 94 functions × 45 input pairs = 4230 prompts exist.
        let tiny = TaskMix::single(TaskSpec::Code(CodeTaskConfig {
            n_examples: 2,
            ..CodeTaskConfig::new(1)
        }));
        match tiny.build_dataset(0, 10_000, 0, 0) {
            Err(DataError::Exhausted {
                requested: 10_000,
                produced,
            }) => assert!(produced > 100),
            other => panic!(
                "expected exhaustion, got {:?}",
                other.map(|d| d.train.len())
            ),
        }
        // Absurd sizes saturate instead of overflowing or preallocating.
        assert!(matches!(
            tiny.build_dataset(0, usize::MAX, usize::MAX, 1),
            Err(DataError::Exhausted {
                requested: usize::MAX,
                ..
            })
        ));
    }

    #[test]
    fn weighted_index_by_hand() {
        // Cumulative weights 1, 1, 4: u = 0.5 → 0, u = 1.0 → 2 (weight 0 skipped), u = 3.9 → 2.
        let w = [1.0, 0.0, 3.0];
        assert_eq!(weighted_index(&w, 0.5), 0);
        assert_eq!(weighted_index(&w, 1.0), 2);
        assert_eq!(weighted_index(&w, 3.9), 2);
        assert_eq!(weighted_index(&w, 4.0), 2);
    }

    #[test]
    fn python_tasks_build_a_dataset() {
        let spec = TaskSpec::Python(crate::python_tasks::PythonTaskConfig::default());
        let d = TaskMix::single(spec.clone())
            .build_dataset(3, 60, 10, 10)
            .unwrap();
        assert_eq!(
            d,
            TaskMix::single(spec).build_dataset(3, 60, 10, 10).unwrap()
        );
        let all: Vec<&Prompt> = d.train.iter().chain(&d.validation).chain(&d.test).collect();
        assert_eq!(all.len(), 80);
        for p in all {
            assert_eq!(p.task.as_str(), "code");
            assert!(matches!(
                &p.reference,
                fedmoa_core::Reference::PythonTests { setup, asserts }
                    if setup.is_empty() && asserts.len() == 3
            ));
            assert!(
                p.solution
                    .as_deref()
                    .is_some_and(|s| s.starts_with("```python\ndef "))
            );
        }
    }

    #[test]
    fn mbpp_with_a_missing_directory_is_an_error() {
        let spec = TaskSpec::Mbpp(crate::task::MbppTaskConfig {
            split: crate::mbpp::MbppSplit::Train,
            dir: Some("/nonexistent-fedmoa".into()),
            challenge_tests: false,
        });
        assert!(matches!(
            TaskMix::single(spec).build_dataset(0, 1, 0, 0),
            Err(DataError::Io { .. })
        ));
    }

    #[test]
    fn gsm8k_without_a_directory_is_an_error() {
        let spec = TaskSpec::Gsm8k(crate::task::Gsm8kTaskConfig {
            split: crate::math::Gsm8kSplit::Test,
            dir: Some("/nonexistent-fedmoa".into()),
        });
        assert!(matches!(
            TaskMix::single(spec).build_dataset(0, 1, 0, 0),
            Err(DataError::Io { .. })
        ));
    }

    #[test]
    fn from_prompts_splits_in_order() {
        let prompts: Vec<Prompt> = (0..5)
            .map(|i| Prompt {
                id: format!("p{i}"),
                task: "math".into(),
                text: "q".into(),
                reference: fedmoa_core::Reference::None,
                solution: None,
            })
            .collect();
        let d = Dataset::from_prompts(prompts.clone(), 2, 1).unwrap();
        assert_eq!(d.validation, prompts[0..2]);
        assert_eq!(d.test, prompts[2..3]);
        assert_eq!(d.train, prompts[3..5]);
        let err = Dataset::from_prompts(prompts, 3, 2).unwrap_err();
        assert!(err.to_string().contains("5 prompts cannot give"), "{err}");
    }
}
