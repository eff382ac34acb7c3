//! Live telemetry into the twin, side by side on one local Mosquitto and one load (run with
//! `cargo bench --no-default-features --bench telemetry`):
//!
//! - throughput: N QoS 0 small-JSON messages from `mosquitto_pub -l`, timed from the publisher's start to the
//!   N-th message (a) applied in the twin's ECS (a `SampleApplied` on the asset), (b) received through the bare
//!   `MqttClient`, (c) written by `mosquitto_sub -C N` to /dev/null;
//! - latency: a publisher paced at 10,000 msg/s for 5 s, publish-to-apply in the ECS (d) and publish-to-receive
//!   through the bare client (e), percentiles.
//!
//! The twin is the headless app on a one-signal scenario, its clock following the wall clock, looping as a live
//! headless twin would: wait until telemetry is ready (or 1 ms), then tick. Medians over the repetitions.
//! Env: `TWIN_BENCH_N` (default 200000), `TWIN_BENCH_REPS` (default 3).

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin::app::headless_app;
use twin::ingest::{SampleApplied, Telemetry};
use twin::scenario;
use twin::twin::{ClockPacing, TwinSystems};
use twin_mqtt::testkit::{Mosquitto, wait_until};
use twin_mqtt::{MqttClient, MqttConfig, Qos};

/// The fixture's topic. Each measurement has a twin of its own, started after the previous one is gone.
const TOPIC: &str = "it/stream/level";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `mosquitto_pub -l -q 0` reading the message file from stdin.
fn start_publisher(port: u16, topic: &str, file: &Path) -> Child {
    Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic, "-q", "0", "-l"])
        .stdin(std::fs::File::open(file).unwrap())
        .spawn()
        .expect("mosquitto_pub must be installed")
}

fn client_config(port: u16, id: &str, topic: &str) -> MqttConfig {
    let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), id).unwrap();
    cfg.clean_session = true;
    cfg.subscriptions = vec![(topic.to_string(), Qos::AtMostOnce)];
    cfg.channel_capacity = 65_536;
    cfg
}

/// What the ECS saw: samples applied, when the last one was, and publish-to-apply latencies.
#[derive(Resource)]
struct Probe {
    applied: usize,
    last: Instant,
    /// Publish times, ns since `base`, by sequence number (the sample's value), 0 = not sent yet.
    sent_ns: Arc<Vec<AtomicU64>>,
    base: Instant,
    latencies_ms: Vec<f64>,
}

fn probe(mut applied: MessageReader<SampleApplied>, mut p: ResMut<Probe>) {
    let now = Instant::now();
    let now_ns = (now - p.base).as_nanos() as u64;
    for s in applied.read() {
        p.applied += 1;
        p.last = now;
        let sent = p.sent_ns.get(s.measured.value as usize).map_or(0, |a| a.load(Ordering::Relaxed));
        if sent > 0 {
            p.latencies_ms.push(now_ns.saturating_sub(sent) as f64 / 1e6);
        }
    }
}

/// The headless twin on the one-signal fixture (a tank level on [`TOPIC`], value path "$.value", no source
/// timestamp), connected to the broker, its clock following the wall clock.
fn live_twin(port: u16, id: &str, sent_ns: Arc<Vec<AtomicU64>>) -> App {
    let mut s = scenario::load(Path::new("tests/fixtures/stream.ron")).expect("run from the repository root");
    s.signals[0].valid = (0.0, 1e9);
    let mut app = headless_app(Arc::new(s), 1);
    app.insert_resource(ClockPacing::Realtime { speed: 1.0, owed_s: 0.0, paused: false })
        .insert_resource(Probe {
            applied: 0,
            last: Instant::now(),
            sent_ns,
            base: Instant::now(),
            latencies_ms: vec![],
        })
        .add_systems(Update, probe.after(TwinSystems::Ingest));
    let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), id).unwrap();
    cfg.channel_capacity = 65_536;
    app.world_mut().resource_mut::<Telemetry>().connect(cfg).unwrap();
    let subscribed = wait_until(Duration::from_secs(10), || {
        app.world().resource::<Telemetry>().mqtt.as_ref().is_some_and(|c| c.stats().subacks > 0)
    });
    assert!(subscribed, "the twin did not subscribe");
    app.update();
    app
}

