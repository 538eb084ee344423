//! The content of a Flower message: a `RecordDict` of array, metric and config records.

use crate::proto;

/// Largest `ArrayChunk` body Flower accepts by default (`FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE`).
pub const MAX_ARRAY_CHUNK: usize = 5 * 1024 * 1024;

/// Flower's `stype` for arrays whose data is an NPY file.
pub const NUMPY_STYPE: &str = "numpy.ndarray";

/// One array of an `ArrayRecord`: NumPy dtype string, shape, serialisation type and
/// the serialised bytes (an NPY file when `stype` is [`NUMPY_STYPE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayData {
    /// NumPy dtype name, e.g. `float32`.
    pub dtype: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Serialisation type.
    pub stype: String,
    /// Serialised array.
    pub data: Vec<u8>,
}

/// An `ArrayRecord`: named arrays in order.
pub type ArrayRecord = Vec<(String, ArrayData)>;

/// One record of a [`RecordDict`].
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Model parameters.
    Arrays(ArrayRecord),
    /// Numeric metrics (protobuf `MetricRecord`).
    Metrics(proto::MetricRecord),
    /// Configuration values (protobuf `ConfigRecord`).
    Config(proto::ConfigRecord),
}

/// A message's content: named records in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordDict {
    /// `(name, record)` pairs.
    pub items: Vec<(String, Record)>,
}

impl RecordDict {
    /// The record called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Record> {
        self.items.iter().find(|(k, _)| k == name).map(|(_, r)| r)
    }

    /// The first array record (Flower's built-in strategies send exactly one).
    pub fn first_arrays(&self) -> Option<(&str, &ArrayRecord)> {
        self.items.iter().find_map(|(k, r)| match r {
            Record::Arrays(a) => Some((k.as_str(), a)),
            _ => None,
        })
    }

    /// The first config record, if any.
    pub fn first_config(&self) -> Option<&proto::ConfigRecord> {
        self.items.iter().find_map(|(_, r)| match r {
            Record::Config(c) => Some(c),
            _ => None,
        })
    }
}

/// Builds a `MetricRecord` from `(key, value)` pairs.
pub fn metric_record(items: Vec<(String, MetricValue)>) -> proto::MetricRecord {
    use proto::metric_record_value::Value;
    proto::MetricRecord {
        items: items
            .into_iter()
            .map(|(key, v)| proto::metric_record::Item {
                key,
                value: Some(proto::MetricRecordValue {
                    value: Some(match v {
                        MetricValue::Double(x) => Value::Double(x),
                        MetricValue::Int(x) => Value::Sint64(x),
                        MetricValue::DoubleList(x) => {
                            Value::DoubleList(proto::DoubleList { vals: x })
                        }
                    }),
                }),
            })
            .collect(),
    }
}

/// The metric values this client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A float.
    Double(f64),
    /// An integer (Python `int`).
    Int(i64),
    /// A list of floats.
    DoubleList(Vec<f64>),
}

/// Builds a `ConfigRecord` of string values.
pub fn string_config_record(items: Vec<(String, String)>) -> proto::ConfigRecord {
    use proto::config_record_value::Value;
    proto::ConfigRecord {
        items: items
            .into_iter()
            .map(|(key, s)| proto::config_record::Item {
                key,
                value: Some(proto::ConfigRecordValue {
                    value: Some(Value::String(s)),
                }),
            })
            .collect(),
    }
}
