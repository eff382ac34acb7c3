//! What arrives from any source (MQTT, a recording, a CSV row), and what happened to each value of it.

use super::*;

/// A message as it arrives from any source (MQTT, a recording, a CSV row).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RawMessage {
    /// MQTT topic (or the recording's topic column).
    pub topic: String,
    /// Payload bytes (JSON for the mappings supported here).
    pub payload: Vec<u8>,
    /// When the twin received it, s on the twin's time base.
    pub received_s: f64,
}

/// Topic prefix of value-level messages: `$twin/value/<signal id>` carries one value of that signal in its unit,
/// `{"ts": <source time, Unix s>, "value": <number>}` (non-finite values as the strings `"NaN"`, `"inf"`,
/// `"-inf"`), with `"status": "<name>"` when the source judged it other than Good (OPC UA: a Bad value is
/// rejected, an Uncertain one applied and flagged). Replays of data from elsewhere (CSV) arrive this way, so a signal of any source (JSON or Sparkplug)
/// can be fed value by value through the same checks. `$` topics are the broker's own in MQTT: no device
/// publishes on them.
pub const VALUE_TOPIC_PREFIX: &str = "$twin/value/";

/// A value-level message for signal `signal` (see [`VALUE_TOPIC_PREFIX`]), `value` in the signal's unit.
pub fn value_message(signal: &str, value: f64, source_unix_s: f64, received_unix_s: f64) -> RawMessage {
    value_message_with(signal, Some(value), Some(source_unix_s), None, received_unix_s)
}

/// A value-level message whose parts a source may leave out: no value (`missing_value`), no source time (the
/// receive time stands in), and the source's status name when it is not Good.
pub fn value_message_with(
    signal: &str,
    value: Option<f64>,
    source_unix_s: Option<f64>,
    status: Option<&str>,
    received_unix_s: f64,
) -> RawMessage {
    let mut body = serde_json::Map::new();
    if let Some(t) = source_unix_s {
        body.insert("ts".into(), serde_json::json!(t));
    }
    if let Some(v) = value {
        let v = if v.is_finite() { serde_json::json!(v) } else { serde_json::json!(v.to_string()) };
        body.insert("value".into(), v);
    }
    if let Some(s) = status {
        body.insert("status".into(), serde_json::json!(s));
    }
    let payload = serde_json::Value::Object(body).to_string().into_bytes();
    RawMessage { topic: format!("{VALUE_TOPIC_PREFIX}{signal}"), payload, received_s: received_unix_s }
}

/// What happened to one value (or one message, for message-level outcomes).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// Applied to the twin.
    Accepted,
    /// No signal maps the topic.
    UnknownTopic,
    /// The payload is not valid JSON.
    BadPayload,
    /// The value path is missing from the payload.
    MissingValue,
    /// The value is not a number.
    NotANumber,
    /// NaN or infinite.
    NonFinite,
    /// Outside the signal's valid range.
    OutOfRange,
    /// A repeat of a sample already seen (QoS 1 redelivery).
    Duplicate,
    /// Within the dead-band of the last applied value.
    Deadband,
    /// Older than the watermark minus the allowed lateness: recorded, not applied.
    Late,
    /// Arrived out of event-time order but within the allowed lateness: reordered, then applied.
    Reordered,
    /// The timestamp path is present but unreadable.
    BadTimestamp,
    /// A Sparkplug metric that maps to no signal.
    UnmappedMetric,
    /// A Sparkplug message of a node that lost its state (the message revealing the loss included): not applied
    /// until the node's rebirth.
    AwaitingRebirth,
    /// A Sparkplug rebirth command queued for a node (after a sequence gap, an unknown alias or data before birth).
    RebirthRequested,
    /// An outgoing command dropped: the queue was full (nobody takes the commands) or the client refused it.
    CommandDropped,
    /// A Sparkplug NDEATH or DDEATH: the node's or device's signals are stale until they send again.
    Death,
    /// A Sparkplug command or STATE message: no telemetry in it.
    Ignored,
    /// An asset's configuration and firmware report (its identity topic).
    Identity,
    /// The source's own status says Bad (OPC UA): not applied; counted by the status's name too.
    BadStatus,
}
