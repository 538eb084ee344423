//! Templates (how one kind of task is drawn) and the helpers they share: test-case
//! drawing, Python values and the word list of generated strings.

use std::ops::RangeInclusive;

use rand::{Rng, RngExt};

use super::{PyValue, PythonCase, PythonFamily};

/// One kind of task: the function's name, parameters and behaviour are fixed, its
/// constants and test inputs are drawn.
pub(crate) struct Template {
    /// The function name, unique across all families (`add_k`, `count_greater`, …).
    pub(crate) name: &'static str,
    /// The parameter list (`n`, `a, b`, `numbers`, `s`).
    pub(crate) params: &'static str,
    /// 1 (one operation) or 2 (a condition or two operations).
    pub(crate) difficulty: u32,
    /// Draws the constants and `n` test cases.
    pub(crate) build: fn(&mut dyn Rng, usize) -> Drawn,
}

/// What a template draws.
pub(crate) struct Drawn {
    /// What the function does, completing "Write a python function `f(n)` that …".
    pub(crate) does: String,
    /// The reference body, every line indented by four spaces.
    pub(crate) body: String,
    /// The tests, on distinct inputs.
    pub(crate) cases: Vec<PythonCase>,
}

impl Drawn {
    /// A drawn task.
    pub(crate) fn new(does: String, body: String, cases: Vec<PythonCase>) -> Self {
        Self { does, body, cases }
    }
}

/// The templates of `family`, at both difficulties.
pub(crate) fn templates_of(family: PythonFamily) -> &'static [Template] {
    match family {
        PythonFamily::List => super::list::TEMPLATES,
        PythonFamily::String => super::string::TEMPLATES,
        PythonFamily::Arithmetic => super::arithmetic::TEMPLATES,
    }
}

/// Redraws of a whole test set whose expected outputs are all equal.
const REDRAWS: usize = 64;
/// Draws per wanted input before giving up on finding distinct ones.
const TRIES_PER_INPUT: usize = 64;

/// `n` test cases on distinct inputs from `draw`, their arguments and expected result
/// given by `eval`. With `n ≥ 2` the expected results are not all equal (the set is
/// redrawn up to [`REDRAWS`] times), so a function returning a constant fails some test.
pub(crate) fn cases<I: PartialEq>(
    rng: &mut dyn Rng,
    n: usize,
    mut draw: impl FnMut(&mut dyn Rng) -> I,
    eval: impl Fn(&I) -> (Vec<PyValue>, PyValue),
) -> Vec<PythonCase> {
    let mut last = Vec::new();
    for _ in 0..REDRAWS {
        let mut inputs: Vec<I> = Vec::with_capacity(n);
        for _ in 0..n.saturating_mul(TRIES_PER_INPUT) {
            if inputs.len() == n {
                break;
            }
            let input = draw(rng);
            if !inputs.contains(&input) {
                inputs.push(input);
            }
        }
        let drawn: Vec<PythonCase> = inputs
            .iter()
            .map(|input| {
                let (args, expected) = eval(input);
                PythonCase { args, expected }
            })
            .collect();
        if drawn.len() < 2 || drawn.windows(2).any(|w| w[0].expected != w[1].expected) {
            return drawn;
        }
        last = drawn;
    }
    last
}

/// An `int`.
pub(crate) fn int(n: i64) -> PyValue {
    PyValue::Int(n)
}

/// A `bool`.
pub(crate) fn boolean(b: bool) -> PyValue {
    PyValue::Bool(b)
}

/// A `str`.
pub(crate) fn text(s: &str) -> PyValue {
    PyValue::Str(s.to_string())
}

/// A `list` of `int`s.
pub(crate) fn ints(items: &[i64]) -> PyValue {
    PyValue::IntList(items.to_vec())
}

/// A `list` of `str`s.
pub(crate) fn texts(items: &[String]) -> PyValue {
    PyValue::StrList(items.to_vec())
}

/// A list of `len` ints from `values`.
pub(crate) fn int_list(
    rng: &mut dyn Rng,
    len: RangeInclusive<usize>,
    values: RangeInclusive<i64>,
) -> Vec<i64> {
    let n = rng.random_range(len);
    (0..n).map(|_| rng.random_range(values.clone())).collect()
}

/// Words of generated strings: lowercase ASCII letters only, 3 to 7 letters.
pub(crate) const WORDS: [&str; 48] = [
    "apple", "banana", "cat", "dog", "house", "river", "green", "music", "table", "water", "light",
    "stone", "paper", "bread", "cloud", "tiger", "lemon", "chair", "plant", "sun", "moon", "star",
    "tree", "book", "bird", "fish", "rain", "snow", "road", "ship", "garden", "window", "orange",
    "pencil", "rabbit", "summer", "winter", "forest", "island", "rocket", "happy", "quick", "blue",
    "small", "yellow", "train", "cookie", "kitten",
];

/// One word of [`WORDS`].
pub(crate) fn word(rng: &mut dyn Rng) -> String {
    WORDS[rng.random_range(0..WORDS.len())].to_string()
}

/// A count of `words` words of [`WORDS`], joined by single spaces.
pub(crate) fn phrase(rng: &mut dyn Rng, words: RangeInclusive<usize>) -> String {
    let n = rng.random_range(words);
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

/// One of the characters of `letters` (a non-empty ASCII string).
pub(crate) fn letter(rng: &mut dyn Rng, letters: &str) -> char {
    let bytes = letters.as_bytes();
    bytes
        .get(rng.random_range(0..bytes.len().max(1)))
        .map_or('a', |b| char::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded::rng_for;

    #[test]
    fn cases_are_distinct_and_not_constant() {
        let mut rng = rng_for(1, 0);
        for _ in 0..50 {
            // All 0 in about half the draws: the redraws find a set with a 1.
            let c = cases(
                &mut rng,
                3,
                |r| r.random_range(0..=40),
                |&x| (vec![int(x)], int(i64::from(x % 5 == 0))),
            );
            assert_eq!(c.len(), 3);
            assert!(c.windows(2).any(|w| w[0].expected != w[1].expected));
            assert!(c[0].args != c[1].args && c[1].args != c[2].args && c[0].args != c[2].args);
        }
        // Fewer distinct inputs than asked: as many as exist, no endless loop.
        let few = cases(
            &mut rng,
            5,
            |r| r.random_range(0..=1),
            |&x| (vec![int(x)], int(x)),
        );
        assert_eq!(few.len(), 2);
    }

    #[test]
    fn words_are_lowercase_ascii() {
        for w in WORDS {
            assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
            assert!((3..=7).contains(&w.len()), "{w}");
        }
        let mut rng = rng_for(2, 0);
        let p = phrase(&mut rng, 2..=4);
        assert!((2..=4).contains(&p.split(' ').count()), "{p}");
        assert!("xyz".contains(letter(&mut rng, "xyz")));
    }
}
