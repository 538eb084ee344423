//! [`GgufFile`]: header, metadata, tensor infos and data section of a GGUF file.
//!
//! Layout (GGUF v2/v3, little-endian): magic `GGUF`, `u32` version, `u64` tensor count,
//! `u64` metadata count, the metadata pairs (string key, `u32` type, value), the tensor
//! infos (string name, `u32` rank, `u64` dims innermost first, `u32` type, `u64` offset),
//! then padding to `general.alignment` (default 32) and the tensor data.
//!
//! The whole file is read into memory with `std::fs::read` (the workspace forbids `unsafe`,
//! which memory-mapping needs); SmolLM2-135M's file is 98 MB.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::cursor::Cursor;
use super::{GgmlType, GgufError, MetadataValue, TensorInfo, dequantize};

/// Default alignment of the data section and of tensor offsets.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions of a ggml tensor.
const MAX_DIMS: u32 = 4;

/// A parsed GGUF file that owns its bytes.
#[derive(Debug, Clone)]
pub struct GgufFile {
    version: u32,
    metadata: BTreeMap<String, MetadataValue>,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_start: usize,
    bytes: Vec<u8>,
}

impl GgufFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// [`GgufError::Io`] when the file cannot be read, otherwise as [`GgufFile::parse`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(bytes)
    }

    /// Parses a whole file held in memory.
    ///
    /// Checks the magic, the version, every length against the bytes left, duplicate keys
    /// and tensor names, the alignment (a power of two), tensor ranks (1–4), element counts
    /// (no overflow), offsets (aligned) and, for the supported types, that each tensor's
    /// bytes lie inside the file.
    ///
    /// # Errors
    /// A [`GgufError`] describing the first problem; never panics.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, GgufError> {
        let mut cur = Cursor::new(&bytes);
        let magic = cur.take(4, "magic")?;
        if magic != b"GGUF" {
            let mut found = [0u8; 4];
            found.copy_from_slice(magic);
            return Err(GgufError::BadMagic { found });
        }
        let version = cur.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = cur.u64("tensor count")?;
        let n_kv = cur.u64("metadata count")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let offset = cur.pos();
            let key = cur.string("metadata key")?;
            let ty = cur.u32("metadata value type")?;
            let value = MetadataValue::read(&mut cur, ty)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(malformed(offset, format!("duplicate metadata key {key:?}")));
            }
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(MetadataValue::U32(a)) if a.is_power_of_two() => u64::from(*a),
            Some(other) => {
                return Err(GgufError::metadata(
                    "general.alignment",
                    format!("must be a u32 power of two, got {other:?}"),
                ));
            }
        };
        let mut tensors: Vec<TensorInfo> = Vec::new();
        let mut names = HashSet::new();
        for _ in 0..n_tensors {
            let info = read_tensor_info(&mut cur, alignment)?;
            if !names.insert(info.name.clone()) {
                return Err(malformed(
                    cur.pos(),
                    format!("duplicate tensor {:?}", info.name),
                ));
            }
            tensors.push(info);
        }
        let data_start = align_up(cur.pos() as u64, alignment)
            .and_then(|p| usize::try_from(p).ok())
            .filter(|&p| p <= bytes.len() || tensors.is_empty())
            .ok_or_else(|| GgufError::Truncated {
                what: "padding before tensor data",
                offset: cur.pos(),
                needed: alignment,
                available: cur.remaining(),
            })?;
        let file = Self {
            version,
            metadata,
            tensors,
            alignment,
            data_start: data_start.min(bytes.len()),
            bytes,
        };
        for t in &file.tensors {
            if t.ty.block_layout().is_some() {
                file.tensor_bytes(t)?;
            }
        }
        Ok(file)
    }

    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of the data section.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Every metadata pair, sorted by key.
    pub fn metadata(&self) -> &BTreeMap<String, MetadataValue> {
        &self.metadata
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The value of `key`.
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when the key is missing.
    pub fn get(&self, key: &str) -> Result<&MetadataValue, GgufError> {
        self.metadata
            .get(key)
            .ok_or_else(|| GgufError::metadata(key, "missing"))
    }

    /// A non-negative integer value of any integer type.
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when missing or not a non-negative integer.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.get(key)?;
        v.as_u64().ok_or_else(|| {
            GgufError::metadata(key, format!("expected an unsigned integer, got {v:?}"))
        })
    }

    /// A float value (`f32` or `f64`).
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when missing or not a float.
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        let v = self.get(key)?;
        v.as_f64()
            .ok_or_else(|| GgufError::metadata(key, format!("expected a float, got {v:?}")))
    }

    /// A string value.
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when missing or not a string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.get(key)?;
        v.as_str().ok_or_else(|| {
            GgufError::metadata(key, format!("expected a string, got type {}", v.type_id()))
        })
    }

    /// An array of strings.
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when missing, not an array, or holding a non-string.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        self.get_array_of(key, "strings", MetadataValue::as_str)
    }

    /// An array of integers as `i64`.
    ///
    /// # Errors
    /// [`GgufError::Metadata`] when missing, not an array, or holding a non-integer.
    pub fn get_int_array(&self, key: &str) -> Result<Vec<i64>, GgufError> {
        self.get_array_of(key, "integers", MetadataValue::as_i64)
    }

    /// The array under `key`, every element read by `read` (`what` names the expected
    /// element kind in errors).
    fn get_array_of<'a, T>(
        &'a self,
        key: &str,
        what: &str,
        read: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<Vec<T>, GgufError> {
        let items = self
            .get(key)?
            .as_array()
            .ok_or_else(|| GgufError::metadata(key, "expected an array"))?;
        items
            .iter()
            .map(|v| read(v).ok_or_else(|| GgufError::metadata(key, format!("expected {what}"))))
            .collect()
    }

    /// The raw bytes of a tensor of a supported type.
    ///
    /// # Errors
    /// [`GgufError::UnsupportedType`] when the type's size is unknown,
    /// [`GgufError::BadTensor`] / [`GgufError::Truncated`] when the bytes do not fit.
    pub fn tensor_bytes(&self, t: &TensorInfo) -> Result<&[u8], GgufError> {
        let len = match t.ty.byte_len(t.n_elements()) {
            Some(len) => len,
            None if t.ty.block_layout().is_none() => {
                return Err(GgufError::UnsupportedType {
                    tensor: t.name.clone(),
                    ty: t.ty,
                });
            }
            None => {
                return Err(GgufError::BadTensor {
                    tensor: t.name.clone(),
                    reason: format!(
                        "{} elements do not fill whole {} blocks",
                        t.n_elements(),
                        t.ty.name()
                    ),
                });
            }
        };
        let data = &self.bytes[self.data_start..];
        let end = t.offset.checked_add(len);
        match end {
            Some(end) if end <= data.len() as u64 => Ok(&data[t.offset as usize..end as usize]),
            _ => Err(GgufError::Truncated {
                what: "tensor data",
                offset: self
                    .data_start
                    .saturating_add(usize::try_from(t.offset).unwrap_or(usize::MAX)),
                needed: len,
                available: data
                    .len()
                    .saturating_sub(usize::try_from(t.offset).unwrap_or(usize::MAX)),
            }),
        }
    }

    /// Dequantises the tensor named `name` to `f32`, in storage (row-major) order.
    ///
    /// # Errors
    /// [`GgufError::MissingTensor`], or as [`GgufFile::tensor_bytes`] and [`dequantize`].
    pub fn dequantize(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let t = self
            .tensor(name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_string()))?;
        let bytes = self.tensor_bytes(t)?;
        Ok((t.shape(), dequantize(&t.name, t.ty, bytes, t.n_elements())?))
    }
}

