//! `twin serve` as an operator runs it: a child process on the embedded broker and virtual plant, stopped with
//! SIGTERM; it logs its connection and status, shuts down cleanly with exit 0, and its store holds every sample it
//! accepted (read with Python's sqlite3). A store it may not use stops it at once with exit 2.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{artifacts, root, stderr, twin};

/// The log without its colour codes.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts `twin ARGS` from the repository root, its standard output and error into `log`.
fn spawn_twin(args: &[&str], log: &std::path::Path) -> std::process::Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(root())
        .args(args)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap()
}

/// The pump station on the broker at `url`, with `publish` (a scenario line), written into `dir` as `name`.
fn station_on(url: &str, publish: &str, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("scenes/pump_station.ron")).unwrap();
    let text = text.replace(
        "connections: (broker: Embedded, plc: VirtualPlc),",
        &format!("connections: (broker: Mqtt(url: \"{url}\"), plc: VirtualPlc),\n    {publish}"),
    );
    assert!(text.contains(publish));
    let scenario = dir.join(name);
    std::fs::write(&scenario, text).unwrap();
    scenario
}

#[test]
fn twin_serve_runs_until_sigterm_shuts_down_cleanly_and_its_store_holds_every_accepted_sample() {
    let dir = artifacts("serve");
    let store = dir.join("station.twin.sqlite");
    let log = dir.join("serve.log");
    for f in [&store, &log] {
        let _ = std::fs::remove_file(f);
    }
    let args = ["serve", "scenes/pump_station.ron", "--speed", "60x", "--status-every", "1s", "--store"];
    let mut child = spawn_twin(&[&args[..], &[store.to_str().unwrap()]].concat(), &log);
    // Three status lines: it is connected and the virtual plant's telemetry flows.
    let started = Instant::now();
    let read = || plain(&std::fs::read_to_string(&log).unwrap_or_default());
    while read().matches("status:").count() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "no status lines:\n{}", read());
        assert!(child.try_wait().unwrap().is_none(), "serve exited early:\n{}", read());
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped.elapsed() < Duration::from_secs(20), "serve did not stop on SIGTERM:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = read();
    assert_eq!(status.code(), Some(0), "{text}");
    for line in [
        "serving Water treatment pump station",
        "broker connected",
        "shutting down: signal received",
        "history store closed",
        "stopped",
    ] {
        assert!(text.contains(line), "{line:?} missing from the log:\n{text}");
    }
    // The last status line, written at shutdown, counts what was accepted; the store holds exactly that.
    let last = text.lines().rfind(|l| l.contains("status:")).unwrap();
    let accepted: u64 = last.split("accepted ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(accepted > 100, "{last}");
    assert!(last.contains("rejected: none") && last.contains(" connected |"), "{last}");
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute('SELECT COUNT(*) FROM samples').fetchone()[0])";
    let py = Command::new("/usr/bin/python3").args(["-c", script]).arg(&store).output().unwrap();
    let stored: u64 = String::from_utf8_lossy(&py.stdout).trim().parse().unwrap();
    assert_eq!(stored, accepted, "every accepted sample is in the store");
}

