//! Code tasks: a tiny, safe expression language, its interpreter and a task generator.
//!
//! Programs are integer expressions in `x` with `+ - * / %`, parentheses, comparisons,
//! `if … then … else …` and `let … = … in …`. [`parse`] never panics (nesting depth and
//! program length are bounded) and [`eval`] uses checked arithmetic and a step limit.

mod ast;
mod error;
mod generator;
mod interpreter;
mod lexer;
mod parser;
mod program;

pub use ast::{BinOp, Expr};
pub use error::{EvalError, ParseError};
pub use generator::{CodeGenerator, CodeTask, CodeTaskConfig};
pub use interpreter::{Limits, apply, eval};
pub use lexer::{MAX_TOKENS, Token, TokenKind, tokenize};
pub use parser::{MAX_DEPTH, parse};
pub use program::{extract_program, passed_cases};
