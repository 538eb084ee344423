//! Rebuilds a `tokenizer.json` (Hugging Face `tokenizers` format) from GGUF metadata.
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE over the file's vocabulary
//! and merges) with the pre-tokenizers `smollm` (every digit its own piece, then the GPT-2
//! split regex) and `gpt-2` / `default` (GPT-2 split regex only). Token types 3 (control)
//! and 4 (user-defined) become added tokens, so they match whole in the input text; control
//! tokens are marked special (dropped when decoding).

use serde_json::{Value, json};

use crate::gguf::{GgufError, GgufFile};

/// GGUF token type of control tokens (`<|im_start|>` …).
const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF token type of user-defined tokens.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// The `tokenizer.json` text for the vocabulary stored in `file`.
///
/// # Errors
/// [`GgufError::Metadata`] when a tokenizer key is missing or malformed, or the model or
/// pre-tokenizer type is not supported.
pub(super) fn tokenizer_json(file: &GgufFile) -> Result<String, GgufError> {
    let model = file.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(GgufError::metadata(
            "tokenizer.ggml.model",
            format!("unsupported tokenizer model {model:?} (only byte-level BPE \"gpt2\")"),
        ));
    }
    let pre = file.get_str("tokenizer.ggml.pre").unwrap_or("default");
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let pre_tokenizer = match pre {
        "smollm" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            byte_level,
        ]}),
        "gpt-2" | "gpt2" | "default" => byte_level,
        other => {
            return Err(GgufError::metadata(
                "tokenizer.ggml.pre",
                format!("unsupported pre-tokenizer {other:?} (supported: smollm, gpt-2, default)"),
            ));
        }
    };
    let tokens = file.get_str_array("tokenizer.ggml.tokens")?;
    let merges = file.get_str_array("tokenizer.ggml.merges")?;
    let types = match file.get_int_array("tokenizer.ggml.token_type") {
        Ok(t) if t.len() == tokens.len() => t,
        Ok(t) => {
            return Err(GgufError::metadata(
                "tokenizer.ggml.token_type",
                format!("{} entries for {} tokens", t.len(), tokens.len()),
            ));
        }
        Err(_) => vec![1; tokens.len()],
    };
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    for (id, t) in tokens.iter().enumerate() {
        if vocab.insert((*t).to_string(), json!(id)).is_some() {
            return Err(GgufError::metadata(
                "tokenizer.ggml.tokens",
                format!("token {t:?} appears twice"),
            ));
        }
    }
    let added: Vec<Value> = tokens
        .iter()
        .zip(&types)
        .enumerate()
        .filter(|(_, (_, ty))| matches!(**ty, TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED))
        .map(|(id, (t, ty))| {
            json!({"id": id, "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": *ty == TOKEN_TYPE_CONTROL})
        })
        .collect();
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": false, "vocab": vocab, "merges": merges},
    });
    Ok(doc.to_string())
}
