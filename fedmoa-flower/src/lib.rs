//! fedmoa clients in a real Flower federation.
//!
//! [`FlowerClient`] wraps any [`fedmoa_core::LocalTrainer`] and speaks Flower's Fleet
//! API (flwr [`FLOWER_VERSION`]): protobuf over HTTP POST to a SuperLink, signed with a
//! P-384 node key, messages exchanged as Flower's content-addressed objects. A Flower
//! ServerApp (see `deploy/flower/` in the repository) aggregates the replies next to
//! those of Flower's own Python clients.
//!
//! Layers, bottom up: [`object`] (object encoding and ids), [`npy`] (array bytes),
//! [`codec`] (message ⇄ objects), [`mapping`] (fedmoa types ⇄ records), [`transport`]
//! and [`fleet`] (HTTP and typed RPCs), [`handler`] (instruction → reply), [`client`]
//! (the SuperNode loop).

pub mod client;
pub mod codec;
pub mod config;
pub mod demo;
pub mod error;
pub mod fleet;
pub mod handler;
pub mod identity;
pub mod mapping;
pub mod npy;
pub mod object;
pub mod records;
pub mod timestamp;
pub mod transport;
pub mod version;

/// Protobuf messages of Flower's Fleet API, generated from `proto/` (recovered from
/// flwr's descriptors; Apache-2.0, see `proto/NOTICE`).
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/flwr.proto.rs"));
}

pub use client::{FlowerClient, RunSummary, ShutdownHandle};
pub use config::FlowerClientConfig;
pub use error::FlowerError;
pub use identity::NodeIdentity;
pub use version::{FLOWER_SERIES, FLOWER_VERSION};
