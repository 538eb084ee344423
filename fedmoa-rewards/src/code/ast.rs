//! The syntax tree of the tiny code language and its canonical printer.
//!
//! `Display` prints in canonical whitespace (one space between tokens) with the fewest
//! parentheses that parse back to the same tree: negative literals print as one token
//! (`-3`), a negated literal as `- ( 3 )`, and `if` and `let` as an operand are
//! parenthesised.

use std::fmt;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`, truncating toward zero.
    Div,
    /// `%`, with the sign of the dividend.
    Rem,
    /// `<` (1 when true, 0 when false, like every comparison).
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl BinOp {
    /// Binding strength: comparisons 1, `+ -` 2, `* / %` 3.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 1,
            BinOp::Add | BinOp::Sub => 2,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 3,
        }
    }

    /// The operator's source text.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
        }
    }
}

/// An expression; a program is one expression in the variable `x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// An integer literal.
    Int(i64),
    /// A variable: `x` or a `let`-bound name.
    Var(String),
    /// Negation `- e`.
    Neg(Box<Expr>),
    /// `a op b`.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b` (c ≠ 0 is true).
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `let name = value in body`.
    Let(String, Box<Expr>, Box<Expr>),
}

/// Precedence of unary minus and of atoms, above every binary operator.
const UNARY: u8 = 4;

impl Expr {
    /// `a op b`.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b))
    }

    /// The variable `x`.
    pub fn x() -> Expr {
        Expr::Var("x".into())
    }

    /// This expression with every free `x` replaced by the literal `value`.
    #[must_use]
    pub fn substitute_x(&self, value: i64) -> Expr {
        self.substitute("x", value)
    }

    fn substitute(&self, name: &str, value: i64) -> Expr {
        let sub = |e: &Expr| Box::new(e.substitute(name, value));
        match self {
            Expr::Var(v) if v == name => Expr::Int(value),
            Expr::Int(_) | Expr::Var(_) => self.clone(),
            Expr::Neg(e) => Expr::Neg(sub(e)),
            Expr::Bin(op, a, b) => Expr::Bin(*op, sub(a), sub(b)),
            Expr::If(c, a, b) => Expr::If(sub(c), sub(a), sub(b)),
            Expr::Let(v, e, body) if v == name => Expr::Let(v.clone(), sub(e), body.clone()),
            Expr::Let(v, e, body) => Expr::Let(v.clone(), sub(e), sub(body)),
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        1 + match self {
            Expr::Int(_) | Expr::Var(_) => 0,
            Expr::Neg(e) => e.size(),
            Expr::Bin(_, a, b) | Expr::Let(_, a, b) => a.size() + b.size(),
            Expr::If(c, a, b) => c.size() + a.size() + b.size(),
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::If(..) | Expr::Let(..) => 0,
            Expr::Bin(op, ..) => op.precedence(),
            Expr::Int(_) | Expr::Var(_) | Expr::Neg(_) => UNARY,
        }
    }

    /// Writes `self`, in parentheses when it binds more loosely than `min`.
    fn write_at(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            f.write_str("( ")?;
            self.write_at(f, 0)?;
            return f.write_str(" )");
        }
        match self {
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Var(v) => f.write_str(v),
            Expr::Neg(e) => {
                f.write_str("- ")?;
                // `- 3` would parse as the literal -3: keep a negated literal in parentheses
                // so that printing round-trips to the same tree.
                let min = if matches!(**e, Expr::Int(_)) {
                    UNARY + 1
                } else {
                    UNARY
                };
                e.write_at(f, min)
            }
            Expr::Bin(op, a, b) => {
                let p = op.precedence();
                // Arithmetic is left-associative; comparisons do not chain.
                let left = if p == 1 { p + 1 } else { p };
                a.write_at(f, left)?;
                write!(f, " {} ", op.symbol())?;
                b.write_at(f, p + 1)
            }
            Expr::If(c, a, b) => {
                f.write_str("if ")?;
                c.write_at(f, 1)?;
                f.write_str(" then ")?;
                a.write_at(f, 0)?;
                f.write_str(" else ")?;
                b.write_at(f, 0)
            }
            Expr::Let(v, e, body) => {
                write!(f, "let {v} = ")?;
                e.write_at(f, 0)?;
                f.write_str(" in ")?;
                body.write_at(f, 0)
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_at(f, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Expr {
        Expr::Int(n)
    }

    #[test]
    fn prints_with_minimal_parentheses() {
        let e = Expr::bin(BinOp::Add, Expr::bin(BinOp::Mul, int(2), Expr::x()), int(1));
        assert_eq!(e.to_string(), "2 * x + 1");
        let e = Expr::bin(BinOp::Mul, Expr::bin(BinOp::Add, Expr::x(), int(3)), int(2));
        assert_eq!(e.to_string(), "( x + 3 ) * 2");
        let e = Expr::bin(BinOp::Sub, int(1), Expr::bin(BinOp::Sub, Expr::x(), int(2)));
        assert_eq!(e.to_string(), "1 - ( x - 2 )");
        let e = Expr::bin(
            BinOp::Add,
            int(1),
            Expr::If(Box::new(Expr::x()), Box::new(int(2)), Box::new(int(-3))),
        );
        assert_eq!(e.to_string(), "1 + ( if x then 2 else -3 )");
        let e = Expr::Neg(Box::new(int(-3)));
        assert_eq!(e.to_string(), "- ( -3 )");
        let e = Expr::Neg(Box::new(Expr::Neg(Box::new(int(0)))));
        assert_eq!(e.to_string(), "- - ( 0 )");
    }

    #[test]
    fn substitutes_free_x_only() {
        let e = Expr::Let(
            "x".into(),
            Box::new(Expr::bin(BinOp::Add, Expr::x(), int(1))),
            Box::new(Expr::x()),
        );
        assert_eq!(e.substitute_x(5).to_string(), "let x = 5 + 1 in x");
        assert_eq!(e.size(), 5);
    }
}
