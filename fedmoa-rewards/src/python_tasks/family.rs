//! The families of Python function-writing tasks.

use serde::{Deserialize, Serialize};

use super::template::{Template, templates_of};

/// A family of Python function-writing tasks. Each has templates at difficulty 1 (one
/// operation) and 2 (a condition or two operations), parameterised by random constants;
/// clients given different families see non-IID code data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PythonFamily {
    /// Functions of a list of ints `numbers`: sum, count above k, maximum, first element,
    /// reverse, keep the even ones, multiply each, length (difficulty 1); sum of squares of
    /// the even ones, count in a range, sum above k, max minus min, squares of the positive
    /// ones, count of multiples of k, first plus last, all positive (difficulty 2).
    List,
    /// Functions of a string `s` of lowercase words: reverse, uppercase, count a letter,
    /// first character, repeat k times, starts with a letter, add a suffix, length
    /// (difficulty 1); count vowels, words longer than k, capitalise words, count words,
    /// palindrome, initials, replace a letter, longest word (difficulty 2).
    String,
    /// Functions of one or two ints: plus k, times k, square, is even, divisible by k, max of
    /// two, absolute difference, last digit (difficulty 1); clamp, `a * n + b`, sign, sum of
    /// two squares, sum 1..=n, in a range, digit sum, a Collatz step (difficulty 2).
    Arithmetic,
}

impl PythonFamily {
    /// Every family, in declaration order.
    pub const ALL: [PythonFamily; 3] = [
        PythonFamily::List,
        PythonFamily::String,
        PythonFamily::Arithmetic,
    ];

    /// The function names of the family's templates at `difficulty` (1 or 2; none
    /// otherwise). Each template's function name is unique across all families.
    pub fn template_names(self, difficulty: u32) -> Vec<&'static str> {
        self.templates(difficulty).map(|t| t.name).collect()
    }

    /// The family's templates at `difficulty`.
    pub(crate) fn templates(self, difficulty: u32) -> impl Iterator<Item = &'static Template> {
        templates_of(self)
            .iter()
            .filter(move |t| t.difficulty == difficulty)
    }
}
