//! Scenario expectations evaluated by `twin run`: every kind passes on a run built for it and fails on purpose on
//! another, and each failure says which expectation, the observed value and when. The runs are the small station
//! of `tests/fixtures/expect/station.ron` (in-process virtual plant) with each test's faults and expectations put
//! in; the composed scenario and its report stay under `target/test-artifacts/expect_*/` to rerun by hand.

use serde_json::Value;

use super::{artifacts, root, stderr, twin};

/// One headless run of the station.
struct Run {
    code: i32,
    report: Value,
    stderr: String,
    junit: ((u64, u64, u64), Vec<super::JunitSuite>),
}

impl Run {
    /// The result of the `i`-th expectation.
    fn result(&self, i: usize) -> &Value {
        &self.report["expectations"][i]
    }

    fn observed(&self, i: usize) -> f64 {
        self.result(i)["observed"].as_f64().unwrap_or_else(|| panic!("no observed value: {}", self.result(i)))
    }

    fn at(&self, i: usize) -> f64 {
        self.result(i)["observed_at_s"].as_f64().unwrap_or_else(|| panic!("no observed time: {}", self.result(i)))
    }

    fn message(&self, i: usize) -> &str {
        self.result(i)["message"].as_str().unwrap()
    }

    /// Asserts the exit code and that every expectation has the verdict `passed`.
    fn all(&self, passed: bool) {
        assert_eq!(self.code, if passed { 0 } else { 1 }, "{}", self.stderr);
        for e in self.report["expectations"].as_array().unwrap() {
            assert_eq!(e["passed"], passed, "{e}");
            assert_eq!(e["message"].as_str().unwrap().is_empty(), passed, "{e}");
        }
    }
}

