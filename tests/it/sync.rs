//! Synchronization of the twin with its plant: event-time correctness of late samples through the real `twin`
//! binary (a sample delayed within the allowed lateness gives exactly the indices of its on-time delivery), and
//! against the in-process virtual plant's hidden truth: recalibration, wear, drift detection and its causes.

use std::path::Path;
use std::time::Duration;

use bevy::prelude::*;
use serde_json::Value;
use twin::app::headless_app;
use twin::assess::config::{ConfigLog, ConfigStatus, Configuration};
use twin::assess::dependency::UpstreamRisk;
use twin::change::draft::{Draft, DraftState};
use twin::ingest::RawMessage;
use twin::ingest::recording::{self, Recorder};
use twin::plant::inprocess::PlantRunner;
use twin::scenario::{self, AssetKind, Dur, FaultSpec};
use twin::sync::{Assimilation, DriftAlarm, SetpointReported, Setpoints};
use twin::twin::pump::PumpReadings;
use twin::twin::simulate::StepSlicing;
use twin::twin::{AssetIndex, SimClock};
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
    let mut d = Draft::against(app.world().resource::<Setpoints>(), 1, "P-101.speed", 1300.0, "alice", 360.0).unwrap();
    // An operator changes the speed at the HMI; the PLC reports it.
    app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
    run_hours(&mut app, 0.1);
    let s = app.world().resource::<Setpoints>();
    assert_eq!(d.state(s), DraftState::Conflicted { live_value: 1400.0, live_version: 2 });
    assert_eq!((d.value, d.based_on_version), (1300.0, 1), "the draft is kept as written, against version 1");
    let pump = app.world().resource::<AssetIndex>().0["P-101"];
    let speed = app.world().get::<PumpReadings>(pump).unwrap().0.speed_rpm;
    assert!((speed - 1400.0).abs() < 1.0, "the twin's model runs at the live set-point: {speed} rpm");
    d.rebase(app.world().resource::<Setpoints>()).unwrap();
    assert_eq!(d.state(app.world().resource::<Setpoints>()), DraftState::Open);
}

fn config_status(app: &App, asset: &str) -> ConfigStatus {
    let e = app.world().resource::<AssetIndex>().0[asset];
    app.world().get::<Configuration>(e).unwrap().status()
}

#[test]
fn a_firmware_change_on_site_is_flagged_as_a_configuration_mismatch() {
    let mut app = station_with_plant(vec![FaultSpec::ConfigChange {
        asset: "P-101".into(),
        at: Dur::from_secs(3600.0),
        config_version: None,
        firmware: Some("1.9.0".into()),
    }]);
    run_hours(&mut app, 0.5);
    for asset in ["T-1", "M-101", "P-101"] {
        assert_eq!(config_status(&app, asset), ConfigStatus::Match, "{asset} reported what the scenario expects");
    }
    run_hours(&mut app, 0.75);
    let truth = app.world().resource::<PlantRunner>().plant.truth();
    let p101 = truth.identities.iter().find(|d| d.asset == "P-101").unwrap();
    assert_eq!(p101.firmware, "1.9.0", "the plant runs the new firmware");
    assert_eq!(config_status(&app, "P-101"), ConfigStatus::Mismatch("firmware 1.9.0 reported, 1.8.4 expected".into()));
    assert_eq!(config_status(&app, "M-101"), ConfigStatus::Match);
    let log = &app.world().resource::<ConfigLog>().0;
    let change = log.iter().find(|e| e.asset == "P-101" && matches!(e.status, ConfigStatus::Mismatch(_)));
    let t = change.expect("the mismatch was logged").t_s;
    assert!((3600.0..3602.0).contains(&t), "logged when the report arrived: {t} s");
}

/// The pump station with its pump lifted 6 m above the tank bottom (a suction lift), the tank full and its inflow
/// cut to 200 m³/h against the pump's 250: the level falls about 1 m/h and the NPSH margin with it.
fn draining_station(faults: Vec<FaultSpec>) -> App {
    let mut s = scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap();
    s.faults = faults;
    for a in &mut s.assets {
        match &mut a.kind {
            AssetKind::Tank(t) => {
                t.inflow_m3h = 200.0;
                t.initial_level_m = 5.0;
            }
            AssetKind::CentrifugalPump(p) => p.suction.pump_elevation_m = 6.0,
            _ => {}
        }
    }
    let s = std::sync::Arc::new(s);
    let mut app = headless_app(s.clone(), 7);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 7, None).unwrap();
    app
}

