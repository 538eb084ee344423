//! ChatML prompt formatting (`<|im_start|>role\ncontent<|im_end|>\n`), SmolLM2's template.

use serde::{Deserialize, Serialize};

/// Opens a message.
pub const IM_START: &str = "<|im_start|>";
/// Closes a message; SmolLM2's end-of-sequence token.
pub const IM_END: &str = "<|im_end|>";
/// The system prompt SmolLM2's template inserts when the conversation has none.
pub const SMOLLM2_DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A `system` turn.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A `user` turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An `assistant` turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// Formats `messages` as ChatML.
///
/// When the first message is not a `system` turn and `default_system` is given, a system
/// turn with that text is inserted first (SmolLM2's template does this with
/// [`SMOLLM2_DEFAULT_SYSTEM`]). With `add_generation_prompt`, the text ends with the
/// opening of an assistant turn, ready for sampling.
pub fn format_chatml(
    messages: &[ChatMessage],
    default_system: Option<&str>,
    add_generation_prompt: bool,
) -> String {
    let mut out = String::new();
    let mut turn = |role: &str, content: &str| {
        out.push_str(IM_START);
        out.push_str(role);
        out.push('\n');
        out.push_str(content);
        out.push_str(IM_END);
        out.push('\n');
    };
    if let Some(system) = default_system
        && messages.first().is_none_or(|m| m.role != "system")
    {
        turn("system", system);
    }
    for m in messages {
        turn(&m.role, &m.content);
    }
    if add_generation_prompt {
        out.push_str(IM_START);
        out.push_str("assistant\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_the_default_system_turn_and_generation_prompt() {
        let text = format_chatml(&[ChatMessage::user("Hi")], Some("Be brief"), true);
        assert_eq!(
            text,
            "<|im_start|>system\nBe brief<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn keeps_an_explicit_system_turn() {
        let msgs = [
            ChatMessage::system("S"),
            ChatMessage::user("U"),
            ChatMessage::assistant("A"),
        ];
        let text = format_chatml(&msgs, Some("ignored"), false);
        assert_eq!(
            text,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
        );
    }
}
