//! Throughput and latency of the MQTT adapter against one local mosquitto (loopback), side by side with the
//! `mosquitto_sub` CLI as a reference, so the README can state what the twin's MQTT input sustains.
//!
//! (a) messages/s received through `MqttClient` (drained from `receiver()`), (b) messages/s of
//! `mosquitto_sub -C N > /dev/null`, both for N QoS 0 small-JSON messages from `mosquitto_pub -l`, timed from
//! the publisher's start to the N-th message; (c) publish-to-receive latency through `MqttClient` at a paced
//! 10,000 msg/s for 5 s (rumqttc publisher, payload carries the publish time). Medians over 3 repetitions.
//! Env: `TWIN_MQTT_BENCH_N` (default 200000), `TWIN_MQTT_BENCH_REPS` (default 3).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use twin_mqtt::{MqttClient, MqttConfig, Qos};

struct Mosquitto {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let conf = dir.path().join("m.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence false\n\
                 max_queued_messages 0\nlog_dest none\n"
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        let child = child.expect("mosquitto must be installed");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let t = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(t.elapsed() < Duration::from_secs(10), "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto { port, child, _dir: dir }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Starts `mosquitto_pub -l -q 0` reading the message file from stdin.
fn start_publisher(port: u16, topic: &str, file: &std::path::Path) -> Child {
    Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-q", "0", "-l"])
        .stdin(std::fs::File::open(file).unwrap())
        .spawn()
        .expect("mosquitto_pub must be installed")
}

fn client_config(port: u16, id: &str, topic: &str, capacity: usize) -> MqttConfig {
    let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), id).unwrap();
    cfg.clean_session = true;
    cfg.subscriptions = vec![(topic.to_string(), Qos::AtMostOnce)];
    cfg.channel_capacity = capacity;
    cfg
}

/// (a) msg/s through MqttClient; returns (rate, received, dropped_channel_full).
fn run_client(port: u16, n: usize, file: &std::path::Path, rep: usize) -> (f64, usize, u64) {
    let topic = format!("bench/a{rep}");
    let client = MqttClient::start(client_config(port, &format!("bench-a{rep}"), &topic, 65_536)).unwrap();
    let t = Instant::now();
    while client.stats().subacks == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "not subscribed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let rx = client.receiver().clone();
    let start = Instant::now();
    let mut publisher = start_publisher(port, &topic, file);
    let mut got = 0usize;
    let mut last = start;
    while got < n {
        match rx.recv_timeout(Duration::from_secs(3)) {
            Ok(m) => {
                std::hint::black_box(&m.payload);
                got += 1;
                last = Instant::now();
            }
            Err(_) => break, // messages lost somewhere: report what arrived
        }
    }
    let _ = publisher.wait();
    let dropped = client.stats().dropped_channel_full;
    client.shutdown();
    (got as f64 / (last - start).as_secs_f64(), got, dropped)
}

/// (b) msg/s of `mosquitto_sub -C n > /dev/null`; returns (rate, completed).
fn run_cli(port: u16, n: usize, file: &std::path::Path, rep: usize) -> (f64, bool) {
    let topic = format!("bench/b{rep}");
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", &topic, "-q", "0", "-C", &n.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("mosquitto_sub must be installed");
    std::thread::sleep(Duration::from_millis(500)); // let it subscribe
    let start = Instant::now();
    let mut publisher = start_publisher(port, &topic, file);
    let _ = publisher.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = sub.try_wait() {
            return (n as f64 / start.elapsed().as_secs_f64(), true);
        }
        if Instant::now() > deadline {
            let _ = sub.kill();
            let _ = sub.wait();
            return (0.0, false);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// (c) latency percentiles in ms at `rate` msg/s for `secs` s; returns ([p50, p90, p99, max], received, sent).
fn run_latency(port: u16, rate: usize, secs: u64, rep: usize) -> ([f64; 4], usize, usize) {
    let topic = format!("bench/c{rep}");
    let client = MqttClient::start(client_config(port, &format!("bench-c{rep}"), &topic, 65_536)).unwrap();
    let t = Instant::now();
    while client.stats().subacks == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "not subscribed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let base = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let publisher = {
        let done = done.clone();
        let topic = topic.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let mut opts = rumqttc::MqttOptions::new(format!("bench-pub-c{rep}"), "127.0.0.1", port);
                opts.set_keep_alive(Duration::from_secs(10));
                let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 10_000);
                let poll_done = done.clone();
                let poller = tokio::spawn(async move {
                    while !poll_done.load(Ordering::Relaxed) {
                        if let Ok(Err(_)) = tokio::time::timeout(Duration::from_millis(100), eventloop.poll()).await {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                });
                let total = rate * secs as usize;
                let per_ms = rate / 1000;
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut sent = 0usize;
                while sent < total {
                    tick.tick().await;
                    for _ in 0..per_ms {
                        let ns = base.elapsed().as_nanos();
                        let payload = format!("{{\"seq\":{sent},\"t_ns\":{ns},\"flow_m3h\":12.5}}");
                        client.publish(topic.as_str(), rumqttc::QoS::AtMostOnce, false, payload).await.unwrap();
                        sent += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                done.store(true, Ordering::Relaxed);
                let _ = poller.await;
                sent
            })
        })
    };
    let mut lat_ms = Vec::with_capacity(rate * secs as usize);
    while !(done.load(Ordering::Relaxed) && client.receiver().is_empty()) {
        if let Ok(m) = client.receiver().recv_timeout(Duration::from_millis(50)) {
            let now_ns = base.elapsed().as_nanos() as f64;
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            let t_ns = v["t_ns"].as_f64().unwrap();
            lat_ms.push((now_ns - t_ns) / 1e6);
        }
    }
    let sent = publisher.join().unwrap();
    client.shutdown();
    lat_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| lat_ms[((lat_ms.len() as f64 - 1.0) * p).round() as usize];
    ([pct(0.5), pct(0.9), pct(0.99), *lat_ms.last().unwrap()], lat_ms.len(), sent)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is parsed.
    let n = env_usize("TWIN_MQTT_BENCH_N", 200_000);
    let reps = env_usize("TWIN_MQTT_BENCH_REPS", 3);
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messages.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..n {
            writeln!(f, "{{\"seq\":{i},\"ts\":1700000000.{:03},\"flow_m3h\":12.5,\"temp_C\":41.2}}", i % 1000).unwrap();
        }
    }
    println!("twin-mqtt throughput bench: N = {n} QoS 0 messages (~70 B JSON), mosquitto on loopback, {reps} reps");
    let (mut a, mut b, mut ratio) = (vec![], vec![], vec![]);
    for rep in 0..reps {
        let (ra, got, dropped) = run_client(broker.port, n, &file, rep);
        let (rb, complete) = run_cli(broker.port, n, &file, rep);
        println!(
            "  rep {rep}: (a) MqttClient {ra:>9.0} msg/s ({got}/{n} received, {dropped} dropped_channel_full)   \
             (b) mosquitto_sub {rb:>9.0} msg/s{}",
            if complete { "" } else { " (did not receive all N in time)" }
        );
        a.push(ra);
        b.push(rb);
        ratio.push(ra / rb);
    }
    println!(
        "median: (a) MqttClient {:.0} msg/s, (b) mosquitto_sub {:.0} msg/s, ratio a/b = {:.2}",
        median(a),
        median(b),
        median(ratio)
    );
    let (rate, secs) = (10_000, 5);
    let mut ps: [Vec<f64>; 4] = Default::default();
    for rep in 0..reps {
        let (p, got, sent) = run_latency(broker.port, rate, secs, rep);
        println!(
            "  rep {rep}: latency p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({got}/{sent} received)",
            p[0], p[1], p[2], p[3]
        );
        for (i, v) in p.into_iter().enumerate() {
            ps[i].push(v);
        }
    }
    let [p50, p90, p99, max] = ps.map(median);
    println!(
        "median latency at {rate} msg/s for {secs} s: p50 {p50:.3} ms, p90 {p90:.3} ms, p99 {p99:.3} ms, max {max:.3} ms"
    );
}
