//! The store against hand-computed contents: round trips, roll-ups, retention, and refusals that leave the file
//! as it was.

use super::*;

fn vib() -> SignalInfo {
    SignalInfo {
        name: "P-101.vib_rms".into(),
        asset: "P-101".into(),
        quantity: "VibrationVelocityRms".into(),
        unit: "mm/s".into(),
    }
}

fn sample(signal: i64, t: f64, value: f64) -> Record {
    Record::Sample { signal, t_unix_s: t, received_unix_s: t + 0.01, value, flags: 0 }
}

#[test]
fn samples_indices_and_events_round_trip_and_a_reopened_store_keeps_its_signals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.twin.sqlite");
    let mut s = Store::open(&path, "Station").unwrap();
    let id = s.register(&vib()).unwrap();
    assert_eq!(s.register(&vib()).unwrap(), id, "registering again finds the same signal");
    s.write(&[
        sample(id, 100.0, 1.5),
        sample(id, 101.0, 1.6),
        Record::Index { asset: "P-101".into(), name: "bearing_wear", t_unix_s: 101.0, value: 0.6 },
        Record::Event { t_unix_s: 101.0, kind: "alarm", asset: Some("P-101".into()), detail: "{}".into() },
    ])
    .unwrap();
    assert_eq!(s.samples("P-101.vib_rms", 0.0, 1e9).unwrap(), vec![(100.0, 1.5), (101.0, 1.6)]);
    // A redelivered sample (same signal and event time) is not stored twice.
    s.write(&[sample(id, 101.0, 9.9), sample(id, 102.0, 1.7)]).unwrap();
    assert_eq!(s.samples("P-101.vib_rms", 100.5, 1e9).unwrap(), vec![(101.0, 1.6), (102.0, 1.7)]);
    drop(s);
    let s = Store::open(&path, "Station").unwrap();
    assert_eq!(s.signals().unwrap(), vec![(id, vib())]);
    assert_eq!(s.counts().unwrap(), (3, 0, 1, 1));
    assert_eq!(s.meta("schema_version").unwrap(), Some("1".into()));
}

#[test]
fn roll_ups_hold_count_mean_min_and_max_per_minute_and_hour_and_retention_deletes_rolled_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("t.twin.sqlite"), "Station").unwrap();
    let id = s.register(&vib()).unwrap();
    // Two hours of 1 Hz samples: value = t mod 60 (a saw), so each minute has mean 29.5, min 0, max 59.
    let records: Vec<Record> = (0..7200).map(|t| sample(id, 3600.0 + t as f64, (t % 60) as f64)).collect();
    s.write(&records).unwrap();
    s.retain_raw_s = Some(1800.0);
    s.roll_up(3600.0, 3600.0 + 7200.0).unwrap();
    let minutes: Vec<(i64, f64, f64, f64)> = s
        .conn
        .prepare("SELECT n, mean, min, max FROM rollups WHERE bucket_s = 60 ORDER BY t_unix_s")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(minutes.len(), 120);
    assert!(minutes.iter().all(|m| *m == (60, 29.5, 0.0, 59.0)), "{:?}", &minutes[..2]);
    let hours: Vec<(f64, i64, f64)> = s
        .conn
        .prepare("SELECT t_unix_s, n, mean FROM rollups WHERE bucket_s = 3600 ORDER BY t_unix_s")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(hours, vec![(3600.0, 3600, 29.5), (7200.0, 3600, 29.5)]);
    // Raw samples older than 30 min behind the end are gone; the newest 30 minutes remain.
    let left = s.samples("P-101.vib_rms", 0.0, 1e9).unwrap();
    assert_eq!(left.first().map(|x| x.0), Some(3600.0 + 7200.0 - 1800.0));
    assert_eq!(left.len(), 1800);
    // Rolling up again gives the same rows.
    s.roll_up(3600.0 + 5400.0, 3600.0 + 7200.0).unwrap();
    assert_eq!(s.counts().unwrap().1, 122);
}

#[test]
fn the_writer_thread_writes_every_batch_and_rolls_up_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.twin.sqlite");
    let mut s = Store::open(&path, "Station").unwrap();
    let id = s.register(&vib()).unwrap();
    let mut w = Writer::spawn(s, 64);
    for k in 0..10 {
        w.send((0..60).map(|t| sample(id, (k * 60 + t) as f64, 1.0)).collect());
    }
    let stats = w.finish().unwrap();
    assert_eq!((stats.records, stats.dropped), (600, 0));
    assert!((1..=10).contains(&stats.batches), "{stats:?}");
    let s = Store::open_read(&path).unwrap();
    assert_eq!(s.counts().unwrap().0, 600);
    let minutes: i64 = s.conn.query_row("SELECT COUNT(*) FROM rollups WHERE bucket_s = 60", [], |r| r.get(0)).unwrap();
    assert_eq!(minutes, 10);
}

/// The file's bytes, to show a refused open left it as it was.
fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_store_of_another_scenario_a_file_that_is_not_a_store_and_another_schema_version_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.twin.sqlite");
    let mut s = Store::open(&path, "Station").unwrap();
    s.register(&vib()).unwrap();
    drop(s);
    let before = bytes(&path);
    let e = Store::open(&path, "Booster").err().unwrap().to_string();
    assert!(e.contains("belongs to scenario \"Station\", not \"Booster\""), "{e}");
    assert_eq!(bytes(&path), before);

    // A signal whose quantity changed is refused too.
    let mut s = Store::open(&path, "Station").unwrap();
    let e = s.register(&SignalInfo { quantity: "Flow".into(), unit: "m3/h".into(), ..vib() }).unwrap_err().to_string();
    assert!(e.contains("signal \"P-101.vib_rms\" is stored as VibrationVelocityRms in mm/s of P-101"), "{e}");
    drop(s);

    // Garbage, and a truncated store.
    let garbage = dir.path().join("garbage.twin.sqlite");
    std::fs::write(&garbage, b"this is not a database, just some text that fills a page or so ..........").unwrap();
    let before = bytes(&garbage);
    let e = Store::open(&garbage, "Station").err().unwrap().to_string();
    assert!(e.contains("not a twin history store: file is not a database; nothing was written"), "{e}");
    assert_eq!(bytes(&garbage), before);
    let truncated = dir.path().join("truncated.twin.sqlite");
    std::fs::write(&truncated, &bytes(&path)[..1000]).unwrap();
    let before = bytes(&truncated);
    let e = Store::open(&truncated, "Station").err().unwrap().to_string();
    assert!(e.contains("not a twin history store"), "{e}");
    assert_eq!(bytes(&truncated), before);

    // Another SQLite database, and a store of a future schema.
    let other = dir.path().join("other.sqlite");
    Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
    let before = bytes(&other);
    let e = Store::open(&other, "Station").err().unwrap().to_string();
    assert!(e.contains("not a twin history store: it has no meta table"), "{e}");
    assert_eq!(bytes(&other), before);
    let future = dir.path().join("future.twin.sqlite");
    std::fs::copy(&path, &future).unwrap();
    Connection::open(&future)
        .unwrap()
        .execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", [])
        .unwrap();
    let before = bytes(&future);
    let e = Store::open(&future, "Station").err().unwrap().to_string();
    assert!(e.contains("store schema version 99; this build reads version 1"), "{e}");
    assert_eq!(bytes(&future), before);
}
