//! The bearing wear index over a 30-day headless run of the worked example's pump with a new bearing: it rises
//! monotonically, faster at higher speed and faster with more unbalance (ISO 281: life falls with load cubed and
//! with revolutions); and the twin and the virtual plant start from the asset's history.

use std::path::Path;
use std::sync::Arc;

use twin::headless::{self, Report, RunOptions};
use twin::scenario::{self, AssetKind, Scenario};

/// The worked example with a new bearing (its history cleared), so that the 30 days' wear is all there is.
fn pump_station() -> Scenario {
    let mut s = bundled();
    for a in &mut s.assets {
        a.history = Default::default();
    }
    s
}

fn bundled() -> Scenario {
    scenario::load(&super::root().join("scenes/pump_station.ron")).expect("bundled scenario loads")
}

#[test]
fn the_twin_and_the_virtual_plant_start_from_the_assets_history() {
    use twin::plant::inprocess::PlantRunner;
    use twin::twin::pump::PumpReadings;
    let s = Arc::new(bundled());
    let history = &s.asset("P-101").unwrap().history;
    assert_eq!(history.bearing_operating_h, Some(64_000.0));
    let mut app = twin::app::headless_app(s.clone(), 3);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 3, None).unwrap();
    app.update();
    twin::change::cli::run_for(&mut app, 600.0);
    let pump = app.world().resource::<twin::twin::AssetIndex>().0["P-101"];
    let twin_h = app.world().get::<PumpReadings>(pump).unwrap().0.health;
    let truth = app.world().resource::<PlantRunner>().plant.truth();
    let true_h = truth.pump("P-101").unwrap().outputs.health;
    // 64,000 h at the rated point consume 0.6 of the median (L50) life of the nominal bearing ...
    assert!((twin_h.bearing_wear - 0.596).abs() < 0.005, "twin wear {}", twin_h.bearing_wear);
    // ... and about as much of the true one (its load differs by the plant's hidden parameter factors).
    assert!(
        (true_h.bearing_wear / twin_h.bearing_wear - 1.0).abs() < 0.05,
        "true {} twin {}",
        true_h.bearing_wear,
        twin_h.bearing_wear
    );
    // The remaining life is what is left of L50 at today's rate: 0.4 of 107,000 h, not a new bearing's.
    assert!((40_000.0..46_000.0).contains(&twin_h.rul_h), "RUL {} h", twin_h.rul_h);
    // The motor's insulation: 600 h at its class temperature used 3 % of its 20,000 h rated life.
    assert!((twin_h.insulation_health - 0.97).abs() < 1e-3, "{}", twin_h.insulation_health);
    assert!((true_h.insulation_health - 0.97).abs() < 1e-3, "{}", true_h.insulation_health);

    // Without a history, a pump starts new, as it always did.
    let new = Arc::new(pump_station());
    let mut app = twin::app::headless_app(new, 3);
    app.update();
    let pump = app.world().resource::<twin::twin::AssetIndex>().0["P-101"];
    let o = app.world().get::<PumpReadings>(pump).map(|r| r.0.health.bearing_wear);
    assert_eq!(o, Some(0.0));
}

fn run_30d(s: Scenario) -> Report {
    let opts = RunOptions { plant: false, ..RunOptions::new(30.0 * 86_400.0, 1) };
    headless::run(Arc::new(s), Path::new("scenes/pump_station.ron"), &opts).expect("30-day run")
}

fn wear(r: &Report) -> &[f64] {
    &r.series.iter().find(|s| s.asset == "P-101" && s.index == "bearing_wear").expect("wear series").values
}

fn with_speed(rpm: f64) -> Scenario {
    let mut s = pump_station();
    s.setpoints.iter_mut().find(|p| p.id == "P-101.speed").expect("speed set-point").initial = rpm;
    s
}

fn with_unbalance_factor(k: f64) -> Scenario {
    let mut s = pump_station();
    for a in &mut s.assets {
        if let AssetKind::CentrifugalPump(p) = &mut a.kind {
            p.unbalance_g_mm *= k;
        }
    }
    s
}

#[test]
fn wear_rises_monotonically_over_30_days() {
    let r = run_30d(pump_station());
    let w = wear(&r);
    assert_eq!(r.duration_s, 30.0 * 86_400.0);
    assert!(w.len() > 400);
    assert!(w.windows(2).all(|p| p[1] >= p[0]), "wear index decreased somewhere");
    assert!(w.last().unwrap() > &(w[w.len() / 2] * 1.5), "wear keeps rising in the second half");
    assert!(*w.last().unwrap() > 0.0 && *w.last().unwrap() < 1.0);
}

#[test]
fn wear_is_faster_at_higher_speed() {
    let fast = run_30d(with_speed(1480.0));
    let slow = run_30d(with_speed(1200.0));
    let (wf, ws) = (*wear(&fast).last().unwrap(), *wear(&slow).last().unwrap());
    // More revolutions and a higher unbalance force (U·w²) at 1480 rpm: clearly more damage.
    assert!(wf > ws * 1.2, "30-day wear at 1480 rpm {wf} vs 1200 rpm {ws}");
}

