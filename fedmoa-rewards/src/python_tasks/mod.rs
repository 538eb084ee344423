//! Python function-writing tasks: a seeded generator of short, MBPP-shaped problems
//! (`type = "python"` in a task mix), easy enough for a small LM to solve some of them.
//!
//! Three [`PythonFamily`]s (`list`, `string`, `arithmetic`), each with eight templates at
//! difficulty 1 (one operation: `add_k`, `reverse_list`, `to_uppercase`, …) and eight at
//! difficulty 2 (a condition or two operations: `clamp`, `sum_even_squares`,
//! `count_vowels`, …), parameterised by random constants and test inputs. Every task
//! becomes a `"code"` prompt like an MBPP one (statement plus the first test; the asserts
//! as a [`fedmoa_core::Reference::PythonTests`]; a reference solution), scored by the
//! sandboxed `python_tests` reward. Generated strings hold lowercase ASCII letters and
//! spaces only.
//!
//! ```
//! use fedmoa_rewards::python_tasks::{PythonFamily, PythonTaskConfig, PythonTaskGenerator};
//!
//! let config = PythonTaskConfig::new(vec![PythonFamily::List], 1);
//! let generator = PythonTaskGenerator::new(config)?;
//! let prompts = generator.prompts(4, 7);
//! assert!(prompts[0].text.starts_with("Write a python function `"));
//! assert!(prompts[0].text.contains("\nYour code should pass this test:\nassert "));
//! # Ok::<(), fedmoa_core::ConfigError>(())
//! ```

mod arithmetic;
mod config;
mod family;
mod generator;
mod list;
mod literal;
mod string;
mod template;

pub use config::{MAX_TESTS, PythonTaskConfig};
pub use family::PythonFamily;
pub use generator::{PythonCase, PythonTask, PythonTaskGenerator};
pub use literal::PyValue;
