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
    assert_eq!(s.meta("schema_version").unwrap(), Some("2".into()));
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
    assert!(e.contains("store schema version 99; this build reads versions 1 and 2"), "{e}");
    assert_eq!(bytes(&future), before);
}

fn checkpoint(messages: i64, state: &[u8]) -> Record {
    Record::Checkpoint(Box::new(CheckpointRow {
        id: 0,
        t_unix_s: 1000.0 + messages as f64,
        written_unix_s: 0.0,
        format: 1,
        twin_version: "0.1.0".into(),
        scenario_digest: "d".into(),
        messages,
        state: state.to_vec(),
    }))
}

fn journal(seq: i64) -> Record {
    Record::Journal { seq, received_unix_s: seq as f64, topic: "plant/p101".into(), payload: vec![b'{', b'}'] }
}

#[test]
fn the_two_newest_checkpoints_are_kept_with_the_journal_after_the_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("t.twin.sqlite"), "Station").unwrap();
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    s.write(&(1..=10).map(journal).chain([checkpoint(10, b"ten")]).collect::<Vec<_>>()).unwrap();
    s.write(&(11..=20).map(journal).chain([checkpoint(20, b"twenty")]).collect::<Vec<_>>()).unwrap();
    s.write(&(21..=25).map(journal).collect::<Vec<_>>()).unwrap();
    let c = s.latest_checkpoint().unwrap().unwrap();
    assert_eq!((c.messages, c.state.as_slice()), (20, &b"twenty"[..]));
    assert_eq!(s.journal_after(20).unwrap().iter().map(|j| j.seq).collect::<Vec<_>>(), vec![21, 22, 23, 24, 25]);
    // A third checkpoint: the first goes, and the journal up to the oldest kept one (20).
    s.write(&[checkpoint(25, b"twenty-five")]).unwrap();
    let n: i64 = s.conn.query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
    assert_eq!(s.journal_after(0).unwrap().first().map(|j| j.seq), Some(21));
    // A journaled message taken again (a replay after a resume) is not stored twice.
    s.write(&[journal(22)]).unwrap();
    assert_eq!(s.journal_after(20).unwrap().len(), 5);
}

#[test]
fn a_version_1_store_is_migrated_to_version_2_keeping_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.twin.sqlite");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    c.execute_batch(
        "INSERT INTO meta VALUES ('schema_version', '1'), ('scenario', 'Station');
         INSERT INTO signals (id, name, asset, quantity, unit) VALUES (1, 'P-101.vib_rms', 'P-101', 'VibrationVelocityRms', 'mm/s');
         INSERT INTO samples VALUES (1, 100.0, 100.1, 2.5, 0);",
    )
    .unwrap();
    drop(c);
    // Read-only opening reads it as it is (an export), the writer's opening migrates it.
    assert_eq!(Store::open_read(&path).unwrap().samples("P-101.vib_rms", 0.0, 1e9).unwrap(), vec![(100.0, 2.5)]);
    let mut s = Store::open(&path, "Station").unwrap();
    assert_eq!(s.meta("schema_version").unwrap(), Some("2".into()));
    assert_eq!(s.samples("P-101.vib_rms", 0.0, 1e9).unwrap(), vec![(100.0, 2.5)]);
    s.write(&[journal(1), checkpoint(1, b"x")]).unwrap();
    assert_eq!(s.latest_checkpoint().unwrap().unwrap().messages, 1);
}

#[test]
fn a_plot_range_reads_every_raw_sample_when_it_fits_else_the_minute_or_hour_roll_ups() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("t.twin.sqlite"), "Station").unwrap();
    let id = s.register(&vib()).unwrap();
    // A week of 1 Hz samples from t = 0: value = t mod 60 (each minute's mean 29.5).
    let week = 7 * 86_400;
    for day in 0..7 {
        let records: Vec<Record> =
            (day * 86_400..(day + 1) * 86_400).map(|t| sample(id, t as f64, (t % 60) as f64)).collect();
        s.write(&records).unwrap();
    }
    s.roll_up(0.0, week as f64).unwrap();
    // One hour of the third day: its 3,601 raw samples (both ends inclusive), at 1 s.
    let hour = s.signal_series("P-101.vib_rms", 2.0 * 86_400.0, 2.0 * 86_400.0 + 3600.0, 4000).unwrap();
    assert_eq!(hour.bucket_s, 0);
    assert_eq!(hour.points.len(), 3601);
    assert!(hour.points.windows(2).all(|w| w[1].0 - w[0].0 == 1.0));
    assert_eq!(hour.points[61], (2.0 * 86_400.0 + 61.0, 1.0));
    // A day is too many raw samples for 4,000 points: its 1,440 minute means, each at its minute's middle.
    let day = s.signal_series("P-101.vib_rms", 86_400.0, 2.0 * 86_400.0 - 1.0, 4000).unwrap();
    assert_eq!(day.bucket_s, 60);
    assert_eq!(day.points.len(), 1440);
    assert_eq!(day.points[0], (86_400.0 + 30.0, 29.5));
    // The week: 10,080 minutes do not fit either; its 168 hourly means do.
    let all = s.signal_series("P-101.vib_rms", 0.0, week as f64, 4000).unwrap();
    assert_eq!(all.bucket_s, 3600);
    assert_eq!(all.points.len(), 168);
    // A budget below even the hours thins them evenly, keeping the last.
    let thin = s.signal_series("P-101.vib_rms", 0.0, week as f64, 50).unwrap();
    assert!(thin.points.len() <= 51 && thin.points.len() >= 40, "{}", thin.points.len());
    assert_eq!(thin.points.last(), all.points.last());
    // An unknown signal reads as nothing.
    assert!(s.signal_series("nope", 0.0, 1e9, 10).unwrap().points.is_empty());
}