#[test]
fn twin_serve_with_a_store_of_another_scenario_stops_at_once_with_exit_2() {
    let dir = artifacts("serve-refused");
    let store = dir.join("booster.twin.sqlite");
    let _ = std::fs::remove_file(&store);
    let out =
        twin(&["run", "scenes/booster_station.ron", "--duration", "1m", "-q", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = twin(&["serve", "scenes/pump_station.ron", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("belongs to scenario \"Booster station"), "{}", stderr(&out));
}

#[test]
fn twin_serve_publishes_each_assets_state_as_retained_json_that_mosquitto_sub_receives() {
    use twin_mqtt::testkit::{Mosquitto, MosquittoSub};
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    // The pump station on Mosquitto, publishing its knowledge under twin/station every second.
    let dir = artifacts("serve-publish");
    let scenario =
        station_on(&url, "publish: (prefix: \"twin/station\", every: \"1s\"),", &dir, "station_on_mosquitto.ron");
    let path = scenario.to_str().unwrap();
    let plant_args = ["plant", path, "--broker", &url, "--speed", "realtime", "--duration", "1h"];
    let mut plant = spawn_twin(&plant_args, &dir.join("plant.log"));
    let mut serve = spawn_twin(&["serve", path, "--no-store", "--status-every", "1s"], &dir.join("serve.log"));
    let sub = MosquittoSub::start(broker.port, "twin/station/+/state");
    let got = sub.messages(9, Duration::from_secs(30));
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = plant.kill();
    let code = serve.wait().unwrap().code();
    let _ = plant.wait();
    let log = plain(&std::fs::read_to_string(dir.join("serve.log")).unwrap());
    assert!(got.len() >= 3, "mosquitto_sub received {got:?}\nserve log:\n{log}");
    assert_eq!(code, Some(0), "{log}");
    let states: Vec<serde_json::Value> = got.iter().map(|(_, p)| serde_json::from_str(p).unwrap()).collect();
    for ((topic, _), s) in got.iter().zip(&states) {
        assert_eq!(topic, &format!("twin/station/{}/state", s["asset"].as_str().unwrap()));
        assert!(s["t_unix_s"].as_f64().unwrap() > 1.7e9, "{s}");
    }
    // The pump's state carries its indices from live telemetry (the bearing's wear from its history, its
    // remaining life band), no alarm yet, and its configuration status from its identity topic.
    let pump = states.iter().rev().find(|s| s["asset"] == "P-101").expect("P-101's state was published");
    let wear = pump["indices"]["bearing_wear"].as_f64().unwrap();
    assert!((wear - 0.596).abs() < 0.01, "{pump}");
    let (p10, p90) =
        (pump["indices"]["remaining_life_p10_h"].as_f64(), pump["indices"]["remaining_life_p90_h"].as_f64());
    assert!(p10 < p90, "{pump}");
    assert_eq!(pump["drift_alarms"], serde_json::json!([]));
    assert_eq!(pump["configuration"], "match", "the plant reports the configuration the scenario expects: {pump}");
    // Retained: a subscriber arriving later gets each asset's last state at once.
    let late = MosquittoSub::start(broker.port, "twin/station/#");
    let retained = late.messages(3, Duration::from_secs(5));
    let mut assets: Vec<&str> = retained.iter().map(|(t, _)| t.split('/').nth(2).unwrap()).collect();
    assets.sort_unstable();
    assert_eq!(assets, ["M-101", "P-101", "T-1"], "{retained:?}");
}

#[test]
fn twin_serve_names_a_sparkplug_node_that_never_sent_its_birth_in_its_log() {
    use twin_mqtt::sparkplug::{Metric, MetricValue, Payload, encode};
    use twin_mqtt::testkit::{Mosquitto, mosquitto_pub_file};
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let dir = artifacts("serve-diagnostics");
    let text = std::fs::read_to_string(root().join("scenes/booster_station.ron")).unwrap();
    let (head, tail) = text.split_once("\n    name:").unwrap();
    let text = format!("{head}\n    connections: (broker: Mqtt(url: \"{url}\")),\n    name:{tail}");
    let scenario = dir.join("booster_on_mosquitto.ron");
    std::fs::write(&scenario, text).unwrap();
    let log = dir.join("serve.log");
    let mut serve = spawn_twin(&["serve", scenario.to_str().unwrap(), "--no-store", "--status-every", "1s"], &log);
    let read = || plain(&std::fs::read_to_string(&log).unwrap_or_default());
    let started = Instant::now();
    while !read().contains("broker connected") {
        assert!(started.elapsed() < Duration::from_secs(30), "not connected:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Device data from an edge node that never sent its NBIRTH, encoded as any Sparkplug B edge would.
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let flow = Metric {
        name: Some("Flow".into()),
        datatype: Some(10),
        value: Some(MetricValue::DoubleValue(50.0)),
        ..Default::default()
    };
    let ddata = Payload { timestamp: Some(ms), metrics: vec![flow], seq: Some(0), ..Default::default() };
    let file = dir.join("ddata.bin");
    std::fs::write(&file, encode(&ddata)).unwrap();
    mosquitto_pub_file(broker.port, "spBv1.0/booster/DDATA/booster-edge-3/P-203", &file, 1);
    let expected = "source problem: Sparkplug edge node booster/booster-edge-3 never sent its node birth (NBIRTH)";
    while !read().contains(expected) {
        assert!(started.elapsed() < Duration::from_secs(30), "no diagnostic:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    assert_eq!(serve.wait().unwrap().code(), Some(0), "{}", read());
}

/// The interpreter of the Python test peers' virtual environment (made by scripts/test.sh).
pub(super) fn peers_python() -> std::path::PathBuf {
    let p = root().join("target/peers-venv/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/test.sh, which creates it", p.display());
    p
}

#[test]
fn the_twins_sparkplug_edge_node_is_decoded_by_pysparkplug_rebirths_on_command_and_dies_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use twin_mqtt::testkit::{Mosquitto, mosquitto_pub_file};
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let dir = artifacts("serve-sparkplug");
    let publish = "publish: (sparkplug: (group: \"twin\", edge_node: \"station-twin\"), every: \"1s\"),";
    let scenario = station_on(&url, publish, &dir, "station_sparkplug.ron");
    // pysparkplug listens to the group first.
    let mut listener = Command::new(peers_python())
        .arg(root().join("tests/peers/sparkplug_listen.py"))
        .args(["127.0.0.1", &broker.port.to_string(), "twin", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(dir.join("listener.err")).unwrap()))
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out = listener.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).ok().as_deref(), Some("ready"), "the listener did not start");
    let path = scenario.to_str().unwrap();
    let plant_args = ["plant", path, "--broker", &url, "--speed", "realtime", "--duration", "1h"];
    let mut plant = spawn_twin(&plant_args, &dir.join("plant.log"));
    let mut serve = spawn_twin(&["serve", path, "--no-store", "--status-every", "1s"], &dir.join("serve.log"));
    let mut messages: Vec<serde_json::Value> = Vec::new();
    let mut next = |what: &str| -> serde_json::Value {
        let l = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no {what} decoded"));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        messages.push(v.clone());
        v
    };
    // The births: NBIRTH with seq 0 and bdSeq, then a DBIRTH per asset with every metric.
    let nbirth = next("NBIRTH");
    assert_eq!((nbirth["type"].as_str(), nbirth["seq"].as_u64()), (Some("NBIRTH"), Some(0)), "{nbirth}");
    let metric = |m: &serde_json::Value, name: &str| {
        m["metrics"].as_array().unwrap().iter().find(|x| x["name"] == name).cloned()
    };
    let bd_seq = metric(&nbirth, "bdSeq").expect("bdSeq in the NBIRTH")["value"].clone();
    assert_eq!(metric(&nbirth, "Node Control/Rebirth").unwrap()["value"], false);
    let mut devices = Vec::new();
    for k in 0..3 {
        let d = next("DBIRTH");
        assert_eq!((d["type"].as_str(), d["seq"].as_u64()), (Some("DBIRTH"), Some(k + 1)), "{d}");
        devices.push(d["device"].as_str().unwrap().to_owned());
        if d["device"] == "P-101" {
            let wear = metric(&d, "Indices/bearing_wear").unwrap();
            assert_eq!(wear["datatype"], "DOUBLE");
            assert!((wear["value"].as_f64().unwrap() - 0.596).abs() < 0.01, "{wear}");
            assert_eq!(metric(&d, "Service window/Latest").unwrap()["is_null"], true);
            assert_eq!(metric(&d, "Drift alarms/Active").unwrap()["value"], 0);
            assert!(metric(&d, "Configuration/Status").is_some());
        }
    }
    devices.sort();
    assert_eq!(devices, ["M-101", "P-101", "T-1"]);
    // Data on change, the seq counting on.
    let data = next("DDATA");
    assert_eq!((data["type"].as_str(), data["seq"].as_u64()), (Some("DDATA"), Some(4)), "{data}");
    // A rebirth command (NCMD, Node Control/Rebirth = true) brings the births again, from seq 0.
    let (topic, payload) = twin_mqtt::sparkplug::rebirth_command("twin", "station-twin");
    let file = dir.join("rebirth.bin");
    std::fs::write(&file, payload).unwrap();
    mosquitto_pub_file(broker.port, &topic, &file, 1);
    let reborn = loop {
        let m = next("a second NBIRTH");
        if m["type"] == "NBIRTH" {
            break m;
        }
    };
    assert_eq!(reborn["seq"].as_u64(), Some(0));
    // SIGTERM: the NDEATH with the births' bdSeq, and the service gone within a second.
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let signalled = Instant::now();
    let code = serve.wait().unwrap().code();
    let exit_s = signalled.elapsed().as_secs_f64();
    let _ = plant.kill();
    let _ = plant.wait();
    let death = loop {
        let m = next("NDEATH");
        if m["type"] == "NDEATH" {
            break m;
        }
    };
    assert_eq!(metric(&death, "bdSeq").unwrap()["value"], bd_seq, "{death}");
    assert_eq!(code, Some(0));
    eprintln!("serve exited {exit_s:.3} s after SIGTERM");
    assert!(exit_s < 5.0, "serve took {exit_s:.1} s to stop");
    let _ = listener.kill();
    let _ = listener.wait();
    std::fs::write(dir.join("decoded.jsonl"), messages.iter().map(|m| m.to_string() + "\n").collect::<String>())
        .unwrap();
}

/// Sends `signal` (e.g. "-KILL") to the child.
fn signal(child: &std::process::Child, signal: &str) {
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
}

/// Waits until `log` contains `what` (panics after `within`, or when `child` exits).
fn wait_for(log: &std::path::Path, what: &str, child: &mut std::process::Child, within: Duration) -> String {
    let started = Instant::now();
    loop {
        let text = plain(&std::fs::read_to_string(log).unwrap_or_default());
        if text.contains(what) {
            return text;
        }
        assert!(started.elapsed() < within, "{what:?} not in {} after {within:?}:\n{text}", log.display());
        assert!(child.try_wait().unwrap().is_none(), "it exited:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child's exit after SIGTERM; its exit code.
fn stop(mut child: std::process::Child) -> Option<i32> {
    signal(&child, "-TERM");
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number after `key` in the last status line of `log`.
fn last_count(log: &str, key: &str) -> u64 {
    let last = log.lines().rfind(|l| l.contains("status:")).unwrap();
    last.split(key).nth(1).unwrap().split([' ', ',']).next().unwrap().parse().unwrap()
}

/// Reads a store with Python's sqlite3: every sample as "signal t value" lines, sorted; then the last value of
/// each index as "asset name value" lines.
fn read_store(store: &std::path::Path) -> (Vec<String>, Vec<(String, f64)>) {
    let script = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for name, t, v in c.execute('SELECT g.name, s.t_unix_s, s.value FROM samples s JOIN signals g ON g.id = s.signal ORDER BY 1, 2'):
    print('S', name, repr(t), repr(v))
for a, n, v in c.execute('SELECT asset, name, value FROM indices i WHERE t_unix_s = (SELECT MAX(t_unix_s) FROM indices) ORDER BY 1, 2'):
    print('I', a + '.' + n, repr(v))
"#;
    let py = Command::new("/usr/bin/python3").args(["-c", script]).arg(store).output().unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let text = String::from_utf8_lossy(&py.stdout).into_owned();
    let samples = text.lines().filter_map(|l| l.strip_prefix("S ")).map(str::to_owned).collect();
    let indices = text
        .lines()
        .filter_map(|l| l.strip_prefix("I "))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect();
    (samples, indices)
}

#[test]
fn twin_serve_killed_with_sigkill_resumes_from_its_store_with_no_sample_lost_or_applied_twice() {
    use twin_mqtt::testkit::Mosquitto;
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let dir = artifacts("serve-crash");
    // Two twins of the station on the same broker, each with its persistent session and store: A runs
    // throughout, B is killed with SIGKILL mid-run and restarted.
    let text = std::fs::read_to_string(root().join("scenes/pump_station.ron")).unwrap();
    let scenario = |id: &str| {
        let path = dir.join(format!("station-{id}.ron"));
        let conn = format!("connections: (broker: Mqtt(url: \"{url}\", client_id: \"twin-{id}\"), plc: VirtualPlc),");
        std::fs::write(&path, text.replace("connections: (broker: Embedded, plc: VirtualPlc),", &conn)).unwrap();
        path
    };
    let (sa, sb) = (scenario("a"), scenario("b"));
    let (store_a, store_b) = (dir.join("a.twin.sqlite"), dir.join("b.twin.sqlite"));
    for f in [&store_a, &store_b] {
        let _ = std::fs::remove_file(f);
    }
    let serve = |scenario: &std::path::Path, store: &std::path::Path, log: &str| {
        let args = ["serve", scenario.to_str().unwrap(), "--store", store.to_str().unwrap()];
        // Both stop by themselves at the same simulated time (40 s, 15 s after the plant's last message), so that
        // their indices are compared at one instant, however loaded the machine.
        let opts = ["--status-every", "1s", "--checkpoint-every", "5s", "--until", "40s"];
        spawn_twin(&[&args[..], &opts[..]].concat(), &dir.join(log))
    };
    let mut a = serve(&sa, &store_a, "a.log");
    let mut b = serve(&sb, &store_b, "b.log");
    wait_for(&dir.join("a.log"), "broker connected", &mut a, Duration::from_secs(30));
    wait_for(&dir.join("b.log"), "broker connected", &mut b, Duration::from_secs(30));
    let plant_log = dir.join("plant.log");
    let plant_args = ["plant", "scenes/pump_station.ron", "--broker", &url, "--duration", "25s", "--speed", "realtime"];
    let mut plant = spawn_twin(&plant_args, &plant_log);

    // B takes a checkpoint at 5 s and journals what follows; it is killed at about 12 s into the plant's run.
    std::thread::sleep(Duration::from_secs(12));
    signal(&b, "-KILL");
    assert!(b.wait().unwrap().code().is_none(), "killed by a signal");
    std::thread::sleep(Duration::from_secs(3));
    let mut b = serve(&sb, &store_b, "b2.log");
    let resumed = wait_for(&dir.join("b2.log"), "broker connected", &mut b, Duration::from_secs(30));
    assert!(resumed.contains("resumed from the checkpoint at t = "), "{resumed}");

    let started = Instant::now();
    while plant.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "the plant did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Everything published has arrived and passed the allowed lateness when they stop.
    for (twin, log) in [(&mut a, "a.log"), (&mut b, "b2.log")] {
        let started = Instant::now();
        while twin.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "{log}: no stop at --until");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(twin.wait().unwrap().code(), Some(0), "{log}");
        let text = std::fs::read_to_string(dir.join(log)).unwrap();
        assert!(text.contains("shutting down: --until reached"), "{text}");
    }
    let log_a = plain(&std::fs::read_to_string(dir.join("a.log")).unwrap());
    let log_b = plain(&std::fs::read_to_string(dir.join("b2.log")).unwrap());
    let replayed: u64 = log_b.split("then replayed ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(replayed > 0, "the journal after the checkpoint was replayed:\n{log_b}");

    // No sample lost or applied twice: B accepted exactly what A did (its counters come through the checkpoint),
    // and the two stores, read by Python, hold the same samples.
    let (accepted_a, accepted_b) = (last_count(&log_a, "accepted "), last_count(&log_b, "accepted "));
    assert!(accepted_a > 100, "{log_a}");
    assert_eq!(accepted_b, accepted_a, "accepted by B (killed and resumed) and by A\n{log_b}");
    let (samples_a, indices_a) = read_store(&store_a);
    let (samples_b, indices_b) = read_store(&store_b);
    assert_eq!(samples_a.len() as u64, accepted_a);
    assert!(samples_a == samples_b, "the stores differ: {} vs {} samples", samples_a.len(), samples_b.len());

    // The indices where each stopped: equal within the tolerance of two live twins (README, "Resume").
    assert!(!indices_a.is_empty() && indices_a.len() == indices_b.len(), "{indices_a:?} {indices_b:?}");
    for ((ka, va), (kb, vb)) in indices_a.iter().zip(&indices_b) {
        assert_eq!(ka, kb);
        let tol = 1e-6 * va.abs().max(1e-3);
        assert!((va - vb).abs() <= tol, "{ka}: A {va}, B {vb}");
    }
}

#[test]
fn a_checkpoint_of_another_format_an_unreadable_one_and_one_of_an_edited_scenario_are_refused_leaving_the_store_as_it_was()
 {
    let dir = artifacts("serve-checkpoint-refused");
    let store = dir.join("station.twin.sqlite");
    let log = dir.join("serve.log");
    let _ = std::fs::remove_file(&store);
    // A store with checkpoints: the service ran a few simulated minutes and stopped (a last checkpoint).
    let args = ["serve", "scenes/pump_station.ron", "--speed", "60x", "--status-every", "1s", "--store"];
    let mut child = spawn_twin(&[&args[..], &[store.to_str().unwrap()]].concat(), &log);
    wait_for(&log, "status: t = 1", &mut child, Duration::from_secs(60));
    assert_eq!(stop(child), Some(0));

    let sql = |path: &std::path::Path, statement: &str| {
        let script =
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(sys.argv[2])\nc.commit()\nc.close()";
        let py = Command::new("/usr/bin/python3").args(["-c", script]).arg(path).arg(statement).output().unwrap();
        assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    };
    let copy = |name: &str| {
        let p = dir.join(name);
        std::fs::copy(&store, &p).unwrap();
        p
    };
    let newest = "(SELECT MAX(id) FROM checkpoints)";
    let format = copy("format.twin.sqlite");
    sql(&format, &format!("UPDATE checkpoints SET format = 99 WHERE id = {newest}"));
    let unreadable = copy("unreadable.twin.sqlite");
    sql(&unreadable, &format!("UPDATE checkpoints SET state = x'c1c1c1' WHERE id = {newest}"));
    // The same scenario (by name) with a set-point's initial value edited.
    let text = std::fs::read_to_string(root().join("scenes/pump_station.ron")).unwrap();
    let edited_text = text.replacen("initial: 1480.0", "initial: 1450.0", 1);
    assert_ne!(edited_text, text);
    let edited = dir.join("edited.ron");
    std::fs::write(&edited, edited_text).unwrap();
    let other = copy("edited.twin.sqlite");

    for (scenario, path, reason) in [
        (root().join("scenes/pump_station.ron"), &format, "has state format 99"),
        (root().join("scenes/pump_station.ron"), &unreadable, "the newest checkpoint cannot be read"),
        (edited.clone(), &other, "is of another version of the scenario"),
    ] {
        let before = std::fs::read(path).unwrap();
        let out = twin(&["serve", scenario.to_str().unwrap(), "--store", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(path.to_str().unwrap()) && err.contains(reason), "{reason:?} not in: {err}");
        assert!(err.contains("nothing was written to the store"), "{err}");
        assert!(std::fs::read(path).unwrap() == before, "{} changed", path.display());
    }
    // --fresh starts from the scenario, keeping the history.
    let mut child = spawn_twin(
        &[
            "serve",
            edited.to_str().unwrap(),
            "--speed",
            "60x",
            "--fresh",
            "--status-every",
            "1s",
            "--store",
            other.to_str().unwrap(),
        ],
        &dir.join("fresh.log"),
    );
    let text = wait_for(&dir.join("fresh.log"), "status:", &mut child, Duration::from_secs(60));
    assert!(!text.contains("resumed"), "{text}");
    assert_eq!(stop(child), Some(0));
}

#[test]
fn twin_serve_connects_with_the_client_certificate_its_scenario_names_and_a_wrong_or_missing_one_is_said() {
    use twin_mqtt::testkit::{Mosquitto, make_ca, make_client_cert, make_server_cert};
    let dir = artifacts("serve-mtls");
    make_ca(&dir, "ca");
    make_ca(&dir, "other-ca");
    make_server_cert(&dir);
    make_client_cert(&dir, "twin", "ca");
    make_client_cert(&dir, "stranger", "other-ca");
    let d = dir.display();
    let broker = Mosquitto::start(
        false,
        &format!(
            "listener {{PORT}} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n\
             require_certificate true\nuse_identity_as_username true\n"
        ),
    );
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    // The scenario names its files relative to itself; the test runs twin from the repository root.
    let station = |name: &str, tls: &str| {
        let text = std::fs::read_to_string(root().join("scenes/pump_station.ron")).unwrap();
        let text = text.replace(
            "connections: (broker: Embedded, plc: VirtualPlc),",
            &format!("connections: (broker: Mqtt(url: \"{url}\", client_id: \"{name}\", {tls}), plc: VirtualPlc),"),
        );
        assert!(text.contains(tls));
        let scenario = dir.join(format!("{name}.ron"));
        std::fs::write(&scenario, text).unwrap();
        scenario
    };

    // The twin's certificate: connected, and a sample published over mutual TLS by mosquitto_pub reaches it.
    let good = station("twin", r#"ca_file: "ca.crt", client_cert: "twin.crt", client_key: "twin.key""#);
    let out = twin(&["check", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = dir.join("twin.log");
    let mut serve = spawn_twin(&["serve", good.to_str().unwrap(), "--no-store", "--status-every", "1s"], &log);
    wait_for(&log, "broker connected", &mut serve, Duration::from_secs(30));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let st = Command::new("mosquitto_pub")
        .current_dir(&dir)
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "--cafile", "ca.crt", "--cert", "twin.crt"])
        .args([
            "--key",
            "twin.key",
            "-q",
            "1",
            "-t",
            "plant/p101/flow",
            "-m",
            &format!(r#"{{"value": 0.05, "ts": {now}}}"#),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let started = Instant::now();
    let drained = || {
        let text = plain(&std::fs::read_to_string(&log).unwrap());
        if text.contains("status:") { last_count(&text, "msg/s, ") } else { 0 }
    };
    while drained() == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "{}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(stop(serve), Some(0));

    // No certificate, and one from a CA the broker does not trust: serve keeps running, never connects, and its
    // log says why.
    for (name, tls, why) in [
        ("none", r#"ca_file: "ca.crt""#, "the broker requires a client certificate"),
        (
            "stranger",
            r#"ca_file: "ca.crt", client_cert: "stranger.crt", client_key: "stranger.key""#,
            "the broker refused the client certificate",
        ),
    ] {
        let scenario = station(name, tls);
        let log = dir.join(format!("{name}.log"));
        let mut serve = spawn_twin(&["serve", scenario.to_str().unwrap(), "--no-store", "--status-every", "1s"], &log);
        let text = wait_for(&log, why, &mut serve, Duration::from_secs(30));
        assert!(!text.contains("broker connected"), "{text}");
        assert_eq!(stop(serve), Some(0));
    }

    // A certificate file that is not there, and a certificate without its key: scenario errors naming the field.
    for (name, tls, what) in [
        ("missing", r#"client_cert: "nope.crt", client_key: "twin.key""#, "client_cert: cannot read"),
        ("half", r#"client_cert: "twin.crt""#, "client_cert and client_key must be given together"),
    ] {
        let scenario = station(name, tls);
        for cmd in ["check", "serve"] {
            let out = twin(&[cmd, scenario.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2), "{cmd} {name}: {}", stderr(&out));
            let e = stderr(&out);
            assert!(e.contains("connections.broker") && e.contains(what), "{cmd} {name}: {e}");
        }
    }
}
