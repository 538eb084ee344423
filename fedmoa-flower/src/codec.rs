//! Deflating a message into Flower's content-addressed objects and inflating it back.
//!
//! Tree of a message: `Message → RecordDict → {ArrayRecord → Array → ArrayChunk*,
//! MetricRecord, ConfigRecord}`. Objects are listed children first, each id once.

use std::collections::{HashMap, HashSet};

use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::error::FlowerError;
use crate::object::{self, Object, ObjectType, dedup_children};
use crate::proto;
use crate::records::{ArrayData, MAX_ARRAY_CHUNK, Record, RecordDict};

/// The objects of a deflated message.
#[derive(Debug, Clone, PartialEq)]
pub struct Deflated {
    /// Id of the root (`Message`) object.
    pub root: String,
    /// Every object, children before parents, each id once.
    pub objects: Vec<Object>,
    /// The object tree for `push-messages`.
    pub tree: proto::ObjectTree,
}

impl Deflated {
    /// Total bytes of all objects (what `push-object` sends, without HTTP overhead).
    pub fn total_bytes(&self) -> usize {
        self.objects.iter().map(|o| o.bytes.len()).sum()
    }
}

#[derive(Default)]
struct Sink {
    objects: Vec<Object>,
    seen: HashSet<String>,
}

