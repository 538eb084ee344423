//! [`GgufBuilder`]: writes small GGUF v3 files (test fixtures, exported adapters).

use super::value::write_string;
use super::{DEFAULT_ALIGNMENT, GgmlType, MetadataValue};

/// Collects metadata and raw tensor data, then serialises a GGUF v3 file.
#[derive(Debug, Clone, Default)]
pub struct GgufBuilder {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl GgufBuilder {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata pair (`general.alignment` as `U32` changes the alignment).
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: MetadataValue) -> Self {
        self.metadata.push((key.into(), value));
        self
    }

    /// Adds a tensor with dims **innermost first** and its already-encoded bytes.
    #[must_use]
    pub fn tensor(
        mut self,
        name: impl Into<String>,
        dims: Vec<u64>,
        ty: GgmlType,
        bytes: Vec<u8>,
    ) -> Self {
        self.tensors.push((name.into(), dims, ty, bytes));
        self
    }

    /// Adds an `F32` tensor of row-major `shape` (outermost first).
    #[must_use]
    pub fn f32_tensor(self, name: impl Into<String>, shape: &[usize], values: &[f32]) -> Self {
        let dims = shape.iter().rev().map(|&d| d as u64).collect();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(name, dims, GgmlType::F32, bytes)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let alignment = self
            .metadata
            .iter()
            .find_map(|(k, v)| match (k.as_str(), v) {
                ("general.alignment", MetadataValue::U32(a)) if a.is_power_of_two() => {
                    Some(u64::from(*a))
                }
                _ => None,
            })
            .unwrap_or(DEFAULT_ALIGNMENT) as usize;
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_string(&mut out, key);
            out.extend_from_slice(&value.type_id().to_le_bytes());
            value.write(&mut out);
        }
        let mut offset = 0usize;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for (name, dims, ty, bytes) in &self.tensors {
            write_string(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&ty.id().to_le_bytes());
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            offsets.push(offset);
            offset = (offset + bytes.len()).div_ceil(alignment) * alignment;
        }
        let pad = |out: &mut Vec<u8>| out.resize(out.len().div_ceil(alignment) * alignment, 0);
        pad(&mut out);
        for (_, _, _, bytes) in &self.tensors {
            out.extend_from_slice(bytes);
            pad(&mut out);
        }
        out
    }
}