/// Ticks the live twin until `done` says so or nothing was applied for `idle`.
fn run_live(app: &mut App, idle: Duration, mut done: impl FnMut(&Probe) -> bool) {
    let mut seen = (0, Instant::now());
    loop {
        app.world().resource::<Telemetry>().wait_ready(Duration::from_millis(1));
        app.update();
        let p = app.world().resource::<Probe>();
        if done(p) {
            return;
        }
        if p.applied != seen.0 {
            seen = (p.applied, Instant::now());
        } else if seen.1.elapsed() > idle {
            return;
        }
    }
}

/// (a) msg/s applied in the ECS; returns (rate, applied, client drops).
fn run_twin(port: u16, n: usize, file: &Path, rep: usize) -> (f64, usize, u64) {
    let mut app = live_twin(port, &format!("bench-twin{rep}"), Arc::new(Vec::new()));
    let start = Instant::now();
    app.world_mut().resource_mut::<Probe>().last = start;
    let mut publisher = start_publisher(port, TOPIC, file);
    run_live(&mut app, Duration::from_secs(3), |p| p.applied >= n);
    let _ = publisher.wait();
    let t = app.world().resource::<Telemetry>();
    let dropped = t.counters().get("dropped_channel_full").copied().unwrap_or(0);
    let p = app.world().resource::<Probe>();
    (p.applied as f64 / (p.last - start).as_secs_f64(), p.applied, dropped)
}

/// (b) msg/s through `MqttClient` alone; returns (rate, received).
fn run_client(port: u16, n: usize, file: &Path, rep: usize) -> (f64, usize) {
    let topic = format!("bench/client{rep}");
    let client = MqttClient::start(client_config(port, &format!("bench-client{rep}"), &topic)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.stats().subacks > 0), "not subscribed");
    let rx = client.receiver().clone();
    let start = Instant::now();
    let mut publisher = start_publisher(port, &topic, file);
    let (mut got, mut last) = (0usize, start);
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
    client.shutdown();
    (got as f64 / (last - start).as_secs_f64(), got)
}

