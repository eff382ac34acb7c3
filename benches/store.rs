//! The history store's speed (run with `cargo bench --no-default-features --bench store`): samples written per
//! second through the writer thread, a 24 h `twin run` of the pump station with and without `--store` side by
//! side, the time to read one week of one 1 Hz signal back (and a plot's range of it), and the time to take and restore a checkpoint of the
//! whole twin with its size per asset. Medians of `TWIN_STORE_REPS` repetitions (default 3).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use twin::headless::{self, RunOptions};
use twin_store::{Record, SignalInfo, Store, Writer};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn signal(k: usize) -> SignalInfo {
    SignalInfo { name: format!("S-{k}.value"), asset: format!("S-{k}"), quantity: "Flow".into(), unit: "m3/h".into() }
}

/// Writes `seconds` of 1 Hz samples of `signals` signals through the writer, in one batch per simulated
/// second per signal group, as the twin hands them over; samples per second of wall time.
fn write(path: &Path, signals: usize, seconds: usize) -> f64 {
    let _ = std::fs::remove_file(path);
    let mut store = Store::open(path, "bench").unwrap();
    let ids: Vec<i64> = (0..signals).map(|k| store.register(&signal(k)).unwrap()).collect();
    let started = Instant::now();
    let mut w = Writer::spawn(store, 1 << 16);
    // 60 simulated seconds per batch: the size of a tick of a fast headless run.
    for chunk in 0..seconds.div_ceil(60) {
        let mut batch = Vec::with_capacity(60 * signals);
        for t in chunk * 60..((chunk + 1) * 60).min(seconds) {
            for &id in &ids {
                let t_unix_s = 1.7e9 + t as f64;
                batch.push(Record::Sample {
                    signal: id,
                    t_unix_s,
                    received_unix_s: t_unix_s,
                    value: t as f64,
                    flags: 0,
                });
            }
        }
        w.send(batch);
    }
    let stats = w.finish().unwrap();
    assert_eq!(stats.dropped, 0, "the bench must not drop");
    (signals * seconds) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let reps: usize = std::env::var("TWIN_STORE_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();

    // Raw write rate: 7 signals (the pump station's) for 6 simulated hours, 151,200 samples.
    let rates: Vec<f64> = (0..reps).map(|_| write(&dir.path().join("w.twin.sqlite"), 7, 6 * 3600)).collect();
    let live = 6.1; // the station's live rate: six 1 Hz signals and one at 0.1 Hz, samples/s
    println!(
        "store writes: median {:.0} samples/s ({:?}); {:.0} x the pump station's live rate ({live:.1} samples/s)",
        median(rates.clone()),
        rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        median(rates.clone()) / live
    );

    // A 24 h run of the pump station, with and without the store, alternating.
    let scenario = Arc::new(twin::scenario::load(Path::new("scenes/pump_station.ron")).unwrap());
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for r in 0..reps {
        let opts = RunOptions::new(86_400.0, 1);
        let t = Instant::now();
        headless::run(scenario.clone(), Path::new("scenes/pump_station.ron"), &opts).unwrap();
        without.push(t.elapsed().as_secs_f64());
        let path = dir.path().join(format!("run{r}.twin.sqlite"));
        let opts = RunOptions { store: Some(path.clone()), ..RunOptions::new(86_400.0, 1) };
        let t = Instant::now();
        headless::run(scenario.clone(), Path::new("scenes/pump_station.ron"), &opts).unwrap();
        with.push(t.elapsed().as_secs_f64());
        if r == 0 {
            let size = std::fs::metadata(&path).unwrap().len();
            let (samples, rollups, indices, events) = Store::open_read(&path).unwrap().counts().unwrap();
            println!(
                "24 h store: {:.1} MB, {samples} samples, {rollups} roll-ups, {indices} index rows, {events} events \
                 ({:.0} B per sample)",
                size as f64 / 1e6,
                size as f64 / samples as f64
            );
        }
    }
    let (a, b) = (median(without.clone()), median(with.clone()));
    println!(
        "24 h twin run of the pump station: {a:.2} s without the store, {b:.2} s with it (x{:.2}); per run: {without:.2?} / {with:.2?}",
        b / a
    );

    for path in ["scenes/pump_station.ron", "scenes/booster_station.ron"] {
        checkpoints(path, reps);
    }

    // One week of one 1 Hz signal read back from a store holding two weeks of 7 signals.
    let path = dir.path().join("weeks.twin.sqlite");
    write(&path, 7, 14 * 86_400);
    let store = Store::open_read(&path).unwrap();
    let (from, to) = (1.7e9 + 3.0 * 86_400.0, 1.7e9 + 10.0 * 86_400.0 - 1.0);
    let times: Vec<f64> = (0..reps.max(5))
        .map(|_| {
            let t = Instant::now();
            let rows = store.samples("S-3.value", from, to).unwrap();
            assert_eq!(rows.len(), 7 * 86_400);
            t.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "one week of one 1 Hz signal (604,800 samples) from a 14-day, 7-signal store ({:.0} MB): median {:.0} ms",
        std::fs::metadata(&path).unwrap().len() as f64 / 1e6,
        median(times) * 1e3
    );

    // What a plot asks of the same store (`Store::signal_series`, 4,000 points at most): an hour of last week at
    // 1 s, a day of 1-minute means, the week of 1-hour means.
    for (what, span_s, bucket_s) in [
        ("an hour (raw)", 3600.0, 0),
        ("a day (1-min means)", 86_400.0, 60),
        ("the week (1-h means)", 7.0 * 86_400.0, 3600),
    ] {
        let times: Vec<f64> = (0..reps.max(5))
            .map(|_| {
                let t = Instant::now();
                let s = store.signal_series("S-3.value", from, from + span_s - 1.0, 4000).unwrap();
                assert_eq!(s.bucket_s, bucket_s);
                t.elapsed().as_secs_f64()
            })
            .collect();
        println!("plot range of {what}: median {:.2} ms", median(times) * 1e3);
    }
}

/// A checkpoint of the scenario's twin after 14 simulated hours fed by its virtual plant: the time to take one and
/// to decode and restore it into a new twin, and its size, per asset.
fn checkpoints(path: &str, reps: usize) {
    use twin::store::checkpoint;
    let scenario = Arc::new(twin::scenario::load(Path::new(path)).unwrap());
    let build = || {
        let mut app = twin::app::headless_app(scenario.clone(), 1);
        twin::plant::inprocess::add_inprocess_plant(&mut app, &scenario, 1, None).unwrap();
        app
    };
    let mut app = build();
    for _ in 0..14 * 60 {
        app.world_mut().resource_mut::<twin::twin::SimClock>().pending_steps = 60;
        app.update();
    }
    let n = reps.max(20);
    let mut take = Vec::new();
    let mut taken = None;
    for _ in 0..n {
        let t = Instant::now();
        taken = Some(checkpoint::take(app.world()).unwrap());
        take.push(t.elapsed().as_secs_f64());
    }
    let taken = taken.unwrap();
    let row = twin_store::CheckpointRow {
        id: 1,
        t_unix_s: taken.t_unix_s,
        written_unix_s: 0.0,
        format: checkpoint::FORMAT,
        twin_version: String::new(),
        scenario_digest: checkpoint::digest(&scenario),
        messages: taken.messages as i64,
        state: taken.state.clone(),
    };
    let mut restore = Vec::new();
    for _ in 0..n {
        let mut fresh = build();
        let t = Instant::now();
        let decoded = checkpoint::decode("bench", &row, &scenario).unwrap();
        checkpoint::restore(fresh.world_mut(), "bench", decoded).unwrap();
        restore.push(t.elapsed().as_secs_f64());
    }
    let assets = scenario.assets.len();
    let (take, restore) = (median(take), median(restore));
    println!(
        "checkpoint of {} ({assets} assets) after 14 h: {:.1} kB ({:.1} kB per asset); take median {:.2} ms \
         ({:.3} ms per asset), decode and restore median {:.2} ms",
        scenario.name,
        taken.state.len() as f64 / 1e3,
        taken.state.len() as f64 / 1e3 / assets as f64,
        take * 1e3,
        take * 1e3 / assets as f64,
        restore * 1e3
    );
}
