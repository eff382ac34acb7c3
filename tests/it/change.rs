//! Safe set-point changes against the virtual plant and its PLC (a real Modbus TCP server, read by Debian's
//! `mbpoll` too): every validation layer passes and fails with its reason; an approved change is pushed, read
//! back, and the plant's telemetry follows; a PLC that ignores writes or never answers causes a rollback and an
//! alarm; nothing is written unless writes are enabled; a tampered audit log is caught by `twin audit verify`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bevy::prelude::*;
use twin::change::cli::{run_for, virtual_plant_twin};
use twin::change::draft::Draft;
use twin::change::session::ChangeSession;
use twin::change::validate::{Layer, Validation, validate};
use twin::change::{ChangeRequest, PlcTarget, Status, run_change};
use twin::ingest::Measurements;
use twin::plant::inprocess::PlantRunner;
use twin::scenario::{self, AssetKind, Dur, FaultSpec, Requirement, Scenario};
use twin::sync::{SetpointReported, Setpoints};
use twin::twin::{AssetIndex, SimClock};
use twin::units::Quantity;
use twin_modbus::Behaviour;

use super::{artifacts, stderr, twin};

fn station() -> Scenario {
    scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap()
}

/// The station's twin and plant (with its PLC) after `from_h` hours.
fn live(s: Scenario, from_h: f64) -> (App, Option<PlcTarget>) {
    virtual_plant_twin(Arc::new(s), 3, from_h * 3600.0, true).unwrap()
}

/// Drafts `value` for P-101.speed and validates it.
fn check(app: &mut App, value: f64) -> Validation {
    let now = app.world().resource::<SimClock>().now_s;
    let d = Draft::against(app.world().resource::<Setpoints>(), 1, "P-101.speed", value, "alice", now).unwrap();
    validate(app.world(), &d, 1).unwrap()
}

fn verdict(v: &Validation, layer: Layer) -> (bool, String) {
    let x = v.verdict(layer).unwrap();
    (x.passed, x.reason.clone())
}

#[test]
fn each_validation_layer_passes_and_fails_with_a_reason() {
    // The bundled station at 1 h: 1400 rpm passes every layer.
    let (mut app, _) = live(station(), 1.0);
    let ok = check(&mut app, 1400.0);
    assert!(ok.passed(), "{:#?}", ok.verdicts);
    assert_eq!(verdict(&ok, Layer::Envelope).1, "1400 rpm is within [600, 1480] rpm");
    assert_eq!(ok.ramp, vec![1460.0, 1440.0, 1420.0, 1400.0], "20 rpm/s, one write a second");
    assert!(verdict(&ok, Layer::Rate).1.contains("ramped in 4 writes"));
    assert_eq!(verdict(&ok, Layer::Interlocks).1, "1 interlock(s) hold at 1400 rpm");
    assert!(verdict(&ok, Layer::Forecast).1.starts_with("P(leaving an operating limit within 1d) = 0.0 %"));
    assert!(verdict(&ok, Layer::Conflict).1.contains("based on live version 1"));

    // (1) Envelope.
    let v = check(&mut app, 1600.0);
    assert_eq!(verdict(&v, Layer::Envelope), (false, "1600 rpm is outside the envelope [600, 1480] rpm".into()));
    let v = check(&mut app, 1400.5);
    assert_eq!(
        verdict(&v, Layer::Envelope),
        (false, "1400.5 rpm is not a multiple of the register's step 1 rpm".into())
    );

    // (3) Interlocks: only above 1332 rpm; a margin requirement the pump cannot meet fails, naming the margin.
    let v = check(&mut app, 1300.0);
    assert_eq!(verdict(&v, Layer::Interlocks), (true, "no interlock applies to P-101.speed at 1300 rpm".into()));
    let mut strict = station();
    strict.change.interlocks[0].require = Requirement::NpshMarginAbove { asset: "P-101".into(), min: 5.0 };
    let (mut app2, _) = live(strict, 0.2);
    let v = check(&mut app2, 1400.0);
    let (passed, reason) = verdict(&v, Layer::Interlocks);
    assert!(
        !passed
            && reason.starts_with("interlock npsh-at-high-speed: above 1332 rpm, the NPSH margin of P-101 would be 3."),
        "{reason}"
    );
    assert!(reason.ends_with("required above 5"), "{reason}");

    // (6) Conflict: an operator changes the speed at the HMI after the draft.
    let now = app.world().resource::<SimClock>().now_s;
    let d = Draft::against(app.world().resource::<Setpoints>(), 1, "P-101.speed", 1400.0, "alice", now).unwrap();
    app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1450.0 });
    run_for(&mut app, 1.0);
    let v = validate(app.world(), &d, 1).unwrap();
    let (passed, reason) = verdict(&v, Layer::Conflict);
    assert!(!passed, "{reason}");
    assert!(
        reason.contains("changed to 1450 rpm (version 2) after the draft was made against version 1: rebase"),
        "{reason}"
    );
}