/// (c) msg/s of `mosquitto_sub -C n > /dev/null`; returns (rate, completed).
fn run_cli(port: u16, n: usize, file: &Path, rep: usize) -> (f64, bool) {
    let topic = format!("bench/cli{rep}");
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

/// Publishes `{"seq": i, "value": i}` at `rate` msg/s (bursts of rate/1000 each millisecond) for `secs`,
/// recording each publish time in `sent_ns`; the thread ends 0.5 s after the last message.
fn paced_publisher(
    port: u16,
    id: String,
    topic: String,
    rate: usize,
    secs: usize,
    base: Instant,
    sent_ns: Arc<Vec<AtomicU64>>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut cfg = MqttConfig::from_url(&format!("mqtt://127.0.0.1:{port}"), &id).unwrap();
        cfg.channel_capacity = 65_536;
        let client = MqttClient::start(cfg).unwrap();
        assert!(wait_until(Duration::from_secs(10), || client.stats().connected), "publisher not connected");
        let (total, per_ms) = (rate * secs, rate / 1000);
        let start = Instant::now();
        let mut sent = 0usize;
        while sent < total {
            let due = start + Duration::from_millis((sent / per_ms) as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for _ in 0..per_ms {
                sent_ns[sent].store((base.elapsed().as_nanos() as u64).max(1), Ordering::Relaxed);
                let payload = format!("{{\"seq\":{sent},\"value\":{sent}}}").into_bytes();
                let _ = client.publish(&topic, payload, Qos::AtMostOnce, false);
                sent += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        client.shutdown();
        sent
    })
}

fn percentiles(mut v: Vec<f64>) -> [f64; 4] {
    if v.is_empty() {
        return [f64::NAN; 4];
    }
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    [pct(0.5), pct(0.9), pct(0.99), v[v.len() - 1]]
}

/// (d) publish-to-apply latency in the ECS; returns (percentiles ms, applied, sent).
fn latency_twin(port: u16, rate: usize, secs: usize, rep: usize) -> ([f64; 4], usize, usize) {
    let sent_ns: Arc<Vec<AtomicU64>> = Arc::new((0..rate * secs).map(|_| AtomicU64::new(0)).collect());
    let mut app = live_twin(port, &format!("bench-lat-twin{rep}"), sent_ns.clone());
    let base = app.world().resource::<Probe>().base;
    let publisher = paced_publisher(port, format!("pub-lat-twin{rep}"), TOPIC.to_string(), rate, secs, base, sent_ns);
    run_live(&mut app, Duration::from_secs(10), |_| publisher.is_finished());
    let sent = publisher.join().unwrap();
    let lat = std::mem::take(&mut app.world_mut().resource_mut::<Probe>().latencies_ms);
    let n = lat.len();
    (percentiles(lat), n, sent)
}

/// (e) publish-to-receive latency through the bare client; returns (percentiles ms, received, sent).
fn latency_client(port: u16, rate: usize, secs: usize, rep: usize) -> ([f64; 4], usize, usize) {
    let topic = format!("bench/lat-client{rep}");
    let client = MqttClient::start(client_config(port, &format!("bench-lat-client{rep}"), &topic)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.stats().subacks > 0), "not subscribed");
    let sent_ns: Arc<Vec<AtomicU64>> = Arc::new((0..rate * secs).map(|_| AtomicU64::new(0)).collect());
    let base = Instant::now();
    let publisher = paced_publisher(port, format!("pub-lat-client{rep}"), topic, rate, secs, base, sent_ns.clone());
    let mut lat = Vec::with_capacity(rate * secs);
    while !(publisher.is_finished() && client.receiver().is_empty()) {
        if let Ok(m) = client.receiver().recv_timeout(Duration::from_millis(50)) {
            let now_ns = base.elapsed().as_nanos() as u64;
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            let sent = v["seq"].as_u64().and_then(|i| sent_ns.get(i as usize)).map_or(0, |a| a.load(Ordering::Relaxed));
            lat.push(now_ns.saturating_sub(sent) as f64 / 1e6);
        }
    }
    let sent = publisher.join().unwrap();
    client.shutdown();
    let n = lat.len();
    (percentiles(lat), n, sent)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is parsed.
    let n = env_usize("TWIN_BENCH_N", 200_000);
    let reps = env_usize("TWIN_BENCH_REPS", 3);
    // Nagle off on the broker's sockets, as for any latency-sensitive deployment (the client sets it on its own).
    let broker = Mosquitto::start(false, "set_tcp_nodelay true");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messages.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..n {
            writeln!(f, "{{\"seq\":{i},\"value\":{}.25,\"quality\":\"good\"}}", i % 1000).unwrap();
        }
    }
    println!("telemetry bench: N = {n} QoS 0 messages (~45 B JSON), mosquitto 127.0.0.1:{}, {reps} reps", broker.port);
    let (mut a, mut b, mut c, mut ratio) = (vec![], vec![], vec![], vec![]);
    for rep in 0..reps {
        let (ra, applied, dropped) = run_twin(broker.port, n, &file, rep);
        let (rb, got) = run_client(broker.port, n, &file, rep);
        let (rc, complete) = run_cli(broker.port, n, &file, rep);
        println!(
            "  rep {rep}: (a) twin ECS {ra:>9.0} msg/s ({applied}/{n} applied, {dropped} dropped)   (b) MqttClient \
             {rb:>9.0} msg/s ({got}/{n})   (c) mosquitto_sub {rc:>9.0} msg/s{}",
            if complete { "" } else { " (did not receive all N in time)" }
        );
        a.push(ra);
        b.push(rb);
        c.push(rc);
        ratio.push(ra / rc);
    }
    println!(
        "median: (a) twin ECS {:.0} msg/s, (b) MqttClient {:.0} msg/s, (c) mosquitto_sub {:.0} msg/s; \
         twin/mosquitto_sub = {:.2}",
        median(a),
        median(b),
        median(c),
        median(ratio)
    );
    let (rate, secs) = (10_000, 5);
    for (name, f) in [
        ("(d) publish-to-apply in the twin's ECS", latency_twin as fn(u16, usize, usize, usize) -> _),
        ("(e) publish-to-receive through MqttClient", latency_client),
    ] {
        let mut ps: [Vec<f64>; 4] = Default::default();
        for rep in 0..reps {
            let (p, got, sent) = f(broker.port, rate, secs, rep);
            println!(
                "  rep {rep}: {name}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({got}/{sent})",
                p[0], p[1], p[2], p[3]
            );
            for (i, v) in p.into_iter().enumerate() {
                ps[i].push(v);
            }
        }
        let [p50, p90, p99, max] = ps.map(median);
        println!(
            "median {name} at {rate} msg/s for {secs} s: p50 {p50:.3} ms, p90 {p90:.3} ms, p99 {p99:.3} ms, \
             max {max:.3} ms"
        );
    }
}
