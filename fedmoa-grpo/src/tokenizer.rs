//! [`TaskTokenizer`]: a small byte-level BPE vocabulary trained on the task texts.
//!
//! Built with the `tokenizers` crate and stored as a standard `tokenizer.json`. Digits are
//! split one per token (numbers stay compositional, so unseen numbers still encode), and
//! the byte-level alphabet makes `decode(encode(text)) == text` for any UTF-8 input. The
//! special tokens are `<pad>`, `<bos>` and `<eos>`; the completion-format markers
//! (`<think>`, `</think>`, `<answer>`, `</answer>` by default) are single tokens.

use std::path::Path;

use fedmoa_core::ConfigError;
use serde::{Deserialize, Serialize};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, ModelWrapper, Tokenizer};

use crate::GrpoError;

/// Padding token.
pub const PAD_TOKEN: &str = "<pad>";
/// Beginning-of-sequence token, prepended to every prompt.
pub const BOS_TOKEN: &str = "<bos>";
/// End-of-sequence token; sampling stops on it.
pub const EOS_TOKEN: &str = "<eos>";

/// How to train a [`TaskTokenizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizerTrainConfig {
    /// Target vocabulary size, special and marker tokens included (≥ 300: the byte
    /// alphabet alone takes 256).
    pub vocab_size: usize,
    /// A merge must occur this often in the training texts.
    pub min_frequency: u64,
    /// Marker strings kept as single, non-special tokens.
    pub markers: Vec<String>,
}

