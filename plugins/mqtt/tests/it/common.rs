//! Test helpers on top of `twin_mqtt::testkit`: a fast-reconnecting client config and waiting for SubAcks.

use std::time::Duration;

pub use twin_mqtt::testkit::*;
use twin_mqtt::{MqttClient, MqttConfig, Qos};

/// A config for a client of a local broker, fast reconnects for tests.
pub fn config(port: u16, client_id: &str, subs: &[(&str, Qos)]) -> MqttConfig {
    let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), client_id).unwrap();
    cfg.subscriptions = subs.iter().map(|(f, q)| (f.to_string(), *q)).collect();
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 500;
    cfg.keep_alive_s = 5;
    cfg
}

/// Waits until the client has `n` SubAcks (its subscriptions are active at the broker).
pub fn wait_subscribed(client: &MqttClient, n: u64) {
    let ok = wait_until(Duration::from_secs(10), || client.stats().subacks >= n);
    assert!(ok, "not subscribed in time: {:?}", client.stats());
}
