//! Loading a [`Llama`] from a GGUF file (llama.cpp names; Q/K already interleaved).

use std::path::Path;

use burn::prelude::Device;

use super::load::{Dense, Naming, TensorSource, build};
use super::{Llama, LlamaConfig};
use crate::GrpoError;
use crate::gguf::GgufFile;

impl TensorSource for GgufFile {
    fn read(&self, name: &str, _expected: &[usize]) -> Result<Option<Dense>, GrpoError> {
        if self.tensor(name).is_none() {
            return Ok(None);
        }
        Ok(Some(self.dequantize(name)?))
    }
}

impl Llama {
    /// Builds the model stored in a parsed GGUF file, dequantising every tensor to `f32`.
    /// `max_seq_len` caps the context length (and the RoPE table); `None` keeps the file's.
    ///
    /// # Errors
    /// [`GrpoError::Gguf`] for missing metadata, unsupported tensor types or a corrupt
    /// file, [`GrpoError::Weights`] for a missing or mis-shaped tensor,
    /// [`GrpoError::Config`] for inconsistent sizes.
    pub fn from_gguf(
        file: &GgufFile,
        max_seq_len: Option<usize>,
        device: &Device,
    ) -> Result<Self, GrpoError> {
        let config = LlamaConfig::from_gguf(file, max_seq_len)?;
        build(&config, file, Naming::Gguf, device)
    }

    /// Reads the GGUF file at `path` (into memory, see [`GgufFile::open`]) and builds the
    /// model as [`Llama::from_gguf`].
    ///
    /// # Errors
    /// As [`GgufFile::open`] and [`Llama::from_gguf`].
    pub fn load_gguf(
        path: impl AsRef<Path>,
        max_seq_len: Option<usize>,
        device: &Device,
    ) -> Result<Self, GrpoError> {
        Self::from_gguf(&GgufFile::open(path)?, max_seq_len, device)
    }
}