#[test]
fn the_rate_layer_fails_a_ramp_too_long_for_one_change() {
    let mut s = station();
    s.setpoints[0].max_rate_per_s = 0.05;
    let (mut app, _) = live(s, 0.2);
    let v = check(&mut app, 1400.0);
    let (passed, reason) = verdict(&v, Layer::Rate);
    assert!(!passed);
    assert_eq!(
        reason,
        "1480 → 1400 rpm at 0.05 rpm/s needs a ramp of 27 min, longer than the 10 min a change may take"
    );
}

#[test]
fn the_forecast_layer_rejects_a_speed_that_makes_the_pump_cavitate() {
    // The pump lifted 10.5 m above the tank bottom (the tank fills to 5 m at 1000 rpm): fine at 1000 rpm,
    // cavitating at full speed (NPSHr ∝ n²).
    let mut s = station();
    for a in &mut s.assets {
        if let AssetKind::CentrifugalPump(p) = &mut a.kind {
            p.suction.pump_elevation_m = 10.5;
        }
    }
    s.setpoints[0].initial = 1000.0;
    s.change.interlocks.clear();
    let (mut app, _) = live(s, 0.5);
    let up = check(&mut app, 1480.0);
    let (passed, reason) = verdict(&up, Layer::Forecast);
    assert!(!passed, "{reason}");
    assert!(reason.contains("exceeds 5.0 %") && reason.contains("cavitation 100.0 %"), "{reason}");
    let stay = check(&mut app, 1100.0);
    assert!(verdict(&stay, Layer::Forecast).0, "{:?}", verdict(&stay, Layer::Forecast));
}

#[test]
fn the_freshness_layer_refuses_stale_inputs() {
    let mut s = station();
    s.faults = vec![FaultSpec::BrokerOutage { at: Dur::from_secs(1200.0), duration: Dur::from_secs(1800.0) }];
    let (mut app, _) = live(s, 0.5);
    let v = check(&mut app, 1400.0);
    let (passed, reason) = verdict(&v, Layer::Freshness);
    assert!(!passed);
    assert!(reason.starts_with("refused on stale or drifting inputs: P-101 "), "{reason}");
    assert!(reason.contains("P-101 Flow is stale") && reason.contains("T-1 TankLevel is stale"), "{reason}");
    // The broker is back: fresh again.
    run_for(&mut app, 1800.0);
    assert!(verdict(&check(&mut app, 1400.0), Layer::Freshness).0);
}

/// `mbpoll` reading `count` holding registers from `addr` (0-based), as printed values.
fn mbpoll(addr: std::net::SocketAddr, register: u16, count: u16) -> Vec<i64> {
    let out = Command::new("mbpoll")
        .args(["-m", "tcp", "-a", "1", "-0", "-t", "4", "-1"])
        .args(["-p", &addr.port().to_string(), "-r", &register.to_string(), "-c", &count.to_string()])
        .arg(addr.ip().to_string())
        .output()
        .expect("mbpoll must be installed: run scripts/test.sh (Debian package mbpoll)");
    assert!(out.status.success(), "mbpoll failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.split_once("]:").map(|(_, v)| v.trim().parse().ok()))
        .flatten()
        .collect()
}

fn request(approvers: &[&str], allow_writes: bool) -> ChangeRequest {
    ChangeRequest {
        sets: vec![("P-101.speed".into(), 1400.0)],
        author: "alice".into(),
        approvers: approvers.iter().map(|s| s.to_string()).collect(),
        allow_writes,
        ..Default::default()
    }
}

fn audit_events(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect()
}

fn measured_flow(app: &App) -> f64 {
    let e = app.world().resource::<AssetIndex>().0["P-101"];
    app.world().get::<Measurements>(e).unwrap().0[&Quantity::Flow].value
}

