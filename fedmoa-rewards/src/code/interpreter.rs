//! Evaluator of the tiny code language, with checked arithmetic and a step limit.
//!
//! Every node visited costs one step; running out of steps, overflowing `i64`, dividing
//! by zero or nesting deeper than the limit is an [`EvalError`], never a panic.
//! `/` truncates toward zero and `%` takes the sign of the dividend (as in Rust);
//! comparisons give 1 or 0 and `if` treats any non-zero condition as true.

use serde::{Deserialize, Serialize};

use super::EvalError;
use super::ast::{BinOp, Expr};

/// Resource limits for one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Most nodes evaluated.
    pub max_steps: u64,
    /// Deepest recursion (a parsed program, at most [`super::MAX_TOKENS`] tokens, is shallower).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 10_000,
            max_depth: 1024,
        }
    }
}

/// Evaluates `expr` with `x` bound to `x`.
///
/// # Errors
/// [`EvalError`] on division by zero, overflow, an unbound name or exceeded limits.
pub fn eval(expr: &Expr, x: i64, limits: &Limits) -> Result<i64, EvalError> {
    let mut machine = Machine {
        env: vec![("x", x)],
        steps: 0,
        limits,
    };
    machine.eval(expr, 0)
}

struct Machine<'a> {
    env: Vec<(&'a str, i64)>,
    steps: u64,
    limits: &'a Limits,
}

impl<'a> Machine<'a> {
    fn eval(&mut self, expr: &'a Expr, depth: usize) -> Result<i64, EvalError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(EvalError::StepLimit {
                limit: self.limits.max_steps,
            });
        }
        if depth > self.limits.max_depth {
            return Err(EvalError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let d = depth + 1;
        match expr {
            Expr::Int(n) => Ok(*n),
            Expr::Var(name) => self
                .env
                .iter()
                .rev()
                .find(|(bound, _)| bound == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| EvalError::Unbound { name: name.clone() }),
            Expr::Neg(e) => self.eval(e, d)?.checked_neg().ok_or(EvalError::Overflow),
            Expr::Bin(op, a, b) => {
                let a = self.eval(a, d)?;
                let b = self.eval(b, d)?;
                apply(*op, a, b)
            }
            Expr::If(c, yes, no) => {
                if self.eval(c, d)? != 0 {
                    self.eval(yes, d)
                } else {
                    self.eval(no, d)
                }
            }
            Expr::Let(name, value, body) => {
                let v = self.eval(value, d)?;
                self.env.push((name, v));
                let result = self.eval(body, d);
                self.env.pop();
                result
            }
        }
    }
}

/// Applies a binary operator with checked arithmetic.
///
/// # Errors
/// [`EvalError::DivisionByZero`] or [`EvalError::Overflow`].
pub fn apply(op: BinOp, a: i64, b: i64) -> Result<i64, EvalError> {
    let checked = |r: Option<i64>| r.ok_or(EvalError::Overflow);
    match op {
        BinOp::Add => checked(a.checked_add(b)),
        BinOp::Sub => checked(a.checked_sub(b)),
        BinOp::Mul => checked(a.checked_mul(b)),
        BinOp::Div | BinOp::Rem if b == 0 => Err(EvalError::DivisionByZero),
        BinOp::Div => checked(a.checked_div(b)),
        BinOp::Rem => checked(a.checked_rem(b)),
        BinOp::Lt => Ok(i64::from(a < b)),
        BinOp::Le => Ok(i64::from(a <= b)),
        BinOp::Gt => Ok(i64::from(a > b)),
        BinOp::Ge => Ok(i64::from(a >= b)),
        BinOp::Eq => Ok(i64::from(a == b)),
        BinOp::Ne => Ok(i64::from(a != b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::parse;

    fn run(src: &str, x: i64) -> Result<i64, EvalError> {
        eval(&parse(src).unwrap(), x, &Limits::default())
    }

    #[test]
    fn evaluates_by_hand() {
        assert_eq!(run("2 * x + 1", 4), Ok(9)); // 2·4 + 1
        assert_eq!(run("x * x - 3 * x", 5), Ok(10)); // 25 − 15
        assert_eq!(run("-7 / 2", 0), Ok(-3)); // truncation toward zero
        assert_eq!(run("-7 % 2", 0), Ok(-1)); // sign of the dividend
        assert_eq!(run("7 % -2", 0), Ok(1));
        assert_eq!(run("if x % 2 == 0 then x / 2 else 3 * x + 1", 7), Ok(22));
        assert_eq!(run("if x % 2 == 0 then x / 2 else 3 * x + 1", 8), Ok(4));
        assert_eq!(run("let y = x + 1 in let x = y * y in x - y", 2), Ok(6)); // 9 − 3
        assert_eq!(run("(x < 3) + (x >= 3) * 10 + (x != 3)", 3), Ok(10));
        assert_eq!(run("x <= 3", 3), Ok(1));
    }

    #[test]
    fn arithmetic_errors_are_values() {
        assert_eq!(run("x / 0", 1), Err(EvalError::DivisionByZero));
        assert_eq!(run("x % (x - x)", 1), Err(EvalError::DivisionByZero));
        assert_eq!(run("x * x", i64::MAX), Err(EvalError::Overflow));
        assert_eq!(run("x / -1", i64::MIN), Err(EvalError::Overflow));
        assert_eq!(run("x % -1", i64::MIN), Err(EvalError::Overflow));
        assert_eq!(run("-x", i64::MIN), Err(EvalError::Overflow));
        assert_eq!(run("x + 1", i64::MAX), Err(EvalError::Overflow));
    }

    #[test]
    fn limits_are_enforced() {
        let long = vec!["x"; 200].join(" + ");
        let e = parse(&long).unwrap();
        // 200 leaves + 199 additions = 399 nodes.
        assert_eq!(e.size(), 399);
        let tight = Limits {
            max_steps: 398,
            max_depth: 512,
        };
        assert_eq!(
            eval(&e, 1, &tight),
            Err(EvalError::StepLimit { limit: 398 })
        );
        let enough = Limits {
            max_steps: 399,
            max_depth: 512,
        };
        assert_eq!(eval(&e, 1, &enough), Ok(200));
        // A hand-built tree deeper than the limit is refused, not a stack overflow.
        let mut deep = Expr::x();
        for _ in 0..1100 {
            deep = Expr::Neg(Box::new(deep));
        }
        assert_eq!(
            eval(&deep, 1, &Limits::default()),
            Err(EvalError::TooDeep { limit: 1024 })
        );
        assert_eq!(
            eval(&Expr::Var("y".into()), 1, &Limits::default()),
            Err(EvalError::Unbound { name: "y".into() })
        );
    }
}
