//! Connection settings of [`crate::MqttClient`]: the public config structs, `from_url` with sensible defaults,
//! and the validation that runs before a client thread is started.

use std::path::PathBuf;

use crate::MqttError;
use crate::topic;

/// Quality of service the twin uses. QoS 2 is deliberately not offered (QoS 1 + idempotent handling suffices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

impl Qos {
    pub(crate) fn to_rumqttc(self) -> rumqttc::QoS {
        match self {
            Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        }
    }

    /// QoS 2 (never requested by this crate) is reported as `AtLeastOnce`: it is acknowledged the same way.
    pub(crate) fn from_rumqttc(q: rumqttc::QoS) -> Self {
        match q {
            rumqttc::QoS::AtMostOnce => Qos::AtMostOnce,
            _ => Qos::AtLeastOnce,
        }
    }
}

/// TLS settings (rustls with the `ring` provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that signed the broker's certificate. An empty path means the
    /// platform's root store.
    pub ca_file: PathBuf,
    /// PEM client certificate chain for mutual TLS (needs `client_key_file` too).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for mutual TLS.
    pub client_key_file: Option<PathBuf>,
}

/// Everything [`crate::MqttClient::start`] needs. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub tls: Option<TlsConfig>,
    pub client_id: String,
    /// `false` + a fixed `client_id` = persistent session (the broker keeps subscriptions and queued QoS 1).
    pub clean_session: bool,
    /// Keep-alive interval in seconds, 1..=15, so a dead link is noticed within ~1.5 × this.
    pub keep_alive_s: u64,
    /// Largest MQTT packet accepted or sent, in bytes (both directions).
    pub max_packet_bytes: usize,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Topic filters to (re-)subscribe to, with their maximum QoS.
    pub subscriptions: Vec<(String, Qos)>,
    /// Capacity (in messages) of the bounded channel to the twin.
    pub channel_capacity: usize,
    /// Reconnect backoff: first delay in ms, doubled per failed attempt up to `reconnect_max_ms`, plus up to
    /// 20 % random jitter.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// The last will the broker publishes when this client's connection dies without a disconnect (a Sparkplug
    /// edge node's NDEATH).
    pub will: Option<Will>,
    /// Acknowledge QoS 1 messages only once the twin has them on disk: message `n` (1 = the first handed to
    /// [`crate::MqttClient::receiver`]) is acknowledged when the gate reaches `n`. Until then the broker keeps it,
    /// and redelivers it to the persistent session after a crash. `None`: acknowledged when handed over.
    pub ack_gate: Option<AckGate>,
}

/// The number of received messages that may be acknowledged (see [`MqttConfig::ack_gate`]); equal when shared.
#[derive(Debug, Clone, Default)]
pub struct AckGate(pub std::sync::Arc<std::sync::atomic::AtomicU64>);

impl PartialEq for AckGate {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AckGate {}

/// An MQTT last will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
}

impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("client_id", &self.client_id)
            .field("clean_session", &self.clean_session)
            .field("keep_alive_s", &self.keep_alive_s)
            .field("max_packet_bytes", &self.max_packet_bytes)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("subscriptions", &self.subscriptions)
            .field("channel_capacity", &self.channel_capacity)
            .field("reconnect_min_ms", &self.reconnect_min_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .field("will", &self.will.as_ref().map(|w| &w.topic))
            .field("ack_gate", &self.ack_gate)
            .finish()
    }
}

/// Upper bound of `keep_alive_s`.
pub const MAX_KEEP_ALIVE_S: u64 = 15;

impl MqttConfig {
    /// Default keep-alive, seconds.
    pub const DEFAULT_KEEP_ALIVE_S: u64 = 10;
    /// Default packet limit, bytes (256 KiB).
    pub const DEFAULT_MAX_PACKET_BYTES: usize = 256 * 1024;
    /// Default channel capacity, messages.
    pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;

