//! OPC UA at the twin's level, against an OPC UA server the project did not write (FreeOpcUa's asyncua,
//! Basic256Sha256 SignAndEncrypt, user names only): the pump station's flow read through a subscription lands on
//! P-101 with its source times, a Bad value is counted by its status name and not applied, an Uncertain one is
//! applied and flagged; an untrusted server and wrong credentials are clear errors; a push whose second set-point
//! is a read-only node is refused with Bad_NotWritable and the first is rolled back, in the audit log; and
//! `twin change` decides on the plant's live OPC UA data, writes the set-point node and reads it back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin::app::headless_app;
use twin::change::audit::AuditLog;
use twin::change::push::{PlcConn, PlcTag, Step, push};
use twin::ingest::{Measurements, SampleApplied, Telemetry, TelemetryOrigin};
use twin::scenario;
use twin::twin::{AssetIndex, SimClock, TwinSystems};
use twin::units::Quantity;
use twin_opcua::testkit::Asyncua;

use super::{artifacts, stderr};

const USER: &str = "TWIN_IT_OPCUA_USER";
const PASSWORD: &str = "TWIN_IT_OPCUA_PASSWORD";
const WRONG: &str = "TWIN_IT_OPCUA_WRONG_PASSWORD";

/// The credentials' environment variables, set once for the whole test binary (constant values; nothing else
/// reads them).
fn credentials() {
    static ONCE: Once = Once::new();
    // SAFETY: set once, before any OPC UA test reads them, to the same values; std serialises its own env access.
    ONCE.call_once(|| unsafe {
        std::env::set_var(USER, "operator");
        std::env::set_var(PASSWORD, "secret");
        std::env::set_var(WRONG, "not-the-password");
    });
}

/// The pump station with an OPC UA endpoint `plant` at `url` (PKI in `pki`, the password from `password_env`),
/// P-101's flow read from node ns=2;s=P101.Flow, and `extra` replacements applied; written into `dir`.
fn station(dir: &Path, url: &str, pki: &Path, password_env: &str, plc: &str, extra: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(super::root().join("scenes/pump_station.ron")).unwrap();
    let original = "connections: (broker: Embedded, plc: VirtualPlc),";
    assert!(text.contains(original));
    let endpoint = format!(
        r#"connections: (broker: Embedded, plc: {plc}, opcua: [(name: "plant", url: "{url}",
            username_env: "{USER}", password_env: "{password_env}", pki_dir: "{}")]),"#,
        pki.display()
    );
    text = text.replace(original, &endpoint);
    let flow = r#"source: Mqtt(topic: "plant/p101/flow", value: "$.value", timestamp: "$.ts"),"#;
    assert!(text.contains(flow));
    text = text.replace(flow, r#"source: OpcUa(endpoint: "plant", node: "ns=2;s=P101.Flow"),"#);
    for (a, b) in extra {
        assert!(text.contains(a), "{a}");
        text = text.replace(a, b);
    }
    let path = dir.join("station.ron");
    std::fs::write(&path, text).unwrap();
    path
}