fn upstream(app: &App, pump: &str) -> UpstreamRisk {
    let e = app.world().resource::<AssetIndex>().0[pump];
    app.world().get::<UpstreamRisk>(e).unwrap().clone()
}

#[test]
fn a_falling_tank_level_raises_its_pumps_cavitation_risk_before_the_pump_shows_it() {
    let mut app = draining_station(vec![]);
    // Long enough for the first recalibration (hourly) to correct the model's flow, on which NPSHr depends.
    run_hours(&mut app, 2.5);
    let now = app.world().resource::<SimClock>().now_s;
    let risk = upstream(&app, "P-101");
    eprintln!("{risk:#?}");
    let pump = app.world().resource::<AssetIndex>().0["P-101"];
    let o = app.world().get::<PumpReadings>(pump).unwrap().0;
    let t = app.world().resource::<PlantRunner>().plant.truth();
    let to = t.pump("P-101").unwrap().outputs;
    eprintln!("twin NPSHa {} NPSHr {}; plant {} {}", o.npsha_m, o.npshr_m, to.npsha_m, to.npshr_m);
    let present = o.health.cavitation_risk;
    assert_eq!(present, 0.0, "the pump does not cavitate yet");
    assert!(risk.cavitation_risk > 0.01, "within the hour it will: {}", risk.cavitation_risk);
    assert!(risk.causes.iter().any(|c| c.starts_with("T-1: level falling")), "{:?}", risk.causes);
    let rate = risk.level_rate_m_per_h.unwrap();
    assert!((-1.2..-0.8).contains(&rate), "about 1 m/h: {rate}");
    let predicted = now + risk.cavitation_in_s.expect("a time to cavitation");

    // The plant's hidden truth: when does its NPSH margin actually fall to the threshold?
    let mut crossed = None;
    while crossed.is_none() && app.world().resource::<SimClock>().now_s < 5.0 * 3600.0 {
        run_hours(&mut app, 1.0 / 60.0);
        let t = app.world().resource::<PlantRunner>().plant.truth();
        let o = t.pump("P-101").unwrap().outputs;
        if o.npsha_m <= twin_models::health::CAVITATION_SAFE_RATIO * o.npshr_m {
            crossed = Some(app.world().resource::<SimClock>().now_s);
        }
    }
    let actual = crossed.expect("the plant reached the cavitation threshold");
    // The inflow fluctuates (2 %, correlated over 10 min), so the trend itself wanders by about 0.1 m/h.
    let err = (predicted - actual).abs() / (actual - now);
    eprintln!("predicted at {predicted:.0} s, happened at {actual:.0} s");
    assert!(err < 0.15, "predicted at {predicted:.0} s, happened at {actual:.0} s ({:.1} %)", err * 100.0);
}

#[test]
fn a_stale_tank_level_is_shown_on_the_pumps_it_feeds_and_widens_their_risk() {
    let outage = FaultSpec::BrokerOutage { at: Dur::from_secs(300.0), duration: Dur::from_secs(1800.0) };
    let mut app = draining_station(vec![outage]);
    run_hours(&mut app, 4.0 / 60.0);
    let before = upstream(&app, "P-101");
    assert!(before.causes.iter().all(|c| !c.contains("stale")), "{:?}", before.causes);
    run_hours(&mut app, 0.25);
    let during = upstream(&app, "P-101");
    eprintln!("{during:#?}");
    assert!(during.causes.iter().any(|c| c.starts_with("T-1: tank level stale")), "{:?}", during.causes);
    assert!(during.causes.iter().any(|c| c.starts_with("M-101: winding temperature stale")), "{:?}", during.causes);
    assert!(during.causes.iter().any(|c| c.starts_with("T-1: level uncertain by")), "{:?}", during.causes);
    run_hours(&mut app, 0.5);
    let after = upstream(&app, "P-101");
    assert!(after.causes.iter().all(|c| !c.contains("stale") && !c.contains("uncertain")), "{:?}", after.causes);
}

