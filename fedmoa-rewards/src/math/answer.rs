//! Final-answer extraction for math completions.
//!
//! [`extract_answer`] looks, in this order, at: the last closed `<answer>…</answer>` block
//! (its last number; when the block exists but holds no number the completion has no
//! answer), the text after the last `####`, the last closed `\boxed{…}`, and finally the
//! last number anywhere in the completion. Numbers may carry a sign (`-`, `+` or the
//! Unicode minus `−`), a `$` prefix, thousands commas (`1,234`), decimals (`3.5`) and a
//! trailing `%` (ignored: `50%` reads as 50). Digit runs too large for an `f64` are skipped.

/// Where [`extract_answer`] found the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    /// Inside `<answer>…</answer>`.
    AnswerTag,
    /// After `####` (GSM8K style).
    Hashes,
    /// Inside `\boxed{…}`.
    Boxed,
    /// The last number of the completion.
    LastNumber,
}

/// A numeric answer and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractedAnswer {
    /// The value.
    pub value: f64,
    /// Where it was found.
    pub source: AnswerSource,
}

/// Extracts the final numeric answer of a completion (see the module docs for the rules).
pub fn extract_answer(completion: &str) -> Option<ExtractedAnswer> {
    let found = |value: f64, source| ExtractedAnswer { value, source };
    if let Some(content) = crate::completion::answer_content(completion) {
        return last_number(content).map(|v| found(v, AnswerSource::AnswerTag));
    }
    if let Some(at) = completion.rfind("####") {
        let rest = &completion[at + 4..];
        let line = rest.lines().next().unwrap_or("");
        if let Some(v) = numbers(line).first() {
            return Some(found(*v, AnswerSource::Hashes));
        }
    }
    if let Some(content) = boxed_content(completion)
        && let Some(v) = last_number(content)
    {
        return Some(found(v, AnswerSource::Boxed));
    }
    last_number(completion).map(|v| found(v, AnswerSource::LastNumber))
}

/// True when `predicted` equals `reference` within `abs_tol + 1e-12·|reference|`.
pub fn answers_match(predicted: f64, reference: f64, abs_tol: f64) -> bool {
    (predicted - reference).abs() <= abs_tol + 1e-12 * reference.abs()
}

/// Parses a string that is exactly one number (after trimming), e.g. `"-$1,234.50"`.
pub fn parse_number(text: &str) -> Option<f64> {
    let chars: Vec<char> = text.trim().chars().collect();
    match scan_at(&chars, 0) {
        Some((value, end)) if end == chars.len() => value,
        _ => None,
    }
}

/// The last number in `text`.
pub fn last_number(text: &str) -> Option<f64> {
    numbers(text).last().copied()
}

/// Every number in `text`, in order of appearance.
pub fn numbers(text: &str) -> Vec<f64> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match scan_at(&chars, i) {
            Some((value, end)) => {
                out.extend(value);
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// Content of the last `\boxed{…}` whose braces close.
fn boxed_content(text: &str) -> Option<&str> {
    let start = text.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1usize;
    for (offset, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + offset]);
                }
            }
            _ => {}
        }
    }
    None
}

fn is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i).is_some_and(char::is_ascii_digit)
}