    /// Parses `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (default 8883; TLS with the
    /// platform roots unless `ca_file` is set afterwards). `tcp://` and `ssl://` are accepted as aliases; IPv6
    /// hosts go in brackets. Defaults: persistent session (`clean_session = false`), keep-alive 10 s, 256 KiB
    /// packets, channel of 4096, reconnect 250..10000 ms, no subscriptions, no credentials.
    pub fn from_url(url: &str, client_id: &str) -> Result<Self, MqttError> {
        let bad = |reason: &str| MqttError::InvalidUrl { url: url.to_string(), reason: reason.to_string() };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme (mqtt:// or mqtts://)"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(bad("unknown scheme; use mqtt:// or mqtts://")),
        };
        let authority = match rest.split_once('/') {
            Some((a, "")) => a,
            Some(_) => return Err(bad("a path is not allowed after host:port")),
            None => rest,
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not accepted; set username/password in the config"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '[' in IPv6 host"))?;
            let port = match after {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .ok_or_else(|| bad("expected ':port' after ']'"))?
                    .parse()
                    .map_err(|_| bad("bad port"))?,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| bad("bad port"))?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(MqttConfig {
            host,
            port,
            tls: tls.then(|| TlsConfig { ca_file: PathBuf::new(), client_cert_file: None, client_key_file: None }),
            client_id: client_id.to_string(),
            clean_session: false,
            keep_alive_s: Self::DEFAULT_KEEP_ALIVE_S,
            max_packet_bytes: Self::DEFAULT_MAX_PACKET_BYTES,
            username: None,
            password: None,
            subscriptions: Vec::new(),
            channel_capacity: Self::DEFAULT_CHANNEL_CAPACITY,
            reconnect_min_ms: 250,
            reconnect_max_ms: 10_000,
            will: None,
            ack_gate: None,
        })
    }

    /// Checks every field that would otherwise make rumqttc panic or the link misbehave.
    pub fn validate(&self) -> Result<(), MqttError> {
        let bad = |s: String| Err(MqttError::InvalidConfig(s));
        if self.host.is_empty() {
            return bad("host is empty".into());
        }
        if self.port == 0 {
            return bad("port is 0".into());
        }
        if self.client_id.is_empty() && !self.clean_session {
            return bad("a persistent session (clean_session = false) needs a fixed, non-empty client_id".into());
        }
        if self.client_id.len() > 65_535 {
            return bad("client_id is longer than 65535 bytes".into());
        }
        if !(1..=MAX_KEEP_ALIVE_S).contains(&self.keep_alive_s) {
            return bad(format!("keep_alive_s = {} must be in 1..={MAX_KEEP_ALIVE_S}", self.keep_alive_s));
        }
        if self.max_packet_bytes < 64 || self.max_packet_bytes > 268_435_455 {
            return bad(format!("max_packet_bytes = {} must be in 64..=268435455", self.max_packet_bytes));
        }
        if self.channel_capacity == 0 {
            return bad("channel_capacity must be > 0".into());
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return bad(format!(
                "reconnect backoff must satisfy 0 < reconnect_min_ms ({}) <= reconnect_max_ms ({})",
                self.reconnect_min_ms, self.reconnect_max_ms
            ));
        }
        if self.reconnect_max_ms > 3_600_000 {
            return bad(format!("reconnect_max_ms = {} must be at most 3600000 (1 h)", self.reconnect_max_ms));
        }
        if self.password.is_some() && self.username.is_none() {
            return bad("a password needs a username (MQTT 3.1.1)".into());
        }
        for (filter, _) in &self.subscriptions {
            if let Err(reason) = topic::validate_filter(filter) {
                return bad(format!("subscription {filter:?}: {reason}"));
            }
        }
        if let Some(tls) = &self.tls
            && tls.client_cert_file.is_some() != tls.client_key_file.is_some()
        {
            return bad("TLS client auth needs both client_cert_file and client_key_file".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_parses_schemes_ports_and_defaults() {
        let c = MqttConfig::from_url("mqtt://127.0.0.1:1884", "twin").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.tls.is_none()), ("127.0.0.1", 1884, true));
        assert!(!c.clean_session);
        assert!(c.keep_alive_s <= MAX_KEEP_ALIVE_S);
        c.validate().unwrap();
        let c = MqttConfig::from_url("mqtts://broker.local", "twin").unwrap();
        assert_eq!((c.port, c.tls.is_some()), (8883, true));
        let c = MqttConfig::from_url("mqtt://[::1]:2000/", "twin").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 2000));
        assert_eq!(MqttConfig::from_url("mqtt://h", "x").unwrap().port, 1883);
    }

    #[test]
    fn from_url_rejects_garbage() {
        for u in ["h:1883", "http://h:1", "mqtt://", "mqtt://h:99999", "mqtt://h:0", "mqtt://h/x", "mqtt://u:p@h"] {
            assert!(MqttConfig::from_url(u, "x").is_err(), "{u} should be rejected");
        }
    }

    #[test]
    fn validate_rejects_long_keep_alive_and_bad_fields() {
        let ok = MqttConfig::from_url("mqtt://h", "x").unwrap();
        let mut c = ok.clone();
        c.keep_alive_s = 60;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.keep_alive_s = 0;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.client_id.clear();
        assert!(c.validate().is_err(), "persistent session without client id");
        c.clean_session = true;
        c.validate().unwrap();
        let mut c = ok.clone();
        c.subscriptions.push(("a/#/b".into(), Qos::AtMostOnce));
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.reconnect_min_ms = 5000;
        c.reconnect_max_ms = 10;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.channel_capacity = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn debug_redacts_password() {
        let mut c = MqttConfig::from_url("mqtt://h", "x").unwrap();
        c.username = Some("user".into());
        c.password = Some("hunter2".into());
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && s.contains("redacted"));
    }
}
