//! The headless runner (`twin run`): the same twin without a window, stepped as fast as it can (or paced to the
//! wall clock), with the scenario's expectations checked and a JSON report and JUnit XML written for CI.

pub mod batch;
mod expect;
pub mod fleet;
pub mod live;
pub mod plot;
mod report;
pub mod serve;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use expect::{ExpectationResult, fmt_t};
pub use report::{Report, Suite, junit_report, write_junit};

use crate::scenario::{self, Scenario, ScenarioError};
pub use crate::twin::clock::{STEPS_PER_TICK, Speed};
use crate::twin::{SimClock, pump::ModelBuildErrors};

/// Points kept per time series in the report.
pub const SERIES_POINTS: u64 = 480;

/// Options of one headless run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Simulated time to run, s.
    pub duration_s: f64,
    /// Seed of every random process.
    pub seed: u64,
    /// Pace.
    pub speed: Speed,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
    /// Where to write JUnit XML.
    pub junit: Option<PathBuf>,
    /// Show a progress bar (only ever drawn on a terminal).
    pub progress: bool,
    /// Run the virtual plant in-process and feed its telemetry through the ingestion path.
    pub plant: bool,
    /// Write every received message here (JSON Lines).
    pub record: Option<PathBuf>,
    /// Feed this recording (JSON Lines, or CSV) through ingestion instead of running the plant.
    pub replay: Option<PathBuf>,
    /// Write PNG charts of the indices into this directory, one per asset.
    pub plot: Option<PathBuf>,
    /// Threads of the twin's schedules (0 or 1: single-threaded). The report does not depend on it.
    pub threads: usize,
    /// The sweep case this run is, written into the report.
    pub case: Option<crate::scenario::SweepCase>,
    /// Write the twin's history (accepted samples, indices, alarms, service windows) into this store.
    pub store: Option<PathBuf>,
    /// Keep raw samples in the store this long behind the newest (older ones only as roll-ups), s (none: all).
    pub store_retain_s: Option<f64>,
}

impl RunOptions {
    /// A run of `duration_s` with the in-process plant and nothing written.
    pub fn new(duration_s: f64, seed: u64) -> Self {
        Self {
            duration_s,
            seed,
            speed: Speed::Max,
            report: None,
            junit: None,
            progress: false,
            plant: true,
            record: None,
            replay: None,
            plot: None,
            threads: 1,
            case: None,
            store: None,
            store_retain_s: None,
        }
    }
}

