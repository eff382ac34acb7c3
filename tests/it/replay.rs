//! `twin run --replay FILE.csv`: data from elsewhere, replayed through the same ingestion as live data; and
//! reports byte-identical across `--threads`, for the virtual plant and for a replay, with no ambiguously ordered
//! systems.

use bevy::ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel};
use bevy::prelude::*;

use super::{artifacts, scenes, stderr, twin};

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
}

fn counts(r: &serde_json::Value, signal: &str, key: &str) -> u64 {
    r["ingest_by_signal"][signal][key].as_u64().unwrap_or(0)
}

#[test]
fn a_hand_written_csv_replays_and_is_validated_like_live_data() {
    let dir = artifacts("csv_replay");
    let (report, rec, again) = (dir.join("r.json"), dir.join("rec.jsonl"), dir.join("again.json"));
    // tests/fixtures/replay/site_log.csv: an hour of five sensors every 10 s, written by make_site_log.py beside
    // it (not by the twin), with one out-of-range level, one NaN flow and six empty vibration cells.
    let out = twin(&[
        "run",
        "scenes/pump_station.ron",
        "--replay",
        "tests/fixtures/replay/site_log.csv",
        "--duration",
        "1h",
        "--report",
        report.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&report);
    let ingest = &r["ingest"];
    assert_eq!(ingest["messages"], 361 * 5 - 6, "one message per non-empty cell: {ingest}");
    assert_eq!(ingest["out_of_range"], 1, "{ingest}");
    assert_eq!(ingest["non_finite"], 1, "{ingest}");
    assert_eq!(ingest["accepted"], 361 * 5 - 6 - 2, "{ingest}");
    assert_eq!(counts(&r, "T-1.level", "out_of_range"), 1);
    assert_eq!(counts(&r, "P-101.flow", "non_finite"), 1);
    assert_eq!(counts(&r, "P-101.vib_rms", "accepted"), 361 - 6);
    assert_eq!(counts(&r, "P-101.vib_peak", "accepted"), 0, "no column, no samples");
    // The samples drove the twin: its level follows the logged level (3.0 m falling to 2.8 m) away from the
    // model's own 3.5 m start, and the 7.25 m reading never reached it.
    let level = &r["assets"].as_array().unwrap().iter().find(|a| a["id"] == "T-1").unwrap()["indices"]["level_m"];
    let last = level["last"].as_f64().unwrap();
    assert!((last - 2.8).abs() < 0.1, "level {level}");
    assert!(level["max"].as_f64().unwrap() < 3.6, "level {level}");
    // What the twin received from the CSV, recorded, replays to the same report.
    let out = twin(&[
        "run",
        "scenes/pump_station.ron",
        "--replay",
        rec.to_str().unwrap(),
        "--duration",
        "1h",
        "--report",
        again.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read(&report).unwrap() == std::fs::read(&again).unwrap(), "the recording's replay differs");
}

#[test]
fn a_csv_whose_quoted_fields_hold_commas_replays() {
    // A historian's export: the level tag is named "T1,LT-001" (the scenario's signal id holds a comma), so the
    // header quotes it, and the export quotes every value as well.
    let dir = artifacts("csv_quoted_comma");
    let text = std::fs::read_to_string(super::root().join("scenes/pump_station.ron")).unwrap();
    let scenario = dir.join("station.ron");
    std::fs::write(&scenario, text.replace(r#"(id: "T-1.level","#, r#"(id: "T1,LT-001","#)).unwrap();
    let csv = dir.join("log.csv");
    let mut rows = String::from("t_s,\"T1,LT-001\",P-101.flow\n");
    for k in 0..=60 {
        rows.push_str(&format!("{},\"{:.3}\",\"{}\"\n", k * 10, 3.0 - 0.002 * f64::from(k), 240));
    }
    std::fs::write(&csv, rows).unwrap();
    let report = dir.join("r.json");
    let (s, c, r) = (scenario.to_str().unwrap(), csv.to_str().unwrap(), report.to_str().unwrap());
    let out = twin(&["run", s, "--replay", c, "--duration", "10m", "--report", r, "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&report);
    assert_eq!(counts(&r, "T1,LT-001", "accepted"), 61, "{}", r["ingest_by_signal"]);
    assert_eq!(counts(&r, "P-101.flow", "accepted"), 61);
    let level = &r["assets"].as_array().unwrap().iter().find(|a| a["id"] == "T-1").unwrap()["indices"]["level_m"];
    assert!((level["last"].as_f64().unwrap() - 2.88).abs() < 0.05, "the logged level drove the twin: {level}");
}

#[test]
fn a_csv_with_malformed_rows_is_bad_input_listing_every_line() {
    let dir = artifacts("csv_bad");
    let report = dir.join("r.json");
    let out = twin(&[
        "run",
        "scenes/pump_station.ron",
        "--replay",
        "tests/fixtures/replay/bad_rows.csv",
        "--duration",
        "1h",
        "--report",
        report.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let f = "tests/fixtures/replay/bad_rows.csv";
    for want in [
        format!("{f}:4: expected 3 fields as in the header, found 2"),
        format!("{f}:5: t_s \"ten\" is not a finite number of seconds"),
        format!("{f}:6: unknown signal \"P-101.flwo\"; known signals: "),
        format!("{f}:7: value \"n/a\" of T-1.level is not a number"),
        format!("{f}:8: expected 3 fields as in the header, found 4"),
        format!("{f}:9: time goes back to 15 s after 30 s: rows must be in time order"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in\n{err}");
    }
    for good in [2, 3, 10] {
        assert!(!err.contains(&format!("{f}:{good}:")), "line {good} is fine: {err}");
    }
    assert!(!report.exists(), "nothing is run on a bad file");
}

#[test]
fn reports_are_byte_identical_across_threads_for_the_plant_and_for_a_replay() {
    let dir = artifacts("threads");
    let run = |name: &str, extra: &[&str]| {
        let path = dir.join(name);
        let base = ["run", "scenes/booster_station.ron", "--duration", "3h", "--seed", "5", "-q", "--report"];
        let out = twin(&[&base[..], &[path.to_str().unwrap()], extra].concat());
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        std::fs::read(path).unwrap()
    };
    let rec = dir.join("rec.jsonl");
    let one = run("t1.json", &["--threads", "1", "--record", rec.to_str().unwrap()]);
    let two = run("t2.json", &["--threads", "2"]);
    let three = run("t3.json", &["--threads", "3"]);
    assert!(one == two, "--threads 2 changed the report");
    assert!(one == three, "--threads 3 changed the report");
    let replay = |name: &str, threads: &str| run(name, &["--threads", threads, "--replay", rec.to_str().unwrap()]);
    let r1 = replay("r1.json", "1");
    assert!(r1 == replay("r2.json", "2"), "--threads 2 changed the replay's report");
    let csv = |name: &str, threads: &str| {
        let path = dir.join(name);
        let out = twin(&[
            "run",
            "scenes/pump_station.ron",
            "--replay",
            "tests/fixtures/replay/site_log.csv",
            "--duration",
            "1h",
            "--threads",
            threads,
            "-q",
            "--report",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::read(path).unwrap()
    };
    assert!(csv("c1.json", "1") == csv("c2.json", "2"), "--threads 2 changed the CSV replay's report");
}

#[test]
fn no_two_systems_touching_the_same_data_are_left_unordered() {
    // The multi-threaded executor (`--threads` > 1) may run unordered systems in either order; with none that
    // conflict, the order cannot change a result. Bevy's ambiguity check fails the first update otherwise.
    for scene in scenes() {
        let s = std::sync::Arc::new(twin::scenario::load(&scene).expect("valid"));
        let mut app = twin::app::headless_app_threaded(s.clone(), 1, 2);
        twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 1, None).expect("plant");
        for label in [First.intern(), PreUpdate.intern(), Update.intern(), PostUpdate.intern(), Last.intern()] {
            app.edit_schedule(label, |schedule| {
                schedule.set_build_settings(ScheduleBuildSettings {
                    ambiguity_detection: LogLevel::Error,
                    ..Default::default()
                });
            });
        }
        app.update();
    }
}
