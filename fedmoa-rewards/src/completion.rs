//! The completion format shared by every task: `<think> … </think> <answer> … </answer>`.
//!
//! **Canonical whitespace.** Generated prompts and reference solutions separate every token
//! (word, number, operator, punctuation mark, tag) by exactly one ASCII space, with no
//! leading or trailing space, so a word-level tokenizer sees a small, regular vocabulary:
//! `<think> 12 + 5 = 17 </think> <answer> 17 </answer>`. Only the code prompt's
//! `f(1)`-style calls are single tokens. Scorers never require canonical whitespace.

/// Opening tag of the reasoning block.
pub const THINK_OPEN: &str = "<think>";
/// Closing tag of the reasoning block.
pub const THINK_CLOSE: &str = "</think>";
/// Opening tag of the final-answer block.
pub const ANSWER_OPEN: &str = "<answer>";
/// Closing tag of the final-answer block.
pub const ANSWER_CLOSE: &str = "</answer>";

/// Builds a completion in the canonical format from its reasoning and its answer.
///
/// Both parts are whitespace-normalised with [`canonical_whitespace`].
pub fn format_completion(think: &str, answer: &str) -> String {
    let (think, answer) = (canonical_whitespace(think), canonical_whitespace(answer));
    [
        THINK_OPEN,
        &think,
        THINK_CLOSE,
        ANSWER_OPEN,
        &answer,
        ANSWER_CLOSE,
    ]
    .iter()
    .filter(|part| !part.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ")
}

/// Collapses every run of whitespace into one ASCII space and trims both ends.
pub fn canonical_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The content of the last *closed* `<tag>…</tag>` block, untrimmed.
///
/// `tag` is the bare name (`"answer"`). Returns `None` when there is no closing tag or no
/// opening tag before the last closing one (an unclosed tag yields `None`).
pub fn tag_content<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let close_at = text.rfind(&close)?;
    let before = &text[..close_at];
    let open_at = before.rfind(&open)?;
    Some(&before[open_at + open.len()..])
}

/// The content of the last closed `<answer>…</answer>` block, trimmed.
pub fn answer_content(text: &str) -> Option<&str> {
    tag_content(text, "answer").map(str::trim)
}

/// The content of the last closed `<think>…</think>` block, trimmed.
pub fn think_content(text: &str) -> Option<&str> {
    tag_content(text, "think").map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_single_spaces() {
        assert_eq!(
            format_completion(" 12 +  5 = 17\n", "17"),
            "<think> 12 + 5 = 17 </think> <answer> 17 </answer>"
        );
        assert_eq!(
            format_completion("", "3"),
            "<think> </think> <answer> 3 </answer>"
        );
    }

    #[test]
    fn finds_the_last_closed_block() {
        let t = "<answer>1</answer> then <answer> 2 </answer>";
        assert_eq!(answer_content(t), Some("2"));
        assert_eq!(tag_content(t, "answer"), Some(" 2 "));
    }

    #[test]
    fn unclosed_or_missing_tags_give_none() {
        assert_eq!(answer_content("<answer> 17"), None);
        assert_eq!(answer_content("17 </answer>"), None);
        assert_eq!(answer_content(""), None);
        assert_eq!(think_content("<think></think>"), Some(""));
    }

    #[test]
    fn handles_unicode_around_tags() {
        assert_eq!(answer_content("é<answer>ü 5 ü</answer>ß"), Some("ü 5 ü"));
    }
}