#[test]
fn the_report_scores_the_drift_alarms_against_the_plants_faults_and_tracks_performance_over_time() {
    let dir = artifacts("sync-performance");
    let report = dir.join("report.json");
    // The bundled station: a bearing defect at 12 h.
    let out =
        twin(&["run", "scenes/pump_station.ron", "--duration", "13h", "--report", report.to_str().unwrap(), "-q"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", stderr(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let perf = &r["sync"]["performance"];
    let alarms = &perf["alarms"];
    eprintln!("{alarms:#}");
    let faults = alarms["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0]["fault"], "BearingDefect P-101");
    assert!(faults[0]["delay_s"].as_f64().unwrap() < 1800.0);
    assert_eq!(faults[0]["diagnosed"], true);
    assert_eq!(alarms["recall"].as_f64(), Some(1.0));
    assert_eq!(alarms["precision"].as_f64(), Some(1.0), "no false alarm: {}", alarms["false_alarms"]);

    let points = r["t_s"].as_array().unwrap().len();
    let flow = perf["prediction_rms"]["P-101.Flow"].as_array().unwrap();
    assert_eq!(flow.len(), points);
    // The flow meter's noise is 0.5 % of reading (≈ 1.2 m³/h): once calibrated, the model predicts flow to within it.
    let late: Vec<f64> = flow[points / 2..].iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(late.iter().all(|&e| e > 0.5 && e < 5.0), "{late:?}");
    let head = perf["calibration"]["P-101.head"].as_array().unwrap();
    assert_eq!(head.len(), points);
    assert!(head[0].is_null() && head[points - 1].as_f64().is_some());
    let conf = perf["confidence"]["P-101"].as_array().unwrap();
    assert!(conf[points / 2].as_f64().unwrap() > 0.5, "healthy before the defect");
    assert_eq!(r["sync"]["configuration"]["P-101"]["status"], "match");
}

/// A generated site of `pumps` trains with its in-process virtual plant, slicing its steps as `slicing` says.
fn site_with_plant(pumps: usize, slicing: StepSlicing) -> App {
    let spec = twin::scenario::generate::SiteSpec { pumps, ..Default::default() };
    let s = std::sync::Arc::new(twin::scenario::generate::site(&spec).unwrap());
    let mut app = headless_app(s.clone(), 7);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 7, None).unwrap();
    app.insert_resource(slicing);
    app
}

#[test]
fn a_step_taken_in_slices_over_several_ticks_ends_exactly_where_the_whole_step_does() {
    // Enough trains and samples a step for the correction to stop at its looks at the clock (every 256
    // estimators, 64 samples, each step of the predicted branch); a zero slice stops at every look.
    let steps = 40;
    let mut whole = site_with_plant(300, StepSlicing::default());
    let mut sliced = site_with_plant(300, StepSlicing::Always(Duration::ZERO));
    let mut ticks = 0;
    for app in [&mut whole, &mut sliced] {
        ticks = 0;
        while app.world().resource::<SimClock>().steps_done < steps {
            let mut clock = app.world_mut().resource_mut::<SimClock>();
            if clock.pending_steps == 0 {
                clock.pending_steps = 1;
            }
            app.update();
            ticks += 1;
            assert!(ticks < 1_000 * steps, "the steps never finish");
        }
        assert_eq!(app.world().resource::<SimClock>().steps_done, steps, "one step a tick at most was asked");
    }
    // The sliced one took its steps over many more ticks (the manual pacing's whole one took one a tick).
    assert!(ticks > 4 * steps, "{ticks} ticks for {steps} steps");
    let state = |app: &mut App| {
        let a = rmp_serde::to_vec_named(app.world().resource::<Assimilation>()).unwrap();
        let readings: Vec<String> =
            app.world_mut().query::<&PumpReadings>().iter(app.world()).map(|r| format!("{:?}", r.0)).collect();
        (a, readings)
    };
    let (a_whole, r_whole) = state(&mut whole);
    let (a_sliced, r_sliced) = state(&mut sliced);
    assert!(whole.world().resource::<Assimilation>().counters.applied > 10_000, "the assimilation applied samples");
    assert_eq!(r_whole, r_sliced, "the models' readings");
    assert!(a_whole == a_sliced, "the assimilation (estimators, scores, queue) differs");
}
