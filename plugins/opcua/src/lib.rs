//! OPC UA adapter for the twin: an async-opcua client on its own thread, which subscribes to monitored items and
//! hands their values over a bounded channel, and writes and reads set-points on request, each call returning
//! within its timeout. It never depends on the root crate: the twin maps its signals and set-points onto node ids.

mod client;
mod config;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{DataChange, OpcUaClient, StatsSnapshot, decode_data_change};
pub use config::{DataType, Identity, ItemSpec, OpcUaConfig, Policy, SecurityMode};

/// Why a call failed. Every message names the endpoint or the node it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpcUaError {
    /// The configuration is unusable (a node id that does not parse, a zero timeout, an unreadable key file).
    #[error("{0}")]
    Config(String),
    /// The endpoint could not be reached or offers no matching endpoint.
    #[error("{0}")]
    Connect(String),
    /// The server's certificate is not in the trust list.
    #[error("{0}")]
    Untrusted(String),
    /// The server refused the user's identity (user name and password, or the user certificate).
    #[error("{0}")]
    AccessDenied(String),
    /// A per-node StatusCode refused the operation (Bad_NotWritable, Bad_UserAccessDenied, Bad_OutOfRange,
    /// Bad_TypeMismatch, Bad_NodeIdUnknown, ...): its name and the node.
    #[error("{op} {node}: refused with {status}")]
    Refused { op: &'static str, node: String, status: String },
    /// No answer within the timeout.
    #[error("{0}: no answer within the timeout")]
    Timeout(String),
    /// The client thread has stopped.
    #[error("the OPC UA client for {0} has stopped")]
    Closed(String),
    /// The service call failed as a whole.
    #[error("{0}")]
    Service(String),
}

impl OpcUaError {
    /// The status name of a per-node refusal, e.g. `BadNotWritable`.
    pub fn status(&self) -> Option<&str> {
        match self {
            OpcUaError::Refused { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// The symbolic name of an OPC UA status code, e.g. `BadSensorFailure` or `UncertainLastUsableValue` (its
/// sub-code: the flag bits are left out).
pub fn status_name(code: u32) -> &'static str {
    opcua::types::StatusCode::from(code).sub_code().name()
}

/// Whether `node` is an OPC UA node id in the standard string form (`ns=2;s=P101.Flow`, `ns=2;i=1001`, ...).
pub fn check_node(node: &str) -> Result<(), OpcUaError> {
    client::parse_node(node).map(|_| ())
}

/// Whether a status code is Bad (severity bits 10).
pub fn is_bad(code: u32) -> bool {
    code & 0xC000_0000 == 0x8000_0000
}

/// Whether a status code is Uncertain (severity bits 01).
pub fn is_uncertain(code: u32) -> bool {
    code & 0xC000_0000 == 0x4000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_and_severities_are_the_standards() {
        // Codes from OPC UA Part 4, 7.39 (StatusCodes.csv).
        assert_eq!(status_name(0x808C_0000), "BadSensorFailure");
        assert_eq!(status_name(0x803B_0000), "BadNotWritable");
        assert_eq!(status_name(0x4090_0000), "UncertainLastUsableValue");
        assert_eq!(status_name(0), "Good");
        assert!(is_bad(0x808C_0000) && !is_uncertain(0x808C_0000));
        assert!(is_uncertain(0x4090_0000) && !is_bad(0x4090_0000));
        assert!(!is_bad(0) && !is_uncertain(0));
    }
}
