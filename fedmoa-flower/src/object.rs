//! Flower's content-addressed objects: `<Type> <child ids> <body length>\0<body>`,
//! identified by the lowercase hex SHA-256 of the whole encoding.

use sha2::{Digest, Sha256};

use crate::error::FlowerError;

/// The object types a Fleet client exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// A message: protobuf `Message` without content; child = its RecordDict.
    Message,
    /// JSON `{record name: record id}`.
    RecordDict,
    /// JSON `{array name: array id}`.
    ArrayRecord,
    /// JSON array metadata with chunk indices.
    Array,
    /// Raw bytes of part of an array.
    ArrayChunk,
    /// Protobuf `MetricRecord`.
    MetricRecord,
    /// Protobuf `ConfigRecord`.
    ConfigRecord,
}

impl ObjectType {
    /// The name used in the object header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Message => "Message",
            Self::RecordDict => "RecordDict",
            Self::ArrayRecord => "ArrayRecord",
            Self::Array => "Array",
            Self::ArrayChunk => "ArrayChunk",
            Self::MetricRecord => "MetricRecord",
            Self::ConfigRecord => "ConfigRecord",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Message" => Self::Message,
            "RecordDict" => Self::RecordDict,
            "ArrayRecord" => Self::ArrayRecord,
            "Array" => Self::Array,
            "ArrayChunk" => Self::ArrayChunk,
            "MetricRecord" => Self::MetricRecord,
            "ConfigRecord" => Self::ConfigRecord,
            _ => return None,
        })
    }
}

/// An encoded object and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Hex SHA-256 of `bytes`.
    pub id: String,
    /// The full encoding (header and body).
    pub bytes: Vec<u8>,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn object_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// Encodes an object. `children` must already be deduplicated in first-occurrence
/// order (see [`dedup_children`]).
pub fn encode(kind: ObjectType, children: &[String], body: &[u8]) -> Object {
    let header = format!("{} {} {}", kind.name(), children.join(","), body.len());
    let mut bytes = Vec::with_capacity(header.len() + 1 + body.len());
    bytes.extend_from_slice(header.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(body);
    Object {
        id: object_id(&bytes),
        bytes,
    }
}

/// Unique ids in first-occurrence order.
pub fn dedup_children<'a>(ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// A decoded object header with a borrowed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The object type.
    pub kind: ObjectType,
    /// Child object ids in header order.
    pub children: Vec<String>,
    /// The body bytes.
    pub body: &'a [u8],
}

/// Decodes `bytes` and checks that they hash to `expected_id`.
///
/// # Errors
/// [`FlowerError::Decode`] for a hash mismatch, a malformed header, a wrong body
/// length or an invalid child id; [`FlowerError::ProtocolMismatch`] for an object type
/// this client does not know (a sign of a newer Flower).
pub fn decode<'a>(bytes: &'a [u8], expected_id: &str) -> Result<Decoded<'a>, FlowerError> {
    let got = object_id(bytes);
    if got != expected_id {
        return Err(FlowerError::Decode(format!(
            "object {expected_id} hashes to {got}"
        )));
    }
    let nul = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| FlowerError::Decode(format!("object {expected_id} has no header")))?;
    let header = std::str::from_utf8(&bytes[..nul])
        .map_err(|_| FlowerError::Decode(format!("object {expected_id}: header not UTF-8")))?;
    let body = &bytes[nul + 1..];
    let parts: Vec<&str> = header.split(' ').collect();
    let [kind, children, len] = parts.as_slice() else {
        return Err(FlowerError::Decode(format!(
            "object {expected_id}: header {header:?} does not have 3 fields"
        )));
    };
    let kind = ObjectType::from_name(kind)
        .ok_or_else(|| FlowerError::ProtocolMismatch(format!("unknown object type {kind:?}")))?;
    if len.parse::<usize>().ok() != Some(body.len()) {
        return Err(FlowerError::Decode(format!(
            "object {expected_id}: header says {len} body bytes, got {}",
            body.len()
        )));
    }
    let children: Vec<String> = if children.is_empty() {
        Vec::new()
    } else {
        children.split(',').map(str::to_string).collect()
    };
    if let Some(bad) = children.iter().find(|c| !is_object_id(c)) {
        return Err(FlowerError::Decode(format!(
            "object {expected_id}: invalid child id {bad:?}"
        )));
    }
    Ok(Decoded {
        kind,
        children,
        body,
    })
}

/// True for a 64-character lowercase hex string.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_id_match_hand_computed_values() {
        let o = encode(ObjectType::ArrayChunk, &[], b"abc");
        assert_eq!(o.bytes, b"ArrayChunk  3\0abc");
        // sha256(b"ArrayChunk  3\x00abc") computed with Python's hashlib.
        assert_eq!(o.id, object_id(b"ArrayChunk  3\0abc"));
        assert_eq!(
            object_id(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let parent = encode(ObjectType::Array, &[o.id.clone(), o.id.clone()], b"{}");
        let header = format!("Array {},{} 2\0{{}}", o.id, o.id);
        assert_eq!(parent.bytes, header.as_bytes());
    }

    #[test]
    fn decode_checks_hash_header_and_length() {
        let child = encode(ObjectType::ArrayChunk, &[], b"xy");
        let o = encode(ObjectType::Array, std::slice::from_ref(&child.id), b"body");
        let d = decode(&o.bytes, &o.id).unwrap();
        assert_eq!(d.kind, ObjectType::Array);
        assert_eq!(d.children, vec![child.id.clone()]);
        assert_eq!(d.body, b"body");
        assert!(
            decode(&o.bytes, &child.id)
                .unwrap_err()
                .to_string()
                .contains("hashes to")
        );
        let wrong_len = b"ArrayChunk  5\0abc".to_vec();
        let id = object_id(&wrong_len);
        assert!(
            decode(&wrong_len, &id)
                .unwrap_err()
                .to_string()
                .contains("body bytes")
        );
        let unknown = b"Tensor  0\0".to_vec();
        let id = object_id(&unknown);
        assert!(matches!(
            decode(&unknown, &id),
            Err(FlowerError::ProtocolMismatch(_))
        ));
        let bad_child = b"Array zz 0\0".to_vec();
        let id = object_id(&bad_child);
        assert!(
            decode(&bad_child, &id)
                .unwrap_err()
                .to_string()
                .contains("child id")
        );
    }

    #[test]
    fn dedup_keeps_first_occurrence_order() {
        let ids: Vec<String> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(dedup_children(&ids), vec!["b", "a", "c"]);
    }
}
