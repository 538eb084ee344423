//! Loading a [`Llama`] from a Hugging Face checkpoint directory: `config.json` plus one
//! or more `*.safetensors` files (F32, F16 or BF16), `transformers` names, Q/K rows
//! permuted from `rotate_half` to interleaved RoPE at load time.
//!
//! Files are read into memory with `std::fs::read` (no memory map: the workspace forbids
//! `unsafe`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::Device;
use safetensors::{Dtype, SafeTensors};

use super::load::{Dense, Naming, TensorSource, build};
use super::{HfLlamaConfig, Llama};
use crate::GrpoError;

/// The bytes of every shard, and which shard holds which tensor.
struct Shards {
    files: Vec<(PathBuf, Vec<u8>)>,
    index: HashMap<String, usize>,
}

impl Shards {
    fn open(dir: &Path) -> Result<Self, GrpoError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| GrpoError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(GrpoError::Weights {
                tensor: "*".to_string(),
                reason: format!("no *.safetensors file in {}", dir.display()),
            });
        }
        let mut files = Vec::with_capacity(paths.len());
        let mut index = HashMap::new();
        for (i, path) in paths.into_iter().enumerate() {
            let bytes = std::fs::read(&path).map_err(|e| GrpoError::io(&path, e))?;
            let st = parse(&path, &bytes)?;
            for name in st.names() {
                index.insert(name.to_string(), i);
            }
            files.push((path, bytes));
        }
        Ok(Self { files, index })
    }
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>, GrpoError> {
    SafeTensors::deserialize(bytes).map_err(|e| GrpoError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

impl TensorSource for Shards {
    fn read(&self, name: &str, _expected: &[usize]) -> Result<Option<Dense>, GrpoError> {
        let Some(&i) = self.index.get(name) else {
            return Ok(None);
        };
        let (path, bytes) = &self.files[i];
        let st = parse(path, bytes)?;
        let view = st.tensor(name).map_err(|e| GrpoError::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(GrpoError::Weights {
                    tensor: name.to_string(),
                    reason: format!("unsupported dtype {other:?} (expected F32, F16 or BF16)"),
                });
            }
        };
        Ok(Some((view.shape().to_vec(), values)))
    }
}

impl Llama {
    /// Builds the model from a Hugging Face directory holding `config.json` and
    /// `*.safetensors`. `max_seq_len` caps `max_position_embeddings`.
    ///
    /// # Errors
    /// [`GrpoError::Io`] / [`GrpoError::Checkpoint`] for unreadable or malformed files,
    /// [`GrpoError::Config`] for an unsupported config, [`GrpoError::Weights`] for a
    /// missing, mis-shaped or non-float tensor.
    pub fn from_safetensors(
        dir: impl AsRef<Path>,
        max_seq_len: Option<usize>,
        device: &Device,
    ) -> Result<Self, GrpoError> {
        let dir = dir.as_ref();
        let config_path = dir.join("config.json");
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| GrpoError::io(&config_path, e))?;
        let hf: HfLlamaConfig = serde_json::from_str(&text).map_err(|e| GrpoError::Checkpoint {
            path: config_path.clone(),
            reason: e.to_string(),
        })?;
        let config = hf.resolve(max_seq_len)?;
        let shards = Shards::open(dir)?;
        build(&config, &shards, Naming::HuggingFace, device)
    }
}