/// ISO 281 equivalent load of a static radial load `s` plus a load `f` rotating with the shaft, for a ball
/// bearing: the cubic mean of the resultant over one revolution, by numerical integration.
fn equivalent_load(s: f64, f: f64) -> f64 {
    let n = 3600;
    let mean = (0..n)
        .map(|k| {
            let th = std::f64::consts::TAU * k as f64 / n as f64;
            (s * s + f * f + 2.0 * s * f * th.cos()).sqrt().powi(3)
        })
        .sum::<f64>()
        / n as f64;
    mean.cbrt()
}

#[test]
fn wear_is_faster_with_more_unbalance_as_iso_281_predicts() {
    // The nominal 400 g·mm is within balance grade G6.3: its rotating force (U·w² ≈ 10 N) is tiny next to the
    // 2.2 kN static load, so compare it with a severely unbalanced impeller, 60,000 g·mm (≈ 1.44 kN).
    let (u_nominal, u_severe) = (400.0e-6, 60_000.0e-6); // kg·m
    let base = run_30d(with_unbalance_factor(1.0));
    let bad = run_30d(with_unbalance_factor(u_severe / u_nominal));
    let (wb, wu) = (*wear(&base).last().unwrap(), *wear(&bad).last().unwrap());
    // Same revolutions and temperatures, so damage scales with P^3 (ISO 281, ball bearing).
    let w = 1480.0 * std::f64::consts::TAU / 60.0;
    let static_n = 2200.0;
    let expected = (equivalent_load(static_n, u_severe * w * w) / equivalent_load(static_n, u_nominal * w * w)).powi(3);
    assert!(expected > 1.5, "the severe case must matter: {expected}");
    let ratio = wu / wb;
    assert!((ratio / expected - 1.0).abs() < 0.05, "wear ratio {ratio} vs ISO 281 P^3 ratio {expected}");
}

#[test]
fn the_twin_detects_a_growing_defect_learns_its_rate_and_moves_its_prediction() {
    use twin::assess::defect::DefectTracker;
    use twin::plant::inprocess::PlantRunner;
    use twin::twin::pump::PumpReadings;
    let mut s = bundled();
    let onset_s = 3600.0;
    s.faults = vec![twin::scenario::FaultSpec::BearingDefect {
        asset: "P-101".into(),
        onset: twin::scenario::Dur::from_secs(onset_s),
        severity: 0.1,
    }];
    let s = Arc::new(s);
    let mut app = twin::app::headless_app(s.clone(), 11);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 11, None).unwrap();
    app.update();
    twin::change::cli::run_for(&mut app, 48.0 * 3600.0);
    let pump = app.world().resource::<twin::twin::AssetIndex>().0["P-101"];
    let tracker = app.world().get::<DefectTracker>(pump).unwrap();
    let d = tracker.defect.as_ref().expect("the defect was detected");
    assert!(d.detected_at_s > onset_s && d.detected_at_s < onset_s + 1800.0, "detected at {} s", d.detected_at_s);
    assert!((d.wear_at_detection - 0.596).abs() < 0.01, "{}", d.wear_at_detection);
    // The plant's hidden rate, learnt from 47 h of crest readings: within three posterior standard deviations.
    let truth = app.world().resource::<PlantRunner>().plant.truth();
    let t = truth.pump("P-101").unwrap();
    let (mean, std) = d.growth_rate_per_h;
    eprintln!(
        "rate {mean} ± {std} /h, true {} /h; severity {} (true {})",
        t.defect_growth_rate_per_h, d.severity, t.defect_severity
    );
    assert!(
        (mean - t.defect_growth_rate_per_h).abs() < 3.0 * std,
        "rate {mean} ± {std} vs true {}",
        t.defect_growth_rate_per_h
    );
    assert!(
        (d.severity / t.defect_severity - 1.0).abs() < 0.3,
        "severity {} vs true {}",
        d.severity,
        t.defect_severity
    );
    // The prediction moved: the wear index is past its value at detection, the remaining life is the defect's
    // (weeks, not the fatigue life's years), and it comes as a band.
    let h = app.world().get::<PumpReadings>(pump).unwrap().0.health;
    assert!(h.bearing_wear > d.wear_at_detection, "{}", h.bearing_wear);
    assert!(h.rul_h < 2000.0, "RUL {} h", h.rul_h);
    let (p10, p90) = h.rul_p10_p90();
    assert!(p10 < h.rul_h && h.rul_h < p90, "{p10} < {} < {p90}", h.rul_h);
}

