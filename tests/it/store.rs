//! The history store as other tools see it: a store written by `twin run --store` is read with Python's sqlite3
//! module (not the project's code) and holds every accepted sample once, in canonical units, with the indices,
//! events and roll-ups; `twin history export` writes CSV that Python's csv module reads back; a store of another
//! scenario, a corrupt file and another schema version are refused with exit 2 and left as they were.

use std::path::Path;
use std::process::Command;

use super::{artifacts, stderr, twin};

/// Runs Debian's Python on `script` with `args`; its standard output.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3").arg("-c").arg(script).args(args).output().expect("python3");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A two-hour run of the pump station into a fresh store at `path`, with its report; the report.
fn run_into(path: &Path, duration: &str) -> serde_json::Value {
    let _ = std::fs::remove_file(path);
    let report = path.with_extension("report.json");
    let out = twin(&[
        "run",
        "scenes/pump_station.ron",
        "--duration",
        duration,
        "-q",
        "--store",
        path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

const READ: &str = r#"
import json, sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
q = lambda sql: c.execute(sql).fetchall()
print(json.dumps({
    "meta": dict(q("SELECT key, value FROM meta")),
    "per_signal": {n: k for n, k in q("SELECT g.name, COUNT(*) FROM samples s JOIN signals g ON g.id = s.signal GROUP BY g.name")},
    "units": {n: u for n, u in q("SELECT name, unit FROM signals")},
    "duplicates": q("SELECT COUNT(*) FROM (SELECT signal, t_unix_s FROM samples GROUP BY 1, 2 HAVING COUNT(*) > 1)")[0][0],
    "flow_mean": q("SELECT AVG(value) FROM samples s JOIN signals g ON g.id = s.signal WHERE g.name = 'P-101.flow'")[0][0],
    "minutes": q("SELECT COUNT(*) FROM rollups r JOIN signals g ON g.id = r.signal WHERE g.name = 'P-101.flow' AND bucket_s = 60")[0][0],
    "minute_n": q("SELECT MIN(n), MAX(n) FROM rollups r JOIN signals g ON g.id = r.signal WHERE g.name = 'P-101.flow' AND bucket_s = 60 AND t_unix_s > (SELECT MIN(t_unix_s) FROM rollups) AND t_unix_s < (SELECT MAX(t_unix_s) FROM rollups)")[0],
    "wear_rows": q("SELECT COUNT(*), MIN(value), MAX(value) FROM indices WHERE asset = 'P-101' AND name = 'bearing_wear'")[0],
    "journal": q("PRAGMA journal_mode")[0][0],
}))
"#;

#[test]
fn a_store_written_by_twin_run_is_read_by_pythons_sqlite3_with_every_accepted_sample_once() {
    let dir = artifacts("store");
    let path = dir.join("station.twin.sqlite");
    let report = run_into(&path, "2h");
    let got: serde_json::Value = serde_json::from_str(&python(READ, &[path.to_str().unwrap()])).unwrap();
    assert_eq!(got["meta"]["scenario"], "Water treatment pump station");
    assert_eq!(got["meta"]["schema_version"], "1");
    assert_eq!(got["journal"], "wal");
    // Every sample the twin accepted is in the store once, per signal, in the signal's canonical unit.
    for (signal, counts) in report["ingest_by_signal"].as_object().unwrap() {
        assert_eq!(got["per_signal"][signal], counts["accepted"], "{signal}: stored vs accepted");
    }
    assert_eq!(got["per_signal"]["P-101.vib_rms"], 7200);
    assert_eq!(got["duplicates"], 0);
    assert_eq!(got["units"]["M-101.winding_temp"], "degC");
    assert_eq!(got["units"]["P-101.flow"], "m3/h");
    // The plant pumps about its rated 250 m³/h.
    let flow = got["flow_mean"].as_f64().unwrap();
    assert!((200.0..270.0).contains(&flow), "mean flow {flow} m³/h");
    // One-minute roll-ups of the 1 Hz flow (samples at 1 s .. 7200 s: 121 minutes, the first and last partial),
    // 60 samples in each full minute.
    assert_eq!(got["minutes"], 121);
    assert_eq!(got["minute_n"], serde_json::json!([60, 60]));
    // The indices once a simulated minute from t = 0: the bearing's wear from its history (0.596).
    let wear = &got["wear_rows"];
    assert_eq!(wear[0], 121);
    assert!((wear[1].as_f64().unwrap() - 0.596).abs() < 0.005, "{wear}");

    // The same run again adds nothing: a sample is its signal and event time.
    let again = run_into(&dir.join("again.twin.sqlite"), "2h");
    assert_eq!(again["ingest"], report["ingest"]);
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "2h", "-q", "--store", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let twice: serde_json::Value = serde_json::from_str(&python(READ, &[path.to_str().unwrap()])).unwrap();
    assert_eq!(twice["per_signal"], got["per_signal"]);
    assert_eq!(twice["wear_rows"], got["wear_rows"]);
}

#[test]
fn twin_history_export_writes_csv_that_pythons_csv_module_reads_back() {
    let dir = artifacts("store-export");
    let path = dir.join("station.twin.sqlite");
    run_into(&path, "10m");
    let csv = dir.join("p101.csv");
    // Minutes 2 to 4 (inclusive) of the virtual plant's day, which starts at 2026-01-01T00:00:00Z.
    let out = twin(&[
        "history",
        "export",
        "--store",
        path.to_str().unwrap(),
        "--from",
        "2026-01-01T00:02:00Z",
        "--to",
        "2026-01-01T00:04:00Z",
        "--asset",
        "P-101",
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("484 samples exported"), "{}", stderr(&out));
    let script = r#"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(json.dumps({"n": len(rows), "signals": sorted({r["signal"] for r in rows}), "first": rows[0], "last": rows[-1]}))
"#;
    let got: serde_json::Value = serde_json::from_str(&python(script, &[csv.to_str().unwrap()])).unwrap();
    // P-101's four signals at 1 Hz over 121 s.
    assert_eq!(got["n"], 484);
    assert_eq!(got["signals"], serde_json::json!(["P-101.flow", "P-101.vib_crest", "P-101.vib_peak", "P-101.vib_rms"]));
    assert_eq!(got["first"]["t_utc"], "2026-01-01T00:02:00.000Z");
    assert_eq!(got["last"]["t_utc"], "2026-01-01T00:04:00.000Z");
    assert_eq!(got["first"]["unit"], "m3/h");
}

#[test]
fn a_store_of_another_scenario_a_corrupt_store_and_another_schema_are_refused_and_left_untouched() {
    let dir = artifacts("store-refused");
    let path = dir.join("station.twin.sqlite");
    run_into(&path, "10m");
    let run = |store: &Path, scenario: &str| {
        twin(&["run", scenario, "--duration", "10m", "-q", "--store", store.to_str().unwrap()])
    };
    // Another scenario's store.
    let before = std::fs::read(&path).unwrap();
    let out = run(&path, "scenes/booster_station.ron");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("belongs to scenario \"Water treatment pump station\", not \"Booster station"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "the store is untouched");
    // A corrupt store: its first page overwritten.
    let corrupt = dir.join("corrupt.twin.sqlite");
    let mut bytes = before.clone();
    bytes[..100].fill(0x5a);
    std::fs::write(&corrupt, &bytes).unwrap();
    let out = run(&corrupt, "scenes/pump_station.ron");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a twin history store"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&corrupt).unwrap(), bytes, "the corrupt store is untouched");
    // A store of another schema version (changed by Python's sqlite3).
    let future = dir.join("future.twin.sqlite");
    std::fs::copy(&path, &future).unwrap();
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE meta SET value = '2' WHERE key = 'schema_version'\")\nc.commit()\nc.execute('PRAGMA journal_mode = DELETE')\n";
    python(script, &[future.to_str().unwrap()]);
    let before = std::fs::read(&future).unwrap();
    let out = run(&future, "scenes/pump_station.ron");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("store schema version 2; this build reads version 1"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&future).unwrap(), before);
    // Export refuses them the same way.
    let out = twin(&["history", "export", "--store", corrupt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a twin history store"), "{}", stderr(&out));
}
