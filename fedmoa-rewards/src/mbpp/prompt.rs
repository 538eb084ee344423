//! The MBPP prompt (task text plus the first test as a signature hint) and the reference
//! solution in the completion format [`super::extract_python`] accepts.

/// `"<text>\nYour code should pass this test:\n<first test>"` (just the text when there
/// is no test).
pub fn prompt_text(text: &str, first_test: Option<&str>) -> String {
    match first_test {
        Some(test) => format!(
            "{}\nYour code should pass this test:\n{}",
            text.trim(),
            test.trim()
        ),
        None => text.trim().to_string(),
    }
}

/// The code as a fenced Python block, line endings normalised to `\n`.
pub fn solution_text(code: &str) -> String {
    format!("```python\n{}\n```", normalise_newlines(code).trim_end())
}

/// `\r\n` and lone `\r` become `\n`.
pub(crate) fn normalise_newlines(code: &str) -> String {
    code.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbpp::extract_python;

    #[test]
    fn builds_prompt_and_solution() {
        assert_eq!(
            prompt_text("Write f. ", Some("assert f(1) == 2")),
            "Write f.\nYour code should pass this test:\nassert f(1) == 2"
        );
        assert_eq!(prompt_text("Write f.", None), "Write f.");
        let s = solution_text("def f(x):\r\n\treturn x + 1 \r\n");
        assert_eq!(s, "```python\ndef f(x):\n\treturn x + 1\n```");
        assert_eq!(extract_python(&s), "def f(x):\n\treturn x + 1");
    }
}