#[test]
fn a_pushed_speed_change_reaches_the_virtual_plc_is_read_back_and_the_plants_telemetry_follows() {
    let dir = artifacts("change-push");
    let (mut app, target) = live(station(), 1.0);
    let target = target.unwrap();
    assert!(target.is_virtual());
    let addr = target.modbus_addr().unwrap();
    assert_eq!(mbpoll(addr, 10, 1), vec![1480], "mbpoll reads the initial set-point");
    let flow_before = measured_flow(&app);
    let log = dir.join("audit.jsonl");
    let mut session = ChangeSession::new(log.clone(), Some(target.clone()), 1);
    let mut announced = None;
    let out =
        run_change(&mut app, &request(&["bob"], true), &mut session, &mut |t| announced = Some(t.clone())).unwrap();
    assert_eq!(out.status, Status::Pushed, "{out:#?}");
    assert_eq!(announced, Some(target), "the target was named before the first write");
    let push = out.push.unwrap();
    assert_eq!(
        push.writes.iter().map(|w| (w.1, w.2)).collect::<Vec<_>>(),
        [1460.0, 1440.0, 1420.0, 1400.0].map(|v| (v, Some(v)))
    );
    assert_eq!(mbpoll(addr, 10, 1), vec![1400], "mbpoll reads what the twin wrote");

    run_for(&mut app, 120.0);
    let truth = app.world().resource::<PlantRunner>().plant.truth();
    let p = truth.pump("P-101").unwrap();
    assert!((p.outputs.speed_rpm - 1400.0).abs() < 0.5, "the plant runs at {} rpm", p.outputs.speed_rpm);
    let flow_after = measured_flow(&app);
    assert!(flow_after < flow_before - 10.0, "the measured flow followed: {flow_before:.1} → {flow_after:.1} m³/h");
    assert_eq!(
        app.world().resource::<Setpoints>().live["P-101.speed"].value,
        1400.0,
        "the live set-point is the read-back"
    );
    let events = audit_events(&log);
    assert_eq!(events[..4], ["draft", "validation", "approval", "push_start"]);
    assert_eq!(events.iter().filter(|e| *e == "write").count(), 4);
    assert_eq!(events.iter().filter(|e| *e == "readback").count(), 4);
    assert_eq!(events.last().unwrap(), "push_done");
}

#[test]
fn a_plc_that_ignores_writes_causes_a_rollback_and_an_alarm() {
    let dir = artifacts("change-ignore");
    let (mut app, target) = live(station(), 1.0);
    app.world().resource::<PlantRunner>().plc.as_ref().unwrap().server().set_behaviour(Behaviour::IgnoreWrites);
    let log = dir.join("audit.jsonl");
    let mut session = ChangeSession::new(log.clone(), target, 1);
    let out = run_change(&mut app, &request(&["bob"], true), &mut session, &mut |_| {}).unwrap();
    let Status::RolledBack(alarm) = &out.status else { panic!("{:?}", out.status) };
    assert!(alarm.contains("P-101.speed: read back 1480 after writing 1460"), "{alarm}");
    let push = out.push.unwrap();
    assert_eq!(push.writes.len(), 1, "stopped at the first mismatch");
    assert!(push.rolled_back);
    let events = audit_events(&log);
    assert!(events.ends_with(&["rollback".into(), "rollback_readback".into(), "alarm".into()]), "{events:?}");
    run_for(&mut app, 60.0);
    let truth = app.world().resource::<PlantRunner>().plant.truth();
    assert!((truth.pump("P-101").unwrap().outputs.speed_rpm - 1480.0).abs() < 0.5);
}

#[test]
fn a_plc_that_never_answers_times_out_and_rolls_back() {
    let mut s = station();
    s.change.timeout = Dur::from_secs(0.3);
    let (mut app, target) = live(s, 1.0);
    app.world().resource::<PlantRunner>().plc.as_ref().unwrap().server().set_behaviour(Behaviour::NeverAnswer);
    let dir = artifacts("change-timeout");
    let mut session = ChangeSession::new(dir.join("audit.jsonl"), target, 1);
    let out = run_change(&mut app, &request(&["bob"], true), &mut session, &mut |_| {}).unwrap();
    let Status::RolledBack(alarm) = &out.status else { panic!("{:?}", out.status) };
    assert!(alarm.contains("timed out") || alarm.contains("Timeout") || alarm.contains("timeout"), "{alarm}");
    assert!(alarm.contains("the rollback could not be verified"), "the PLC stays silent for the rollback too: {alarm}");
}