/// Moves the server certificate the client refused (and put in `rejected/`) into `trusted/`, as the error says.
fn trust_rejected(pki: &Path) {
    let rejected: Vec<_> = std::fs::read_dir(pki.join("rejected")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    std::fs::create_dir_all(pki.join("trusted")).unwrap();
    std::fs::rename(&rejected[0], pki.join("trusted").join(rejected[0].file_name().unwrap())).unwrap();
}

#[derive(Resource, Default)]
struct Applied(Vec<(Quantity, f64, f64, bool)>);

fn log_applied(mut applied: MessageReader<SampleApplied>, mut log: ResMut<Applied>) {
    log.0.extend(applied.read().map(|s| (s.quantity, s.measured.value, s.measured.event_s, s.measured.uncertain)));
}

#[test]
fn subscribed_values_are_applied_with_their_source_times_bad_is_counted_by_name_and_uncertain_is_flagged() {
    credentials();
    let dir = artifacts("opcua-telemetry");
    let pki = dir.join("pki");
    let server = Asyncua::start(&dir.join("server"), &["--sequence", "P101.Flow:20"]);
    let path = station(&dir, &server.url(), &pki, PASSWORD, "VirtualPlc", &[]);
    let s = Arc::new(scenario::load(&path).unwrap());

    // Never seen before: refused, with where the certificate went and how to trust it.
    let mut app = headless_app(s.clone(), 1);
    let err = twin::ingest::connect_opcua(app.world_mut(), &s, None).unwrap_err();
    assert!(err.contains("OPC UA endpoint \"plant\"") && err.contains("is not trusted"), "{err}");
    assert!(err.contains(&pki.join("rejected").display().to_string()), "{err}");
    trust_rejected(&pki);
    // Wrong credentials: refused by the server, said so.
    let wrong = station(&dir, &server.url(), &pki, WRONG, "VirtualPlc", &[]);
    let ws = scenario::load(&wrong).unwrap();
    let err = twin::ingest::connect_opcua(app.world_mut(), &ws, None).unwrap_err();
    assert!(err.contains("refused the user's identity"), "{err}");
    std::fs::write(&path, std::fs::read_to_string(&wrong).unwrap().replace(WRONG, PASSWORD)).unwrap();

    let mut app = headless_app(s.clone(), 1);
    app.init_resource::<Applied>().add_systems(Update, log_applied.after(TwinSystems::Ingest));
    twin::ingest::connect_opcua(app.world_mut(), &s, None).unwrap();
    assert_eq!(
        *app.world().resource::<TelemetryOrigin>(),
        TelemetryOrigin::OpcUa(server.url()),
        "the plant's own telemetry: a real PLC may be decided on it"
    );
    let epoch = app.world().resource::<Telemetry>().epoch_unix_s;
    let done = |app: &App| app.world().resource::<Applied>().0.iter().any(|a| a.0 == Quantity::Flow && a.1 == 150.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&app) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        app.world_mut().resource_mut::<SimClock>().pending_steps = 1;
        app.update();
    }
    let applied: Vec<_> =
        app.world().resource::<Applied>().0.iter().filter(|a| a.0 == Quantity::Flow).cloned().collect();
    // The node's initial value (0, stamped when the server made it) is its first notification.
    assert_eq!(applied[0].1, 0.0, "{applied:?}");
    let applied = &applied[1..];
    let sent = server.values();
    assert_eq!(sent.len(), 22, "{sent:?}");
    let good: Vec<_> = sent.iter().filter(|v| v.3 != "BadSensorFailure").collect();
    assert_eq!(applied.len(), good.len(), "{applied:?}");
    for (a, (_, value, ts, status)) in applied.iter().zip(&good) {
        // m3/h is the canonical unit of flow: the value as sent.
        assert!((a.1 - value).abs() < 1e-9, "{a:?} vs {value}");
        assert!((a.2 + epoch - ts).abs() < 1e-4, "event time {} is the source time {ts}", a.2 + epoch);
        assert_eq!(a.3, status.starts_with("Uncertain"), "{a:?} {status}");
    }
    let e = app.world().resource::<AssetIndex>().0["P-101"];
    let m = app.world().get::<Measurements>(e).unwrap().0[&Quantity::Flow];
    assert_eq!(m.value, 150.0);
    assert!(m.uncertain, "the last value was Uncertain: flagged");
    let counters = app.world().resource::<Telemetry>().counters();
    assert_eq!(counters.get("bad_status"), Some(&1), "{counters:?}");
    assert_eq!(counters.get("status.BadSensorFailure"), Some(&1), "{counters:?}");
    assert_eq!(counters.get("status.UncertainLastUsableValue"), Some(&1), "{counters:?}");
    assert_eq!(counters.get("dropped_channel_full"), Some(&0), "{counters:?}");
}

