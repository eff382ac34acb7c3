//! Monitored-item values per second from one OPC UA server, side by side (run with
//! `cargo bench --no-default-features --bench opcua`; needs the test venv, `scripts/test.sh` makes it):
//!
//! - the server: FreeOpcUa's asyncua (tests/peers/opcua_server.py) with Basic256Sha256 SignAndEncrypt and a user
//!   name, setting K variables every 10 ms with source timestamps (it prints what it manages per second);
//! - (a) the twin: K tank-level signals, each an OPC UA source on one of those nodes (sampling 10 ms, queue 100,
//!   publishing every 100 ms), counted as `SampleApplied` in the headless twin's ECS, its clock following the wall
//!   clock and looping as a live headless twin does (wait until telemetry is ready or 1 ms, then tick);
//! - (b) asyncua's own client (tests/peers/opcua_client_bench.py) on the same server, same security, same
//!   subscription parameters.
//!
//! Each is measured alone against the same running server, after a warm-up, over a fixed window; repetitions
//! alternate (a), (b). Medians. Env: `TWIN_BENCH_K` (default 100), `TWIN_BENCH_SECONDS` (default 10),
//! `TWIN_BENCH_REPS` (default 3).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin::app::headless_app;
use twin::ingest::{SampleApplied, Telemetry};
use twin::scenario;
use twin::twin::{ClockPacing, TwinSystems};
use twin_opcua::testkit::{Asyncua, python};

const WARMUP_S: f64 = 3.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Resource, Default)]
struct Probe {
    applied: u64,
}

fn probe(mut applied: MessageReader<SampleApplied>, mut p: ResMut<Probe>) {
    p.applied += applied.read().count() as u64;
}

/// The scenario: one tank, K level signals on nodes ns=2;s=V.0 ... V.(K-1).
fn scenario_text(url: &str, pki: &Path, k: usize) -> String {
    let signals: Vec<String> = (0..k)
        .map(|i| {
            format!(
                r#"(id: "T-9.level{i}", asset: "T-9", quantity: TankLevel, unit: "m",
                    source: OpcUa(endpoint: "server", node: "ns=2;s=V.{i}", queue_size: 100),
                    valid: (0.0, 1e12), period: "10ms"),"#
            )
        })
        .collect();
    format!(
        r#"Scenario(version: 1, name: "OPC UA bench",
    connections: (opcua: [(name: "server", url: "{url}", username_env: "TWIN_BENCH_OPCUA_USER",
        password_env: "TWIN_BENCH_OPCUA_PASSWORD", trust_on_first_use: true, pki_dir: "{}",
        publishing_interval: "100ms")]),
    assets: [(id: "T-9", kind: Tank(area_m2: 20.0, height_m: 4.0, initial_level_m: 3.0, inflow_m3h: 0.0))],
    signals: [{}],
)"#,
        pki.display(),
        signals.join("\n")
    )
}

/// This process's CPU time (user + system), s.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of proc(5) (utime, stime), counted from the state (field 3) after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The server's median rate of values set, per second, over the seconds logged since `since` (Unix s).
fn server_rate(dir: &Path, since: f64) -> f64 {
    let text = std::fs::read_to_string(dir.join("set-rates.txt")).unwrap_or_default();
    let rates: Vec<f64> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|v| v.parse::<f64>().ok());
            let (t, r) = (f.next()??, f.next()??);
            (t > since).then_some(r)
        })
        .collect();
    if rates.is_empty() { f64::NAN } else { median(rates) }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// (a) values/s applied in the twin's ECS over `secs`, after the warm-up; its CPU time per second over that