#[test]
fn a_detected_defect_crosses_the_wear_alert_and_one_service_window_is_recommended_and_notified() {
    let dir = super::artifacts("service-window");
    let file = dir.join("notifications.jsonl");
    let _ = std::fs::remove_file(&file);
    let mut s = bundled();
    s.maintenance_policy.notify_file = Some(file.to_str().unwrap().to_owned());
    s.expect.push(twin::scenario::Expectation::ServiceWindowBefore {
        asset: "P-101".into(),
        before: twin::scenario::Dur::from_secs(13.0 * 3600.0),
    });
    let opts = RunOptions { plant: true, ..RunOptions::new(24.0 * 3600.0, 1) };
    let r = headless::run(Arc::new(s.clone()), Path::new("scenes/pump_station.ron"), &opts).expect("24 h run");
    // The defect injected at 12 h is detected within minutes; the stage-2 wear index jumps past the 0.65 alert.
    let text = std::fs::read_to_string(&file).expect("the notification file");
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "one crossing, one notification: {text}");
    let n = &lines[0];
    assert_eq!((n["asset"].as_str(), n["index"].as_str()), (Some("P-101"), Some("bearing_wear")));
    let raised = n["raised_at_s"].as_f64().unwrap();
    assert!((12.0 * 3600.0..13.0 * 3600.0).contains(&raised), "raised at {raised} s");
    assert!(n["value"].as_f64().unwrap() >= 0.65 && n["defect"] == true, "{n}");
    // The window closes where the bearing fails with 5 % probability; the planned replacement at 3 d is in it.
    let latest = n["window_latest_s"].as_f64().unwrap();
    assert!(latest > 3.0 * 86_400.0 && latest < 30.0 * 86_400.0, "window closes at {latest} s");
    assert_eq!(n["planned_shutdown_s"].as_f64(), Some(3.0 * 86_400.0));
    let rul = n["rul_h"].as_array().unwrap();
    assert!(rul[0].as_f64() < rul[1].as_f64() && rul[1].as_f64() < rul[2].as_f64(), "{rul:?}");
    assert!((latest - raised) / 3600.0 < rul[0].as_f64().unwrap(), "the 5 % point lies before the 10th percentile");
    // The report has the same, and the expectation on it passes.
    assert_eq!(r.sync.service_windows.len(), 1);
    assert!(r.expectations.iter().any(|e| e.expectation.starts_with("service window recommended") && e.passed));

    // A healthy pump with a new bearing raises nothing.
    let mut healthy = pump_station();
    healthy.faults.clear();
    healthy.expect.clear();
    let r = headless::run(Arc::new(healthy), Path::new("scenes/pump_station.ron"), &opts).expect("24 h run");
    assert!(r.sync.service_windows.is_empty(), "{:?}", r.sync.service_windows);
}

#[test]
fn a_maintenance_notification_is_published_on_the_policys_topic_and_mosquitto_sub_receives_it() {
    use std::time::Duration;
    use twin::ingest::Telemetry;
    use twin::scenario::{Index, IndexThresholds};
    use twin::twin::SimClock;
    use twin_mqtt::testkit::{Mosquitto, MosquittoSub};
    let broker = Mosquitto::start(false, "");
    let sub = MosquittoSub::start(broker.port, "plant/maintenance/#");
    // The worked example's bearing starts at wear 0.596; an alert at 0.5 is crossed as soon as the twin runs.
    let mut s = bundled();
    s.faults.clear();
    s.maintenance_policy.notify_topic = Some("plant/maintenance/P-101".into());
    s.maintenance_policy.thresholds = vec![IndexThresholds { index: Index::BearingWear, alert: 0.5, alarm: 0.9 }];
    let mut app = twin::app::headless_app(Arc::new(s), 1);
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let cfg = twin_mqtt::MqttConfig::from_url(&url, "twin-maintenance").unwrap();
    app.world_mut().resource_mut::<Telemetry>().connect(cfg).unwrap();
    let connected = twin_mqtt::testkit::wait_until(Duration::from_secs(10), || {
        app.world().resource::<Telemetry>().mqtt.as_ref().is_some_and(|c| c.stats().connected)
    });
    assert!(connected, "the twin did not connect to {url}");
    for _ in 0..5 {
        app.world_mut().resource_mut::<SimClock>().pending_steps = 1;
        app.update();
    }
    let got = sub.messages(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "mosquitto_sub received: {got:?}\nbroker log:\n{}", broker.log());
    let (topic, payload) = &got[0];
    assert_eq!(topic, "plant/maintenance/P-101");
    let n: serde_json::Value = serde_json::from_str(payload).expect("the notification is JSON");
    assert_eq!((n["asset"].as_str(), n["index"].as_str()), (Some("P-101"), Some("bearing_wear")));
    assert!((n["value"].as_f64().unwrap() - 0.596).abs() < 0.01 && n["alert"].as_f64() == Some(0.5), "{n}");
    assert!(n["window_latest_s"].as_f64().unwrap() > 0.0 && n["rul_h"].as_array().unwrap().len() == 3, "{n}");
    assert_eq!(n["defect"], false, "no defect: the fatigue life sets the window");
    // One crossing, one notification: running on publishes nothing more.
    for _ in 0..5 {
        app.world_mut().resource_mut::<SimClock>().pending_steps = 1;
        app.update();
    }
    assert!(sub.messages(1, Duration::from_millis(500)).is_empty());
}