fn audit_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_write_refused_with_bad_not_writable_rolls_the_change_set_back_in_the_audit_log() {
    let dir = artifacts("opcua-rollback");
    let pki = dir.join("pki");
    let server = Asyncua::start(&dir.join("server"), &["--node", "P101.Speed=1460", "--readonly", "P102.Speed=1480"]);
    let endpoint = scenario::OpcUaEndpointSpec {
        name: "plc".into(),
        url: server.url(),
        security: scenario::OpcUaSecurity::SignAndEncrypt,
        policy: scenario::OpcUaPolicy::Basic256Sha256,
        username_env: None,
        password_env: None,
        user_cert: None,
        user_key: None,
        trust_on_first_use: true,
        pki_dir: Some(pki.display().to_string()),
        publishing_interval: scenario::Dur::from_secs(0.1),
    };
    let mut cfg = twin::ingest::opcua::client_config(&endpoint, Duration::from_secs(10)).unwrap();
    cfg.identity = twin_opcua::Identity::UserName { user: "operator".into(), password: "secret".into() };
    let client = twin_opcua::OpcUaClient::start(cfg).unwrap();
    assert!(std::fs::read_dir(pki.join("trusted")).unwrap().count() == 1, "trusted on first use, by the flag");
    let node = |n: &str| PlcTag::Node { node: format!("ns=2;s={n}"), data_type: twin_opcua::DataType::Double };
    let steps = [
        Step {
            setpoint: "P-101.speed".into(),
            tag: node("P101.Speed"),
            values: vec![1440.0, 1420.0],
            previous: 1460.0,
        },
        Step { setpoint: "P-102.speed".into(), tag: node("P102.Speed"), values: vec![1460.0], previous: 1480.0 },
    ];
    let log_path = dir.join("audit.jsonl");
    let mut log = AuditLog::open(&log_path).unwrap();
    let conn = PlcConn::OpcUa(client);
    let report = push(&conn, &steps, Duration::from_millis(50), &mut log, "alice").unwrap();
    assert!(report.rolled_back, "{report:?}");
    let alarm = report.alarm.clone().unwrap();
    assert!(
        alarm.contains("P-102.speed: write failed: write ns=2;s=P102.Speed: refused with BadNotWritable"),
        "{alarm}"
    );
    assert_eq!(
        report.writes,
        vec![
            ("P-101.speed".to_string(), 1440.0, Some(1440.0)),
            ("P-101.speed".to_string(), 1420.0, Some(1420.0)),
            ("P-102.speed".to_string(), 1460.0, None)
        ]
    );
    assert_eq!(conn.read(&node("P101.Speed")).unwrap(), 1460.0, "rolled back on the server");
    assert_eq!(conn.read(&node("P102.Speed")).unwrap(), 1480.0, "never written");
    let events = audit_events(&log_path);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "write",
            "readback",
            "write",
            "readback",
            "write",
            "readback",
            "rollback",
            "rollback_readback",
            "rollback",
            "rollback_readback",
            "alarm"
        ],
        "{events:?}"
    );
    assert_eq!(events[0]["data"]["node"], "ns=2;s=P101.Speed");
    assert_eq!(events[0]["data"]["plc"], server.url());
    assert!(events[5]["data"]["error"].as_str().unwrap().contains("BadNotWritable"), "{:?}", events[5]);
}

