//! [`ChatPromptTokenizer`]: a pretrained model's tokenizer with its chat template, as the
//! GRPO trainer's [`PolicyTokenizer`].

use super::{ChatMessage, LlmTokenizer};
use crate::{GrpoError, PolicyTokenizer};

/// Turns a task's prompt into a ChatML conversation for an instruct model: an optional
/// system turn, then one user turn holding the task text followed by an optional
/// instruction (e.g. "give the final answer as `#### <number>`"), then the opening of the
/// assistant turn. Completions end at the model's EOS (`<|im_end|>` for SmolLM2).
#[derive(Debug, Clone)]
pub struct ChatPromptTokenizer {
    tokenizer: LlmTokenizer,
    system: Option<String>,
    instruction: Option<String>,
}

impl ChatPromptTokenizer {
    /// Plain ChatML around the task text: no system turn, no instruction.
    pub fn new(tokenizer: LlmTokenizer) -> Self {
        Self {
            tokenizer,
            system: None,
            instruction: None,
        }
    }

    /// Puts `system` in a system turn before every prompt (SmolLM2's template uses
    /// [`super::SMOLLM2_DEFAULT_SYSTEM`] when a conversation has none).
    #[must_use]
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Appends `instruction` on its own line after the task text of every prompt.
    #[must_use]
    pub fn with_instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = Some(instruction.into());
        self
    }

    /// The wrapped tokenizer.
    pub fn tokenizer(&self) -> &LlmTokenizer {
        &self.tokenizer
    }

    /// The user turn's text for a task prompt.
    pub fn user_text(&self, text: &str) -> String {
        match &self.instruction {
            Some(instruction) => format!("{text}\n{instruction}"),
            None => text.to_string(),
        }
    }
}

impl PolicyTokenizer for ChatPromptTokenizer {
    fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        self.tokenizer.encode_chat(
            &[ChatMessage::user(self.user_text(text))],
            self.system.as_deref(),
        )
    }

    fn decode(&self, ids: &[u32]) -> Result<String, GrpoError> {
        self.tokenizer.decode(ids)
    }

    fn eos_id(&self) -> u32 {
        self.tokenizer.eos_id()
    }

    fn pad_id(&self) -> u32 {
        self.tokenizer.pad_id()
    }

    fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }
}
