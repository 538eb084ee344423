//! Texts for training a tokenizer: prompts and reference solutions of every task kind.

use crate::code::{CodeGenerator, CodeTaskConfig};
use crate::math::{MathFamily, MathGenerator, MathTaskConfig};
use crate::seeded::rng_for;

/// `n_per_setting` math problems for every family × digits (1..=4) × steps (1..=4) and
/// `n_per_setting` code tasks for every difficulty (1..=3), as prompt text followed by
/// reference solution; the same seed gives the same corpus.
pub fn tokenizer_corpus(seed: u64, n_per_setting: usize) -> Vec<String> {
    let mut texts = Vec::new();
    let mut stream = 0;
    let mut next_rng = || {
        stream += 1;
        rng_for(seed, stream)
    };
    for family in MathFamily::ALL {
        for digits in 1..=4 {
            for steps in 1..=4 {
                let config = MathTaskConfig::new(vec![family])
                    .with_digits(digits)
                    .with_steps(steps);
                // The loops stay inside the validated ranges.
                let Ok(generator) = MathGenerator::new(config) else {
                    continue;
                };
                let mut rng = next_rng();
                for _ in 0..n_per_setting {
                    let p = generator.generate(&mut rng);
                    texts.push(p.question.clone());
                    texts.push(p.solution());
                }
            }
        }
    }
    for difficulty in 1..=3 {
        let Ok(generator) = CodeGenerator::new(CodeTaskConfig::new(difficulty)) else {
            continue;
        };
        let mut rng = next_rng();
        for _ in 0..n_per_setting {
            let t = generator.generate(&mut rng);
            texts.push(t.prompt_text());
            texts.push(t.solution());
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn covers_every_setting_with_a_small_vocabulary() {
        let corpus = tokenizer_corpus(1, 3);
        // (5 families · 4 digits · 4 steps + 3 difficulties) · 3 tasks · 2 texts
        assert_eq!(corpus.len(), (5 * 4 * 4 + 3) * 3 * 2);
        assert_eq!(corpus, tokenizer_corpus(1, 3));
        let words: BTreeSet<&str> = corpus
            .iter()
            .flat_map(|t| t.split(' '))
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .collect();
        // Names, objects, containers, verbs, tags, operators and punctuation only.
        assert!(
            words.len() < 90,
            "{} non-numeric words: {words:?}",
            words.len()
        );
        assert!(words.contains("<think>") && words.contains("write"));
    }
}