#[test]
fn a_change_decided_on_live_opcua_telemetry_is_written_to_the_set_point_node_and_read_back() {
    credentials();
    let dir = artifacts("opcua-change");
    let pki = dir.join("pki");
    let broker = twin_mqtt::testkit::Mosquitto::start(false, "");
    let mqtt = format!("mqtt://127.0.0.1:{}", broker.port);
    // The plant: the station's virtual plant publishing JSON to Mosquitto in real time, bridged into asyncua's
    // address space (with the payloads' times as source times), and the PLC's speed set-point there too.
    let plant_dir = dir.join("plant");
    std::fs::create_dir_all(&plant_dir).unwrap();
    let plant_text = std::fs::read_to_string(super::root().join("scenes/pump_station.ron")).unwrap();
    let plant_scenario = plant_dir.join("station.ron");
    std::fs::write(&plant_scenario, plant_text.replace("initial: 1480.0,", "initial: 1460.0,")).unwrap();
    let _plant = super::live_change::LivePlant::start(&plant_scenario, &mqtt);
    let bridge = format!("127.0.0.1:{}", broker.port);
    let server = Asyncua::start(&dir.join("server"), &["--bridge", &bridge, "--node", "P101.SpeedSetpoint=1460"]);
    let sources = [
        (r#"Mqtt(topic: "plant/p101/vibration", value: "$.rms", timestamp: "$.ts")"#, "P101.VibRms"),
        (r#"Mqtt(topic: "plant/p101/vibration", value: "$.peak", timestamp: "$.ts")"#, "P101.VibPeak"),
        (r#"Mqtt(topic: "plant/p101/vibration", value: "$.crest", timestamp: "$.ts")"#, "P101.VibCrest"),
        (r#"Mqtt(topic: "plant/m101/winding_temp", value: "$.value", timestamp: "$.ts")"#, "M101.WindingTemp"),
        (r#"Mqtt(topic: "plant/m101/current", value: "$.value", timestamp: "$.ts")"#, "M101.Current"),
        (r#"Mqtt(topic: "plant/t1/level", value: "$.value", timestamp: "$.ts")"#, "T1.Level"),
    ];
    let opcua: Vec<(String, String)> = sources
        .iter()
        .map(|(m, n)| (m.to_string(), format!(r#"OpcUa(endpoint: "plant", node: "ns=2;s={n}")"#)))
        .collect();
    let mut extra: Vec<(&str, &str)> = opcua.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    // The set-point's node on the OPC UA PLC; a 10-minute forecast (see live_change.rs: a twin that has followed
    // the plant for seconds cannot answer a day's).
    extra.push(("plc: (register: 10, encoding: U16, scale: 1.0)),", r#"opcua: (node: "ns=2;s=P101.SpeedSetpoint")),"#));
    extra.push((r#"horizon: "24h","#, r#"horizon: "10m","#));
    let path = station(&dir, &server.url(), &pki, PASSWORD, r#"OpcUa(endpoint: "plant")"#, &extra);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("pki_dir:", "trust_on_first_use: true, pki_dir:")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin")).args(["check", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A real PLC's change needs a signed approval: alice's key, trusted as an engineer's.
    let site = super::approvals::Site::new(&dir, &[("alice", "[Engineer, Admin]")], &[]);
    site.require(&path, 1);

    let audit = dir.join("audit.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["change", path.to_str().unwrap(), "--set", "P-101.speed=1400", "--sign-with", site.key("alice")])
        .args(["--allow-writes", "--audit", audit.to_str().unwrap(), "--wait", "30s"])
        .env("TWIN_PASSPHRASE", super::approvals::PASSPHRASE)
        .env(USER, "operator")
        .env(PASSWORD, "secret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("live telemetry from the OPC UA server at {}", server.url())), "{text}");
    assert!(text.contains(&format!("live set-points read from the PLC at OPC UA {}", server.url())), "{text}");
    let freshness = text.lines().find(|l| l.trim_start().starts_with("Freshness")).unwrap_or_default();
    assert!(freshness.contains("PASS"), "{freshness}");
    assert!(text.contains("draft 1 P-101.speed: 1460 → 1400 rpm"), "drafted against the PLC's value: {text}");
    assert!(text.contains("pushed and verified"), "{text}");
    let events = audit_events(&audit);
    let writes: Vec<f64> =
        events.iter().filter(|e| e["event"] == "write").filter_map(|e| e["data"]["value"].as_f64()).collect();
    assert_eq!(writes, [1440.0, 1420.0, 1400.0], "a ramp at 20 rpm/s from 1460: {events:?}");
    let readbacks: Vec<f64> =
        events.iter().filter(|e| e["event"] == "readback").filter_map(|e| e["data"]["read"].as_f64()).collect();
    assert_eq!(readbacks, [1440.0, 1420.0, 1400.0]);
    let endpoint = scenario::load(&path).unwrap().connections.opcua[0].clone();
    let cfg = twin::ingest::opcua::client_config(&endpoint, Duration::from_secs(10)).unwrap();
    let client = twin_opcua::OpcUaClient::start(cfg).unwrap();
    assert_eq!(client.read("ns=2;s=P101.SpeedSetpoint").unwrap(), 1400.0, "the server holds what was written");
}

#[test]
fn twin_run_of_an_opcua_scenario_hands_the_virtual_plants_readings_over_without_a_server() {
    // `twin run` is the in-process virtual plant, never a server: the OPC UA signal's readings arrive as its
    // value-level messages, through the same checks, with nothing listening at the endpoint.
    let dir = artifacts("opcua-run");
    let path = station(&dir, "opc.tcp://127.0.0.1:1/", &dir.join("pki"), PASSWORD, "VirtualPlc", &[]);
    let report = dir.join("report.json");
    let out = super::twin(&["run", path.to_str().unwrap(), "--duration", "1h", "--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["ingest_by_signal"]["P-101.flow"]["accepted"], 3600, "one a second: {}", r["ingest_by_signal"]);
    assert_eq!(r["ingest_by_signal"]["P-101.vib_rms"]["accepted"], 3600);
}
