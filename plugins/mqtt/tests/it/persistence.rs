//! Test 2: a QoS 1 stream of 10,000 sequence-numbered messages survives a broker restart (SIGTERM, mosquitto
//! with `persistence true`, same port) mid-stream: the subscriber (persistent session, fixed client id,
//! manual acks) and the rumqttc publisher (persistent session, retransmits) reconnect by themselves, and every
//! sequence number arrives at least once.

use std::time::{Duration, Instant};

use twin_mqtt::{MqttClient, Qos};

use crate::common::*;

const N: usize = 10_000;

#[test]
fn qos1_stream_survives_broker_restart_with_persistence() {
    let t0 = Instant::now();
    let mut broker = Mosquitto::start(true, "");
    let mut cfg = config(broker.port, "it-persist-sub", &[("stream/#", Qos::AtLeastOnce)]);
    cfg.clean_session = false;
    cfg.channel_capacity = 16_384;
    let sub = MqttClient::start(cfg).unwrap();
    wait_subscribed(&sub, 1);

    // ~3000 msg/s: the restart hits mid-stream.
    let payloads = (0..N).map(|i| i.to_string().into_bytes()).collect();
    let publisher =
        StreamPublisher::start(broker.port, "it-persist-pub", "stream/seq", payloads, 50, Duration::from_millis(15));

    let mut seen = vec![0u32; N];
    let mut distinct = 0usize;
    let mut restarted_at = None;
    let mut dup_flagged = 0u64;
    let deadline = Instant::now() + Duration::from_secs(45);
    while distinct < N && Instant::now() < deadline {
        if let Ok(m) = sub.receiver().recv_timeout(Duration::from_millis(50)) {
            let i: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            if seen[i] == 0 {
                distinct += 1;
            }
            seen[i] += 1;
            dup_flagged += u64::from(m.duplicate_flag);
        }
        if restarted_at.is_none() && distinct >= 3000 {
            broker.stop();
            std::thread::sleep(Duration::from_millis(300));
            broker.restart();
            restarted_at = Some(distinct);
        }
    }
    let pubacks = publisher.pubacks();
    publisher.stop();
    let duplicates: u32 = seen.iter().map(|c| c.saturating_sub(1)).sum();
    let missing: Vec<usize> = seen.iter().enumerate().filter(|(_, c)| **c == 0).map(|(i, _)| i).take(20).collect();
    let s = sub.stats();
    eprintln!(
        "persistence: restart after {restarted_at:?} distinct, {distinct}/{N} distinct received, {duplicates} \
         duplicates ({dup_flagged} with DUP flag), publisher pubacks {}, {:.1} s, stats {s:?}",
        pubacks,
        t0.elapsed().as_secs_f64()
    );
    assert!(restarted_at.is_some(), "the broker restart must happen mid-stream");
    assert!(missing.is_empty(), "missing sequence numbers (first 20): {missing:?}\nbroker log:\n{}", broker.log());
    assert!(s.connects >= 2 && s.reconnect_attempts >= 1, "subscriber reconnected by itself: {s:?}");
    assert_eq!(s.resubscribes, 1, "the broker restored the persistent session: no re-subscribe needed: {s:?}");
    assert_eq!(s.dropped_channel_full, 0);
    sub.shutdown();
}
