//! Test 2: a QoS 1 stream of 10,000 sequence-numbered messages survives a broker restart (SIGTERM, mosquitto
//! with `persistence true`, same port) mid-stream: the subscriber (persistent session, fixed client id,
//! manual acks) and the rumqttc publisher (persistent session, retransmits) reconnect by themselves, and every
//! sequence number arrives at least once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, MqttOptions, QoS};
use twin_mqtt::{MqttClient, Qos};

use crate::common::*;

const N: usize = 10_000;

/// A rumqttc publisher in its own thread: one task polls the event loop (never awaiting a publish), another
/// publishes `N` messages with pacing. Returns when all were queued and the broker acked them all, or stop.
fn spawn_publisher(port: u16, stop: Arc<AtomicBool>, pubacks: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let mut opts = MqttOptions::new("it-persist-pub", "127.0.0.1", port);
            opts.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_inflight(100);
            let (client, mut eventloop) = AsyncClient::new(opts, 1000);
            let poller = {
                let stop = stop.clone();
                let pubacks = pubacks.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) => {
                                pubacks.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(Ok(_)) | Err(_) => {}
                            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                })
            };
            for i in 0..N {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                client.publish("stream/seq", QoS::AtLeastOnce, false, format!("{i}")).await.unwrap();
                if i % 50 == 49 {
                    tokio::time::sleep(Duration::from_millis(15)).await; // ~3000 msg/s: the restart hits mid-stream
                }
            }
            let _ = poller.await;
        });
    })
}

#[test]
fn qos1_stream_survives_broker_restart_with_persistence() {
    let t0 = Instant::now();
    let mut broker = Mosquitto::start(true, "");
    let mut cfg = config(broker.port, "it-persist-sub", &[("stream/#", Qos::AtLeastOnce)]);
    cfg.clean_session = false;
    cfg.channel_capacity = 16_384;
    let sub = MqttClient::start(cfg).unwrap();
    wait_subscribed(&sub, 1);

    let stop = Arc::new(AtomicBool::new(false));
    let pubacks = Arc::new(AtomicU64::new(0));
    let publisher = spawn_publisher(broker.port, stop.clone(), pubacks.clone());

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
    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    let duplicates: u32 = seen.iter().map(|c| c.saturating_sub(1)).sum();
    let missing: Vec<usize> = seen.iter().enumerate().filter(|(_, c)| **c == 0).map(|(i, _)| i).take(20).collect();
    let s = sub.stats();
    eprintln!(
        "persistence: restart after {restarted_at:?} distinct, {distinct}/{N} distinct received, {duplicates} \
         duplicates ({dup_flagged} with DUP flag), publisher pubacks {}, {:.1} s, stats {s:?}",
        pubacks.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64()
    );
    assert!(restarted_at.is_some(), "the broker restart must happen mid-stream");
    assert!(missing.is_empty(), "missing sequence numbers (first 20): {missing:?}\nbroker log:\n{}", broker.log());
    assert!(s.connects >= 2 && s.reconnect_attempts >= 1, "subscriber reconnected by itself: {s:?}");
    assert_eq!(s.resubscribes, 1, "the broker restored the persistent session: no re-subscribe needed: {s:?}");
    assert_eq!(s.dropped_channel_full, 0);
    sub.shutdown();
}