#[test]
fn nothing_is_written_unless_writes_are_enabled_validated_and_approved() {
    let dir = artifacts("change-disabled");
    let (mut app, target) = live(station(), 1.0);
    let target = target.unwrap();
    let runs: [(Scenario, ChangeRequest, &str); 3] = [
        (station(), request(&["bob"], false), "writes are not enabled by the user"),
        (
            Scenario { change: twin::scenario::ChangeSpec { allow_writes: false, ..station().change }, ..station() },
            request(&["bob"], true),
            "the scenario does not allow writes",
        ),
        (station(), request(&[], true), "awaiting"),
    ];
    for (k, (s, req, why)) in runs.into_iter().enumerate() {
        app.world_mut().insert_resource(twin::twin::LoadedScenario(Arc::new(s)));
        let log = dir.join(format!("audit{k}.jsonl"));
        let mut session = ChangeSession::new(log.clone(), Some(target.clone()), 1);
        let out = run_change(&mut app, &req, &mut session, &mut |_| panic!("no target is announced")).unwrap();
        match &out.status {
            Status::WritesDisabled(reason) => assert!(reason.starts_with(why), "{reason}"),
            Status::AwaitingApproval => assert_eq!(why, "awaiting"),
            other => panic!("{other:?}"),
        }
        assert!(!audit_events(&log).iter().any(|e| e == "write"));
    }
    assert_eq!(mbpoll(target.modbus_addr().unwrap(), 10, 1), vec![1480], "the PLC still holds the initial set-point");
}

