//! Batches: `twin run A.ron B.ron ...`, and scenarios with a `sweep`, run every case as its own twin (its own
//! Bevy app) on a pool of worker threads, one case per thread at a time, and summarise them. A file that cannot
//! be loaded is reported as bad input while the others still run.
//!
//! Outputs: `--report DIR` gets `<case>.json` per case and `summary.json`; `--junit FILE` one JUnit file with a
//! test suite per case; `--plot DIR` a subdirectory of charts per case. Case names are the file's stem, with the
//! sweep's label for a sweep case (`pump_station[unbalance=2x]`); file names replace `[`, `=` and `]`
//! (`pump_station.unbalance-2x.json`).

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::{Report, RunOptions, Suite, plot::file_stem, write_junit};
use crate::scenario::{self, Scenario, SweepCase};

/// One run of a batch.
pub struct Case {
    /// The scenario file.
    pub file: PathBuf,
    /// e.g. "pump_station" or "pump_station[unbalance=2x]".
    pub name: String,
    /// The case's file name stem, unique in the batch, e.g. "pump_station.unbalance-2x".
    pub slug: String,
    /// The scenario to run (and its sweep case), or why the file could not be loaded.
    pub scenario: Result<(Arc<Scenario>, Option<SweepCase>), String>,
}

/// Loads every file and expands sweeps into their cases, in argument order.
pub fn expand(paths: &[PathBuf]) -> Vec<Case> {
    let mut used = BTreeSet::new();
    let mut unique = |stem: String| {
        let mut slug = stem.clone();
        let mut n = 1;
        while !used.insert(slug.clone()) {
            n += 1;
            slug = format!("{stem}-{n}");
        }
        slug
    };
    let mut cases = Vec::new();
    for path in paths {
        let stem = path.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
        match scenario::load(path) {
            Err(e) => cases.push(Case {
                file: path.clone(),
                name: stem.clone(),
                slug: unique(file_stem(&stem)),
                scenario: Err(e.to_string()),
            }),
            Ok(s) => match s.sweep.clone() {
                None => cases.push(Case {
                    file: path.clone(),
                    name: stem.clone(),
                    slug: unique(file_stem(&stem)),
                    scenario: Ok((Arc::new(s), None)),
                }),
                Some(sweep) => {
                    for (case, scenario) in sweep.cases(&s) {
                        let slug = file_stem(&format!("{stem}.{}", case.label.replace('=', "-")));
                        cases.push(Case {
                            file: path.clone(),
                            name: format!("{stem}[{}]", case.label),
                            slug: unique(slug),
                            scenario: Ok((Arc::new(scenario), Some(case))),
                        });
                    }
                }
            },
        }
    }
    cases
}

/// How a batch runs and where it writes.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Every case's run: duration, seed, speed, threads, plant (its outputs are set per case).
    pub run: RunOptions,
    /// Cases run at once (0: the machine's available parallelism).
    pub jobs: usize,
    /// Directory for `<case>.json` and `summary.json`.
    pub report_dir: Option<PathBuf>,
    /// One JUnit file for the whole batch.
    pub junit: Option<PathBuf>,
    /// Directory for `<case>/<asset>.png`.
    pub plot_dir: Option<PathBuf>,
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// It could not be run: a bad file, or an output that could not be written.
    BadInput,
}

/// A finished case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: String,
    pub file: PathBuf,
    pub status: Status,
    /// Expectations checked.
    pub expectations: usize,
    /// Expectations that failed.
    pub failed: usize,
    /// Why it could not be run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its report's file name in the report directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Wall-clock time of the case, s.
    pub wall_s: f64,
    #[serde(skip)]
    pub result: Option<Report>,
}

/// The worker threads a batch uses for `jobs` (0: available parallelism) and `cases` cases.
pub fn workers(jobs: usize, cases: usize) -> usize {
    let jobs = if jobs == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { jobs };
    jobs.min(cases).max(1)
}

/// Runs `f` over `0..n` on `workers` threads named `name-K` (each with a 64 MiB stack: the twin's start-up, the
/// rapier fits, wants more than a spawned thread's default), taking the next index as each finishes. Results in
/// index order (None where a result was lost to a poisoned lock). With no thread to be had, this thread runs the
/// rest.
pub fn parallel<T: Send>(n: usize, workers: usize, name: &str, f: impl Fn(usize) -> T + Sync) -> Vec<Option<T>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let r = f(i);
            if let Ok(mut v) = results.lock() {
                v[i] = Some(r);
            }
        }
    };
    std::thread::scope(|scope| {
        for w in 0..workers.max(1) {
            let builder = std::thread::Builder::new().name(format!("{name}-{w}")).stack_size(64 << 20);
            if builder.spawn_scoped(scope, work).is_err() {
                work();
                break;
            }
        }
    });
    results.into_inner().unwrap_or_else(|_| (0..n).map(|_| None).collect())
}

