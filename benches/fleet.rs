//! The ML layer's held-out benchmark (`cargo bench --no-default-features --bench fleet`): trains the pace model on a
//! fleet of the run-to-failure pump (`scripts/train_pace.py`, in the project's Python environment), then runs the
//! twin on a held-out fleet (another seed: other pumps, other conditions) physics-only and physics+ML, and scores
//! the remaining-life prediction at 50 % of each pump's life against the virtual plant's true failure time: the
//! median absolute error of the p50, and how often the p10–p90 band holds the truth.
//!
//! `TWIN_FLEET_TRAIN` (default 120) and `TWIN_FLEET_HELDOUT` (default 50) size the fleets; `TWIN_FLEET_JOBS` runs
//! that many at once (default 2). The table is printed and written to `target/fleet-bench/table.md`.

use std::path::Path;
use std::time::Instant;

use twin::headless::batch::parallel;
use twin::headless::fleet::{self, FleetOptions, FleetPump};
use twin::store::export::ExportFormat;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/fleet-bench");
    let (n_train, n_held, jobs) =
        (env("TWIN_FLEET_TRAIN", 120), env("TWIN_FLEET_HELDOUT", 50), env("TWIN_FLEET_JOBS", 2));
    let base = twin::scenario::load(&root.join("scenes/run_to_failure.ron")).expect("the bundled scenario");
    let max_s = 200.0 * 86_400.0;

    let started = Instant::now();
    let train_dir = dir.join("train");
    let opts = FleetOptions {
        pumps: n_train,
        seed: 1,
        asset: None,
        max_s,
        output: train_dir.clone(),
        format: ExportFormat::Csv,
        jobs,
        command: format!("twin fleet scenes/run_to_failure.ron --pumps {n_train} --seed 1"),
    };
    let train = fleet::write_fleet(&base, &opts).expect("the training fleet");
    eprintln!(
        "training fleet: {n_train} pumps, {} failed, in {:.0} s",
        train.iter().filter(|s| s.failure_s.is_some()).count(),
        started.elapsed().as_secs_f64()
    );

    let model = dir.join("pace.onnx");
    let python = root.join("target/peers-venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg(root.join("scripts/train_pace.py"))
        .arg(&train_dir)
        .arg("--output")
        .arg(&model)
        .arg("--version")
        .arg("pace-bench")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/test.sh creates the environment)", python.display()));
    assert!(out.status.success(), "training failed: {}", String::from_utf8_lossy(&out.stderr));
    let trained = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    eprintln!("{trained}");

    // The held-out fleet: another seed, so other plants and conditions.
    let started = Instant::now();
    let pumps: Vec<FleetPump> = (0..n_held).map(|k| fleet::fleet_pump(&base, None, 1_000_003, k).unwrap()).collect();
    let lives: Vec<_> = parallel(n_held, jobs, "held-out", |k| fleet::run_pump(&pumps[k], max_s).unwrap().0)
        .into_iter()
        .map(|l| l.expect("a result"))
        .collect();
    eprintln!("held-out fleet: {n_held} pumps run to failure in {:.0} s", started.elapsed().as_secs_f64());

    struct Row {
        pump: String,
        life_h: f64,
        true_rul_h: f64,
        physics: Option<twin_models::degradation::RulBand>,
        ml: Option<twin_models::degradation::RulBand>,
    }
    let started = Instant::now();
    let rows: Vec<Option<Row>> = parallel(2 * n_held, jobs, "twin", |j| {
        let (k, with_model) = (j / 2, j % 2 == 1);
        let failure_s = lives[k].failure_s?;
        let at = 0.5 * failure_s;
        let band = fleet::twin_rul_at(&pumps[k], with_model.then_some(model.as_path()), at).unwrap();
        eprintln!("  {} {}: {band:?}", lives[k].pump, if with_model { "physics+ML" } else { "physics" });
        Some(Row {
            pump: lives[k].pump.clone(),
            life_h: failure_s / 3600.0,
            true_rul_h: (failure_s - at) / 3600.0,
            physics: (!with_model).then_some(band).flatten(),
            ml: with_model.then_some(band).flatten(),
        })
    })
    .into_iter()
    .map(|r| r.expect("a result"))
    .collect();
    eprintln!("twin runs: {} in {:.0} s", 2 * n_held, started.elapsed().as_secs_f64());
    // Pair the two runs of each pump.
    let mut pairs: Vec<Row> = Vec::new();
    for pair in rows.chunks(2) {
        if let [Some(a), Some(b)] = pair {
            pairs.push(Row {
                pump: a.pump.clone(),
                life_h: a.life_h,
                true_rul_h: a.true_rul_h,
                physics: a.physics,
                ml: b.ml,
            });
        }
    }
    let censored = n_held - pairs.len();
    let scored: Vec<&Row> = pairs.iter().filter(|r| r.physics.is_some() && r.ml.is_some()).collect();
    let err = |f: &dyn Fn(&Row) -> twin_models::degradation::RulBand| -> (f64, f64) {
        let e: Vec<f64> = scored.iter().map(|r| (f(r).p50 - r.true_rul_h).abs()).collect();
        let inside = scored.iter().filter(|r| (f(r).p10..=f(r).p90).contains(&r.true_rul_h)).count();
        (median(e), inside as f64 / scored.len().max(1) as f64)
    };
    let (phys_mae, phys_cov) = err(&|r| r.physics.unwrap());
    let (ml_mae, ml_cov) = err(&|r| r.ml.unwrap());
    let lives_h: Vec<f64> = scored.iter().map(|r| r.life_h).collect();
    let table = format!(
        "| held-out pumps (seed 1000003) | {} scored of {n_held} ({censored} not failed, {} undetected at 50 %) |\n\
         |---|---|\n\
         | life, median (min–max) | {:.0} h ({:.0}–{:.0} h) |\n\
         | median absolute RUL error at 50 % of life, physics only | **{phys_mae:.0} h** |\n\
         | median absolute RUL error at 50 % of life, physics + ML | **{ml_mae:.0} h** (× {:.2}) |\n\
         | p10–p90 band holds the true failure, physics only | {:.0} % |\n\
         | p10–p90 band holds the true failure, physics + ML | **{:.0} %** |\n\
         | pace model | {trained} |\n",
        scored.len(),
        pairs.len() - scored.len(),
        median(lives_h.clone()),
        lives_h.iter().cloned().fold(f64::INFINITY, f64::min),
        lives_h.iter().cloned().fold(0.0, f64::max),
        ml_mae / phys_mae,
        100.0 * phys_cov,
        100.0 * ml_cov,
    );
    println!("{table}");
    let mut detail = String::from("pump,life_h,true_rul_h,physics_p10,physics_p50,physics_p90,ml_p10,ml_p50,ml_p90\n");
    for r in &scored {
        let (p, m) = (r.physics.unwrap(), r.ml.unwrap());
        detail.push_str(&format!(
            "{},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1}\n",
            r.pump, r.life_h, r.true_rul_h, p.p10, p.p50, p.p90, m.p10, m.p50, m.p90
        ));
    }
    std::fs::write(dir.join("table.md"), &table).unwrap();
    std::fs::write(dir.join("heldout.csv"), detail).unwrap();
}