fn malformed(offset: usize, reason: String) -> GgufError {
    GgufError::Malformed { offset, reason }
}

fn align_up(pos: u64, alignment: u64) -> Option<u64> {
    pos.checked_add(alignment - 1)
        .map(|p| p / alignment * alignment)
}

fn read_tensor_info(cur: &mut Cursor<'_>, alignment: u64) -> Result<TensorInfo, GgufError> {
    let offset = cur.pos();
    let name = cur.string("tensor name")?;
    let rank = cur.u32("tensor rank")?;
    if !(1..=MAX_DIMS).contains(&rank) {
        return Err(malformed(
            offset,
            format!("tensor {name:?} has rank {rank} (expected 1–4)"),
        ));
    }
    let mut dims = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        dims.push(cur.u64("tensor dimension")?);
    }
    let n = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    if n.is_none_or(|n| n == 0 || n > i64::MAX as u64) {
        return Err(malformed(
            offset,
            format!("tensor {name:?} has invalid dimensions {dims:?}"),
        ));
    }
    let ty = GgmlType::from_id(cur.u32("tensor type")?);
    let data_offset = cur.u64("tensor offset")?;
    if !data_offset.is_multiple_of(alignment) {
        return Err(malformed(
            offset,
            format!("tensor {name:?} offset {data_offset} is not a multiple of {alignment}"),
        ));
    }
    Ok(TensorInfo {
        name,
        dims,
        ty,
        offset: data_offset,
    })
}
