//! The `arithmetic` family: functions of one or two ints.

use rand::{Rng, RngExt};

use super::template::{Drawn, Template, boolean, cases, int};

/// Difficulty 1: one operation; difficulty 2: a condition or two operations.
pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        name: "add_k",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(2..=20);
            Drawn::new(
                format!("returns n plus {k}"),
                format!("    return n + {k}"),
                cases(
                    rng,
                    n,
                    |r| r.random_range(-20..=50),
                    |&x| (vec![int(x)], int(x + k)),
                ),
            )
        },
    },
    Template {
        name: "multiply_by_k",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(2..=9);
            Drawn::new(
                format!("returns n multiplied by {k}"),
                format!("    return n * {k}"),
                cases(
                    rng,
                    n,
                    |r| r.random_range(-20..=30),
                    |&x| (vec![int(x)], int(x * k)),
                ),
            )
        },
    },
    Template {
        name: "square",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the square of n".into(),
                "    return n * n".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(-15..=15),
                    |&x| (vec![int(x)], int(x * x)),
                ),
            )
        },
    },
    Template {
        name: "is_even",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns True if n is even and False otherwise".into(),
                "    return n % 2 == 0".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(-30..=60),
                    |&x| (vec![int(x)], boolean(x.rem_euclid(2) == 0)),
                ),
            )
        },
    },
    Template {
        name: "is_divisible",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            let k = rng.random_range(3..=9);
            Drawn::new(
                format!("returns True if n is divisible by {k} and False otherwise"),
                format!("    return n % {k} == 0"),
                cases(
                    rng,
                    n,
                    |r| multiple_or_not(r, k),
                    |&x| (vec![int(x)], boolean(x.rem_euclid(k) == 0)),
                ),
            )
        },
    },
    Template {
        name: "max_of_two",
        params: "a, b",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the larger of a and b".into(),
                "    return max(a, b)".into(),
                cases(rng, n, pair, |&(a, b)| {
                    (vec![int(a), int(b)], int(a.max(b)))
                }),
            )
        },
    },
    Template {
        name: "abs_difference",
        params: "a, b",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the absolute difference between a and b".into(),
                "    return abs(a - b)".into(),
                cases(rng, n, pair, |&(a, b)| {
                    (vec![int(a), int(b)], int((a - b).abs()))
                }),
            )
        },
    },
    Template {
        name: "last_digit",
        params: "n",
        difficulty: 1,
        build: |rng, n| {
            Drawn::new(
                "returns the last digit of the non-negative integer n".into(),
                "    return n % 10".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(0..=9999),
                    |&x| (vec![int(x)], int(x % 10)),
                ),
            )
        },
    },
    Template {
        name: "clamp",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            let lo = rng.random_range(0..=10);
            let hi = lo + rng.random_range(5..=20);
            Drawn::new(
                format!(
                    "returns n limited to the range {lo} to {hi}: {lo} if n is less than {lo}, \
                     {hi} if n is greater than {hi}, and n otherwise"
                ),
                format!(
                    "    if n < {lo}:\n        return {lo}\n    if n > {hi}:\n        return {hi}\n    return n"
                ),
                cases(
                    rng,
                    n,
                    |r| r.random_range(lo - 15..=hi + 15),
                    |&x| (vec![int(x)], int(x.clamp(lo, hi))),
                ),
            )
        },
    },
    Template {
        name: "scale_and_shift",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            let a = rng.random_range(2..=9);
            let b = rng.random_range(1..=20);
            Drawn::new(
                format!("returns n multiplied by {a}, plus {b}"),
                format!("    return n * {a} + {b}"),
                cases(
                    rng,
                    n,
                    |r| r.random_range(-10..=20),
                    |&x| (vec![int(x)], int(x * a + b)),
                ),
            )
        },
    },
    Template {
        name: "sign",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns 1 if n is positive, -1 if n is negative and 0 if n is zero".into(),
                "    if n > 0:\n        return 1\n    if n < 0:\n        return -1\n    return 0"
                    .into(),
                cases(
                    rng,
                    n,
                    |r| {
                        if r.random_bool(0.2) {
                            0
                        } else {
                            r.random_range(-30..=30)
                        }
                    },
                    |&x| (vec![int(x)], int(x.signum())),
                ),
            )
        },
    },
    Template {
        name: "sum_of_squares",
        params: "a, b",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of the squares of a and b".into(),
                "    return a * a + b * b".into(),
                cases(
                    rng,
                    n,
                    |r| (r.random_range(-12..=12), r.random_range(-12..=12)),
                    |&(a, b)| (vec![int(a), int(b)], int(a * a + b * b)),
                ),
            )
        },
    },
    Template {
        name: "sum_up_to",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of all integers from 1 to n, for n of at least 1".into(),
                "    return sum(range(1, n + 1))".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(1..=100),
                    |&x| (vec![int(x)], int(x * (x + 1) / 2)),
                ),
            )
        },
    },
    Template {
        name: "in_range",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            let lo = rng.random_range(-10..=10);
            let hi = lo + rng.random_range(3..=20);
            Drawn::new(
                format!("returns True if n is between {lo} and {hi} inclusive and False otherwise"),
                format!("    return {lo} <= n <= {hi}"),
                cases(
                    rng,
                    n,
                    |r| r.random_range(lo - 10..=hi + 10),
                    |&x| (vec![int(x)], boolean((lo..=hi).contains(&x))),
                ),
            )
        },
    },
    Template {
        name: "sum_of_digits",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns the sum of the digits of the non-negative integer n".into(),
                "    return sum(int(d) for d in str(n))".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(0..=99_999),
                    |&x| (vec![int(x)], int(digit_sum(x))),
                ),
            )
        },
    },
    Template {
        name: "collatz_step",
        params: "n",
        difficulty: 2,
        build: |rng, n| {
            Drawn::new(
                "returns n // 2 if n is even and 3 * n + 1 if n is odd".into(),
                "    if n % 2 == 0:\n        return n // 2\n    return 3 * n + 1".into(),
                cases(
                    rng,
                    n,
                    |r| r.random_range(1..=200),
                    |&x| {
                        let y = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
                        (vec![int(x)], int(y))
                    },
                ),
            )
        },
    },
];

/// A multiple of `k` or any number, with even odds.
fn multiple_or_not(rng: &mut dyn Rng, k: i64) -> i64 {
    if rng.random_bool(0.5) {
        k * rng.random_range(-5..=12)
    } else {
        rng.random_range(-30..=100)
    }
}

/// Two ints in −50..=50.
fn pair(rng: &mut dyn Rng) -> (i64, i64) {
    (rng.random_range(-50..=50), rng.random_range(-50..=50))
}

/// The sum of the decimal digits of `n ≥ 0`.
fn digit_sum(mut n: i64) -> i64 {
    let mut sum = 0;
    while n > 0 {
        sum += n % 10;
        n /= 10;
    }
    sum
}
