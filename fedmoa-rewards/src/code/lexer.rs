//! Tokenizer of the tiny code language.

use std::fmt;

use super::ParseError;

/// Most tokens a program may have; longer inputs are rejected before parsing.
pub const MAX_TOKENS: usize = 1024;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A non-negative integer literal (range-checked by the parser).
    Int(u64),
    /// A variable name.
    Ident(String),
    /// `if`
    If,
    /// `then`
    Then,
    /// `else`
    Else,
    /// `let`
    Let,
    /// `in`
    In,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `=` (in `let` and the optional `f(x) =` header)
    Assign,
    /// End of input.
    Eof,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenKind::Int(n) => return write!(f, "`{n}`"),
            TokenKind::Ident(name) => return write!(f, "`{name}`"),
            TokenKind::Eof => return f.write_str("end of input"),
            TokenKind::If => "if",
            TokenKind::Then => "then",
            TokenKind::Else => "else",
            TokenKind::Let => "let",
            TokenKind::In => "in",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::Percent => "%",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::EqEq => "==",
            TokenKind::Ne => "!=",
            TokenKind::Assign => "=",
        };
        write!(f, "`{text}`")
    }
}

/// A token and its 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// 1-based character column of its first character.
    pub column: usize,
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`].
///
/// # Errors
/// [`ParseError`] on an unknown character, an integer above `u64::MAX`, or more than
/// [`MAX_TOKENS`] tokens.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if tokens.len() >= MAX_TOKENS {
            return Err(ParseError::new(
                column,
                format!("at most {MAX_TOKENS} tokens"),
                "a longer program",
            ));
        }
        let start = i;
        let kind = if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let value = digits.parse::<u64>().map_err(|_| {
                ParseError::new(column, "an integer that fits in 64 bits", shorten(&digits))
            })?;
            TokenKind::Int(value)
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.as_str() {
                "if" => TokenKind::If,
                "then" => TokenKind::Then,
                "else" => TokenKind::Else,
                "let" => TokenKind::Let,
                "in" => TokenKind::In,
                _ => TokenKind::Ident(word),
            }
        } else {
            let next = chars.get(i + 1).copied();
            let (kind, len) = match (c, next) {
                ('<', Some('=')) => (TokenKind::Le, 2),
                ('>', Some('=')) => (TokenKind::Ge, 2),
                ('=', Some('=')) => (TokenKind::EqEq, 2),
                ('!', Some('=')) => (TokenKind::Ne, 2),
                ('<', _) => (TokenKind::Lt, 1),
                ('>', _) => (TokenKind::Gt, 1),
                ('=', _) => (TokenKind::Assign, 1),
                ('+', _) => (TokenKind::Plus, 1),
                ('-', _) => (TokenKind::Minus, 1),
                ('*', _) => (TokenKind::Star, 1),
                ('/', _) => (TokenKind::Slash, 1),
                ('%', _) => (TokenKind::Percent, 1),
                ('(', _) => (TokenKind::LParen, 1),
                (')', _) => (TokenKind::RParen, 1),
                _ => {
                    return Err(ParseError::new(
                        column,
                        "a number, a name, an operator or a parenthesis",
                        format!("`{c}`"),
                    ));
                }
            };
            i += len;
            kind
        };
        tokens.push(Token { kind, column });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

/// Quotes a possibly very long literal, keeping its first 20 characters.
fn shorten(text: &str) -> String {
    let head: String = text.chars().take(20).collect();
    if head.len() < text.len() {
        format!("`{head}…`")
    } else {
        format!("`{head}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn tokenizes_operators_and_keywords() {
        use TokenKind::*;
        assert_eq!(
            kinds("if x<=2 then -x else x%3!=0"),
            vec![
                If,
                Ident("x".into()),
                Le,
                Int(2),
                Then,
                Minus,
                Ident("x".into()),
                Else,
                Ident("x".into()),
                Percent,
                Int(3),
                Ne,
                Int(0),
                Eof
            ]
        );
        assert_eq!(
            kinds("let y1 = 2 in y1"),
            vec![
                Let,
                Ident("y1".into()),
                Assign,
                Int(2),
                In,
                Ident("y1".into()),
                Eof
            ]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = tokenize("  x  + 1").unwrap();
        let columns: Vec<usize> = t.iter().map(|t| t.column).collect();
        assert_eq!(columns, vec![3, 6, 8, 9]);
        let e = tokenize("ü + @").unwrap_err();
        assert_eq!(e.column, 1);
        let e = tokenize("x + @").unwrap_err();
        assert_eq!((e.column, e.found.as_str()), (5, "`@`"));
    }

    #[test]
    fn rejects_huge_literals_and_long_programs() {
        let e = tokenize(&"9".repeat(30)).unwrap_err();
        assert_eq!(e.found, format!("`{}…`", "9".repeat(20)));
        assert_eq!(
            kinds("18446744073709551615"),
            vec![TokenKind::Int(u64::MAX), TokenKind::Eof]
        );
        let long = "x + ".repeat(MAX_TOKENS);
        assert!(tokenize(&long).unwrap_err().expected.contains("tokens"));
        assert_eq!(kinds(""), vec![TokenKind::Eof]);
    }
}
