//! [`MetadataValue`]: the 13 value types of GGUF key/value metadata.

use super::GgufError;
use super::cursor::Cursor;

/// Deepest nesting of arrays accepted (llama.cpp writes at most one level).
const MAX_ARRAY_DEPTH: usize = 4;

/// One metadata value. Type ids follow the GGUF spec (0 = `u8` … 12 = `f64`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7 (stored as one byte, 0 or 1).
    Bool(bool),
    /// Type 8 (`u64` length + UTF-8).
    String(String),
    /// Type 9: element type id, `u64` count, elements (all of that type).
    Array(Vec<MetadataValue>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl MetadataValue {
    /// The GGUF type id of this value.
    pub fn type_id(&self) -> u32 {
        match self {
            Self::U8(_) => 0,
            Self::I8(_) => 1,
            Self::U16(_) => 2,
            Self::I16(_) => 3,
            Self::U32(_) => 4,
            Self::I32(_) => 5,
            Self::F32(_) => 6,
            Self::Bool(_) => 7,
            Self::String(_) => 8,
            Self::Array(_) => 9,
            Self::U64(_) => 10,
            Self::I64(_) => 11,
            Self::F64(_) => 12,
        }
    }

    /// Any integer type as `u64`, when it is non-negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer type as `i64` (`u64` values above `i64::MAX` give `None`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// `f32` or `f64` as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The string, for type 8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, for type 7.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, for type 9.
    pub fn as_array(&self) -> Option<&[MetadataValue]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }

    /// Reads a value of type `type_id` at the cursor.
    pub(crate) fn read(cur: &mut Cursor<'_>, type_id: u32) -> Result<Self, GgufError> {
        Self::read_nested(cur, type_id, 0)
    }

    fn read_nested(cur: &mut Cursor<'_>, type_id: u32, depth: usize) -> Result<Self, GgufError> {
        let v = match type_id {
            0 => Self::U8(cur.u8("u8 value")?),
            1 => Self::I8(i8::from_le_bytes([cur.u8("i8 value")?])),
            2 => Self::U16(cur.u16("u16 value")?),
            3 => Self::I16(i16::from_le_bytes(cur.u16("i16 value")?.to_le_bytes())),
            4 => Self::U32(cur.u32("u32 value")?),
            5 => Self::I32(i32::from_le_bytes(cur.u32("i32 value")?.to_le_bytes())),
            6 => Self::F32(f32::from_bits(cur.u32("f32 value")?)),
            7 => {
                let offset = cur.pos();
                match cur.u8("bool value")? {
                    0 => Self::Bool(false),
                    1 => Self::Bool(true),
                    b => {
                        return Err(GgufError::Malformed {
                            offset,
                            reason: format!("bool value {b} is neither 0 nor 1"),
                        });
                    }
                }
            }
            8 => Self::String(cur.string("string value")?),
            9 => Self::Array(Self::read_array(cur, depth)?),
            10 => Self::U64(cur.u64("u64 value")?),
            11 => Self::I64(i64::from_le_bytes(cur.u64("i64 value")?.to_le_bytes())),
            12 => Self::F64(f64::from_bits(cur.u64("f64 value")?)),
            other => {
                return Err(GgufError::Malformed {
                    offset: cur.pos().saturating_sub(4),
                    reason: format!("unknown metadata value type {other}"),
                });
            }
        };
        Ok(v)
    }

    fn read_array(cur: &mut Cursor<'_>, depth: usize) -> Result<Vec<Self>, GgufError> {
        let offset = cur.pos();
        if depth >= MAX_ARRAY_DEPTH {
            return Err(GgufError::Malformed {
                offset,
                reason: format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"),
            });
        }
        let elem_type = cur.u32("array element type")?;
        let count = cur.u64("array length")?;
        // Every element takes at least one byte, so a count beyond the bytes left is
        // corrupt; checking first keeps a forged count from reserving huge memory.
        if count > cur.remaining() as u64 {
            return Err(GgufError::Truncated {
                what: "array elements",
                offset: cur.pos(),
                needed: count,
                available: cur.remaining(),
            });
        }
        // Reserve little up front: a forged count within the file size still cannot make
        // the parser allocate 32 bytes per remaining byte before reading any element.
        let mut out = Vec::with_capacity((count as usize).min(4096));
        for _ in 0..count {
            out.push(Self::read_nested(cur, elem_type, depth + 1)?);
        }
        Ok(out)
    }

    /// Appends the encoding of this value (without its type id) to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::U8(v) => out.push(*v),
            Self::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::Bool(v) => out.push(u8::from(*v)),
            Self::String(s) => write_string(out, s),
            Self::Array(items) => {
                // An empty array's element type is irrelevant; write u8.
                let elem_type = items.first().map_or(0, Self::type_id);
                out.extend_from_slice(&elem_type.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for item in items {
                    item.write(out);
                }
            }
            Self::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Self::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// Appends a GGUF string (`u64` length + bytes).
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &MetadataValue) -> MetadataValue {
        let mut bytes = Vec::new();
        v.write(&mut bytes);
        let mut cur = Cursor::new(&bytes);
        let back = MetadataValue::read(&mut cur, v.type_id()).unwrap();
        assert_eq!(cur.remaining(), 0);
        back
    }

    #[test]
    fn every_type_round_trips() {
        let values = [
            MetadataValue::U8(200),
            MetadataValue::I8(-100),
            MetadataValue::U16(60_000),
            MetadataValue::I16(-30_000),
            MetadataValue::U32(4_000_000_000),
            MetadataValue::I32(-2_000_000_000),
            MetadataValue::F32(1.5e-5),
            MetadataValue::Bool(true),
            MetadataValue::String("Ġt".to_string()),
            MetadataValue::Array(vec![MetadataValue::I32(3), MetadataValue::I32(-1)]),
            MetadataValue::Array(vec![MetadataValue::Array(vec![MetadataValue::U8(1)])]),
            MetadataValue::U64(u64::MAX),
            MetadataValue::I64(i64::MIN),
            MetadataValue::F64(100_000.0),
        ];
        for v in &values {
            assert_eq!(&round_trip(v), v);
        }
    }

    #[test]
    fn reads_hand_encoded_bytes() {
        // i16 -2 = 0xfffe little-endian; f32 1.0 = 0x3f800000.
        let mut cur = Cursor::new(&[0xfe, 0xff]);
        assert_eq!(
            MetadataValue::read(&mut cur, 3).unwrap(),
            MetadataValue::I16(-2)
        );
        let mut cur = Cursor::new(&[0, 0, 0x80, 0x3f]);
        assert_eq!(
            MetadataValue::read(&mut cur, 6).unwrap(),
            MetadataValue::F32(1.0)
        );
    }

    #[test]
    fn rejects_bad_bool_unknown_type_and_forged_counts() {
        let err = MetadataValue::read(&mut Cursor::new(&[2]), 7).unwrap_err();
        assert!(err.to_string().contains("neither 0 nor 1"), "{err}");
        let err = MetadataValue::read(&mut Cursor::new(&[0; 8]), 13).unwrap_err();
        assert!(
            err.to_string().contains("unknown metadata value type 13"),
            "{err}"
        );
        // array of u8 claiming 2^40 elements in a 12-byte buffer
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let err = MetadataValue::read(&mut Cursor::new(&bytes), 9).unwrap_err();
        assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        // array<array<array<array<array<u8>>>>>, each with one element
        let mut bytes = Vec::new();
        for _ in 0..5 {
            bytes.extend_from_slice(&9u32.to_le_bytes());
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        let err = MetadataValue::read(&mut Cursor::new(&bytes), 9).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(MetadataValue::I32(-1).as_u64(), None);
        assert_eq!(MetadataValue::U8(7).as_u64(), Some(7));
        assert_eq!(MetadataValue::U64(u64::MAX).as_i64(), None);
        assert_eq!(MetadataValue::F32(0.5).as_f64(), Some(0.5));
    }
}