/// Runs the station for `duration` with `faults` and `expect` (RON list items).
fn run(name: &str, faults: &str, expect: &str, duration: &str) -> Run {
    let base = std::fs::read_to_string(root().join("tests/fixtures/expect/station.ron")).unwrap();
    let text = base.replacen("    faults: [],", &format!("    faults: [{faults}],"), 1).replacen(
        "    expect: [],",
        &format!("    expect: [\n        {expect}\n    ],"),
        1,
    );
    let dir = artifacts(&format!("expect_{name}"));
    let (scenario, report, junit) = (dir.join("scenario.ron"), dir.join("report.json"), dir.join("junit.xml"));
    std::fs::write(&scenario, text).unwrap();
    let out = twin(&[
        "run",
        scenario.to_str().unwrap(),
        "--duration",
        duration,
        "--report",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let code = out.status.code().expect("exit code");
    assert!(code == 0 || code == 1, "{name}: exit {code}: {}", stderr(&out));
    Run {
        code,
        report: serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap(),
        stderr: stderr(&out),
        junit: super::junit(&junit),
    }
}

/// The station's stuck winding-temperature sensor: frozen from 20 min on.
const STUCK_AT_20M: &str = r#"StuckSensor(signal: "M-1.winding_temp", at: "20m")"#;

#[test]
fn index_below_and_above_pass_and_fail() {
    let ok = run(
        "index_pass",
        "",
        r#"IndexBelow(asset: "P-1", index: VibrationRms, max: 4.5),
        IndexAbove(asset: "T-1", index: TankLevel, min: 0.5, when: End)"#,
        "15m",
    );
    ok.all(true);
    assert!(ok.observed(0) <= 4.5 && ok.observed(1) >= 0.5);
    assert_eq!(ok.at(1), 900.0, "checked at the end");

    let bad = run(
        "index_fail",
        "",
        r#"IndexBelow(asset: "P-1", index: Flow, max: 50.0, when: At("10m")),
        IndexAbove(asset: "M-1", index: WindingTemperature, min: 100.0, when: Between("5m", "10m"))"#,
        "15m",
    );
    bad.all(false);
    // At rated speed the pump delivers about its rated 100 m³/h, well above 50.
    assert_eq!(bad.result(0)["expectation"], "P-1 Flow <= 50 at 10m");
    let flow = bad.observed(0);
    assert!((90.0..110.0).contains(&flow), "{flow}");
    assert_eq!(bad.at(0), 600.0);
    assert_eq!(bad.message(0), format!("observed {flow:.6} at 0d 00:10:00"));
    // The winding warms from ambient; it is far below 100 °C when the window opens, the first violation.
    assert!(bad.observed(1) < 100.0);
    assert_eq!(bad.at(1), 300.0);
    assert!(bad.message(1).ends_with(" at 0d 00:05:00"), "{}", bad.message(1));
}

#[test]
fn rul_between_passes_and_fails() {
    // A healthy pump at its rated point has years of bearing life ahead.
    let ok = run("rul_pass", "", r#"RulBetween(asset: "P-1", min_h: 10000.0, max_h: 1000000.0)"#, "15m");
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "P-1 RemainingLifeHours in [10000, 1000000] h throughout the run");
    let rul = ok.observed(0);
    assert!((10_000.0..=1_000_000.0).contains(&rul), "{rul}");

    let bad = run(
        "rul_fail",
        "",
        r#"RulBetween(asset: "P-1", min_h: 0.0, max_h: 1000.0, when: At("5m")),
        RulBetween(asset: "P-1", min_h: 1000000.0, max_h: 10000000.0, when: End)"#,
        "15m",
    );
    bad.all(false);
    let (above, below) = (bad.observed(0), bad.observed(1));
    assert!(above > 1000.0 && below < 1_000_000.0, "{above} {below}");
    assert_eq!((bad.at(0), bad.at(1)), (300.0, 900.0));
    assert_eq!(bad.message(0), format!("observed {above:.6} at 0d 00:05:00"));
    assert_eq!(bad.message(1), format!("observed {below:.6} at 0d 00:15:00"));
    // RUL shrinks as the bearing runs (by about the elapsed hours).
    assert!(below < above && above - below < 1.0, "{above} {below}");
}

#[test]
fn alarm_raised_passes_and_fails() {
    let ok = run(
        "alarm_raised_pass",
        STUCK_AT_20M,
        r#"AlarmRaised(asset: "M-1", before: "30m", quantity: WindingTemperature, kind: Flatline)"#,
        "40m",
    );
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "drift alarm on M-1 WindingTemperature Flatline by 30m");
    assert_eq!(ok.observed(0), 1.0, "one alarm");
    // The flatline alarm needs 30 identical 1 s readings after the sensor froze.
    let raised = ok.at(0);
    assert!(raised > 1200.0 && raised <= 1230.0, "{raised}");
    assert_eq!(ok.report["sync"]["alarms"][0]["raised_s"], raised, "the report's alarm");

    let bad = run(
        "alarm_raised_fail",
        STUCK_AT_20M,
        r#"AlarmRaised(asset: "M-1", before: "20m"),
        AlarmRaised(asset: "P-1", before: "30m"),
        AlarmRaised(asset: "M-1", before: "30m", kind: ShiftUp)"#,
        "40m",
    );
    bad.all(false);
    // Too early: the alarm came, but after the deadline.
    assert_eq!((bad.observed(0), bad.at(0)), (0.0, 1200.0));
    assert!(
        bad.message(0).starts_with("no such drift alarm by 0d 00:20:00; the first was raised at 0d 00:20:")
            && bad.message(0).ends_with(": M-1 WindingTemperature Flatline (cause SensorFault(Stuck))"),
        "{}",
        bad.message(0)
    );
    // Nothing on the pump; and the motor's alarm is a flatline, not a shift.
    assert_eq!((bad.observed(1), bad.at(1)), (0.0, 1800.0));
    assert_eq!(bad.message(1), "no such drift alarm by 0d 00:30:00");
    assert!(bad.message(2).starts_with("no such drift alarm by 0d 00:30:00"), "{}", bad.message(2));
    assert!(
        bad.stderr.contains("FAIL drift alarm on P-1 by 30m: no such drift alarm by 0d 00:30:00"),
        "{}",
        bad.stderr
    );
}

#[test]
fn no_alarm_passes_and_fails() {
    let ok = run("no_alarm_pass", STUCK_AT_20M, r#"NoAlarm(asset: "P-1"), NoAlarm(before: "20m")"#, "40m");
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "no drift alarm on P-1 during the run");
    assert_eq!((ok.observed(0), ok.at(0)), (0.0, 2400.0));
    assert_eq!(ok.result(1)["expectation"], "no drift alarm on any asset by 20m");
    assert_eq!((ok.observed(1), ok.at(1)), (0.0, 1200.0));

    let bad = run("no_alarm_fail", STUCK_AT_20M, r#"NoAlarm(asset: "M-1"), NoAlarm()"#, "40m");
    bad.all(false);
    let raised = bad.report["sync"]["alarms"][0]["raised_s"].as_f64().unwrap();
    for i in 0..2 {
        assert_eq!((bad.observed(i), bad.at(i)), (1.0, raised));
        assert!(
            bad.message(i).starts_with("1 drift alarm(s), the first at 0d 00:20:")
                && bad.message(i).ends_with("M-1 WindingTemperature Flatline (cause SensorFault(Stuck))"),
            "{}",
            bad.message(i)
        );
    }
}

#[test]
fn drift_detected_passes_and_fails() {
    let ok = run(
        "drift_pass",
        &format!(r#"{STUCK_AT_20M}, BearingDefect(asset: "P-1", onset: "75m", severity: 0.6)"#),
        r#"DriftDetected(fault: 0, within: "1m"), DriftDetected(fault: 1, within: "15m"), NoAlarm(before: "20m")"#,
        "2h",
    );
    ok.all(true);
    assert_eq!(ok.result(1)["expectation"], "faults[1] BearingDefect P-1 detected within 15m of its onset");
    // The delays are those the report's alarm scoring gives.
    let scored = ok.report["sync"]["performance"]["alarms"]["faults"].as_array().unwrap();
    for (i, onset) in [(0, 1200.0), (1, 4500.0)] {
        let delay = ok.observed(i);
        assert_eq!(scored[i]["delay_s"], delay);
        assert_eq!(ok.at(i), onset + delay);
    }
    assert!(ok.observed(0) > 0.0 && ok.observed(0) <= 30.0, "a stuck sensor: 30 identical readings");
    assert!(ok.observed(1) > 0.0 && ok.observed(1) <= 900.0);

    let bad = run(
        "drift_fail",
        &format!(r#"{STUCK_AT_20M}, DriftingSensor(signal: "P-1.flow", at: "30m", rate_per_h: 0.01)"#),
        r#"DriftDetected(fault: 0, within: "10s"), DriftDetected(fault: 1, within: "10m"),
        DriftDetected(fault: 1, within: "1h")"#,
        "45m",
    );
    bad.all(false);
    // Detected, but later than asked.
    let delay = bad.observed(0);
    assert!(delay > 10.0);
    assert_eq!(bad.at(0), 1200.0 + delay);
    assert!(
        bad.message(0)
            .starts_with("faults[0] StuckSensor M-1.winding_temp (onset 0d 00:20:00) was first detected at 0d 00:20:")
            && bad.message(0).ends_with(&format!(", {delay:.0} s after its onset, later than 10s")),
        "{}",
        bad.message(0)
    );
    // A drift of 0.01 m³/h per hour is far below the flow meter's noise: never detected.
    assert!(bad.result(1)["observed"].is_null());
    assert_eq!(bad.at(1), 2400.0);
    assert_eq!(
        bad.message(1),
        "faults[1] DriftingSensor P-1.flow (onset 0d 00:30:00) was not detected by 0d 00:40:00, 10m after its onset"
    );
    assert_eq!(bad.at(2), 2700.0);
    assert_eq!(
        bad.message(2),
        "faults[1] DriftingSensor P-1.flow (onset 0d 00:30:00) was not detected by the end of the run at 0d 00:45:00, \
         before the deadline 0d 01:30:00"
    );
}

/// Drafts of the station's speed at 30 min: 1300 rpm is below the interlock's 1332 rpm; 1400 rpm is above it,
/// where the interlock asks for an NPSH margin of 6 the pump does not have; 1600 rpm is also outside the envelope.
#[test]
fn draft_accepted_passes_and_fails() {
    let ok = run("draft_accepted_pass", "", r#"DraftAccepted(setpoint: "P-1.speed", value: 1300.0, at: "30m")"#, "40m");
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "draft P-1.speed = 1300 rpm at 30m accepted");
    assert_eq!((ok.observed(0), ok.at(0)), (0.0, 1800.0), "no layer rejected it, at 30 min");

    let bad = run(
        "draft_accepted_fail",
        "",
        r#"DraftAccepted(setpoint: "P-1.speed", value: 1400.0, at: "30m"),
        DraftAccepted(setpoint: "P-1.speed", value: 1600.0, at: "30m")"#,
        "40m",
    );
    bad.all(false);
    assert_eq!((bad.observed(0), bad.at(0)), (1.0, 1800.0));
    assert!(
        bad.message(0).starts_with(
            "rejected at 0d 00:30:00 by Interlocks: interlock npsh-at-high-speed: above 1332 rpm, the NPSH margin of P-1 would be "
        ) && bad.message(0).ends_with(", required above 6"),
        "{}",
        bad.message(0)
    );
    // Every failing layer is named with its reason: the envelope, the interlock, and the forecast (not run).
    assert_eq!(bad.observed(1), 3.0);
    let m = bad.message(1);
    assert!(
        m.starts_with("rejected at 0d 00:30:00 by Envelope: 1600 rpm is outside the envelope [600, 1480] rpm; "),
        "{m}"
    );
    assert!(m.contains("; Interlocks: interlock npsh-at-high-speed: above 1332 rpm, "), "{m}");
    assert!(m.ends_with("; Forecast: not run: the value is outside the envelope"), "{m}");
}

#[test]
fn draft_rejected_passes_and_fails_naming_the_layer() {
    let ok = run(
        "draft_rejected_pass",
        "",
        r#"DraftRejected(setpoint: "P-1.speed", value: 1400.0, at: "30m", layer: Interlocks),
        DraftRejected(setpoint: "P-1.speed", value: 1600.0, at: "30m", layer: Envelope),
        DraftRejected(setpoint: "P-1.speed", value: 1600.0, at: "30m")"#,
        "40m",
    );
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "draft P-1.speed = 1400 rpm at 30m rejected by Interlocks");
    assert_eq!(ok.result(2)["expectation"], "draft P-1.speed = 1600 rpm at 30m rejected");
    assert_eq!((ok.observed(0), ok.at(0)), (1.0, 1800.0));

    let bad = run(
        "draft_rejected_fail",
        "",
        r#"DraftRejected(setpoint: "P-1.speed", value: 1300.0, at: "30m", layer: Interlocks),
        DraftRejected(setpoint: "P-1.speed", value: 1400.0, at: "30m", layer: Envelope)"#,
        "40m",
    );
    bad.all(false);
    assert_eq!((bad.observed(0), bad.at(0)), (0.0, 1800.0));
    assert_eq!(bad.message(0), "accepted by every layer at 0d 00:30:00");
    // Rejected, but by another layer than the one named.
    assert_eq!((bad.observed(1), bad.at(1)), (1.0, 1800.0));
    let m = bad.message(1);
    assert!(m.starts_with("rejected at 0d 00:30:00 by Interlocks: interlock npsh-at-high-speed"), "{m}");
    assert!(m.ends_with(", but Envelope passed: 1400 rpm is within [600, 1480] rpm"), "{m}");
}

#[test]
fn a_draft_expectation_changes_nothing_else_in_the_run() {
    let plain = run("draft_none", "", r#"NoSampleDropped"#, "40m");
    let drafted = run(
        "draft_some",
        "",
        r#"NoSampleDropped, DraftAccepted(setpoint: "P-1.speed", value: 1300.0, at: "30m"),
        DraftRejected(setpoint: "P-1.speed", value: 1400.0, at: "10m")"#,
        "40m",
    );
    plain.all(true);
    drafted.all(true);
    for key in ["series", "assets", "sync", "ingest", "ingest_by_signal", "t_s"] {
        assert!(plain.report[key] == drafted.report[key], "{key} differs with the drafts");
    }
}

#[test]
fn no_sample_dropped_passes_and_fails() {
    // A 1 h broker outage: the edge holds ~22,000 messages and releases them at once; the twin's 65,536-message
    // channel takes them all.
    let ok = run("dropped_pass", r#"BrokerOutage(at: "10m", duration: "1h")"#, "NoSampleDropped", "80m");
    ok.all(true);
    assert_eq!(ok.result(0)["expectation"], "no sample dropped during the run");
    assert_eq!((ok.observed(0), ok.at(0)), (0.0, 4800.0));

    // A 3 h outage: ~66,000 held messages (6.1 a second) arrive in one burst when the broker is back, at 3h10m,
    // and overflow the channel.
    let bad = run("dropped_fail", r#"BrokerOutage(at: "10m", duration: "3h")"#, "NoSampleDropped", "195m");
    bad.all(false);
    let dropped = bad.observed(0);
    assert!(dropped > 0.0);
    assert_eq!(bad.report["ingest"]["dropped_channel_full"], dropped as u64, "the report's channel drops");
    assert_eq!(bad.at(0), 11_400.0, "the burst's tick");
    let m = format!(
        "{dropped} sample(s) lost on their way to the twin (refused by a full channel), the first by 0d 03:10:00"
    );
    assert_eq!(bad.message(0), m);
    let failure = bad.junit.1.iter().flat_map(|s| &s.cases).find_map(|c| c.1.clone());
    assert_eq!(failure.as_deref(), Some(m.as_str()), "{:?}", bad.junit);
}
