//! `twin run`: 24 h headless runs of every bundled scenario, reports and JUnit, exit codes, and determinism.

use super::{artifacts, scenes, stderr, twin};

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
}

#[test]
fn every_bundled_scenario_runs_24h_headless_and_passes() {
    let dir = artifacts("headless_24h");
    for scene in scenes() {
        let stem = scene.file_stem().unwrap().to_str().unwrap().to_owned();
        let report = dir.join(format!("{stem}.json"));
        let junit = dir.join(format!("{stem}.xml"));
        let out = twin(&[
            "run",
            scene.to_str().unwrap(),
            "--duration",
            "24h",
            "--report",
            report.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", scene.display(), stderr(&out));
        let r = json(&report);
        assert_eq!(r["steps"], 86_400, "1 s model step for 24 h");
        assert_eq!(r["duration_s"], 86_400.0);
        assert_eq!(r["passed"], true);
        // The in-process virtual plant's telemetry went through ingestion: every signal, nothing dropped.
        let ingest = &r["ingest"];
        assert_eq!(ingest["dropped_channel_full"], 0, "{ingest}");
        assert_eq!(ingest["plant_publications_refused"], 0, "{ingest}");
        for (signal, counts) in r["ingest_by_signal"].as_object().unwrap() {
            assert!(counts["accepted"].as_u64().unwrap_or(0) > 1000, "{stem}: {signal} barely received: {counts}");
            assert!(counts.get("out_of_range").is_none() && counts.get("late").is_none(), "{stem}: {signal}: {counts}");
        }
        let n = r["expectations"].as_array().unwrap().len();
        assert!(n > 0, "{stem} has expectations");
        let (counts, suites) = super::junit(&junit);
        assert_eq!(suites.iter().map(|s| s.cases.len()).sum::<usize>(), n);
        assert_eq!(counts, (n as u64, 0, 0), "{stem}: tests, failures, errors");
        // Every series is sampled at the same times, from 0 to the end of the run.
        let t = r["t_s"].as_array().unwrap();
        assert_eq!(t.first().unwrap(), 0.0);
        assert_eq!(t.last().unwrap(), 86_400.0);
        for s in r["series"].as_array().unwrap() {
            assert_eq!(s["values"].as_array().unwrap().len(), t.len());
        }
    }
}

#[test]
fn same_seed_gives_a_byte_identical_report_and_another_seed_does_not() {
    let dir = artifacts("determinism");
    let run = |seed: &str, name: &str| {
        let path = dir.join(name);
        let out = twin(&[
            "run",
            "scenes/pump_station.ron",
            "--duration",
            "6h",
            "--seed",
            seed,
            "--report",
            path.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::read(path).unwrap()
    };
    let a = run("7", "a.json");
    let b = run("7", "b.json");
    let c = run("8", "c.json");
    assert!(a == b, "two runs with seed 7 differ");
    assert!(a != c, "the seed has no effect on the run");
}

#[test]
fn a_failing_expectation_exits_1_and_says_what_when_and_how_much() {
    let dir = artifacts("failing");
    let report = dir.join("r.json");
    let junit = dir.join("r.xml");
    let out = twin(&[
        "run",
        "tests/fixtures/failing_expectation.ron",
        "--duration",
        "3h",
        "--report",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("PASS P-1 BearingWear <= 0.5 throughout the run"), "{err}");
    assert!(err.contains("FAIL P-1 VibrationRms <= 0.01 between 1h and 2h: observed"), "{err}");
    assert!(err.contains("at 0d 01:00:00"), "first violation is at the window's start: {err}");
    assert!(
        err.contains(
            "FAIL T-1 TankLevel >= 0.1 at 30d: the run ended at 0d 03:00:00 before the expectation's time 30d 00:00:00"
        ),
        "{err}"
    );
    let r = json(&report);
    assert_eq!(r["passed"], false);
    let failed = &r["expectations"][1];
    assert_eq!(failed["passed"], false);
    assert_eq!(failed["observed_at_s"], 3600.0);
    assert!(failed["observed"].as_f64().unwrap() > 0.01);
    let (counts, suites) = super::junit(&junit);
    assert_eq!(counts.1, 2, "two failures");
    assert!(suites[0].cases.iter().any(|c| c.1.as_deref().is_some_and(|m| m.starts_with("observed"))), "{suites:?}");
}

#[test]
fn bad_flags_are_bad_input() {
    for args in [
        vec!["run", "scenes/pump_station.ron", "--duration", "soon"],
        vec!["run", "scenes/pump_station.ron", "--speed", "warp"],
        vec!["run", "scenes/pump_station.ron", "--duration", "0s"],
    ] {
        let out = twin(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

#[test]
fn a_recorded_run_and_its_replay_ingest_the_same_samples_and_give_the_same_indices() {
    let dir = artifacts("record_replay");
    let (rec, a, b) = (dir.join("rec.jsonl"), dir.join("a.json"), dir.join("b.json"));
    let base = ["run", "scenes/pump_station.ron", "--duration", "2h", "--seed", "3", "-q"];
    let out = twin(&[&base[..], &["--record", rec.to_str().unwrap(), "--report", a.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = twin(&[&base[..], &["--replay", rec.to_str().unwrap(), "--report", b.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (a, b) = (json(&a), json(&b));
    assert!(a["ingest"]["accepted"].as_u64().unwrap() > 40_000);
    for key in ["accepted", "messages", "reordered", "duplicate", "late"] {
        assert_eq!(a["ingest"][key], b["ingest"][key], "{key}");
    }
    assert_eq!(a["ingest_by_signal"], b["ingest_by_signal"]);
    assert_eq!(a["series"], b["series"]);
    let lines = std::fs::read_to_string(&rec).unwrap().lines().count() as u64;
    assert_eq!(lines, a["ingest"]["messages"].as_u64().unwrap(), "every received message is recorded");
}

#[test]
fn a_bad_recording_is_bad_input_naming_its_line() {
    let dir = artifacts("bad_recording");
    let rec = dir.join("bad.jsonl");
    std::fs::write(
        &rec,
        "{\"topic\":\"plant/p101/flow\",\"received_unix_s\":1767225601.0,\"payload\":\"{}\"}\n{\"topic\": 5}\n",
    )
    .unwrap();
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "1h", "--replay", rec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:2: invalid type"), "{}", stderr(&out));
}
