//! The history store as other tools see it: a store written by `twin run --store` is read with Python's sqlite3
//! module (not the project's code) and holds every accepted sample once, in canonical units, with the indices,
//! events and roll-ups; `twin history export` writes CSV that Python's csv module reads back and Parquet that
//! pyarrow reads with the same rows; a store of another
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
    assert_eq!(got["meta"]["schema_version"], "2");
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

/// `twin history export` of minutes 2 to 4 (inclusive) of the virtual plant's day, which starts at
/// 2026-01-01T00:00:00Z, from `store` with `extra` flags, as `format` into `output`.
fn export_minutes_2_to_4(store: &Path, extra: &[&str], format: &str, output: &Path) -> std::process::Output {
    let mut args = vec!["history", "export", "--store", store.to_str().unwrap()];
    args.extend(["--from", "2026-01-01T00:02:00Z", "--to", "2026-01-01T00:04:00Z", "--format", format]);
    args.extend(extra);
    args.extend(["--output", output.to_str().unwrap()]);
    twin(&args)
}

#[test]
fn twin_history_export_writes_csv_that_pythons_csv_module_reads_back() {
    let dir = artifacts("store-export");
    let path = dir.join("station.twin.sqlite");
    run_into(&path, "10m");
    let csv = dir.join("p101.csv");
    let out = export_minutes_2_to_4(&path, &["--asset", "P-101"], "csv", &csv);
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
fn twin_history_export_writes_parquet_that_pyarrow_reads_with_the_same_rows_as_the_csv() {
    let dir = artifacts("store-parquet");
    let path = dir.join("station.twin.sqlite");
    run_into(&path, "10m");
    let export = |format: &str, output: &Path| export_minutes_2_to_4(&path, &[], format, output);
    let (csv, parquet) = (dir.join("all.csv"), dir.join("all.parquet"));
    let out = export("csv", &csv);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = export("parquet", &parquet);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Every signal of the station at 1 Hz over 121 s (P-101's four, M-101's current and temperature, the tank's
    // level): as many rows as the CSV has.
    let n: u64 = stderr(&out).split_whitespace().next().unwrap().parse().unwrap();
    assert!(stderr(&out).contains("samples exported"), "{}", stderr(&out));
    assert!(!dir.join("all.parquet.partial").exists(), "the partial file was renamed");
    let script = r#"
import csv, json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[2])))
cols = t.to_pydict()
same = all(
    cols["signal"][i] == r["signal"] and cols["asset"][i] == r["asset"] and cols["unit"][i] == r["unit"]
    and cols["quantity"][i] == r["quantity"] and cols["value"][i] == float(r["value"])
    and cols["t_unix_s"][i] == float(r["t_unix_s"])
    and cols["t_utc"][i].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" == r["t_utc"]
    for i, r in enumerate(rows))
print(json.dumps({"rows": t.num_rows, "csv_rows": len(rows), "same": same,
                  "types": {f.name: str(f.type) for f in t.schema}}))
