//! MQTT adapter for the twin (a leaf crate: it never depends on the root `twin` crate).
//!
//! The ECS talks to this crate only through plain types and bounded crossbeam channels: [`MqttClient`] runs
//! rumqttc's event loop on its own thread (a tokio current-thread runtime) and hands [`Incoming`] messages to
//! the twin; nothing here blocks the caller, and everything that is dropped is counted in [`MqttStats`].
//!
//! Modules:
//! - [`topic`]: MQTT topic-filter matching (`+`, `#`) and validation.
//! - [`json`]: JSON payload decoding with `$.a.b[0]` paths.
//! - [`sparkplug`]: Sparkplug B payloads (prost), topics, and a per-node alias/sequence tracker.
//! - [`broker`]: an embedded rumqttd broker on loopback for the self-contained default setup.
//! - `testkit` (feature `testkit`): a real mosquitto for tests and benchmarks.

pub mod broker;
mod client;
mod config;
mod error;
pub mod json;
pub mod sparkplug;
#[cfg(feature = "testkit")]
pub mod testkit;
mod tls;
pub mod topic;

pub use client::{Incoming, MqttClient, MqttStats};
pub use config::{AckGate, MqttConfig, Qos, TlsConfig, Will};
pub use error::{CodecError, MqttError};
