//! A GGUF reader (llama.cpp's model format) with dequantisation to `f32`.
//!
//! - [`GgufFile`]: parses header, metadata ([`MetadataValue`], all 13 types, nested
//!   arrays), tensor infos ([`TensorInfo`]) and the aligned data section, checking every
//!   length and offset, so truncated or corrupted files give a [`GgufError`], never a panic.
//! - [`dequantize`]: `F32`, `F16`, `BF16`, `Q8_0`, `Q4_0`, `Q4_1` ([`GgmlType`]); any
//!   other type is a clear [`GgufError::UnsupportedType`].
//! - [`GgufBuilder`]: writes small files (tests, fixtures).
//!
//! Spec: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.

mod cursor;
mod dequant;
mod error;
mod file;
mod tensor;
mod value;
mod writer;

pub use dequant::dequantize;
pub use error::GgufError;
pub use file::{DEFAULT_ALIGNMENT, GgufFile};
pub use tensor::{GgmlType, TensorInfo};
pub use value::MetadataValue;
pub use writer::GgufBuilder;

#[cfg(test)]
mod tests;
