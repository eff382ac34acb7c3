//! Test 1: samples published with the `mosquitto_pub` CLI arrive with the right topic and payload, and
//! wildcard subscriptions (`+`, `#`) select the right topics.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use twin_mqtt::{MqttClient, Qos};

use crate::common::*;

#[test]
fn cli_samples_arrive_with_topic_and_payload_and_wildcards_filter() {
    let broker = Mosquitto::start(false, "");
    let client = MqttClient::start(config(
        broker.port,
        "it-pubsub",
        &[("pumps/+/flow", Qos::AtLeastOnce), ("plant/#", Qos::AtMostOnce)],
    ))
    .unwrap();
    wait_subscribed(&client, 1);

    let sent = [
        ("pumps/p1/flow", r#"{"flow_m3h":12.5,"ts":1700000000}"#, 1),
        ("pumps/p2/flow", r#"{"flow_m3h":7.25}"#, 0),
        ("pumps/p1/temp", r#"{"temp_C":40}"#, 1), // no filter matches
        ("pumps/p1/flow/raw", "x", 1),            // + is one level only
        ("plant", "parent-of-#", 0),              // # matches its parent level
        ("plant/area1/line2/pump3", "deep", 1),
        ("other/topic", "no", 0),
    ];
    for (t, p, q) in sent {
        mosquitto_pub(broker.port, t, p, q);
    }
    let expected: BTreeMap<&str, &str> = [
        ("pumps/p1/flow", r#"{"flow_m3h":12.5,"ts":1700000000}"#),
        ("pumps/p2/flow", r#"{"flow_m3h":7.25}"#),
        ("plant", "parent-of-#"),
        ("plant/area1/line2/pump3", "deep"),
    ]
    .into();
    let mut got = BTreeMap::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    while got.len() < expected.len() {
        let m = client.receiver().recv_timeout(Duration::from_secs(5)).expect("expected message did not arrive");
        assert!((m.received_unix_s - now).abs() < 30.0, "received_unix_s is wall-clock seconds");
        if m.topic == "pumps/p1/flow" {
            assert_eq!(m.qos, Qos::AtLeastOnce, "QoS 1 publish on a QoS 1 subscription");
            assert!(!m.duplicate_flag);
        }
        if m.topic == "plant/area1/line2/pump3" {
            assert_eq!(m.qos, Qos::AtMostOnce, "QoS 1 publish is downgraded to the QoS 0 subscription");
        }
        got.insert(m.topic.clone(), String::from_utf8(m.payload).unwrap());
    }
    // Anything not matching must not arrive (mosquitto_pub calls are sequential, so it would be here by now).
    mosquitto_pub(broker.port, "plant/fence", "end", 1);
    let fence = client.receiver().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(fence.topic, "plant/fence", "a non-matching message arrived before the fence");
    let expected: BTreeMap<String, String> = expected.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(got, expected);
    let s = client.stats();
    assert_eq!((s.received, s.delivered, s.dropped_channel_full), (5, 5, 0));
    assert_eq!(s.acked, 1, "only pumps/p1/flow was delivered with QoS 1 (the plant/# subscription is QoS 0)");
    assert!(s.connected && s.connects == 1 && s.resubscribes == 1, "{s:?}");
    client.shutdown();
}

#[test]
fn publish_from_the_client_reaches_a_subscriber_and_invalid_publishes_are_counted() {
    let broker = Mosquitto::start(false, "");
    let sub = MqttClient::start(config(broker.port, "it-pub-sub", &[("cmd/#", Qos::AtLeastOnce)])).unwrap();
    wait_subscribed(&sub, 1);
    let mut cfg = config(broker.port, "it-pub-pub", &[]);
    cfg.max_packet_bytes = 1024;
    let publisher = MqttClient::start(cfg).unwrap();
    publisher.publish("cmd/pump1/speed", b"1450".to_vec(), Qos::AtLeastOnce, false).unwrap();
    let m = sub.receiver().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("cmd/pump1/speed", &b"1450"[..]));
    assert!(publisher.publish("cmd/+/speed", vec![], Qos::AtMostOnce, false).is_err(), "wildcard topic");
    assert!(publisher.publish("cmd/x", vec![0; 2000], Qos::AtMostOnce, false).is_err(), "over max_packet_bytes");
    let s = publisher.stats();
    assert_eq!((s.published, s.publish_dropped), (1, 2));
    publisher.shutdown();
    sub.shutdown();
}

/// A plant's subscription list does not fit one SUBSCRIBE packet: 20,000 topics (about 500 kB of filters) are
/// sent in packets within `max_packet_bytes`, every one acknowledged, and the first and last topics deliver.
#[test]
fn a_subscription_list_larger_than_a_packet_is_sent_in_several() {
    let broker = Mosquitto::start(false, "");
    let topics: Vec<String> = (0..20_000).map(|i| format!("site/p-{i:05}/vibration")).collect();
    let subs: Vec<(&str, Qos)> = topics.iter().map(|t| (t.as_str(), Qos::AtLeastOnce)).collect();
    let client = MqttClient::start(config(broker.port, "it-many-subs", &subs)).unwrap();
    let all = wait_until(Duration::from_secs(20), || {
        let s = client.stats();
        s.resubscribes == 1 && s.subacks == s.subscribe_packets
    });
    let stats = client.stats();
    assert!(all, "not every packet acknowledged: {stats:?}");
    assert!(stats.subscribe_packets >= 2, "500 kB of filters in one 256 kB packet: {stats:?}");
    assert_eq!(stats.subscribe_failures, 0);
    assert!(stats.connected && stats.connects == 1, "the oversized packet would have cost the connection: {stats:?}");
    for t in [&topics[0], &topics[19_999]] {
        mosquitto_pub(broker.port, t, "1.5", 1);
        let m = client.receiver().recv_timeout(Duration::from_secs(5)).expect("a subscribed topic delivers");
        assert_eq!(&m.topic, t);
    }
}
