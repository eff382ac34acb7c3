//! Prediction quality against the virtual plant's hidden truth (run with
//! `cargo bench --no-default-features --bench rul`): `scenes/run_to_failure.ron` over many seeds (each seed draws
//! the plant's hidden parameters and its bearing's defect growth rate), each run until the plant's bearing fails.
//! For each seed, at the twin's detection of the defect and half-way from detection to the actual failure: whether
//! the twin's remaining-life band (p10-p90) contains the actual time to failure, the band's width, and the error
//! of its median. An 80 % band should contain it in 70 to 95 % of the seeds.
//! Env: `TWIN_RUL_SEEDS` (default 50), `TWIN_RUL_THREADS` (default 2).

use std::path::Path;
use std::sync::Arc;

use twin::assess::defect::DefectTracker;
use twin::change::cli::run_for;
use twin::plant::inprocess::{PlantRunner, add_inprocess_plant};
use twin::scenario;

/// Simulated time between two looks at the twin's prediction, s.
const LOOK_S: f64 = 600.0;
/// Longest run, s.
const MAX_S: f64 = 40.0 * 86_400.0;

/// One seed: (onset s, detection s, failure s, [(t s, p10 h, p50 h, p90 h)] from detection on).
type Case = (f64, f64, f64, Vec<(f64, f64, f64, f64)>);

fn one(seed: u64) -> Option<Case> {
    let s = Arc::new(scenario::load(Path::new("scenes/run_to_failure.ron")).expect("bundled scenario"));
    let onset = s.faults.iter().find_map(|f| match f {
        scenario::FaultSpec::BearingDefect { onset, .. } => Some(onset.secs()),
        _ => None,
    })?;
    let mut app = twin::app::headless_app(s.clone(), seed);
    add_inprocess_plant(&mut app, &s, seed, None).ok()?;
    app.update();
    let pump = app.world().resource::<twin::twin::AssetIndex>().0["P-101"];
    let mut looks = Vec::new();
    let mut detected = None;
    let mut t = 0.0;
    while t < MAX_S {
        run_for(&mut app, LOOK_S);
        t += LOOK_S;
        if let Some(d) = app.world().get::<DefectTracker>(pump).and_then(|x| x.defect.as_ref()) {
            detected.get_or_insert(d.detected_at_s);
            looks.push((t, d.rul_h.p10, d.rul_h.p50, d.rul_h.p90));
        }
        let failed = app.world().resource::<PlantRunner>().plant.truth().pump("P-101").and_then(|p| p.failed_at_s);
        if let Some(f) = failed {
            return Some((onset, detected?, f, looks));
        }
    }
    None
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, threads) = (env("TWIN_RUL_SEEDS", 50) as u64, env("TWIN_RUL_THREADS", 2).max(1) as u64);
    let started = std::time::Instant::now();
    let cases: Vec<(u64, Option<Case>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| scope.spawn(move || (0..n).filter(|s| s % threads == k).map(|s| (s, one(s))).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("a seed's run")).collect();
        all.sort_by_key(|c| c.0);
        all
    });
    println!("RUL bench: scenes/run_to_failure.ron, {n} seeds, {:.0} s wall", started.elapsed().as_secs_f64());
    let mut rows = [(0, 0, Vec::new(), Vec::new()), (0, 0, Vec::new(), Vec::new())];
    let mut delays = Vec::new();
    for (seed, case) in &cases {
        let Some((onset, det, fail, looks)) = case else {
            println!("seed {seed}: no failure, or no detection, within {} d", MAX_S / 86_400.0);
            continue;
        };
        delays.push(det - onset);
        for (k, at) in [*det, det + 0.5 * (fail - det)].into_iter().enumerate() {
            let Some(&(t, p10, p50, p90)) = looks.iter().find(|l| l.0 >= at) else { continue };
            let actual = (fail - t) / 3600.0;
            let row = &mut rows[k];
            row.0 += 1;
            row.1 += usize::from(p10 <= actual && actual <= p90);
            row.2.push(p90 - p10);
            row.3.push((p50 - actual).abs());
            if k == 0 {
                println!(
                    "seed {seed}: detected {:.0} min after onset, failed at {:.1} d; at detection RUL p10/p50/p90 \
                     {p10:.0}/{p50:.0}/{p90:.0} h, actual {actual:.0} h",
                    (det - onset) / 60.0,
                    fail / 86_400.0
                );
            }
        }
    }
    println!("median detection delay: {:.1} min", median(delays) / 60.0);
    for (name, (count, inside, widths, errors)) in ["at detection", "half-way to failure"].iter().zip(rows) {
        println!(
            "{name}: band holds the actual failure in {inside} of {count} seeds ({:.0} %); median band width {:.0} h; \
             median |p50 - actual| {:.0} h",
            100.0 * inside as f64 / count.max(1) as f64,
            median(widths),
            median(errors)
        );
    }
}