#[test]
fn twin_change_writes_an_audit_log_whose_tampering_twin_audit_verify_finds() {
    let dir = artifacts("change-cli");
    let log = dir.join("audit.jsonl");
    let l = log.to_str().unwrap();
    let out = twin(&[
        "change",
        "scenes/pump_station.ron",
        "--set",
        "P-101.speed=1420",
        "--approve",
        "--as",
        "alice",
        "--allow-writes",
        "--audit",
        l,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("pushed and verified") && stderr(&out).contains("writing to Modbus TCP 127.0.0.1:"),
        "{text}"
    );
    let ok = twin(&["audit", "verify", l]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("records, chain intact"));

    // Someone edits the written value in the log afterwards.
    let original = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let k = lines.iter().position(|l| l.contains("\"value\":1440.0")).unwrap();
    let tampered = original.replacen("\"value\":1440.0", "\"value\":1400.0", 1);
    assert_ne!(tampered, original);
    std::fs::write(&log, tampered).unwrap();
    let bad = twin(&["audit", "verify", l]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains(&format!("audit.jsonl:{}: record {} was altered", k + 1, k)), "{}", stderr(&bad));

    // A change without --allow-writes writes nothing, and says so.
    let out = twin(&[
        "change",
        "scenes/pump_station.ron",
        "--set",
        "P-101.speed=1420",
        "--approve",
        "--as",
        "alice",
        "--audit",
        dir.join("b.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("not written: writes are not enabled by the user (--allow-writes)")
    );
}

#[test]
fn the_worked_examples_question_is_answered_deferring_the_bearing_replacement_by_seven_days() {
    // 40 h in, the bearing defect (from 12 h, severity 0.4, growing) shows in the crest factor and the twin has
    // followed its growth for a day; the replacement is planned at 3 d.
    let out = twin(&[
        "whatif",
        "scenes/pump_station.ron",
        "--from",
        "40h",
        "--defer-maintenance",
        "7d",
        "--horizon",
        "14d",
        "--samples",
        "300",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (b, c) = (w["maintenance_at_s"][0].as_f64().unwrap(), w["maintenance_at_s"][1].as_f64().unwrap());
    assert!((b - (72.0 - 40.0) * 3600.0).abs() < 1.0 && (c - b - 7.0 * 86_400.0).abs() < 1.0, "{b} {c}");
    let severity = w["uncertainty"]["defect_severity_mean"].as_f64().unwrap();
    // 0.4 at 12 h has grown by 5 to 20 % in 28 h (the fleet's median rate: 19 %).
    assert!((0.4..0.5).contains(&severity), "the defect's severity is followed: {severity}");
    let a = &w["answer"];
    let (pb, pc) = (a["baseline"]["p_failure"].as_f64().unwrap(), a["change"]["p_failure"].as_f64().unwrap());
    // Replaced in 32 h, no plausible rate takes the defect to failure (0.44 to 1 needs λ > 0.025 /h, many times
    // what the twin has learnt); deferred to 8.3 d, the faster part of the rates it believes in do (λ > 0.004 /h;
    // this station's bearing runs warm, and the virtual plant's hidden rate grows with the bearing's temperature:
    // most of what it believes in does).
    assert!(pb < 0.01, "{pb}");
    assert!(pc >= 0.05, "{pc}");
    let delta_std = a["p_failure_delta_std"].as_f64().unwrap();
    assert!(pc - pb > 4.0 * delta_std, "a material difference: {pb} vs {pc} (± {delta_std})");
    assert!(a["change"]["rul_h"]["p50"].as_f64().unwrap() > 0.0);
    // The same question as a table for people.
    let out = twin(&[
        "whatif",
        "scenes/pump_station.ron",
        "--defer-maintenance",
        "7d",
        "--horizon",
        "14d",
        "--samples",
        "50",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("P(bearing failure within horizon)") && table.contains("baseline in 3.0 d, change in 10.0 d"),
        "{table}"
    );
}

/// Runs the plant until its P-101 bearing fails or `until_s` (simulated) passes; the failure time, if any.
fn run_until_failure(app: &mut App, until_s: f64) -> Option<f64> {
    loop {
        let truth = app.world().resource::<PlantRunner>().plant.truth();
        let failed = truth.pump("P-101").and_then(|p| p.failed_at_s);
        let now = app.world().resource::<SimClock>().now_s;
        if failed.is_some() || now >= until_s {
            return failed;
        }
        run_for(app, 3600.0);
    }
}

#[test]
fn a_speed_reduction_advised_by_the_twin_and_pushed_to_the_virtual_plc_delays_the_plants_bearing_failure() {
    // The run-to-failure station (a defect from 2 h, nothing planned), seed 2: 12 h in, the twin has followed the
    // defect for ten hours. The same seed draws the same hidden growth rate in both runs.
    let s = || scenario::load(&super::root().join("scenes/run_to_failure.ron")).unwrap();
    let seed = 2;
    let from_h = 12.0;

    // Nothing done: the plant's bearing fails.
    let (mut app, _) = virtual_plant_twin(Arc::new(s()), seed, from_h * 3600.0, true).unwrap();
    let failed = run_until_failure(&mut app, 20.0 * 86_400.0).expect("the bearing fails when nothing is done");
    drop(app);

    // The twin is asked for the speed that keeps the failure probability under 10 % for six days, and the
    // advised speed is validated, approved and pushed to the virtual PLC.
    let (mut app, target) = virtual_plant_twin(Arc::new(s()), seed, from_h * 3600.0, true).unwrap();
    let advice = twin_models::whatif::AdviceRequest {
        target_s: 6.0 * 86_400.0,
        max_p_failure: 0.1,
        min_rpm: 600.0,
        current_rpm: 1480.0,
        resolution_rpm: 5.0,
    };
    let changes = twin::change::whatif::ChangeSet::default();
    let w = twin::change::whatif::ask(app.world(), "P-101", &changes, 8.0 * 86_400.0, 300, seed, Some(advice)).unwrap();
    let advice = w.advice.unwrap();
    assert_eq!(advice.verdict, twin_models::whatif::Verdict::Reduce, "{advice:?}");
    assert!(advice.p_failure_current > 0.1 && advice.p_failure <= 0.1, "{advice:?}");
    let dir = artifacts("advised-speed");
    let mut session = ChangeSession::new(dir.join("audit.jsonl"), target, 1);
    let req = ChangeRequest {
        sets: vec![("P-101.speed".into(), advice.speed_rpm)],
        author: "alice".into(),
        approvers: vec!["bob".into()],
        allow_writes: true,
        ..Default::default()
    };
    let out = run_change(&mut app, &req, &mut session, &mut |_| {}).unwrap();
    assert_eq!(out.status, Status::Pushed, "{out:#?}");
    run_for(&mut app, 600.0);
    let p = app.world().resource::<PlantRunner>().plant.truth().pump("P-101").unwrap().outputs.speed_rpm;
    assert!((p - advice.speed_rpm).abs() < 0.5, "the plant runs at {p} rpm");

    // The plant's bearing outlives the unchanged run's failure by at least a day (the growth rate falls with
    // speed and with the bearing load, which falls with the speed squared).
    let later = run_until_failure(&mut app, failed + 86_400.0);
    assert!(
        later.is_none_or(|t| t > failed + 86_400.0),
        "advised {} rpm: fails at {later:?} s, unchanged at {failed} s",
        advice.speed_rpm
    );
    eprintln!("unchanged: fails at {:.1} d; at {} rpm: {later:?} s", failed / 86_400.0, advice.speed_rpm);
}