/// window (the whole process: client thread and ECS); and the client's drops.
fn run_twin(path: &Path, secs: f64) -> (f64, f64, u64) {
    let s = Arc::new(scenario::load(path).unwrap());
    let mut app = headless_app(s.clone(), 1);
    app.insert_resource(ClockPacing::Realtime { speed: 1.0, owed_s: 0.0, paused: false })
        .init_resource::<Probe>()
        .add_systems(Update, probe.after(TwinSystems::Ingest));
    twin::ingest::connect_opcua(app.world_mut(), &s, None).expect("connect to the asyncua server");
    app.update();
    let run = |app: &mut App, secs: f64| {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            app.world().resource::<Telemetry>().wait_ready(Duration::from_millis(1));
            app.update();
        }
    };
    run(&mut app, WARMUP_S);
    let (start, t0, c0) = (app.world().resource::<Probe>().applied, Instant::now(), cpu_s());
    run(&mut app, secs);
    let elapsed = t0.elapsed().as_secs_f64();
    let rate = (app.world().resource::<Probe>().applied - start) as f64 / elapsed;
    let cpu = (cpu_s() - c0) / elapsed;
    let dropped = app.world().resource::<Telemetry>().counters().get("dropped_channel_full").copied().unwrap_or(0);
    (rate, cpu, dropped)
}

/// (b) values/s through asyncua's client, and its CPU time per second over the window.
fn run_asyncua(url: &str, dir: &Path, k: usize, secs: f64) -> (f64, f64) {
    let out = Command::new(python())
        .arg("tests/peers/opcua_client_bench.py")
        .args([url, dir.to_str().unwrap(), "V", &k.to_string(), "100", &WARMUP_S.to_string(), &secs.to_string()])
        .output()
        .expect("the test venv's python");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("asyncua client: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
    };
    (field("values/s "), field("cpu_s ") / secs)
}

fn main() {
    let k = env_usize("TWIN_BENCH_K", 100);
    let secs = env_usize("TWIN_BENCH_SECONDS", 10) as f64;
    let reps = env_usize("TWIN_BENCH_REPS", 3);
    // SAFETY: single-threaded here, before any client starts.
    unsafe {
        std::env::set_var("TWIN_BENCH_OPCUA_USER", "operator");
        std::env::set_var("TWIN_BENCH_OPCUA_PASSWORD", "secret");
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Asyncua::start(&dir.path().join("server"), &["--bench", &format!("V:{k}")]);
    let path = dir.path().join("bench.ron");
    std::fs::write(&path, scenario_text(&server.url(), &dir.path().join("pki"), k)).unwrap();
    println!(
        "OPC UA values/s, {k} monitored items set every 10 ms by asyncua {} (Basic256Sha256 SignAndEncrypt)",
        server.url()
    );
    let server_dir = dir.path().join("server");
    let (mut twin, mut asyncua, mut twin_cpu, mut asyncua_cpu) = (vec![], vec![], vec![], vec![]);
    for rep in 1..=reps {
        let since = unix_now() + WARMUP_S;
        let (rate, cpu, dropped) = run_twin(&path, secs);
        let set = server_rate(&server_dir, since);
        println!(
            "  rep {rep}: twin ECS {rate:.0} values/s, {:.0} % of a core (dropped {dropped}); server set {set:.0}/s",
            cpu * 100.0
        );
        twin.push(rate);
        twin_cpu.push(cpu);
        let since = unix_now() + WARMUP_S;
        let (rate, cpu) = run_asyncua(&server.url(), dir.path(), k, secs);
        let set = server_rate(&server_dir, since);
        println!(
            "  rep {rep}: asyncua client {rate:.0} values/s, {:.0} % of a core; server set {set:.0}/s",
            cpu * 100.0
        );
        asyncua.push(rate);
        asyncua_cpu.push(cpu);
    }
    let (a, b) = (median(twin), median(asyncua));
    let (ca, cb) = (median(twin_cpu), median(asyncua_cpu));
    println!(
        "median: twin ECS {a:.0} values/s at {:.0} % of a core, asyncua client {b:.0} values/s at {:.0} % of a core; \
         rate ratio {:.2}, CPU per value ratio {:.2}",
        ca * 100.0,
        cb * 100.0,
        a / b,
        (ca / a) / (cb / b)
    );
}
