//! [`ChatPrompting`]: the system prompt and the per-task instruction of chat prompts.

use std::collections::BTreeMap;

use fedmoa_core::{ConfigError, TaskTag};
use fedmoa_grpo::llm_tokenizer::{ChatPromptTokenizer, LlmTokenizer, SMOLLM2_DEFAULT_SYSTEM};
use serde::{Deserialize, Serialize};

/// How a client's task prompts are put to an instruct model: a system turn and, per task
/// family, an instruction appended to the task text (the answer format its rewards parse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatPrompting {
    /// The system turn (none when `None`).
    pub system: Option<String>,
    /// Instruction per task tag (`math`, `code`); tasks without one get the bare text.
    pub instructions: BTreeMap<String, String>,
}

impl Default for ChatPrompting {
    /// SmolLM2's default system prompt; math answers as `#### <number>` (what
    /// `math_accuracy` extracts first), code as a fenced Python block (what `python_tests`
    /// runs).
    fn default() -> Self {
        let instructions = [
            (
                "math",
                "Solve the problem step by step, then give the final answer on its own line \
                 as '#### <number>'.",
            ),
            (
                "code",
                "Write the Python function in a single ```python code block, without tests \
                 or explanations.",
            ),
        ]
        .into_iter()
        .map(|(task, text)| (task.to_string(), text.to_string()))
        .collect();
        Self {
            system: Some(SMOLLM2_DEFAULT_SYSTEM.to_string()),
            instructions,
        }
    }
}

impl ChatPrompting {
    /// Checks that no instruction or system prompt is blank.
    ///
    /// # Errors
    /// [`ConfigError`] naming `system` or `instructions.<task>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.system.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(ConfigError::new("system", "is blank; leave it out instead"));
        }
        match self.instructions.iter().find(|(_, v)| v.trim().is_empty()) {
            Some((task, _)) => Err(ConfigError::new(
                format!("instructions.{task}"),
                "is blank; leave it out instead",
            )),
            None => Ok(()),
        }
    }

    /// The trainer-side tokenizer of a client whose task is `task`.
    pub fn tokenizer_for(&self, tokenizer: &LlmTokenizer, task: &TaskTag) -> ChatPromptTokenizer {
        let mut chat = ChatPromptTokenizer::new(tokenizer.clone());
        if let Some(system) = &self.system {
            chat = chat.with_system(system.clone());
        }
        if let Some(instruction) = self.instructions.get(task.as_str()) {
            chat = chat.with_instruction(instruction.clone());
        }
        chat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_blank_fields_are_named() {
        ChatPrompting::default().validate().unwrap();
        let mut p = ChatPrompting::default();
        p.instructions.insert("code".into(), "  ".into());
        assert_eq!(p.validate().unwrap_err().field, "instructions.code");
        let p = ChatPrompting {
            system: Some(String::new()),
            ..ChatPrompting::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "system");
    }
}
