//! The `string` family: functions of a string `s` of lowercase words separated by single
//! spaces.

use rand::{Rng, RngExt};

use super::template::{
    Drawn, Template, WORDS, boolean, cases, int, letter, phrase, text, texts, word,
};

/// Suffixes of `add_suffix`.
const SUFFIXES: [&str; 8] = ["ing", "ed", "er", "ly", "ness", "ful", "s", "est"];

/// Difficulty 1: one operation; difficulty 2: a condition or two operations.
pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        name: "reverse_string",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the string s reversed".into(),
                "    return s[::-1]".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=3),
                    |s| (vec![text(s)], text(&s.chars().rev().collect::<String>())),
                ),
            )
        },
    },
    Template {
        name: "to_uppercase",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns s with every letter in uppercase".into(),
                "    return s.upper()".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=3),
                    |s| (vec![text(s)], text(&s.to_ascii_uppercase())),
                ),
            )
        },
    },
    Template {
        name: "count_char",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            let c = letter(rng, "aeinorst");
            Drawn::new(
                format!("returns how many times the letter '{c}' appears in s"),
                format!("    return s.count('{c}')"),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=4),
                    |s| (vec![text(s)], int(count_chars(s, |x| x == c))),
                ),
            )
        },
    },
    Template {
        name: "first_char",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the first character of the non-empty string s".into(),
                "    return s[0]".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=3),
                    |s| (vec![text(s)], text(s.get(..1).unwrap_or(""))),
                ),
            )
        },
    },
    Template {
        name: "repeat_string",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(2..=4);
            Drawn::new(
                format!("returns s repeated {k} times"),
                format!("    return s * {k}"),
                cases(rng, n, word, |s| (vec![text(s)], text(&s.repeat(k)))),
            )
        },
    },
    Template {
        name: "starts_with_letter",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            let c = letter(rng, &first_letters());
            Drawn::new(
                format!("returns True if s starts with the letter '{c}' and False otherwise"),
                format!("    return s.startswith('{c}')"),
                cases(
                    rng,
                    n,
                    |r| word_starting_or_not(r, c),
                    |s| (vec![text(s)], boolean(s.starts_with(c))),
                ),
            )
        },
    },
    Template {
        name: "add_suffix",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            let suffix = SUFFIXES[rng.random_range(0..SUFFIXES.len())];
            Drawn::new(
                format!("returns s followed by '{suffix}'"),
                format!("    return s + '{suffix}'"),
                cases(rng, n, word, |s| {
                    (vec![text(s)], text(&format!("{s}{suffix}")))
                }),
            )
        },
    },
    Template {
        name: "string_length",
        params: "s",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the number of characters in s".into(),
                "    return len(s)".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=3),
                    |s| (vec![text(s)], int(count_chars(s, |_| true))),
                ),
            )
        },
    },
    Template {
        name: "count_vowels",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns how many vowels (a, e, i, o, u) s contains".into(),
                "    return sum(1 for c in s if c in 'aeiou')".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=4),
                    |s| (vec![text(s)], int(count_chars(s, |c| "aeiou".contains(c)))),
                ),
            )
        },
    },
    Template {
        name: "words_longer_than",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            let k = rng.random_range(4..=5);
            Drawn::new(
                format!(
                    "returns a list of the words of s that have more than {k} letters, in their \
                     original order"
                ),
                format!("    return [w for w in s.split() if len(w) > {k}]"),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 3..=5),
                    |s| {
                        let long: Vec<String> = s
                            .split_whitespace()
                            .filter(|w| w.len() > k)
                            .map(str::to_string)
                            .collect();
                        (vec![text(s)], texts(&long))
                    },
                ),
            )
        },
    },
    Template {
        name: "capitalize_words",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns s with the first letter of every word in uppercase".into(),
                "    return ' '.join(w.capitalize() for w in s.split(' '))".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 2..=4),
                    |s| {
                        let words: Vec<String> = s.split(' ').map(capitalize).collect();
                        (vec![text(s)], text(&words.join(" ")))
                    },
                ),
            )
        },
    },
    Template {
        name: "count_words",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the number of words in s, where words are separated by spaces".into(),
                "    return len(s.split())".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=6),
                    |s| {
                        let words = s.split_whitespace().count();
                        (vec![text(s)], int(i64::try_from(words).unwrap_or(i64::MAX)))
                    },
                ),
            )
        },
    },
    Template {
        name: "is_palindrome",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns True if s reads the same forwards and backwards and False otherwise"
                    .into(),
                "    return s == s[::-1]".into(),
                cases(rng, n, palindrome_or_not, |s| {
                    let reversed: String = s.chars().rev().collect();
                    (vec![text(s)], boolean(*s == reversed))
                }),
            )
        },
    },
    Template {
        name: "initials",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns a string made of the first letter of every word in s".into(),
                "    return ''.join(w[0] for w in s.split())".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 2..=5),
                    |s| {
                        let initials: String = s
                            .split_whitespace()
                            .filter_map(|w| w.chars().next())
                            .collect();
                        (vec![text(s)], text(&initials))
                    },
                ),
            )
        },
    },
    Template {
        name: "replace_letter",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            let from = letter(rng, "aeiost");
            let to = letter(rng, "xyzqk");
            Drawn::new(
                format!("returns s with every letter '{from}' replaced by the letter '{to}'"),
                format!("    return s.replace('{from}', '{to}')"),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 1..=3),
                    |s| (vec![text(s)], text(&s.replace(from, &to.to_string()))),
                ),
            )
        },
    },
    Template {
        name: "longest_word",
        params: "s",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the longest word in s (the first one if several words are equally \
                 long)"
                    .into(),
                "    return max(s.split(), key=len)".into(),
                cases(
                    rng,
                    n,
                    |r| phrase(r, 2..=5),
                    |s| {
                        let mut longest = "";
                        for w in s.split_whitespace() {
                            if w.len() > longest.len() {
                                longest = w;
                            }
                        }
                        (vec![text(s)], text(longest))
                    },
                ),
            )
        },
    },
];

/// How many characters of `s` satisfy `keep`.
fn count_chars(s: &str, keep: impl Fn(char) -> bool) -> i64 {
    i64::try_from(s.chars().filter(|c| keep(*c)).count()).unwrap_or(i64::MAX)
}

/// `word` with its first letter in uppercase (Python's `str.capitalize` on lowercase
/// ASCII).
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The distinct first letters of [`WORDS`], in order.
fn first_letters() -> String {
    let mut letters = String::new();
    for w in WORDS {
        if let Some(c) = w.chars().next()
            && !letters.contains(c)
        {
            letters.push(c);
        }
    }
    letters
}

/// With even odds, a word starting with `c` (there is one: `c` is a first letter of
/// [`WORDS`]) or any word.
fn word_starting_or_not(rng: &mut dyn Rng, c: char) -> String {
    let starting: Vec<&str> = WORDS.iter().copied().filter(|w| w.starts_with(c)).collect();
    if !starting.is_empty() && rng.random_bool(0.5) {
        starting[rng.random_range(0..starting.len())].to_string()
    } else {
        word(rng)
    }
}

/// With even odds, a palindrome made from a word (`star` + `rats` or `star` + `ats`)
/// or a word.
fn palindrome_or_not(rng: &mut dyn Rng) -> String {
    let w = word(rng);
    if !rng.random_bool(0.5) {
        return w;
    }
    let reversed: String = w.chars().rev().collect();
    if rng.random_bool(0.5) {
        w + &reversed
    } else {
        w + reversed.get(1..).unwrap_or("")
    }
}
