//! Test 6: the embedded rumqttd broker starts on a free loopback port and carries pub/sub between two clients.

use std::time::Duration;

use twin_mqtt::{MqttClient, MqttConfig, Qos, broker};

use crate::common::wait_until;

#[test]
fn embedded_broker_carries_pub_sub() {
    let b = broker::start_embedded().unwrap();
    assert!(b.port != 0 && b.is_running());
    let mut cfg = MqttConfig::from_url(&b.url(), "it-emb-sub").unwrap();
    cfg.clean_session = true;
    cfg.subscriptions = vec![("twin/+/state".into(), Qos::AtLeastOnce)];
    let sub = MqttClient::start(cfg).unwrap();
    assert!(wait_until(Duration::from_secs(10), || sub.stats().subacks >= 1), "{:?}", sub.stats());
    let mut pcfg = MqttConfig::from_url(&b.url(), "it-emb-pub").unwrap();
    pcfg.clean_session = true;
    let publisher = MqttClient::start(pcfg).unwrap();
    for i in 0..10 {
        publisher.publish("twin/pump1/state", format!("{{\"i\":{i}}}").into_bytes(), Qos::AtLeastOnce, false).unwrap();
    }
    publisher.publish("twin/pump1/other", b"no".to_vec(), Qos::AtMostOnce, false).unwrap();
    for i in 0..10 {
        let m = sub.receiver().recv_timeout(Duration::from_secs(5)).expect("message through the embedded broker");
        assert_eq!(m.topic, "twin/pump1/state");
        assert_eq!(m.payload, format!("{{\"i\":{i}}}").into_bytes());
    }
    assert!(sub.receiver().recv_timeout(Duration::from_millis(300)).is_err(), "non-matching topic filtered");
    publisher.shutdown();
    sub.shutdown();
}
