//! Decisions on live data only. A scenario whose PLC is a real Modbus TCP device (here Debian's pymodbus, not the
//! project's virtual PLC, logging every write it receives) is decided on the real plant's telemetry or not at all:
//! with a broker that is not there, `twin change` waits `--wait`, refuses with the freshness layer's reason and the
//! PLC receives no write; with the embedded broker (the virtual plant's telemetry) every change for the real PLC is
//! refused; with the plant publishing live to Mosquitto (`twin plant` in real time, stamped with the wall clock) the
//! same change is validated on fresh inputs, pushed, ramped and read back.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use twin_mqtt::testkit::{Mosquitto, free_port, wait_until};

use super::{artifacts, stderr, twin};

/// Debian's pymodbus serving holding registers on a loopback port, logging every write; killed on drop.
struct PyModbus {
    port: u16,
    log: PathBuf,
    child: Child,
}

impl PyModbus {
    /// Starts the server with `registers` (0-based address, value) set, and waits until it accepts connections.
    fn start(dir: &Path, registers: &[(u16, u16)]) -> Self {
        let port = free_port();
        let log = dir.join("modbus-writes.log");
        let script = super::root().join("tests/peers/modbus_server.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&log)
            .args(registers.iter().map(|(a, v)| format!("{a}={v}")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with pymodbus (Debian: python3-pymodbus; scripts/test.sh installs it)");
        let up = wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "the pymodbus server did not start on port {port}");
        PyModbus { port, log, child }
    }

    /// Every write request the server received, as logged.
    fn writes(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

impl Drop for PyModbus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bundled pump station with its connections replaced by `connections`, written into `dir`.
fn station_with(dir: &Path, connections: &str) -> PathBuf {
    let text = std::fs::read_to_string(super::root().join("scenes/pump_station.ron")).unwrap();
    let original = "connections: (broker: Embedded, plc: VirtualPlc),";
    assert!(text.contains(original));
    let path = dir.join("station.ron");
    std::fs::write(&path, text.replace(original, &format!("connections: {connections},"))).unwrap();
    // A real PLC's change needs a signed approval: alice's key, trusted as an engineer's.
    super::approvals::Site::new(dir, &[("alice", "[Engineer, Admin]")], &[]).require(&path, 1);
    path
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `twin change` of P-101.speed to 1400 rpm, signed with alice's key (beside the scenario), writes enabled, with
/// `extra` arguments.
fn change(scenario: &Path, audit: &Path, extra: &[&str]) -> std::process::Output {
    let s = scenario.to_str().unwrap();
    let a = audit.to_str().unwrap();
    let key = scenario.with_file_name("keys").join("alice.key");
    let k = key.to_str().unwrap();
    let mut args = vec!["change", s, "--set", "P-101.speed=1400", "--sign-with", k, "--allow-writes", "--audit", a];
    args.extend_from_slice(extra);
    super::approvals::twin_signing(super::root(), &args)
}

#[test]
fn a_change_for_a_real_plc_over_a_broker_that_is_not_there_is_refused_and_nothing_is_written() {
    let dir = artifacts("live-change-no-broker");
    let plc = PyModbus::start(&dir, &[(10, 1480)]);
    let scenario = station_with(
        &dir,
        &format!(r#"(broker: Mqtt(url: "mqtt://127.0.0.1:1"), plc: ModbusTcp(addr: "127.0.0.1:{}"))"#, plc.port),
    );
    let audit = dir.join("audit.jsonl");
    let started = Instant::now();
    let out = change(&scenario, &audit, &["--wait", "3s"]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    assert!(started.elapsed() >= Duration::from_secs(3), "it waited --wait for fresh inputs");
    assert!(!text.contains("virtual plant"), "no virtual plant runs with a real broker: {text}");
    assert!(text.contains("live telemetry from the broker at mqtt://127.0.0.1:1 for 3."), "{text}");
    assert!(text.contains(" s: nothing received"), "{text}");
    let freshness = text.lines().find(|l| l.trim_start().starts_with("Freshness")).unwrap_or_default();
    assert!(freshness.contains("FAIL refused on stale or drifting inputs"), "{text}");
    assert!(freshness.contains("P-101 Flow is stale (nothing received from P-101.flow)"), "{freshness}");
    assert!(freshness.contains("T-1 TankLevel is stale"), "upstream assets count too: {freshness}");
    assert!(text.contains("rejected by validation: nothing written"), "{text}");
    assert_eq!(plc.writes(), Vec::<String>::new(), "the PLC received no write");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"validation\"") && !log.contains("push_start"), "{log}");

    // --from runs the virtual plant, which a scenario with a real broker never does.
    let out = change(&scenario, &audit, &["--from", "2h"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--from runs the virtual plant"), "{}", stderr(&out));
    assert_eq!(plc.writes(), Vec::<String>::new());
}

#[test]
fn the_virtual_plants_telemetry_never_decides_a_change_for_a_real_plc() {
    let dir = artifacts("live-change-virtual-telemetry");
    let plc = PyModbus::start(&dir, &[(10, 1480)]);
    let scenario =
        station_with(&dir, &format!(r#"(broker: Embedded, plc: ModbusTcp(addr: "127.0.0.1:{}"))"#, plc.port));
    let out = change(&scenario, &dir.join("audit.jsonl"), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let freshness = text.lines().find(|l| l.trim_start().starts_with("Freshness")).unwrap_or_default();
    assert!(
        freshness.contains(&format!(
            "FAIL refused on stale or drifting inputs: the twin's telemetry comes from the virtual plant, not from \
             the real plant: a change for the real PLC at 127.0.0.1:{} is decided on the plant's live data only",
            plc.port
        )),
        "{freshness}"
    );
    assert!(text.contains("rejected by validation: nothing written"), "{text}");
    assert_eq!(plc.writes(), Vec::<String>::new(), "the PLC received no write");
}

/// `twin plant` publishing a scenario to a broker in real time; killed on drop.
pub(super) struct LivePlant(Child);

impl LivePlant {
    /// Starts `twin plant SCENARIO --broker URL --speed realtime` for ten minutes.
    pub(super) fn start(scenario: &Path, url: &str) -> LivePlant {
        LivePlant(
            Command::new(env!("CARGO_BIN_EXE_twin"))
                .args(["plant", scenario.to_str().unwrap(), "--broker", url, "--duration", "600s"])
                .args(["--speed", "realtime"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start twin plant"),
        )
    }
}

impl Drop for LivePlant {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_change_decided_on_fresh_live_telemetry_is_pushed_to_the_real_plc_and_read_back() {
    let dir = artifacts("live-change-fresh");
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    // The PLC holds 1460 rpm, not the scenario's initial 1480: the ramp must start from what the PLC holds.
    let plc = PyModbus::start(&dir, &[(10, 1460)]);
    let scenario =
        station_with(&dir, &format!(r#"(broker: Mqtt(url: "{url}"), plc: ModbusTcp(addr: "127.0.0.1:{}"))"#, plc.port));
    // A twin that has followed the plant for seconds has not calibrated its thermal model yet (the relative σ of
    // its frame-to-ambient resistance is still about 4), so a day's forecast on it reaches the winding's class
    // limit in a third of the samples and the forecast layer rightly refuses the change. This test is about where
    // the data come from: the change policy forecasts 10 minutes, which the twin can answer.
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(text.contains(r#"horizon: "24h","#));
    std::fs::write(&scenario, text.replace(r#"horizon: "24h","#, r#"horizon: "10m","#)).unwrap();
    // The plant runs at what its PLC holds (its own copy of the scenario starts the drive at 1460 rpm).
    let plant_dir = dir.join("plant");
    std::fs::create_dir_all(&plant_dir).unwrap();
    let plant_scenario = station_with(&plant_dir, &format!(r#"(broker: Mqtt(url: "{url}"))"#));
    let text = std::fs::read_to_string(&plant_scenario).unwrap();
    std::fs::write(&plant_scenario, text.replace("initial: 1480.0,", "initial: 1460.0,")).unwrap();
    let _plant = LivePlant::start(&plant_scenario, &url);

    // A what-if on the live twin: answered on fresh inputs, saying where its state came from.
    let s = scenario.to_str().unwrap();
    let out = twin(&["whatif", s, "--defer-maintenance", "7d", "--samples", "100", "--wait", "30s"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("live telemetry from the broker at {url}")), "{text}");

    let audit = dir.join("audit.jsonl");
    let out = change(&scenario, &audit, &["--wait", "30s"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("live telemetry from the broker at {url}")), "{text}");
    assert!(text.contains("live set-points read from the PLC at Modbus TCP"), "{text}");
    let freshness = text.lines().find(|l| l.trim_start().starts_with("Freshness")).unwrap_or_default();
    assert!(
        freshness.contains("PASS the inputs of P-101 and its upstream assets are fresh (telemetry from the broker at"),
        "{freshness}"
    );
    assert!(text.contains("draft 1 P-101.speed: 1460 → 1400 rpm"), "drafted against the PLC's value: {text}");
    assert!(text.contains("pushed and verified"), "{text}");
    let writes = plc.writes();
    let values: Vec<&str> = writes.iter().filter_map(|w| w.split("values=").nth(1)).collect();
    assert_eq!(values, ["[1440]", "[1420]", "[1400]"], "a ramp at 20 rpm/s from 1460: {writes:?}");
    assert!(writes.iter().all(|w| w.contains("address=10")), "{writes:?}");
    let read = Command::new("mbpoll")
        .args(["-m", "tcp", "-a", "1", "-0", "-t", "4", "-r", "10", "-c", "1", "-1"])
        .args(["-p", &plc.port.to_string(), "127.0.0.1"])
        .output()
        .expect("mbpoll (Debian: mbpoll)");
    assert!(String::from_utf8_lossy(&read.stdout).contains("[10]: \t1400"), "{}", stdout(&read));
}
