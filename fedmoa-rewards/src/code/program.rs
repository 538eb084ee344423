//! Getting a program out of a completion and checking it against input/output cases.

use super::{Expr, Limits, eval};

/// The program text of a completion: the content of its last closed
/// `<answer>…</answer>` block, or the whole trimmed completion when there is none.
pub fn extract_program(completion: &str) -> &str {
    crate::completion::answer_content(completion).unwrap_or_else(|| completion.trim())
}

/// How many `(x, f(x))` cases `program` reproduces exactly; a case whose evaluation fails
/// (division by zero, overflow, limits) counts as failed.
pub fn passed_cases(program: &Expr, cases: &[(i64, i64)], limits: &Limits) -> usize {
    cases
        .iter()
        .filter(|(x, y)| eval(program, *x, limits) == Ok(*y))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::parse;

    #[test]
    fn extracts_from_the_answer_tag_or_the_raw_text() {
        assert_eq!(
            extract_program("<think> a </think> <answer> 2 * x </answer>"),
            "2 * x"
        );
        assert_eq!(extract_program("  x + 1 \n"), "x + 1");
        assert_eq!(extract_program("<answer> x + 1"), "<answer> x + 1");
    }

    #[test]
    fn counts_passing_cases() {
        let p = parse("10 / x").unwrap();
        // f(1) = 10 ✓, f(2) = 5 ✓, f(0) fails (division by zero), f(3) = 3 ≠ 4.
        let cases = [(1, 10), (2, 5), (0, 0), (3, 4)];
        assert_eq!(passed_cases(&p, &cases, &Limits::default()), 2);
        assert_eq!(passed_cases(&p, &[], &Limits::default()), 0);
    }
}
