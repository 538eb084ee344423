//! [`LlmTokenizer`]: the tokenizer of a pretrained model, rebuilt from GGUF metadata or
//! loaded from a Hugging Face `tokenizer.json`, plus ChatML formatting ([`format_chatml`]).

mod chat_prompt;
mod chatml;
mod gguf;

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

pub use chat_prompt::ChatPromptTokenizer;
pub use chatml::{ChatMessage, IM_END, IM_START, SMOLLM2_DEFAULT_SYSTEM, format_chatml};

use crate::GrpoError;
use crate::gguf::GgufFile;

/// Special tokens of a model loaded from `tokenizer.json` (named by their text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialTokens {
    /// Prepended to every encoded text when `add_bos` is set.
    pub bos: Option<String>,
    /// End of sequence; sampling stops on it.
    pub eos: String,
    /// Padding; defaults to `eos`.
    pub pad: Option<String>,
    /// Whether [`LlmTokenizer::encode`] prepends `bos`.
    pub add_bos: bool,
}

impl SpecialTokens {
    /// SmolLM2-Instruct / ChatML: BOS `<|im_start|>` (not prepended), EOS and pad `<|im_end|>`.
    pub fn chatml() -> Self {
        Self {
            bos: Some(IM_START.to_string()),
            eos: IM_END.to_string(),
            pad: None,
            add_bos: false,
        }
    }
}

/// A pretrained model's tokenizer with its special-token ids.
#[derive(Debug, Clone)]
pub struct LlmTokenizer {
    inner: Tokenizer,
    bos_id: Option<u32>,
    eos_id: u32,
    pad_id: u32,
    add_bos: bool,
}

impl LlmTokenizer {
    /// Rebuilds the tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
    ///
    /// # Errors
    /// [`GrpoError::Gguf`] for missing or unsupported tokenizer metadata,
    /// [`GrpoError::Tokenizer`] when the `tokenizers` crate rejects the vocabulary.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, GrpoError> {
        let json = gguf::tokenizer_json(file)?;
        let inner: Tokenizer = json
            .parse()
            .map_err(|e| GrpoError::tokenizer("building the GGUF vocabulary", e))?;
        let n = inner.get_vocab_size(true) as u64;
        let id = |key: &str| -> Result<Option<u32>, GrpoError> {
            match file.metadata().get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|&i| i < n)
                    .and_then(|i| u32::try_from(i).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        crate::gguf::GgufError::metadata(key, format!("not a token id below {n}"))
                            .into()
                    }),
            }
        };
        let eos_id = id("tokenizer.ggml.eos_token_id")?.ok_or_else(|| {
            GrpoError::from(crate::gguf::GgufError::metadata(
                "tokenizer.ggml.eos_token_id",
                "missing",
            ))
        })?;
        let add_bos = file
            .metadata()
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        Ok(Self {
            bos_id: id("tokenizer.ggml.bos_token_id")?,
            pad_id: id("tokenizer.ggml.padding_token_id")?.unwrap_or(eos_id),
            eos_id,
            add_bos,
            inner,
        })
    }

    /// Loads a Hugging Face `tokenizer.json` whose special tokens are `specials`.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when the file is unreadable or a special token is missing.
    pub fn from_file(path: impl AsRef<Path>, specials: &SpecialTokens) -> Result<Self, GrpoError> {
        let path = path.as_ref();
        let inner = Tokenizer::from_file(path)
            .map_err(|e| GrpoError::tokenizer(format!("loading {}", path.display()), e))?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| GrpoError::Tokenizer {
                context: format!("special token {t:?} is not in {}", path.display()),
                source: None,
            })
        };
        let eos_id = id(&specials.eos)?;
        Ok(Self {
            bos_id: specials.bos.as_deref().map(id).transpose()?,
            pad_id: specials
                .pad
                .as_deref()
                .map(id)
                .transpose()?
                .unwrap_or(eos_id),
            eos_id,
            add_bos: specials.add_bos,
            inner,
        })
    }

    /// Token ids of `text`. Special-token texts (`<|im_start|>` …) become their ids;
    /// BOS is prepended when the model asks for it.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when encoding fails.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, GrpoError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| GrpoError::tokenizer("encoding", e))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if let (true, Some(bos)) = (self.add_bos, self.bos_id) {
            ids.push(bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Token ids of a ChatML conversation ending with an open assistant turn.
    ///
    /// # Errors
    /// As [`LlmTokenizer::encode`].
    pub fn encode_chat(
        &self,
        messages: &[ChatMessage],
        default_system: Option<&str>,
    ) -> Result<Vec<u32>, GrpoError> {
        self.encode(&format_chatml(messages, default_system, true))
    }

    /// Text of `ids`, dropping special (control) tokens.
    ///
    /// # Errors
    /// [`GrpoError::Tokenizer`] when an id is out of range.
    pub fn decode(&self, ids: &[u32]) -> Result<String, GrpoError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| GrpoError::tokenizer("decoding", e))
    }

    /// The underlying `tokenizers::Tokenizer` (e.g. to save it as `tokenizer.json`).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Beginning-of-sequence id, if the model has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// End-of-sequence id (sampling stops on it).
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// Padding id (the EOS id when the model defines none).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Id of a token string, if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

#[cfg(test)]
mod tests;