"#;
    let py = super::serve::peers_python();
    let got = Command::new(&py).arg("-c").arg(script).arg(&parquet).arg(&csv).output().unwrap();
    assert!(got.status.success(), "pyarrow: {}", String::from_utf8_lossy(&got.stderr));
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(got["rows"], n);
    assert_eq!(got["csv_rows"], n);
    assert!(n >= 484, "{n}");
    assert_eq!(got["same"], true, "the Parquet rows are the CSV's");
    assert_eq!(got["types"]["t_utc"], "timestamp[ms, tz=UTC]");
    assert_eq!(got["types"]["value"], "double");
    assert_eq!(got["types"]["signal"], "string");

    // Parquet is not written to standard output; an unwritable place is bad input and leaves nothing behind.
    let out = twin(&["history", "export", "--store", path.to_str().unwrap(), "--format", "parquet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("a Parquet export needs --output FILE"), "{}", stderr(&out));
    let nowhere = dir.join("missing-dir/x.parquet");
    let out = export("parquet", &nowhere);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing-dir/x.parquet"), "{}", stderr(&out));
    assert!(!dir.join("missing-dir").exists());
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
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute(\"UPDATE meta SET value = '3' WHERE key = 'schema_version'\")\nc.commit()\nc.execute('PRAGMA journal_mode = DELETE')\n";
    python(script, &[future.to_str().unwrap()]);
    let before = std::fs::read(&future).unwrap();
    let out = run(&future, "scenes/pump_station.ron");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("store schema version 3; this build reads versions 1 and 2"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&future).unwrap(), before);
    // Export refuses them the same way.
    let out = twin(&["history", "export", "--store", corrupt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a twin history store"), "{}", stderr(&out));
}

/// The pump station's twin fed by its virtual plant in-process (deterministic), after `hours` of simulated time.
fn station_twin(hours: u64) -> bevy::prelude::App {
    let scenario = std::sync::Arc::new(twin::scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap());
    let mut app = twin::app::headless_app(scenario.clone(), 1);
    twin::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).unwrap();
    advance(&mut app, hours);
    app
}

/// Runs `app` `hours` further, a simulated minute per tick.
fn advance(app: &mut bevy::prelude::App, hours: u64) {
    for _ in 0..hours * 60 {
        app.world_mut().resource_mut::<twin::twin::SimClock>().pending_steps = 60;
        app.update();
    }
}

/// Everything compared between two twins: every index of every asset, the pumps' states, the assimilation's
/// counters, alarms and recalibrations, the ingestion counters (as their `Debug` text: equal text, equal bits).
fn fingerprint(app: &bevy::prelude::App) -> Vec<String> {
    let w = app.world();
    let scenario = w.resource::<twin::twin::LoadedScenario>().0.clone();
    let mut out = vec![format!("t {}", w.resource::<twin::twin::SimClock>().now_s)];
    for a in &scenario.assets {
        for i in twin::scenario::Index::of_kind(a.kind.name()) {
            out.push(format!("{} {i:?} {:?}", a.id, twin::twin::read_index(w, &a.id, i)));
        }
        let e = w.resource::<twin::twin::AssetIndex>().0[&a.id];
        if let Some(s) = w.get::<twin::twin::pump::PumpState>(e) {
            out.push(format!("{} {:?}", a.id, s.0));
        }
        if let Some(d) = w.get::<twin::assess::defect::DefectTracker>(e) {
            out.push(format!("{} {d:?}", a.id));
        }
    }
    let s = w.resource::<twin::sync::Assimilation>();
    out.push(format!("{:?} {:?} {:?}", s.counters, s.alarms, s.recalibrations));
    out.push(format!("{:?}", w.resource::<twin::ingest::Telemetry>().counters()));
    out
}

#[test]
fn a_twin_restored_from_a_checkpoint_goes_on_exactly_as_the_uninterrupted_twin() {
    use twin::store::checkpoint;
    // Checkpoint at 14 h (after the bearing defect's onset at 12 h), restore into a new twin, run 2 h more.
    let first = station_twin(14);
    let taken = checkpoint::take(first.world()).unwrap();
    let row = twin_store::CheckpointRow {
        id: 1,
        t_unix_s: taken.t_unix_s,
        written_unix_s: 0.0,
        format: checkpoint::FORMAT,
        twin_version: String::new(),
        scenario_digest: checkpoint::digest(&first.world().resource::<twin::twin::LoadedScenario>().0),
        messages: taken.messages as i64,
        state: taken.state,
    };
    drop(first);
    let mut resumed = station_twin(0);
    let scenario = resumed.world().resource::<twin::twin::LoadedScenario>().0.clone();
    let decoded = checkpoint::decode("test", &row, &scenario).unwrap();
    checkpoint::restore(resumed.world_mut(), "test", decoded).unwrap();
    // The plant went on while the twin was restarted; its publications up to the checkpoint were taken already.
    twin::plant::inprocess::fast_forward(&mut resumed, 14.0 * 3600.0);
    advance(&mut resumed, 2);

    let uninterrupted = station_twin(16);
    let (a, b) = (fingerprint(&uninterrupted), fingerprint(&resumed));
    assert!(a.iter().any(|l| l.contains("BearingWear Some(")), "{a:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), b.len());
}
