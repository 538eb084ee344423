//! Python values of generated tests, printed as Python literals.

use std::fmt;

/// An argument or expected result of a generated test, printed ([`fmt::Display`]) as the
/// Python literal that evaluates to it: `-3`, `True`, `'abc'`, `[1, -2, 3]`, `['ab', 'c']`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PyValue {
    /// An `int`.
    Int(i64),
    /// A `bool`.
    Bool(bool),
    /// A `str` (generated strings hold lowercase ASCII letters and spaces only).
    Str(String),
    /// A `list` of `int`s.
    IntList(Vec<i64>),
    /// A `list` of `str`s.
    StrList(Vec<String>),
}

impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Int(n) => write!(f, "{n}"),
            PyValue::Bool(true) => f.write_str("True"),
            PyValue::Bool(false) => f.write_str("False"),
            PyValue::Str(s) => write_str_literal(f, s),
            PyValue::IntList(items) => {
                f.write_str("[")?;
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_str("]")
            }
            PyValue::StrList(items) => {
                f.write_str("[")?;
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_str_literal(f, s)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// `'text'` with `\`, `'` and control characters escaped, so any string gives a valid
/// literal (generated strings need no escaping: this is Python's `repr` for them).
fn write_str_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\'' => f.write_str("\\'")?,
            '\n' => f.write_str("\\n")?,
            c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("'")
}

/// Arguments as a Python call's argument list: `3, 'ab'`.
pub(crate) fn call_args(args: &[PyValue]) -> String {
    args.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_python_literals() {
        assert_eq!(PyValue::Int(-3).to_string(), "-3");
        assert_eq!(PyValue::Bool(true).to_string(), "True");
        assert_eq!(PyValue::Bool(false).to_string(), "False");
        assert_eq!(PyValue::Str("ab c".into()).to_string(), "'ab c'");
        assert_eq!(PyValue::Str("it's\\".into()).to_string(), r"'it\'s\\'");
        assert_eq!(PyValue::IntList(vec![1, -2, 3]).to_string(), "[1, -2, 3]");
        assert_eq!(PyValue::IntList(vec![]).to_string(), "[]");
        assert_eq!(
            PyValue::StrList(vec!["ab".into(), "c".into()]).to_string(),
            "['ab', 'c']"
        );
        assert_eq!(
            call_args(&[PyValue::Int(1), PyValue::Str("x".into())]),
            "1, 'x'"
        );
    }
}
