//! Recursive-descent parser of the tiny code language.
//!
//! ```text
//! program := [ "f" "(" "x" ")" "=" ] expr EOF
//! expr    := "if" expr "then" expr "else" expr
//!          | "let" NAME "=" expr "in" expr
//!          | sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=") sum ]
//! sum     := term { ("+" | "-") term }
//! term    := unary { ("*" | "/" | "%") unary }
//! unary   := "-" unary | "if" … | "let" … | INT | NAME | "(" expr ")"
//! ```
//! Comparisons do not chain. Names must be `x` or bound by an enclosing `let`. Nesting is
//! limited to [`MAX_DEPTH`] so no input can exhaust the stack; `-` directly before a
//! literal makes a negative literal (so `-9223372036854775808` is accepted).

use super::ParseError;
use super::ast::{BinOp, Expr};
use super::lexer::{Token, TokenKind, tokenize};

/// Deepest nesting of parentheses, unary minus, `if` and `let` the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// Parses a whole program.
///
/// # Errors
/// [`ParseError`] with the column, what was expected and what was found.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
        scope: vec!["x".to_string()],
    };
    parser.skip_header();
    let expr = parser.expr()?;
    parser.expect(&TokenKind::Eof, "an operator or end of input")?;
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    scope: Vec<String>,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `at` never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.at += 1;
        }
        token
    }

    fn error(&self, expected: impl Into<String>) -> ParseError {
        let token = self.peek();
        ParseError::new(token.column, expected, token.kind.to_string())
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<(), ParseError> {
        if &self.peek().kind == kind {
            self.bump();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Skips an optional `f(x) =` in front of the body.
    fn skip_header(&mut self) {
        let header = [
            TokenKind::Ident("f".into()),
            TokenKind::LParen,
            TokenKind::Ident("x".into()),
            TokenKind::RParen,
            TokenKind::Assign,
        ];
        let matches = self.tokens.len() > header.len()
            && header.iter().zip(&self.tokens).all(|(h, t)| *h == t.kind);
        if matches {
            self.at = header.len();
        }
    }

    /// Runs `f` one nesting level deeper, failing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("at most {MAX_DEPTH} levels of nesting")));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        match self.peek().kind {
            TokenKind::If => self.nested(Self::if_expr),
            TokenKind::Let => self.nested(Self::let_expr),
            _ => self.comparison(),
        }
    }

    fn if_expr(&mut self) -> Result<Expr, ParseError> {
        self.bump();
        let cond = self.expr()?;
        self.expect(&TokenKind::Then, "`then`")?;
        let yes = self.expr()?;
        self.expect(&TokenKind::Else, "`else`")?;
        let no = self.expr()?;
        Ok(Expr::If(Box::new(cond), Box::new(yes), Box::new(no)))
    }

    fn let_expr(&mut self) -> Result<Expr, ParseError> {
        self.bump();
        let name = match &self.peek().kind {
            TokenKind::Ident(name) => name.clone(),
            _ => return Err(self.error("a name to bind")),
        };
        self.bump();
        self.expect(&TokenKind::Assign, "`=`")?;
        let value = self.expr()?;
        self.expect(&TokenKind::In, "`in`")?;
        self.scope.push(name.clone());
        let body = self.expr();
        self.scope.pop();
        Ok(Expr::Let(name, Box::new(value), Box::new(body?)))
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.sum()?;
        let Some(op) = comparison_op(&self.peek().kind) else {
            return Ok(left);
        };
        self.bump();
        let right = self.sum()?;
        if comparison_op(&self.peek().kind).is_some() {
            return Err(self.error("no second comparison (add parentheses)"));
        }
        Ok(Expr::bin(op, left, right))
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut acc = self.term()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Plus => BinOp::Add,
                TokenKind::Minus => BinOp::Sub,
                _ => return Ok(acc),
            };
            self.bump();
            acc = Expr::bin(op, acc, self.term()?);
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut acc = self.unary()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Star => BinOp::Mul,
                TokenKind::Slash => BinOp::Div,
                TokenKind::Percent => BinOp::Rem,
                _ => return Ok(acc),
            };
            self.bump();
            acc = Expr::bin(op, acc, self.unary()?);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Minus => {
                self.bump();
                if let TokenKind::Int(n) = self.peek().kind {
                    let literal = self.peek().column;
                    self.bump();
                    return negative_literal(n, literal);
                }
                self.nested(|p| Ok(Expr::Neg(Box::new(p.unary()?))))
            }
            TokenKind::If | TokenKind::Let => self.expr(),
            TokenKind::Int(n) => {
                self.bump();
                i64::try_from(n).map(Expr::Int).map_err(|_| {
                    ParseError::new(
                        token.column,
                        "an integer that fits in 64 bits",
                        format!("`{n}`"),
                    )
                })
            }
            TokenKind::Ident(name) => {
                if !self.scope.contains(&name) {
                    return Err(self.error("`x` or a name bound by `let`"));
                }
                self.bump();
                Ok(Expr::Var(name))
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.nested(Self::expr)?;
                self.expect(&TokenKind::RParen, "`)` or an operator")?;
                Ok(inner)
            }
            _ => Err(self.error("an expression")),
        }
    }
}

