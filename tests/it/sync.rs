//! Synchronization of the twin with its plant: event-time correctness of late samples through the real `twin`
//! binary (a sample delayed within the allowed lateness gives exactly the indices of its on-time delivery), and
//! against the in-process virtual plant's hidden truth: recalibration, wear, drift detection and its causes.

use std::path::Path;

use bevy::prelude::*;
use serde_json::Value;
use twin::ingest::RawMessage;
use twin::ingest::recording::{self, Recorder};
use twin::plant::inprocess::PlantRunner;
use twin::scenario::{self, Dur, FaultSpec};
use twin::sync::{Assimilation, DraftState, DriftAlarm, SetpointReported, Setpoints};
use twin::twin::pump::PumpReadings;
use twin::twin::{AssetIndex, SimClock, headless_app};
use twin::units::Quantity;
use twin_models::drift::{Cause, SensorFault};

use super::{artifacts, stderr, twin};

/// Replays `messages` (written to `file`) for one hour of the pump station and returns the JSON report.
fn replay(dir: &Path, name: &str, messages: &[RawMessage]) -> Value {
    let file = dir.join(format!("{name}.jsonl"));
    let mut rec = Recorder::create(&file).unwrap();
    for m in messages {
        rec.write(m);
    }
    rec.finish().unwrap();
    let report = dir.join(format!("{name}.json"));
    let (f, r) = (file.to_str().unwrap(), report.to_str().unwrap());
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "1h", "--replay", f, "--report", r, "-q"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

/// Every series value of a report, as (series name, sample time, value).
fn series(r: &Value) -> Vec<(String, f64, f64)> {
    let t: Vec<f64> = r["t_s"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let mut out = Vec::new();
    for s in r["series"].as_array().unwrap() {
        let name = format!("{}.{}", s["asset"].as_str().unwrap(), s["index"].as_str().unwrap());
        for (i, v) in s["values"].as_array().unwrap().iter().enumerate() {
            out.push((name.clone(), t[i], v.as_f64().unwrap_or(f64::NAN)));
        }
    }
    out
}

#[test]
fn a_late_sample_within_the_allowed_lateness_changes_the_indices_exactly_as_if_on_time() {
    let dir = artifacts("sync-late");
    let rec = dir.join("recorded.jsonl");
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "1h", "--record", rec.to_str().unwrap(), "-q"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", stderr(&out));
    let recorded = recording::read(&rec).unwrap();
    let on_time = replay(&dir, "on_time", &recorded);
    let ticks: Vec<f64> = on_time["t_s"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();

    // A tank-level sample after half an hour whose 3 s delay crosses a tick boundary: the twin has shown its
    // event time without it before it arrives (the allowed lateness is 5 s).
    let epoch = twin::plant::VirtualPlant::EPOCH_UNIX_S;
    let delay = 3.0;
    let i = recorded
        .iter()
        .position(|m| {
            let e = m.received_s - epoch;
            m.topic == "plant/t1/level" && e > 1800.0 && ticks.iter().any(|&t| t > e && t < e + delay)
        })
        .expect("a level sample whose delay crosses a tick");
    let event_s = recorded[i].received_s - epoch;

    let mut late = recorded.clone();
    let mut m = late.remove(i);
    m.received_s += delay;
    let at = late.iter().position(|x| x.received_s > m.received_s).unwrap_or(late.len());
    late.insert(at, m);
    let late = replay(&dir, "late", &late);

    let mut missing = recorded.clone();
    missing.remove(i);
    let missing = replay(&dir, "missing", &missing);

    // The late run revised what it had shown, and nothing else differs from the on-time run.
    let revisions = late["sync"]["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "the late sample revised one span: {}", late["sync"]);
    let (from, to) = (revisions[0]["from_s"].as_f64().unwrap(), revisions[0]["to_s"].as_f64().unwrap());
    assert!(from == event_s && to > event_s && to <= event_s + delay, "{revisions:?}");
    assert!(on_time["sync"]["revisions"].as_array().unwrap().is_empty());
    assert_eq!(late["assets"], on_time["assets"], "final indices and their summaries are identical");
    assert_eq!(late["sync"]["prediction_error"], on_time["sync"]["prediction_error"]);
    let (a, b) = (series(&on_time), series(&late));
    let mut compared = 0;
    for ((name, t, x), (_, _, y)) in a.iter().zip(&b) {
        if *t < from || *t > to {
            assert!(x.to_bits() == y.to_bits(), "{name} at {t} s: {x} on time, {y} late");
            compared += 1;
        }
    }
    assert!(compared > a.len() / 2);
    assert_eq!(on_time["sync"]["assimilation"]["too_late"], 0);
    assert_eq!(late["sync"]["assimilation"]["too_late"], 0);

    // The sample mattered: without it the estimated level, and what depends on it, differ.
    let differs = series(&missing).iter().zip(&a).filter(|(m, o)| m.2.to_bits() != o.2.to_bits()).count();
    assert!(differs > 0, "dropping the sample changes the indices");
}

/// The pump station's twin with its in-process virtual plant, its faults replaced by `faults`.
fn station_with_plant(faults: Vec<FaultSpec>) -> App {
    let mut s = scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap();
    s.faults = faults;
    let s = std::sync::Arc::new(s);
    let mut app = headless_app(s.clone(), 7);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 7, None).unwrap();
    app
}

/// Runs the app for `hours` simulated hours, a minute per tick.
fn run_hours(app: &mut App, hours: f64) {
    let ticks = (hours * 60.0).round() as u64;
    for _ in 0..ticks {
        app.world_mut().resource_mut::<SimClock>().pending_steps = 60;
        app.update();
    }
}

fn alarms(app: &App) -> Vec<DriftAlarm> {
    app.world().resource::<Assimilation>().alarms.clone()
}

#[test]
fn after_a_day_the_recalibrated_parameters_and_the_wear_match_the_plants_hidden_truth() {
    let mut app = station_with_plant(vec![]);
    run_hours(&mut app, 24.0);
    let world = app.world();
    let pump = world.resource::<AssetIndex>().0["P-101"];
    let truth = world.resource::<PlantRunner>().plant.truth();
    let truth = truth.pump("P-101").unwrap();
    let (version, applied, estimates) = world.resource::<Assimilation>().calibration(pump).expect("calibrated");
    let f = truth.factors;
    eprintln!("truth {f:?}\napplied (v{version}) {applied:?}\nestimates {estimates:?}");
    assert!(version >= 2, "the scenario allows automatic recalibration: a new model version was applied");
    for (name, est, true_value) in [
        ("head curve", applied.head, f.head),
        ("unbalance", applied.unbalance, f.unbalance),
        ("frame-to-ambient thermal resistance", applied.frame_ambient, f.frame_ambient_resistance),
    ] {
        let err = (est / true_value - 1.0).abs();
        assert!(err < 0.05, "{name}: model {est:.4} vs true {true_value:.4} ({:.1} %)", err * 100.0);
    }
    // Within the estimates' own uncertainty too (three standard deviations), for the directly measured ones.
    assert!((estimates.head.value - f.head).abs() < 3.0 * estimates.head.std + 1e-3);
    assert!((estimates.unbalance.value - f.unbalance).abs() < 3.0 * estimates.unbalance.std + 1e-2);

    let wear = world.get::<PumpReadings>(pump).unwrap().0.health.bearing_wear;
    let true_wear = truth.outputs.health.bearing_wear;
    assert!(true_wear > 0.0 && (wear / true_wear - 1.0).abs() < 0.10, "wear {wear:e} vs true {true_wear:e}");
    assert!(alarms(&app).is_empty(), "a healthy day raises no drift alarm: {:?}", alarms(&app));
}

#[test]
fn a_bearing_defect_is_detected_within_30_minutes_and_a_stuck_sensor_is_told_apart_from_model_drift() {
    let onset_h = 2.0;
    let mut app = station_with_plant(vec![
        FaultSpec::BearingDefect { asset: "P-101".into(), onset: Dur::from_secs(onset_h * 3600.0), severity: 0.6 },
        FaultSpec::StuckSensor { signal: "M-101.winding_temp".into(), at: Dur::from_secs(onset_h * 3600.0) },
    ]);
    run_hours(&mut app, onset_h);
    assert!(alarms(&app).is_empty(), "no alarm before the faults: {:?}", alarms(&app));
    run_hours(&mut app, 0.75);
    let all = alarms(&app);
    eprintln!("{all:#?}");
    let onset_s = onset_h * 3600.0;
    let vib: Vec<&DriftAlarm> = all.iter().filter(|a| a.asset == "P-101").collect();
    let first = vib.iter().map(|a| a.raised_s).fold(f64::INFINITY, f64::min);
    assert!(first >= onset_s && first <= onset_s + 1800.0, "defect detected {} s after onset", first - onset_s);
    assert!(vib.iter().all(|a| a.cause == Cause::ModelDrift && a.reason.contains("bearing defect")), "{vib:?}");
    let stuck: Vec<&DriftAlarm> = all.iter().filter(|a| a.asset == "M-101").collect();
    assert!(!stuck.is_empty(), "the stuck winding sensor raised an alarm");
    assert!(
        stuck
            .iter()
            .all(|a| a.quantity == Quantity::WindingTemperature && a.cause == Cause::SensorFault(SensorFault::Stuck)),
        "{stuck:?}"
    );
}

#[test]
fn a_healthy_week_raises_no_drift_alarm() {
    let mut app = station_with_plant(vec![]);
    run_hours(&mut app, 7.0 * 24.0);
    let a = app.world().resource::<Assimilation>();
    assert!(a.counters.applied > 7 * 86_400 * 5, "a week of samples was assimilated: {:?}", a.counters);
    assert!(a.alarms.is_empty(), "{:?}", a.alarms);
}

#[test]
fn a_conflicting_hmi_change_marks_an_open_draft_conflicted_and_the_model_follows_the_live_value() {
    let mut app = station_with_plant(vec![]);
    run_hours(&mut app, 0.1);
    let draft = app.world_mut().resource_mut::<Setpoints>().draft("P-101.speed", 1300.0).unwrap();
    // An operator changes the speed at the HMI; the PLC reports it.
    app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
    run_hours(&mut app, 0.1);
    let s = app.world().resource::<Setpoints>();
    let d = s.get(draft).unwrap();
    assert_eq!(d.state, DraftState::Conflicted { live_value: 1400.0, live_version: 2 });
    assert_eq!((d.value, d.based_on_version), (1300.0, 1), "the draft is kept as written, against version 1");
    let pump = app.world().resource::<AssetIndex>().0["P-101"];
    let speed = app.world().get::<PumpReadings>(pump).unwrap().0.speed_rpm;
    assert!((speed - 1400.0).abs() < 1.0, "the twin's model runs at the live set-point: {speed} rpm");
    app.world_mut().resource_mut::<Setpoints>().rebase(draft).unwrap();
    assert_eq!(app.world().resource::<Setpoints>().get(draft).unwrap().state, DraftState::Open);
}
