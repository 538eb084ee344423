//! Extracting the Python program from a completion.

use crate::completion::answer_content;

/// The program in a completion: inside the last closed `<answer>…</answer>` block when
/// there is one, then the first fenced block (```` ```python ```` or ```` ``` ````) when
/// there is one, else the whole text; surrounding blank lines are removed but
/// indentation is kept.
pub fn extract_python(completion: &str) -> &str {
    let text = tag_free(completion);
    fenced(text)
        .unwrap_or(text)
        .trim_matches(|c| c == '\n' || c == '\r')
        .trim_end()
}

fn tag_free(completion: &str) -> &str {
    // `answer_content` trims spaces, which would strip the first line's indentation only
    // when the program starts indented; programs start at column 0, so this is safe.
    answer_content(completion).unwrap_or(completion)
}

/// The body of the first closed fenced block, without its info string.
fn fenced(text: &str) -> Option<&str> {
    let open = text.find("```")?;
    let after = &text[open + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let close = body.find("```")?;
    Some(&body[..close])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_fenced_tagged_or_raw_code() {
        let code = "def f(x):\n    return x + 1";
        assert_eq!(
            extract_python(&format!("Here:\n```python\n{code}\n```\nDone.")),
            code
        );
        assert_eq!(extract_python(&format!("```\n{code}\n```")), code);
        assert_eq!(
            extract_python(&format!(
                "<think> easy </think> <answer>\n```python\n{code}\n```\n</answer>"
            )),
            code
        );
        assert_eq!(
            extract_python(&format!("<answer>\n{code}\n</answer>")),
            code
        );
        assert_eq!(extract_python(&format!("\n\n{code}\n\n")), code);
        // An unclosed fence is taken as raw text.
        assert_eq!(extract_python("```python\nx = 1"), "```python\nx = 1");
        // The first of two fenced blocks.
        assert_eq!(extract_python("```\na = 1\n```\n```\nb = 2\n```"), "a = 1");
    }
}