impl Sink {
    fn add(&mut self, o: Object, children: Vec<proto::ObjectTree>) -> proto::ObjectTree {
        let tree = proto::ObjectTree {
            object_id: o.id.clone(),
            children,
        };
        if self.seen.insert(o.id.clone()) {
            self.objects.push(o);
        }
        tree
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArrayMeta {
    dtype: String,
    shape: Vec<i64>,
    stype: String,
    arraychunk_ids: Vec<usize>,
}

/// Deflates a message: `header` carries metadata (its `message_id` is cleared, as Flower
/// hashes messages without it) and optionally an error; `content` is the RecordDict
/// (`None` for an error reply).
pub fn deflate_message(header: &proto::Message, content: Option<&RecordDict>) -> Deflated {
    let mut sink = Sink::default();
    let mut body = proto::Message {
        metadata: header.metadata.clone(),
        content: None,
        error: header.error.clone(),
    };
    if let Some(m) = body.metadata.as_mut() {
        m.message_id.clear();
    }
    let (children, subtrees) = match content {
        Some(rd) => {
            let t = deflate_record_dict(rd, &mut sink);
            (vec![t.object_id.clone()], vec![t])
        }
        None => (Vec::new(), Vec::new()),
    };
    let msg = object::encode(ObjectType::Message, &children, &body.encode_to_vec());
    let root = msg.id.clone();
    let tree = sink.add(msg, subtrees);
    Deflated {
        root,
        objects: sink.objects,
        tree,
    }
}

fn json_object(pairs: &[(String, String)]) -> Vec<u8> {
    let fields: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
        .collect();
    format!("{{{}}}", fields.join(", ")).into_bytes()
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Children ids and subtrees in first-occurrence order, deduplicated.
fn unique_subtrees(trees: Vec<proto::ObjectTree>) -> (Vec<String>, Vec<proto::ObjectTree>) {
    let ids = dedup_children(trees.iter().map(|t| &t.object_id));
    let mut out = Vec::with_capacity(ids.len());
    for t in trees {
        if !out
            .iter()
            .any(|o: &proto::ObjectTree| o.object_id == t.object_id)
        {
            out.push(t);
        }
    }
    (ids, out)
}

fn deflate_record_dict(rd: &RecordDict, sink: &mut Sink) -> proto::ObjectTree {
    let mut pairs = Vec::new();
    let mut trees = Vec::new();
    for (name, record) in &rd.items {
        let t = match record {
            Record::Arrays(arrays) => deflate_array_record(arrays, sink),
            Record::Metrics(m) => sink.add(
                object::encode(ObjectType::MetricRecord, &[], &m.encode_to_vec()),
                Vec::new(),
            ),
            Record::Config(c) => sink.add(
                object::encode(ObjectType::ConfigRecord, &[], &c.encode_to_vec()),
                Vec::new(),
            ),
        };
        pairs.push((name.clone(), t.object_id.clone()));
        trees.push(t);
    }
    let (ids, subtrees) = unique_subtrees(trees);
    sink.add(
        object::encode(ObjectType::RecordDict, &ids, &json_object(&pairs)),
        subtrees,
    )
}

fn deflate_array_record(arrays: &[(String, ArrayData)], sink: &mut Sink) -> proto::ObjectTree {
    let mut pairs = Vec::new();
    let mut trees = Vec::new();
    for (name, a) in arrays {
        let t = deflate_array(a, sink);
        pairs.push((name.clone(), t.object_id.clone()));
        trees.push(t);
    }
    let (ids, subtrees) = unique_subtrees(trees);
    sink.add(
        object::encode(ObjectType::ArrayRecord, &ids, &json_object(&pairs)),
        subtrees,
    )
}

fn deflate_array(a: &ArrayData, sink: &mut Sink) -> proto::ObjectTree {
    let chunks: Vec<proto::ObjectTree> = a
        .data
        .chunks(MAX_ARRAY_CHUNK)
        .map(|c| sink.add(object::encode(ObjectType::ArrayChunk, &[], c), Vec::new()))
        .collect();
    let all_ids: Vec<String> = chunks.iter().map(|t| t.object_id.clone()).collect();
    let (ids, subtrees) = unique_subtrees(chunks);
    let meta = ArrayMeta {
        dtype: a.dtype.clone(),
        shape: a.shape.clone(),
        stype: a.stype.clone(),
        arraychunk_ids: all_ids
            .iter()
            .map(|id| ids.iter().position(|u| u == id).unwrap_or(0))
            .collect(),
    };
    // Serialising a struct of strings and integers cannot fail.
    let body = serde_json::to_vec(&meta).unwrap_or_default();
    sink.add(object::encode(ObjectType::Array, &ids, &body), subtrees)
}

/// Object ids of `tree` in post-order (children first), each once: the order in which
/// to pull them.
pub fn post_order(tree: &proto::ObjectTree) -> Vec<String> {
    fn walk(t: &proto::ObjectTree, out: &mut Vec<String>, seen: &mut HashSet<String>) {
        for c in &t.children {
            walk(c, out, seen);
        }
        if seen.insert(t.object_id.clone()) {
            out.push(t.object_id.clone());
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut out, &mut HashSet::new());
    out
}

/// Inflates the message with root `root` from `store` (object id → encoded bytes),
/// returning the message body (metadata, error) and its content.
///
/// # Errors
/// [`FlowerError::Decode`] for missing or malformed objects, a wrong type at some
/// position of the tree, or bad JSON; [`FlowerError::ProtocolMismatch`] for unknown
/// object types.
pub fn inflate_message(
    store: &HashMap<String, Vec<u8>>,
    root: &str,
) -> Result<(proto::Message, Option<RecordDict>), FlowerError> {
    let d = get(store, root, ObjectType::Message)?;
    let msg = proto::Message::decode(d.body)
        .map_err(|e| FlowerError::Decode(format!("Message {root}: {e}")))?;
    let content = match d.children.as_slice() {
        [] => None,
        [rd] => Some(inflate_record_dict(store, rd)?),
        more => {
            return Err(FlowerError::Decode(format!(
                "Message {root} has {} children, expected 1",
                more.len()
            )));
        }
    };
    Ok((msg, content))
}

fn get<'a>(
    store: &'a HashMap<String, Vec<u8>>,
    id: &str,
    kind: ObjectType,
) -> Result<object::Decoded<'a>, FlowerError> {
    let bytes = store
        .get(id)
        .ok_or_else(|| FlowerError::Decode(format!("object {id} was not pulled")))?;
    let d = object::decode(bytes, id)?;
    if d.kind != kind {
        return Err(FlowerError::Decode(format!(
            "object {id} is a {}, expected a {}",
            d.kind.name(),
            kind.name()
        )));
    }
    Ok(d)
}

/// Parses a JSON object of string values keeping the key order.
fn ordered_pairs(body: &[u8], what: &str) -> Result<Vec<(String, String)>, FlowerError> {
    struct Pairs(Vec<(String, String)>);
    impl<'de> Deserialize<'de> for Pairs {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object of strings")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Pairs, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = map.next_entry::<String, String>()? {
                        out.push(kv);
                    }
                    Ok(Pairs(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Pairs>(body)
        .map(|p| p.0)
        .map_err(|e| FlowerError::Decode(format!("{what}: {e}")))
}

fn check_children(
    id: &str,
    children: &[String],
    referenced: impl IntoIterator<Item = String>,
) -> Result<(), FlowerError> {
    let a: HashSet<&String> = children.iter().collect();
    let b: HashSet<String> = referenced.into_iter().collect();
    if a.len() != b.len() || !b.iter().all(|x| a.contains(x)) {
        return Err(FlowerError::Decode(format!(
            "object {id}: body references differ from the header's children"
        )));
    }
    Ok(())
}

fn inflate_record_dict(
    store: &HashMap<String, Vec<u8>>,
    id: &str,
) -> Result<RecordDict, FlowerError> {
    let d = get(store, id, ObjectType::RecordDict)?;
    let pairs = ordered_pairs(d.body, "RecordDict")?;
    check_children(id, &d.children, pairs.iter().map(|(_, v)| v.clone()))?;
    let mut items = Vec::with_capacity(pairs.len());
    for (name, rid) in pairs {
        let bytes = store
            .get(&rid)
            .ok_or_else(|| FlowerError::Decode(format!("object {rid} was not pulled")))?;
        let r = object::decode(bytes, &rid)?;
        let record = match r.kind {
            ObjectType::ArrayRecord => Record::Arrays(inflate_array_record(store, &rid)?),
            ObjectType::MetricRecord => Record::Metrics(
                proto::MetricRecord::decode(r.body)
                    .map_err(|e| FlowerError::Decode(format!("MetricRecord {rid}: {e}")))?,
            ),
            ObjectType::ConfigRecord => Record::Config(
                proto::ConfigRecord::decode(r.body)
                    .map_err(|e| FlowerError::Decode(format!("ConfigRecord {rid}: {e}")))?,
            ),
            other => {
                return Err(FlowerError::Decode(format!(
                    "record {name:?} is a {}",
                    other.name()
                )));
            }
        };
        items.push((name, record));
    }
    Ok(RecordDict { items })
}

fn inflate_array_record(
    store: &HashMap<String, Vec<u8>>,
    id: &str,
) -> Result<Vec<(String, ArrayData)>, FlowerError> {
    let d = get(store, id, ObjectType::ArrayRecord)?;
    let pairs = ordered_pairs(d.body, "ArrayRecord")?;
    check_children(id, &d.children, pairs.iter().map(|(_, v)| v.clone()))?;
    pairs
        .into_iter()
        .map(|(name, aid)| Ok((name, inflate_array(store, &aid)?)))
        .collect()
}

fn inflate_array(store: &HashMap<String, Vec<u8>>, id: &str) -> Result<ArrayData, FlowerError> {
    let d = get(store, id, ObjectType::Array)?;
    let meta: ArrayMeta = serde_json::from_slice(d.body)
        .map_err(|e| FlowerError::Decode(format!("Array {id}: {e}")))?;
    let mut data = Vec::new();
    for &i in &meta.arraychunk_ids {
        let cid = d.children.get(i).ok_or_else(|| {
            FlowerError::Decode(format!("Array {id}: chunk index {i} out of range"))
        })?;
        data.extend_from_slice(get(store, cid, ObjectType::ArrayChunk)?.body);
    }
    Ok(ArrayData {
        dtype: meta.dtype,
        shape: meta.shape,
        stype: meta.stype,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{MetricValue, NUMPY_STYPE, metric_record, string_config_record};

    fn header() -> proto::Message {
        proto::Message {
            metadata: Some(proto::Metadata {
                run_id: 7,
                message_id: "ignored".into(),
                message_type: "train".into(),
                ..Default::default()
            }),
            content: None,
            error: None,
        }
    }

    fn content(data: Vec<u8>) -> RecordDict {
        RecordDict {
            items: vec![
                (
                    "arrays".into(),
                    Record::Arrays(vec![(
                        "w".into(),
                        ArrayData {
                            dtype: "float32".into(),
                            shape: vec![data.len() as i64 / 4],
                            stype: NUMPY_STYPE.into(),
                            data,
                        },
                    )]),
                ),
                (
                    "metrics".into(),
                    Record::Metrics(metric_record(vec![("n".into(), MetricValue::Int(3))])),
                ),
                (
                    "fedmoa".into(),
                    Record::Config(string_config_record(vec![("task".into(), "math".into())])),
                ),
            ],
        }
    }

    fn store(d: &Deflated) -> HashMap<String, Vec<u8>> {
        d.objects
            .iter()
            .map(|o| (o.id.clone(), o.bytes.clone()))
            .collect()
    }

    #[test]
    fn round_trip_preserves_content_and_order() {
        let rd = content(vec![1, 2, 3, 4, 5, 6, 7, 8]);
        let d = deflate_message(&header(), Some(&rd));
        // Message, RecordDict, ArrayRecord, Array, 1 chunk, MetricRecord, ConfigRecord.
        assert_eq!(d.objects.len(), 7);
        assert_eq!(d.objects.last().unwrap().id, d.root);
        assert_eq!(post_order(&d.tree).len(), 7);
        assert_eq!(post_order(&d.tree).last().unwrap(), &d.root);
        let (msg, back) = inflate_message(&store(&d), &d.root).unwrap();
        assert_eq!(back.unwrap(), rd);
        // The message id is not part of the hashed body.
        assert_eq!(msg.metadata.unwrap().message_id, "");
    }

    #[test]
    fn large_arrays_are_chunked_and_repeated_chunks_stored_once() {
        // 2.5 chunks of zeros: chunks 0 and 1 are identical, chunk 2 is half as long.
        let data = vec![0u8; MAX_ARRAY_CHUNK * 5 / 2];
        let rd = content(data);
        let d = deflate_message(&header(), Some(&rd));
        let chunks: Vec<&Object> = d
            .objects
            .iter()
            .filter(|o| o.bytes.starts_with(b"ArrayChunk "))
            .collect();
        assert_eq!(chunks.len(), 2);
        let array = d
            .objects
            .iter()
            .find(|o| o.bytes.starts_with(b"Array "))
            .unwrap();
        let body = &array.bytes[array.bytes.iter().position(|&b| b == 0).unwrap() + 1..];
        let meta: ArrayMeta = serde_json::from_slice(body).unwrap();
        assert_eq!(meta.arraychunk_ids, vec![0, 0, 1]);
        let (_, back) = inflate_message(&store(&d), &d.root).unwrap();
        assert_eq!(back.unwrap(), rd);
        // Whole reply ≈ data + headers; one 5 MiB chunk is not sent twice.
        assert!(d.total_bytes() < MAX_ARRAY_CHUNK * 2);
    }

    #[test]
    fn error_reply_has_no_children_and_missing_objects_are_reported() {
        let mut h = header();
        h.error = Some(proto::Error {
            code: 2,
            reason: "boom".into(),
        });
        let d = deflate_message(&h, None);
        assert_eq!(d.objects.len(), 1);
        assert!(d.tree.children.is_empty());
        let (msg, content) = inflate_message(&store(&d), &d.root).unwrap();
        assert!(content.is_none());
        assert_eq!(msg.error.unwrap().reason, "boom");

        let d = deflate_message(&header(), Some(&content_small()));
        let mut s = store(&d);
        let rd_id = d.tree.children[0].object_id.clone();
        s.remove(&rd_id);
        let err = inflate_message(&s, &d.root).unwrap_err().to_string();
        assert!(err.contains("was not pulled"), "{err}");
    }

    fn content_small() -> RecordDict {
        content(vec![0; 4])
    }

    #[test]
    fn json_bodies_are_python_readable() {
        let body = json_object(&[("a\"b".into(), "x".into()), ("c".into(), "y".into())]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"a\"b": "x", "c": "y"}"#
        );
        let pairs = ordered_pairs(br#"{"z": "1", "a": "2"}"#, "t").unwrap();
        assert_eq!(pairs[0].0, "z");
    }
}