/// Runs every case on [`workers`] threads; `done` is called as each finishes (from its worker thread).
/// Outcomes come back in case order. Writes the per-case reports and plots, `summary.json` and the JUnit file.
pub fn run(cases: &[Case], opts: &BatchOptions, done: &(dyn Fn(&Outcome) + Sync)) -> Vec<Outcome> {
    let outcomes = parallel(cases.len(), workers(opts.jobs, cases.len()), "twin-run", |i| {
        let outcome = run_case(&cases[i], opts);
        done(&outcome);
        outcome
    });
    let mut outcomes: Vec<Outcome> =
        outcomes.into_iter().zip(cases).map(|(o, c)| o.unwrap_or_else(|| lost(c))).collect();
    if let Some(dir) = &opts.report_dir {
        let summary = Summary::of(&outcomes);
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(dir.join("summary.json"), text) {
            mark_all_bad(&mut outcomes, format!("cannot write {}: {e}", dir.join("summary.json").display()));
        }
    }
    if let Some(path) = &opts.junit {
        let suites: Vec<Suite<'_>> = outcomes
            .iter()
            .map(|o| match (&o.result, &o.error) {
                (Some(r), _) => Suite::Run(r),
                (None, e) => Suite::Error { name: &o.case, message: e.as_deref().unwrap_or("not run") },
            })
            .collect();
        if let Err(e) = write_junit(path, &suites) {
            mark_all_bad(&mut outcomes, format!("cannot write {}: {e}", path.display()));
        }
    }
    outcomes
}

fn mark_all_bad(outcomes: &mut [Outcome], message: String) {
    for o in outcomes {
        o.status = Status::BadInput;
        o.error.get_or_insert_with(|| message.clone());
    }
}

fn lost(c: &Case) -> Outcome {
    Outcome {
        case: c.name.clone(),
        file: c.file.clone(),
        status: Status::BadInput,
        expectations: 0,
        failed: 0,
        error: Some(c.scenario.as_ref().err().cloned().unwrap_or_else(|| "not run".into())),
        report: None,
        wall_s: 0.0,
        result: None,
    }
}

fn run_case(case: &Case, opts: &BatchOptions) -> Outcome {
    let started = Instant::now();
    let mut outcome = lost(case);
    let (scenario, sweep) = match &case.scenario {
        Ok(s) => s.clone(),
        Err(_) => return outcome,
    };
    let report_name = format!("{}.json", case.slug);
    let run_opts = RunOptions {
        report: opts.report_dir.as_ref().map(|d| d.join(&report_name)),
        junit: None,
        plot: opts.plot_dir.as_ref().map(|d| d.join(&case.slug)),
        progress: false,
        record: None,
        replay: None,
        case: sweep,
        ..opts.run.clone()
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| super::run(scenario, &case.file, &run_opts)));
    outcome.wall_s = started.elapsed().as_secs_f64();
    match result {
        Ok(Ok(report)) => {
            outcome.status = if report.passed { Status::Passed } else { Status::Failed };
            outcome.expectations = report.expectations.len();
            outcome.failed = report.failures();
            outcome.error = None;
            outcome.report = opts.report_dir.as_ref().map(|_| report_name);
            outcome.result = Some(report);
        }
        Ok(Err(e)) => outcome.error = Some(e.to_string()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            outcome.error = Some(format!("{}: the run panicked: {what}", case.file.display()));
        }
    }
    outcome
}

/// `summary.json`.
#[derive(Serialize)]
struct Summary<'a> {
    runs: usize,
    passed: usize,
    failed: usize,
    bad_input: usize,
    cases: &'a [Outcome],
}

impl<'a> Summary<'a> {
    fn of(outcomes: &'a [Outcome]) -> Self {
        let n = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
        Summary {
            runs: outcomes.len(),
            passed: n(Status::Passed),
            failed: n(Status::Failed),
            bad_input: n(Status::BadInput),
            cases: outcomes,
        }
    }
}

/// The batch's exit code: 2 when a case was bad input, else 1 when an expectation failed, else 0.
pub fn exit_code(outcomes: &[Outcome]) -> u8 {
    if outcomes.iter().any(|o| o.status == Status::BadInput) {
        2
    } else if outcomes.iter().any(|o| o.status == Status::Failed) {
        1
    } else {
        0
    }
}

/// The summary table printed at the end of a batch.
pub fn table(outcomes: &[Outcome], wall_s: f64, workers: usize) -> String {
    let width = outcomes.iter().map(|o| o.case.chars().count()).max().unwrap_or(4).max(4);
    let mut t = format!("{:<width$}  {:>12}  {:>6}  {:>8}  result\n", "case", "expectations", "failed", "wall s");
    for o in outcomes {
        let result = match o.status {
            Status::Passed => "passed".to_owned(),
            Status::Failed => "FAILED".to_owned(),
            Status::BadInput => "BAD INPUT (see above)".to_owned(),
        };
        let (n, f) = if o.status == Status::BadInput {
            ("-".to_owned(), "-".to_owned())
        } else {
            (o.expectations.to_string(), o.failed.to_string())
        };
        t += &format!("{:<width$}  {n:>12}  {f:>6}  {:>8.2}  {result}\n", o.case, o.wall_s);
    }
    let s = Summary::of(outcomes);
    t += &format!(
        "{} runs: {} passed, {} failed, {} bad input; {wall_s:.2} s wall on {workers} worker{}\n",
        s.runs,
        s.passed,
        s.failed,
        s.bad_input,
        if workers == 1 { "" } else { "s" }
    );
    t
}

/// Creates the batch's output directories; an error names the path.
pub fn prepare(opts: &BatchOptions) -> Result<(), String> {
    for dir in [&opts.report_dir, &opts.plot_dir].into_iter().flatten() {
        if dir.is_file() {
            return Err(format!(
                "{}: with several scenarios or a sweep, --report and --plot name directories, and this is a file",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if let Some(parent) = opts.junit.as_deref().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    Ok(())
}
