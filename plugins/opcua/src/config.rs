//! What the client needs to know: the endpoint, its security, the user's identity, where its certificates live,
//! and the monitored items to subscribe to.

use std::path::PathBuf;
use std::time::Duration;

/// Message security of the secure channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityMode {
    /// No signing, no encryption: only when a scenario asks for it by name.
    None,
    /// Messages signed.
    Sign,
    /// Messages signed and encrypted (the default).
    SignAndEncrypt,
}

/// Security policy of a signed channel (the deprecated Basic128Rsa15 and Basic256 are not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Basic256Sha256,
    Aes128Sha256RsaOaep,
    Aes256Sha256RsaPss,
}

/// Who the client is to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    /// A user name and its password.
    UserName {
        user: String,
        password: String,
    },
    /// An X.509 user certificate and its private key (PEM or DER certificate, PEM key).
    X509 {
        cert: PathBuf,
        key: PathBuf,
    },
}

/// Data type of a node a set-point is written to (a scenario names it: `Double` when it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    #[default]
    Double,
    Float,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
}

/// One monitored item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpec {
    /// Node id in the standard string form, e.g. `ns=2;s=P101.Flow`.
    pub node: String,
    /// Sampling interval the server is asked for.
    pub sampling_interval: Duration,
    /// Values the server queues for the item between two publishes.
    pub queue_size: u32,
    /// Absolute dead-band in the node's unit (0: every change is reported).
    pub deadband: f64,
}

/// The client's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OpcUaConfig {
    /// `opc.tcp://host:port[/path]`.
    pub url: String,
    pub security: SecurityMode,
    /// Ignored with [`SecurityMode::None`].
    pub policy: Policy,
    pub identity: Identity,
    /// Where the client keeps its own certificate and key (created on first use) and its trust list
    /// (`trusted/`, with the server certificates it has refused in `rejected/`).
    pub pki_dir: PathBuf,
    /// Trust a server certificate not yet in the trust list, and add it (trust on first use).
    pub trust_on_first_use: bool,
    /// Bounds the first connection and every later call.
    pub timeout: Duration,
    /// How often the server publishes the subscription's notifications.
    pub publishing_interval: Duration,
    /// The monitored items, in the order [`crate::DataChange::item`] numbers them (none: no subscription).
    pub items: Vec<ItemSpec>,
    /// Capacity of the channel the values arrive on.
    pub capacity: usize,
    /// Application name the client gives the server (its certificate's common name too).
    pub application: String,
}

impl OpcUaConfig {
    /// A configuration for `url` with the defaults: SignAndEncrypt with Basic256Sha256, anonymous, a 5 s timeout, a
    /// 100 ms publishing interval, no items.
    pub fn new(url: &str, pki_dir: impl Into<PathBuf>) -> OpcUaConfig {
        OpcUaConfig {
            url: url.to_string(),
            security: SecurityMode::SignAndEncrypt,
            policy: Policy::Basic256Sha256,
            identity: Identity::Anonymous,
            pki_dir: pki_dir.into(),
            trust_on_first_use: false,
            timeout: Duration::from_secs(5),
            publishing_interval: Duration::from_millis(100),
            items: Vec::new(),
            capacity: 65_536,
            application: "twin".to_string(),
        }
    }
}
