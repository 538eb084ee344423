//! The `list` family: functions of a list of ints `numbers`.

use rand::{Rng, RngExt};

use super::template::{Drawn, Template, boolean, cases, int, int_list, ints};

/// Difficulty 1: one operation; difficulty 2: a condition or two operations.
pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        name: "sum_list",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of the numbers in the list numbers".into(),
                "    return sum(numbers)".into(),
                cases(rng, n, list, |xs| (vec![ints(xs)], int(xs.iter().sum()))),
            )
        },
    },
    Template {
        name: "count_greater",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(0..=10);
            Drawn::new(
                format!("returns how many numbers in the list numbers are greater than {k}"),
                format!("    return len([x for x in numbers if x > {k}])"),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(count(xs, |x| x > k)))
                }),
            )
        },
    },
    Template {
        name: "largest",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the largest number in the non-empty list numbers".into(),
                "    return max(numbers)".into(),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(xs.iter().copied().max().unwrap_or(0)))
                }),
            )
        },
    },
    Template {
        name: "first_element",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the first element of the non-empty list numbers".into(),
                "    return numbers[0]".into(),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(xs.first().copied().unwrap_or(0)))
                }),
            )
        },
    },
    Template {
        name: "reverse_list",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns a new list with the elements of numbers in reverse order".into(),
                "    return numbers[::-1]".into(),
                cases(rng, n, list, |xs| {
                    let reversed: Vec<i64> = xs.iter().rev().copied().collect();
                    (vec![ints(xs)], ints(&reversed))
                }),
            )
        },
    },
    Template {
        name: "keep_even",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns a list of the even numbers in numbers, in their original order".into(),
                "    return [x for x in numbers if x % 2 == 0]".into(),
                cases(rng, n, list, |xs| {
                    let even: Vec<i64> = xs.iter().copied().filter(|x| x % 2 == 0).collect();
                    (vec![ints(xs)], ints(&even))
                }),
            )
        },
    },
    Template {
        name: "multiply_each",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(2..=5);
            Drawn::new(
                format!("returns a new list with every element of numbers multiplied by {k}"),
                format!("    return [x * {k} for x in numbers]"),
                cases(rng, n, list, |xs| {
                    let scaled: Vec<i64> = xs.iter().map(|x| x * k).collect();
                    (vec![ints(xs)], ints(&scaled))
                }),
            )
        },
    },
    Template {
        name: "list_length",
        params: "numbers",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the number of elements in the list numbers".into(),
                "    return len(numbers)".into(),
                cases(
                    rng,
                    n,
                    |r| int_list(r, 0..=8, -9..=20),
                    |xs| (vec![ints(xs)], int(len(xs))),
                ),
            )
        },
    },
    Template {
        name: "sum_even_squares",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of the squares of the even numbers in numbers".into(),
                "    return sum(x * x for x in numbers if x % 2 == 0)".into(),
                cases(rng, n, list, |xs| {
                    let sum = xs.iter().filter(|x| *x % 2 == 0).map(|x| x * x).sum();
                    (vec![ints(xs)], int(sum))
                }),
            )
        },
    },
    Template {
        name: "count_in_range",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            let lo = rng.random_range(0..=5);
            let hi = lo + rng.random_range(3..=10);
            Drawn::new(
                format!("returns how many numbers in numbers are between {lo} and {hi} inclusive"),
                format!("    return len([x for x in numbers if {lo} <= x <= {hi}])"),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(count(xs, |x| (lo..=hi).contains(&x))))
                }),
            )
        },
    },
    Template {
        name: "sum_greater",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            let k = rng.random_range(0..=10);
            Drawn::new(
                format!("returns the sum of the numbers in numbers that are greater than {k}"),
                format!("    return sum(x for x in numbers if x > {k})"),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(xs.iter().filter(|x| **x > k).sum()))
                }),
            )
        },
    },
    Template {
        name: "value_range",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the largest number minus the smallest number of the non-empty list \
                 numbers"
                    .into(),
                "    return max(numbers) - min(numbers)".into(),
                cases(rng, n, list, |xs| {
                    let max = xs.iter().copied().max().unwrap_or(0);
                    let min = xs.iter().copied().min().unwrap_or(0);
                    (vec![ints(xs)], int(max - min))
                }),
            )
        },
    },
    Template {
        name: "square_positives",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns a list of the squares of the positive numbers in numbers, in their \
                 original order"
                    .into(),
                "    return [x * x for x in numbers if x > 0]".into(),
                cases(rng, n, list, |xs| {
                    let squares: Vec<i64> = xs.iter().filter(|x| **x > 0).map(|x| x * x).collect();
                    (vec![ints(xs)], ints(&squares))
                }),
            )
        },
    },
    Template {
        name: "count_multiples",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            let k = rng.random_range(2..=5);
            Drawn::new(
                format!("returns how many numbers in numbers are divisible by {k}"),
                format!("    return len([x for x in numbers if x % {k} == 0])"),
                cases(rng, n, list, |xs| {
                    (vec![ints(xs)], int(count(xs, |x| x.rem_euclid(k) == 0)))
                }),
            )
        },
    },
    Template {
        name: "sum_first_last",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of the first and the last element of the non-empty list \
                 numbers"
                    .into(),
                "    return numbers[0] + numbers[-1]".into(),
                cases(rng, n, list, |xs| {
                    let first = xs.first().copied().unwrap_or(0);
                    let last = xs.last().copied().unwrap_or(0);
                    (vec![ints(xs)], int(first + last))
                }),
            )
        },
    },
    Template {
        name: "all_positive",
        params: "numbers",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns True if every number in numbers is positive and False otherwise".into(),
                "    return all(x > 0 for x in numbers)".into(),
                cases(
                    rng,
                    n,
                    |r| {
                        if r.random_bool(0.5) {
                            int_list(r, 1..=6, 1..=20)
                        } else {
                            int_list(r, 1..=6, -5..=20)
                        }
                    },
                    |xs| (vec![ints(xs)], boolean(xs.iter().all(|x| *x > 0))),
                ),
            )
        },
    },
];

/// A non-empty list of 2 to 6 ints in −9..=20.
fn list(rng: &mut dyn Rng) -> Vec<i64> {
    int_list(rng, 2..=6, -9..=20)
}

/// How many elements satisfy `keep`.
fn count(xs: &[i64], keep: impl Fn(i64) -> bool) -> i64 {
    len(&xs.iter().copied().filter(|x| keep(*x)).collect::<Vec<_>>())
}

/// `len(xs)` as an int.
fn len(xs: &[i64]) -> i64 {
    i64::try_from(xs.len()).unwrap_or(i64::MAX)
}