fn comparison_op(kind: &TokenKind) -> Option<BinOp> {
    Some(match kind {
        TokenKind::Lt => BinOp::Lt,
        TokenKind::Le => BinOp::Le,
        TokenKind::Gt => BinOp::Gt,
        TokenKind::Ge => BinOp::Ge,
        TokenKind::EqEq => BinOp::Eq,
        TokenKind::Ne => BinOp::Ne,
        _ => return None,
    })
}

/// `-n` as a literal; `n` may be 2^63 (giving `i64::MIN`).
fn negative_literal(n: u64, column: usize) -> Result<Expr, ParseError> {
    0i64.checked_sub_unsigned(n)
        .map(Expr::Int)
        .ok_or_else(|| ParseError::new(column, "an integer that fits in 64 bits", format!("`{n}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> ParseError {
        parse(src).unwrap_err()
    }

    #[test]
    fn parses_precedence_and_associativity() {
        assert_eq!(parse("2 * x + 1").unwrap().to_string(), "2 * x + 1");
        assert_eq!(parse("(2 * x) + (1)").unwrap().to_string(), "2 * x + 1");
        assert_eq!(parse("x - 1 - 2").unwrap().to_string(), "x - 1 - 2");
        assert_eq!(parse("x - (1 - 2)").unwrap().to_string(), "x - ( 1 - 2 )");
        assert_eq!(parse("-x*-3").unwrap().to_string(), "- x * -3");
        assert_eq!(
            parse("if x > 3 then x else let y = x * x in y + 1")
                .unwrap()
                .to_string(),
            "if x > 3 then x else let y = x * x in y + 1"
        );
        assert_eq!(
            parse("1 + if x then 2 else 3").unwrap().to_string(),
            "1 + ( if x then 2 else 3 )"
        );
        assert_eq!(parse("-9223372036854775808").unwrap(), Expr::Int(i64::MIN));
    }

    #[test]
    fn accepts_a_function_header() {
        assert_eq!(parse("f(x) = x + 1").unwrap(), parse("x + 1").unwrap());
        // `f` alone is not a bound name.
        assert_eq!(err("f(x)").expected, "`x` or a name bound by `let`");
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = err("2 * ");
        assert_eq!(
            (e.column, e.expected.as_str(), e.found.as_str()),
            (5, "an expression", "end of input")
        );
        assert_eq!(
            e.to_string(),
            "column 5: expected an expression, found end of input"
        );
        let e = err("(x + 1");
        assert_eq!((e.column, e.expected.as_str()), (7, "`)` or an operator"));
        let e = err("x + y");
        assert_eq!((e.column, e.found.as_str()), (5, "`y`"));
        let e = err("if x then 1");
        assert_eq!(e.expected, "`else`");
        let e = err("let if = 2 in 3");
        assert_eq!(
            (e.column, e.expected.as_str(), e.found.as_str()),
            (5, "a name to bind", "`if`")
        );
        let e = err("1 < x < 3");
        assert_eq!(e.column, 7);
        let e = err("x 2");
        assert_eq!(
            (e.column, e.expected.as_str()),
            (3, "an operator or end of input")
        );
        let e = err("9223372036854775808");
        assert_eq!(e.expected, "an integer that fits in 64 bits");
        assert_eq!(err("").found, "end of input");
    }

    #[test]
    fn let_scope_ends_with_its_body() {
        assert!(parse("let y = 1 in y + x").is_ok());
        assert_eq!(err("(let y = 1 in y) + y").column, 20);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}x{}", "(".repeat(500), ")".repeat(500));
        assert!(err(&deep).expected.contains("levels of nesting"));
        let minus = format!("{}x", "- ".repeat(1000));
        assert!(err(&minus).expected.contains("levels of nesting"));
        let ifs = "if x then ".repeat(300) + "1";
        assert!(err(&ifs).expected.contains("levels of nesting"));
        let ok = format!(
            "{}x{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(&ok).is_ok());
    }
}
