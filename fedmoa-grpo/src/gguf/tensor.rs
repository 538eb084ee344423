//! Tensor element types ([`GgmlType`]) and tensor descriptors ([`TensorInfo`]).

use std::fmt;

/// A ggml tensor element type. The variants are the types this reader dequantises;
/// every other id is kept as [`GgmlType::Other`] so the file still parses and the error
/// names the type only when such a tensor is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// 32-bit float (id 0).
    F32,
    /// IEEE half (id 1).
    F16,
    /// Blocks of 32: `f16` scale `d`, 16 bytes of 4-bit codes; `x = (q − 8)·d` (id 2).
    Q4_0,
    /// Blocks of 32: `f16` scale `d`, `f16` minimum `m`, 16 bytes of codes; `x = q·d + m` (id 3).
    Q4_1,
    /// Blocks of 32: `f16` scale `d`, 32 signed bytes; `x = q·d` (id 8).
    Q8_0,
    /// bfloat16 (id 30).
    Bf16,
    /// Any other ggml type id.
    Other(u32),
}

/// Names of the ggml type ids, for messages (ggml.h `enum ggml_type`).
const NAMES: [(u32, &str); 33] = [
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (16, "IQ2_XXS"),
    (17, "IQ2_XS"),
    (18, "IQ3_XXS"),
    (19, "IQ1_S"),
    (20, "IQ4_NL"),
    (21, "IQ3_S"),
    (22, "IQ2_S"),
    (23, "IQ4_XS"),
    (24, "I8"),
    (25, "I16"),
    (26, "I32"),
    (27, "I64"),
    (28, "F64"),
    (29, "IQ1_M"),
    (30, "BF16"),
    (34, "TQ1_0"),
    (35, "TQ2_0"),
    (39, "MXFP4"),
    (40, "NVFP4"),
];

impl GgmlType {
    /// The type with ggml id `id`.
    pub fn from_id(id: u32) -> Self {
        match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            8 => Self::Q8_0,
            30 => Self::Bf16,
            other => Self::Other(other),
        }
    }

    /// The ggml id.
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q8_0 => 8,
            Self::Bf16 => 30,
            Self::Other(id) => id,
        }
    }

    /// The ggml name (`"Q4_1"`), or `"unknown"`.
    pub fn name(self) -> &'static str {
        let id = self.id();
        NAMES
            .iter()
            .find(|(i, _)| *i == id)
            .map_or("unknown", |(_, n)| n)
    }

    /// `(elements per block, bytes per block)` for the supported types, `None` otherwise.
    pub fn block_layout(self) -> Option<(usize, usize)> {
        match self {
            Self::F32 => Some((1, 4)),
            Self::F16 | Self::Bf16 => Some((1, 2)),
            Self::Q4_0 => Some((32, 18)),
            Self::Q4_1 => Some((32, 20)),
            Self::Q8_0 => Some((32, 34)),
            Self::Other(_) => None,
        }
    }

    /// Bytes taken by `n` elements, when the type is supported and `n` fills whole blocks.
    pub fn byte_len(self, n: u64) -> Option<u64> {
        let (block, bytes) = self.block_layout()?;
        let (block, bytes) = (block as u64, bytes as u64);
        n.is_multiple_of(block)
            .then(|| (n / block).checked_mul(bytes))
            .flatten()
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (ggml type {})", self.name(), self.id())
    }
}

/// Where a tensor lives in the file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions **innermost first** (ggml `ne`): a row-major `[rows, cols]` matrix is
    /// stored as `[cols, rows]`.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Offset from the start of the data section (a multiple of the alignment).
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements (the product of `dims`; checked at parse time not to overflow).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Dimensions outermost first (row-major / PyTorch order).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for id in [0, 1, 2, 3, 8, 30, 14, 99] {
            assert_eq!(GgmlType::from_id(id).id(), id);
        }
        assert_eq!(GgmlType::from_id(14).to_string(), "Q6_K (ggml type 14)");
        assert_eq!(GgmlType::from_id(99).name(), "unknown");
    }

    #[test]
    fn byte_lengths_follow_the_block_layout() {
        // 64 Q4_1 elements = 2 blocks × 20 bytes; 64 Q8_0 = 2 × 34; 3 BF16 = 6 bytes.
        assert_eq!(GgmlType::Q4_1.byte_len(64), Some(40));
        assert_eq!(GgmlType::Q8_0.byte_len(64), Some(68));
        assert_eq!(GgmlType::Bf16.byte_len(3), Some(6));
        assert_eq!(GgmlType::Q4_0.byte_len(33), None, "partial block");
        assert_eq!(GgmlType::Other(14).byte_len(256), None);
        assert_eq!(GgmlType::F32.byte_len(u64::MAX), None, "overflow");
    }

    #[test]
    fn shape_is_reversed_dims() {
        let t = TensorInfo {
            name: "w".into(),
            dims: vec![576, 192],
            ty: GgmlType::Q4_1,
            offset: 0,
        };
        assert_eq!(t.shape(), vec![192, 576]);
        assert_eq!(t.n_elements(), 110_592);
    }
}
