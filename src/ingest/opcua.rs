//! OPC UA telemetry: the signals that name a node of an OPC UA server are read through one subscription per
//! endpoint (an [`twin_opcua::OpcUaClient`] on its own thread). Each value arrives as a value-level message with
//! its source timestamp and its StatusCode's name, so it passes the same checks as any other sample and is
//! journaled and recorded like them: Bad is rejected and counted by name, Uncertain is applied and flagged.

use std::path::PathBuf;
use std::time::Duration;

use crate::scenario::{OpcUaEndpointSpec, OpcUaPolicy, OpcUaSecurity, Scenario, SignalSource};

/// One connected endpoint and the signal each of its monitored items feeds.
pub struct OpcUaLink {
    pub client: twin_opcua::OpcUaClient,
    /// Signal ids, by item.
    pub signals: Vec<String>,
}

/// Whether any signal of the scenario comes from an OPC UA server.
pub fn has_opcua_signals(scenario: &Scenario) -> bool {
    scenario.signals.iter().any(|s| matches!(s.source, SignalSource::OpcUa(_)))
}

/// The twin's files when a scenario names no PKI directory: `$XDG_DATA_HOME/twin/pki` (or
/// `~/.local/share/twin/pki`; `./twin-pki` without a home).
pub fn default_pki_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("twin/pki");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/twin/pki"),
        None => PathBuf::from("twin-pki"),
    }
}

/// The client configuration for endpoint `e`: its security, the user's identity from the environment variables or
/// files it names, its PKI directory; no items.
pub fn client_config(e: &OpcUaEndpointSpec, timeout: Duration) -> Result<twin_opcua::OpcUaConfig, String> {
    let pki = e.pki_dir.as_ref().map_or_else(default_pki_dir, PathBuf::from);
    let mut c = twin_opcua::OpcUaConfig::new(&e.url, pki);
    c.security = match e.security {
        OpcUaSecurity::SignAndEncrypt => twin_opcua::SecurityMode::SignAndEncrypt,
        OpcUaSecurity::Sign => twin_opcua::SecurityMode::Sign,
        OpcUaSecurity::None => twin_opcua::SecurityMode::None,
    };
    c.policy = match e.policy {
        OpcUaPolicy::Basic256Sha256 => twin_opcua::Policy::Basic256Sha256,
        OpcUaPolicy::Aes128Sha256RsaOaep => twin_opcua::Policy::Aes128Sha256RsaOaep,
        OpcUaPolicy::Aes256Sha256RsaPss => twin_opcua::Policy::Aes256Sha256RsaPss,
    };
    let var = |name: &String| {
        std::env::var(name)
            .map_err(|_| format!("OPC UA endpoint \"{}\": environment variable {name} is not set", e.name))
    };
    c.identity = match (&e.username_env, &e.password_env, &e.user_cert, &e.user_key) {
        (Some(u), Some(p), _, _) => twin_opcua::Identity::UserName { user: var(u)?, password: var(p)? },
        (_, _, Some(cert), Some(key)) => twin_opcua::Identity::X509 { cert: cert.into(), key: key.into() },
        _ => twin_opcua::Identity::Anonymous,
    };
    c.trust_on_first_use = e.trust_on_first_use;
    c.timeout = timeout;
    c.publishing_interval = Duration::from_secs_f64(e.publishing_interval.secs());
    Ok(c)
}

/// Connects to every endpoint the scenario's signals name and subscribes to their nodes: the sampling interval is
/// the signal's period, the dead-band the signal's (absolute, in its unit), the queue size the source's. A value
/// lands on the twin's inbound channel as the message `$twin/value/<signal id>`.
pub fn connect(scenario: &Scenario, timeout: Duration) -> Result<Vec<OpcUaLink>, String> {
    let mut links = Vec::new();
    for e in &scenario.connections.opcua {
        let mut cfg = client_config(e, timeout)?;
        let mut signals = Vec::new();
        for sig in &scenario.signals {
            let SignalSource::OpcUa(src) = &sig.source else { continue };
            if src.endpoint != e.name {
                continue;
            }
            cfg.items.push(twin_opcua::ItemSpec {
                node: src.node.clone(),
                sampling_interval: Duration::from_secs_f64(sig.period.secs()),
                queue_size: src.queue_size,
                deadband: sig.deadband,
            });
            signals.push(sig.id.clone());
        }
        if signals.is_empty() {
            continue;
        }
        let client =
            twin_opcua::OpcUaClient::start(cfg).map_err(|err| format!("OPC UA endpoint \"{}\": {err}", e.name))?;
        links.push(OpcUaLink { client, signals });
    }
    Ok(links)
}

/// The value message of one data change of a link whose items are the signals `signals` (`None` for an item the
/// link does not know).
pub fn message(signals: &[String], c: &twin_opcua::DataChange, received_unix_s: f64) -> Option<super::RawMessage> {
    let id = signals.get(c.item)?;
    let status = (c.status != 0).then(|| twin_opcua::status_name(c.status));
    Some(super::quality::value_message_with(id, c.value, c.source_unix_s.or(c.server_unix_s), status, received_unix_s))
}