impl Default for TokenizerTrainConfig {
    fn default() -> Self {
        Self {
            vocab_size: 512,
            min_frequency: 2,
            markers: ["<think>", "</think>", "<answer>", "</answer>"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl TokenizerTrainConfig {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vocab_size < 300 {
            return Err(ConfigError::new("vocab_size", "must be at least 300"));
        }
        if self.min_frequency == 0 {
            return Err(ConfigError::new("min_frequency", "must be > 0"));
        }
        if let Some(m) = self.markers.iter().find(|m| m.trim().is_empty()) {
            return Err(ConfigError::new(
                "markers",
                format!("marker {m:?} is blank"),
            ));
        }
        Ok(())
    }
}

/// A trained tokenizer with the ids of its special tokens.
#[derive(Debug, Clone)]
pub struct TaskTokenizer {
    inner: Tokenizer,
    pad_id: u32,
    bos_id: u32,
    eos_id: u32,
}

impl TaskTokenizer {
    /// Trains a byte-level BPE vocabulary on `texts`.
    ///
    /// # Errors
    /// [`GrpoError::Config`] for a bad config, [`GrpoError::Tokenizer`] when training fails.
    pub fn train<I, S>(texts: I, config: &TokenizerTrainConfig) -> Result<Self, GrpoError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        config.validate()?;
        let specials = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN]
            .map(|t| AddedToken::from(t, true))
            .to_vec();
        let markers: Vec<AddedToken> = config
            .markers
            .iter()
            .map(|m| AddedToken::from(m.clone(), false))
            .collect();
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .vocab_size(config.vocab_size.saturating_sub(markers.len()))
            .min_frequency(config.min_frequency)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build()
            .into();
        let mut inner = Tokenizer::new(ModelWrapper::BPE(BPE::default()));
        inner.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        // Markers are added after training (so their ids follow the model's vocabulary) and
        // cut out of the training texts (so no merge is spent on their pieces).
        let texts: Vec<String> = texts
            .into_iter()
            .map(|t| {
                config
                    .markers
                    .iter()
                    .fold(t.as_ref().to_string(), |acc, m| {
                        acc.replace(m.as_str(), " ")
                    })
            })
            .collect();
        inner
            .train(&mut trainer, texts.into_iter())
            .map_err(|e| GrpoError::tokenizer("training BPE", e))?;
        inner
            .add_tokens(markers)
            .map_err(|e| GrpoError::tokenizer("adding marker tokens", e))?;
        Self::from_tokenizer(inner)
    }

    /// Wraps a loaded tokenizer, looking up the special tokens.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when a special token is missing.
    pub fn from_tokenizer(inner: Tokenizer) -> Result<Self, GrpoError> {
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| GrpoError::Tokenizer {
                context: format!("special token {t} is not in the vocabulary"),
                source: None,
            })
        };
        Ok(Self {
            pad_id: id(PAD_TOKEN)?,
            bos_id: id(BOS_TOKEN)?,
            eos_id: id(EOS_TOKEN)?,
            inner,
        })
    }

    /// Loads a `tokenizer.json`.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when the file is unreadable or lacks the special tokens.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, GrpoError> {
        let path = path.as_ref();
        let inner = Tokenizer::from_file(path)
            .map_err(|e| GrpoError::tokenizer(format!("loading {}", path.display()), e))?;
        Self::from_tokenizer(inner)
    }

    /// Writes a `tokenizer.json`.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), GrpoError> {
        let path = path.as_ref();
        self.inner
            .save(path, false)
            .map_err(|e| GrpoError::tokenizer(format!("saving {}", path.display()), e))
    }

    /// The `tokenizer.json` text.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when serialisation fails.
    pub fn to_json(&self) -> Result<String, GrpoError> {
        self.inner
            .to_string(false)
            .map_err(|e| GrpoError::tokenizer("serialising", e))
    }

    /// Token ids of `text`, without special tokens.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when encoding fails.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| GrpoError::tokenizer("encoding", e))
    }

    /// Text of `ids`, dropping special tokens.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when an id is out of range.
    pub fn decode(&self, ids: &[u32]) -> Result<String, GrpoError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| GrpoError::tokenizer("decoding", e))
    }

    /// `<bos>` followed by the tokens of a prompt.
    ///
    /// # Errors
    /// As [`TaskTokenizer::encode`].
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        let mut ids = vec![self.bos_id];
        ids.extend(self.encode(text)?);
        Ok(ids)
    }

    /// The tokens of a completion followed by `<eos>`.
    ///
    /// # Errors
    /// As [`TaskTokenizer::encode`].
    pub fn encode_completion(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        let mut ids = self.encode(text)?;
        ids.push(self.eos_id);
        Ok(ids)
    }

    /// Vocabulary size, added tokens included (the model's `vocab_size`).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of `<pad>`.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Id of `<bos>`.
    pub fn bos_id(&self) -> u32 {
        self.bos_id
    }

    /// Id of `<eos>`.
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// Id of a token string, if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Vec<&'static str> {
        vec![
            "Tom has 12 apples and buys 7 more. How many apples does Tom have?",
            "<think> 12 + 7 = 19 </think> <answer> 19 </answer>",
            "Ann has 30 pears and gives away 4. How many pears does Ann have?",
            "<think> 30 - 4 = 26 </think> <answer> 26 </answer>",
        ]
    }

    #[test]
    fn round_trips_text_and_splits_digits() {
        let tok = TaskTokenizer::train(texts(), &TokenizerTrainConfig::default()).unwrap();
        let s = "<think> 123 + 9 = 132 </think> <answer> 132 </answer>";
        let ids = tok.encode(s).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), s);
        // Markers are single tokens.
        assert_eq!(ids[0], tok.token_to_id("<think>").unwrap());
        // Unseen text still round-trips through the byte alphabet.
        let odd = "Zoë owes €5!";
        assert_eq!(tok.decode(&tok.encode(odd).unwrap()).unwrap(), odd);
    }

    #[test]
    fn specials_are_distinct_and_dropped_on_decode() {
        let tok = TaskTokenizer::train(texts(), &TokenizerTrainConfig::default()).unwrap();
        let ids = [tok.pad_id(), tok.bos_id(), tok.eos_id()];
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        let mut p = tok.encode_prompt("Tom has").unwrap();
        assert_eq!(p[0], tok.bos_id());
        p.extend(tok.encode_completion(" 7").unwrap());
        assert_eq!(*p.last().unwrap(), tok.eos_id());
        assert_eq!(tok.decode(&p).unwrap(), "Tom has 7");
    }

    #[test]
    fn saves_and_loads_tokenizer_json() {
        let tok = TaskTokenizer::train(texts(), &TokenizerTrainConfig::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path).unwrap();
        let back = TaskTokenizer::from_file(&path).unwrap();
        let s = "Ann has 30 pears";
        assert_eq!(back.encode(s).unwrap(), tok.encode(s).unwrap());
        assert_eq!(back.vocab_size(), tok.vocab_size());
        assert_eq!(back.eos_id(), tok.eos_id());
    }

    #[test]
    fn rejects_tiny_vocabulary() {
        let cfg = TokenizerTrainConfig {
            vocab_size: 100,
            ..Default::default()
        };
        let err = TaskTokenizer::train(texts(), &cfg).unwrap_err();
        assert!(err.to_string().contains("vocab_size"), "{err}");
    }
}
