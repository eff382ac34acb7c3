//! Test 3: after a restart of a broker WITHOUT persistence (the session is gone), the client reconnects and
//! re-subscribes by itself (ConnAck with `session_present == false`), and receives what is published after.

use std::time::Duration;

use twin_mqtt::{MqttClient, Qos};

use crate::common::*;

#[test]
fn reconnects_and_resubscribes_after_restart_without_persistence() {
    let mut broker = Mosquitto::start(false, "");
    let mut cfg = config(broker.port, "it-restart", &[("sensors/#", Qos::AtLeastOnce)]);
    cfg.clean_session = false; // asks for a session, but the broker forgets it on restart
    let client = MqttClient::start(cfg).unwrap();
    wait_subscribed(&client, 1);
    mosquitto_pub(broker.port, "sensors/before", "1", 1);
    assert_eq!(client.receiver().recv_timeout(Duration::from_secs(5)).unwrap().topic, "sensors/before");
    let before = client.stats();
    assert_eq!((before.connects, before.resubscribes), (1, 1));

    broker.restart();
    let ok = wait_until(Duration::from_secs(10), || {
        let s = client.stats();
        s.connects >= 2 && s.resubscribes >= 2 && s.subacks >= 2
    });
    let s = client.stats();
    assert!(ok, "client did not reconnect and re-subscribe: {s:?}");
    assert!(s.reconnect_attempts >= 1 && s.last_error.is_some(), "{s:?}");

    mosquitto_pub(broker.port, "sensors/after", "2", 1);
    let m = client.receiver().recv_timeout(Duration::from_secs(5)).expect("message after restart");
    assert_eq!((m.topic.as_str(), m.payload.as_slice()), ("sensors/after", &b"2"[..]));
    client.shutdown();
}
