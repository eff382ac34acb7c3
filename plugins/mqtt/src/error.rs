//! Error types: one for the client/broker side (`MqttError`), one for payload codecs (`CodecError`), with
//! messages that say what is wrong and where.

use thiserror::Error;

/// Errors of the client, its configuration and the embedded broker.
#[derive(Debug, Error)]
pub enum MqttError {
    #[error("invalid MQTT URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid MQTT configuration: {0}")]
    InvalidConfig(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic { topic: String, reason: String },
    #[error("payload of {bytes} bytes exceeds max_packet_bytes = {max_bytes}")]
    PayloadTooLarge { bytes: usize, max_bytes: usize },
    #[error("outgoing request queue is full; the message was dropped (counted in publish_dropped)")]
    QueueFull,
    #[error("the MQTT client thread has stopped")]
    Closed,
    #[error("could not start the MQTT client thread: {0}")]
    Spawn(String),
    #[error("embedded broker: {0}")]
    Broker(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Errors of the payload codecs (JSON, Sparkplug B). Never a panic on network input: always one of these.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CodecError {
    #[error("payload is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("payload of {bytes} bytes exceeds the codec limit of {max_bytes} bytes")]
    PayloadTooLarge { bytes: usize, max_bytes: usize },
    #[error("bad JSON path {path:?}: {reason}")]
    BadPath { path: String, reason: String },
    #[error("JSON path {path:?} does not exist in the payload")]
    MissingPath { path: String },
    #[error("value at {path:?} is not a number (found {found})")]
    NotANumber { path: String, found: String },
    #[error("value at {path:?} is not a string (found {found})")]
    NotAString { path: String, found: String },
    #[error("value at {path:?} is not finite (NaN, infinity or out of f64 range)")]
    NonFinite { path: String },
    #[error("value at {path:?} is not a timestamp: {reason}")]
    BadTimestamp { path: String, reason: String },
    #[error("protobuf decode failed: {0}")]
    Protobuf(String),
}