/// Why a run could not be carried out (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{}: cannot build the twin: {}", file.display(), errors.join("; "))]
    Model { file: PathBuf, errors: Vec<String> },
    #[error(transparent)]
    Recording(#[from] crate::ingest::recording::RecordingError),
    #[error("recording: {0}")]
    RecordingWrite(String),
    #[error("{0}")]
    Plot(String),
    #[error(transparent)]
    Store(#[from] twin_store::StoreError),
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    #[error("invalid duration {0} s: must be more than 0")]
    Duration(f64),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads the scenario at `path` and runs it headless.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<Report, RunError> {
    let scenario = Arc::new(scenario::load(path)?);
    run(scenario, path, opts)
}

/// Runs a loaded scenario headless and writes the requested outputs. Same scenario, options and seed give the
/// same report, byte for byte.
pub fn run(scenario: Arc<Scenario>, path: &Path, opts: &RunOptions) -> Result<Report, RunError> {
    if !(opts.duration_s > 0.0 && opts.duration_s.is_finite()) {
        return Err(RunError::Duration(opts.duration_s));
    }
    let mut app = crate::app::headless_app_threaded(scenario.clone(), opts.seed, opts.threads);
    if let Some(errors) = app.world().get_resource::<ModelBuildErrors>()
        && !errors.0.is_empty()
    {
        return Err(RunError::Model { file: path.to_owned(), errors: errors.0.clone() });
    }
    if let Some(replay) = &opts.replay {
        let epoch_unix_s = app.world().resource::<crate::ingest::Telemetry>().epoch_unix_s;
        let messages = crate::ingest::recording::read_any(replay, &scenario, epoch_unix_s)?;
        crate::ingest::recording::add_replay(&mut app, messages);
    } else if opts.plant {
        crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, opts.seed, None)
            .map_err(|e| RunError::Model { file: path.to_owned(), errors: vec![format!("virtual plant: {e}")] })?;
    }
    if let Some(record) = &opts.record {
        app.insert_resource(crate::ingest::recording::Recorder::create(record)?);
    }
    if let Some(store) = &opts.store {
        let store_opts = crate::store::StoreOptions { retain_s: opts.store_retain_s, checkpoint_every_s: None };
        crate::store::add_store(&mut app, store, store_opts, false)?;
    }
    let step_s = app.world().resource::<SimClock>().step_s;
    let total_steps = (opts.duration_s / step_s).round().max(1.0) as u64;
    let record_every = total_steps.div_ceil(SERIES_POINTS).max(1);

    let mut checker = expect::Checker::new(&scenario, step_s, total_steps, opts.seed);
    let mut recorder = report::Recorder::new(&scenario);
    let mut performance = crate::sync::performance::PerformanceRecorder::default();
    let mut pace = crate::assess::pace::PaceErrorRecorder::default();
    let bar = progress_bar(total_steps, opts.progress);
    let started = Instant::now();

    app.update(); // first tick: zero steps, the pipeline sees the initial state
    recorder.record(app.world(), 0.0);
    performance.record(app.world());
    pace.record(app.world());
    checker.check(app.world_mut(), 0);
    let mut done = 0u64;
    while done < total_steps {
        let next_record = (done / record_every + 1) * record_every;
        let mut next = (done + STEPS_PER_TICK).min(total_steps).min(next_record);
        if let Some(c) = checker.next_checkpoint(done) {
            next = next.min(c);
        }
        app.world_mut().resource_mut::<SimClock>().pending_steps = (next - done) as u32;
        app.update();
        done = next;
        let t = done as f64 * step_s;
        if done.is_multiple_of(record_every) || done == total_steps {
            recorder.record(app.world(), t);
            performance.record(app.world());
            pace.record(app.world());
        }
        checker.check(app.world_mut(), done);
        bar.set_position(done);
        opts.speed.pace(started, t);
    }
    bar.finish_and_clear();

    let results = checker.finish(app.world(), &scenario, total_steps);
    if let Some(stats) = crate::store::finish_store(app.world_mut()).transpose()? {
        bevy::log::info!(
            "history store: {} records in {} transactions, {} dropped",
            stats.records,
            stats.batches,
            stats.dropped
        );
    }
    if let Some(mut rec) = app.world_mut().get_resource_mut::<crate::ingest::recording::Recorder>() {
        rec.finish().map_err(RunError::RecordingWrite)?;
    }
    let mut report = recorder.into_report(&scenario, opts.seed, step_s, total_steps, results);
    report.sweep = opts.case.clone();
    let telemetry = app.world().resource::<crate::ingest::Telemetry>();
    report.ingest = telemetry.counters();
    report.ingest_by_signal = telemetry.signal_counters();
    report.diagnostics = telemetry.ingestor.diagnostics();
    report.sync = crate::assess::Report::of(app.world());
    report.sync.performance = performance.finish(app.world(), &scenario, total_steps as f64 * step_s);
    report.sync.performance.pace_prior_error_ln = pace.finish();
    report.sync.pace_model = crate::assess::pace::PaceModelReport::of(app.world());
    if let Some(runner) = app.world().get_resource::<crate::plant::inprocess::PlantRunner>() {
        report.ingest.insert("plant_publications_refused".into(), runner.refused());
    }
    if let Some(p) = &opts.report {
        write(p, &report.to_json())?;
    }
    if let Some(p) = &opts.junit {
        write_junit(p, &[Suite::Run(&report)]).map_err(|source| RunError::Write { path: p.to_owned(), source })?;
    }
    if let Some(dir) = &opts.plot {
        plot::write_plots(&report, dir).map_err(RunError::Plot)?;
    }
    Ok(report)
}

fn write(path: &Path, text: &str) -> Result<(), RunError> {
    std::fs::write(path, text).map_err(|source| RunError::Write { path: path.to_owned(), source })
}

fn progress_bar(total: u64, wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent}% sim steps {pos}/{len} ({eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
