//! Test 4: a full channel to the twin drops messages and counts them (QoS 1 ones stay unacknowledged), nothing
//! panics, and with a persistent session the dropped QoS 1 messages are redelivered once the twin drains.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use twin_mqtt::{MqttClient, Qos};

use crate::common::*;

#[test]
fn full_channel_counts_drops_and_keeps_running() {
    let broker = Mosquitto::start(false, "");
    let mut cfg = config(broker.port, "it-full", &[("burst/#", Qos::AtMostOnce)]);
    cfg.channel_capacity = 4;
    cfg.clean_session = true;
    let client = MqttClient::start(cfg).unwrap();
    wait_subscribed(&client, 1);
    let lines: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
    mosquitto_pub_lines(broker.port, "burst/a", &lines, 0);
    let ok = wait_until(Duration::from_secs(10), || client.stats().received >= 100);
    let s = client.stats();
    assert!(ok, "{s:?}");
    assert_eq!((s.delivered, s.dropped_channel_full), (4, 96), "{s:?}");
    assert!(s.connected, "a full channel does not break the connection");
    let first: Vec<Vec<u8>> = client.receiver().try_iter().map(|m| m.payload).collect();
    assert_eq!(first, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec(), b"3".to_vec()], "oldest kept, newest dropped");
    mosquitto_pub(broker.port, "burst/b", "after", 0);
    let m = client.receiver().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(m.payload, b"after");
    client.shutdown();
}

#[test]
fn dropped_qos1_messages_are_not_acked_and_come_back_after_draining() {
    let broker = Mosquitto::start(false, "");
    let mut cfg = config(broker.port, "it-full-qos1", &[("burst/#", Qos::AtLeastOnce)]);
    cfg.channel_capacity = 4;
    cfg.clean_session = false;
    cfg.keep_alive_s = 1;
    let client = MqttClient::start(cfg).unwrap();
    wait_subscribed(&client, 1);
    let lines: Vec<String> = (0..30).map(|i| format!("{i}")).collect();
    mosquitto_pub_lines(broker.port, "burst/q1", &lines, 1);
    let ok = wait_until(Duration::from_secs(10), || client.stats().dropped_channel_full >= 10);
    let s = client.stats();
    assert!(ok, "{s:?}");
    assert_eq!(s.acked, 4, "only the 4 messages handed to the twin are acknowledged: {s:?}");
    assert_eq!(s.delivered, 4);

    // Now the twin drains: the client forces a reconnect and the broker redelivers the unacked messages.
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 30 && Instant::now() < deadline {
        if let Ok(m) = client.receiver().recv_timeout(Duration::from_millis(50)) {
            got.insert(String::from_utf8(m.payload).unwrap().parse::<u32>().unwrap());
        }
    }
    let s = client.stats();
    assert_eq!(got.len(), 30, "all 30 QoS 1 messages eventually arrive: got {got:?}, {s:?}");
    assert!(s.redelivery_reconnects >= 1, "{s:?}");
    client.shutdown();
}