/// Scans a number starting exactly at `start`. Returns `None` when no number starts there,
/// otherwise the value (`None` when it does not fit an `f64`) and the index after it.
fn scan_at(chars: &[char], start: usize) -> Option<(Option<f64>, usize)> {
    let mut i = start;
    let mut negative = false;
    if matches!(chars.get(i), Some('-' | '+' | '−')) {
        // A sign right after a digit, letter or `)` is a binary operator, not a sign.
        let prev = start.checked_sub(1).and_then(|p| chars.get(p));
        if prev.is_some_and(|c| c.is_alphanumeric() || *c == ')') {
            return None;
        }
        negative = chars[i] != '+';
        i += 1;
    }
    if chars.get(i) == Some(&'$') {
        i += 1;
    }
    if !is_digit(chars, i) {
        return None;
    }
    let mut literal = String::new();
    if negative {
        literal.push('-');
    }
    while is_digit(chars, i) {
        literal.push(chars[i]);
        i += 1;
    }
    // Thousands separators: a comma followed by exactly three digits.
    while chars.get(i) == Some(&',')
        && (1..=3).all(|k| is_digit(chars, i + k))
        && !is_digit(chars, i + 4)
    {
        literal.extend(&chars[i + 1..i + 4]);
        i += 4;
    }
    if chars.get(i) == Some(&'.') && is_digit(chars, i + 1) {
        literal.push('.');
        i += 1;
        while is_digit(chars, i) {
            literal.push(chars[i]);
            i += 1;
        }
    }
    if chars.get(i) == Some(&'%') {
        i += 1;
    }
    let value = literal.parse::<f64>().ok().filter(|v| v.is_finite());
    Some((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<f64> {
        extract_answer(text).map(|a| a.value)
    }

    #[test]
    fn parses_decorated_numbers() {
        assert_eq!(parse_number("1,234"), Some(1234.0));
        assert_eq!(parse_number(" -$1,234.50 "), Some(-1234.5));
        assert_eq!(parse_number("+7"), Some(7.0));
        assert_eq!(parse_number("−3"), Some(-3.0));
        assert_eq!(parse_number("50%"), Some(50.0));
        assert_eq!(parse_number("0.25"), Some(0.25));
        assert_eq!(parse_number("12 apples"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("-"), None);
    }

    #[test]
    fn lists_and_operators_split_numbers() {
        // "1, 23" is a list, "1,23" is not a thousands group, "12-5" is a subtraction.
        assert_eq!(numbers("1, 23"), vec![1.0, 23.0]);
        assert_eq!(numbers("1,23"), vec![1.0, 23.0]);
        assert_eq!(numbers("12-5 = 7."), vec![12.0, 5.0, 7.0]);
        assert_eq!(numbers("x = -5 (-6)"), vec![-5.0, -6.0]);
        assert_eq!(numbers("1,2345"), vec![1.0, 2345.0]);
    }

    #[test]
    fn answer_tag_wins() {
        let a = extract_answer("<think> 12 + 5 = 17 </think> <answer> 17 </answer> 99");
        assert_eq!(
            a,
            Some(ExtractedAnswer {
                value: 17.0,
                source: AnswerSource::AnswerTag
            })
        );
        assert_eq!(value("<answer>x = $1,000 dollars</answer>"), Some(1000.0));
        // An answer block without a number means "no answer", even with numbers elsewhere.
        assert_eq!(value("<think> 3 </think><answer>seven</answer>"), None);
    }

    #[test]
    fn hashes_boxed_and_last_number() {
        let gsm = "48/2 = 24\n#### 72\nextra 5";
        assert_eq!(
            extract_answer(gsm).map(|a| a.source),
            Some(AnswerSource::Hashes)
        );
        assert_eq!(value(gsm), Some(72.0));
        assert_eq!(value("so \\boxed{\\frac{1}{2} = 0.5} done 9"), Some(0.5));
        assert_eq!(
            extract_answer("\\boxed{42}").map(|a| a.source),
            Some(AnswerSource::Boxed)
        );
        assert_eq!(value("the total is 3 + 4 = 7."), Some(7.0));
        // "####" with nothing numeric after it falls back to the later rules.
        assert_eq!(value("#### none, but 8"), Some(8.0));
    }

    #[test]
    fn nasty_inputs() {
        assert_eq!(value(""), None);
        assert_eq!(value("no digits at all"), None);
        assert_eq!(value("<answer> 17"), Some(17.0)); // unclosed tag: last number
        assert_eq!(value("\\boxed{12"), Some(12.0)); // unclosed box: last number
        assert_eq!(value("ünïcödé 😀 ٣ 5 日本"), Some(5.0)); // only ASCII digits count
        let huge = "9".repeat(400);
        assert_eq!(value(&huge), None);
        assert_eq!(value(&format!("{huge} then 3")), Some(3.0));
        assert_eq!(value("1e5"), Some(5.0)); // no scientific notation: "1", "e", "5"
        assert_eq!(value("99999999999999999999"), Some(1e20));
    }

    #[test]
    fn numeric_comparison_tolerance() {
        // |17.0000001 − 17| = 1e-7 ≤ 1e-6 + 1e-12·17
        assert!(answers_match(17.000_000_1, 17.0, 1e-6));
        assert!(!answers_match(17.01, 17.0, 1e-6));
        // Large integers must not get a large tolerance: 1e9 + 1 ≠ 1e9.
        assert!(!answers_match(1e9 + 1.0, 1e9, 1e-6));
        assert!(answers_match(-0.0, 0.0, 0.0));
    }
}
