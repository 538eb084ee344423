//! Math tasks: the synthetic word-problem generator, the GSM8K loader and answer extraction.

pub mod answer;
mod family;
mod generator;
pub mod gsm8k;

pub use answer::{AnswerSource, ExtractedAnswer, answers_match, extract_answer};
pub use family::{MathFamily, MathTaskConfig};
pub use generator::{CONTAINERS, MathGenerator, MathProblem, NAMES, OBJECTS};
pub use gsm8k::{Gsm8kProblem, Gsm8kSplit, load_gsm8k};
