//! [`PolicyTokenizer`]: how a trainer turns a task's prompt into the policy's tokens and a
//! completion back into text.

use std::fmt::Debug;

use crate::GrpoError;

/// The tokenizer side of a [`crate::Policy`], as [`crate::GrpoTrainer`] uses it.
///
/// A prompt is the task's raw text (a word problem, an MBPP task); the implementation adds
/// whatever the model expects around it: [`crate::TaskTokenizer`] prepends `<bos>`,
/// [`crate::llm_tokenizer::ChatPromptTokenizer`] wraps it in a ChatML conversation with an
/// optional system prompt and task instruction.
pub trait PolicyTokenizer: Debug + Send + Sync {
    /// Token ids of a prompt, ready for the model (special tokens and template included).
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when encoding fails.
    fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, GrpoError>;

    /// Text of completion tokens, special tokens dropped.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when an id is out of range.
    fn decode(&self, ids: &[u32]) -> Result<String, GrpoError>;

    /// End-of-sequence id: sampling stops on it.
    fn eos_id(&self) -> u32;

    /// Padding id.
    fn pad_id(&self) -> u32;

    /// Vocabulary size; must equal the policy's.
    fn vocab_size(&self) -> usize;
}

impl PolicyTokenizer for crate::TaskTokenizer {
    fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        crate::TaskTokenizer::encode_prompt(self, text)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, GrpoError> {
        crate::TaskTokenizer::decode(self, ids)
    }

    fn eos_id(&self) -> u32 {
        crate::TaskTokenizer::eos_id(self)
    }

    fn pad_id(&self) -> u32 {
        crate::TaskTokenizer::pad_id(self)
    }

    fn vocab_size(&self) -> usize {
        crate::TaskTokenizer::vocab_size(self)
    }
}
