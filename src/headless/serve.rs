//! `twin serve`: the headless twin, live, as a long-running service. It follows the scenario's broker (or the
//! embedded broker with the virtual plant), paced to the wall clock, writes its history into the store, logs its
//! connection, rates, rejections, misbehaving sources and alarms, and shuts down cleanly on SIGINT or SIGTERM (the store flushed, the
//! broker session closed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::ingest::Telemetry;
use crate::scenario::{self, ScenarioError};
use crate::twin::pump::ModelBuildErrors;
use crate::twin::{ClockPacing, SimClock};

/// What `twin serve` was asked.
pub struct ServeOptions {
    /// Simulated seconds per wall-clock second (1: real time).
    pub speed: f64,
    /// Seed of the twin's random processes and the virtual plant.
    pub seed: u64,
    /// The history store (none: no store).
    pub store: Option<PathBuf>,
    /// Raw samples kept in the store behind the newest, s (none: all).
    pub retain_s: Option<f64>,
    /// Time between two status lines in the log.
    pub status_every: Duration,
    /// Simulated time between two checkpoints, s.
    pub checkpoint_every_s: f64,
    /// Start from the scenario even when the store has a checkpoint.
    pub fresh: bool,
    /// Stop once the twin's clock reaches this simulated time, s (none: at SIGINT or SIGTERM only).
    pub until_s: Option<f64>,
}

/// Why the service could not start (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{}: cannot build the twin: {}", file.display(), errors.join("; "))]
    Model { file: PathBuf, errors: Vec<String> },
    #[error(transparent)]
    Store(#[from] twin_store::StoreError),
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    #[error("{0:#}")]
    Connect(anyhow::Error),
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signal(#[from] ctrlc::Error),
}

/// Runs the service until SIGINT or SIGTERM (or `until_s`).
pub fn serve(path: &Path, opts: &ServeOptions) -> Result<(), ServeError> {
    let scenario = Arc::new(scenario::load(path)?);
    let mut app = crate::app::headless_app(scenario.clone(), opts.seed);
    // The embedded broker logs every client's disconnection as an error: not the service's news.
    app.add_plugins(bevy::log::LogPlugin { filter: format!("{},rumqttd=off", bevy::log::DEFAULT_FILTER), ..default() });
    if let Some(errors) = app.world().get_resource::<ModelBuildErrors>()
        && !errors.0.is_empty()
    {
        return Err(ServeError::Model { file: path.to_owned(), errors: errors.0.clone() });
    }
    // The store first: a store (or its checkpoint) that is refused stops the service before anything connects.
    let mut resumed = None;
    if let Some(store) = &opts.store {
        let store_opts =
            crate::store::StoreOptions { retain_s: opts.retain_s, checkpoint_every_s: Some(opts.checkpoint_every_s) };
        resumed = super::live::open_store(&mut app, store, store_opts, !opts.fresh, true)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    super::live::connect_live(&mut app, &scenario, opts.seed, "twin-serve").map_err(ServeError::Connect)?;
    let owed_s = super::live::after_resume(&mut app, resumed.as_ref(), opts.speed);
    super::live::pace_plant(app.world_mut(), opts.speed);
    app.insert_resource(ClockPacing::Realtime { speed: opts.speed, owed_s, paused: false });
    let url = app.world().resource::<super::live::LiveLink>().url.clone();
    info!(
        "serving {} ({}) on {url} at {}x{}",
        scenario.name,
        path.display(),
        opts.speed,
        opts.store.as_ref().map_or(String::new(), |s| format!(", history in {}", s.display()))
    );

    let mut status = Status { at: Some((Instant::now(), 0)), ..Default::default() };
    let mut next_status = Instant::now() + opts.status_every;
    let reached = |app: &App| opts.until_s.is_some_and(|t| app.world().resource::<SimClock>().now_s >= t - 1e-9);
    while !stop.load(Ordering::SeqCst) && !reached(&app) {
        app.world().resource::<Telemetry>().wait_ready(Duration::from_millis(50));
        app.update();
        status.alarms(app.world());
        if Instant::now() >= next_status {
            next_status += opts.status_every;
            status.log(app.world(), &url);
        }
    }

    info!("shutting down: {}", if reached(&app) { "--until reached" } else { "signal received" });
    status.log(app.world(), &url);
    crate::publish::sparkplug::shutdown(app.world_mut());
    if let Some(result) = crate::store::finish_store(app.world_mut()) {
        match result {
            Ok(s) => info!(
                "history store closed: {} records in {} transactions, {} dropped",
                s.records, s.batches, s.dropped
            ),
            Err(e) => error!("history store: {e}"),
        }
    }
    if let Some(c) = app.world_mut().resource_mut::<Telemetry>().mqtt.take() {
        c.shutdown();
    }
    info!("stopped");
    Ok(())
}

/// What the last status line said, to log rates and what changed.
#[derive(Default)]
struct Status {
    at: Option<(Instant, u64)>,
    alarms_seen: usize,
    connected: Option<bool>,
    /// The broker error last logged, so each new one is logged once.
    error: Option<String>,
}

impl Status {
    /// Logs each new drift alarm and each change of the broker connection.
    fn alarms(&mut self, world: &World) {
        if let Some(a) = world.get_resource::<crate::sync::Assimilation>() {
            for x in a.alarms.iter().skip(self.alarms_seen) {
                warn!("drift alarm: {} {:?} {:?}: {}", x.asset, x.quantity, x.kind, x.reason);
            }
            self.alarms_seen = a.alarms.len();
        }
        let stats = world.resource::<Telemetry>().mqtt.as_ref().map(|c| c.stats());
        let connected = stats.as_ref().is_some_and(|s| s.connected);
        let error = stats.and_then(|s| s.last_error).filter(|_| !connected);
        if error.is_some() && error != self.error {
            warn!("broker: {}", error.as_deref().unwrap_or_default());
        }
        self.error = error;
        if self.connected != Some(connected) {
            if connected {
                info!("broker connected");
            } else if self.connected.is_some() {
                warn!("broker connection lost; reconnecting");
            }
            self.connected = Some(connected);
        }
    }

    /// One status line: connection, message rate, samples accepted and rejected by reason, active alarms; then a
    /// line per misbehaving source.
    fn log(&mut self, world: &World, url: &str) {
        let t = world.resource::<Telemetry>();
        let counters = t.counters();
        let now = Instant::now();
        let rate = match self.at {
            Some((then, n)) => (t.drained - n) as f64 / now.duration_since(then).as_secs_f64().max(1e-9),
            None => 0.0,
        };
        self.at = Some((now, t.drained));
        let rejected: Vec<String> = counters
            .iter()
            .filter(|(k, v)| **v > 0 && !matches!(k.as_str(), "accepted" | "messages" | "identity"))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let active = world
            .get_resource::<crate::sync::Assimilation>()
            .map_or(0, |a| a.alarms.iter().filter(|x| x.cleared_s.is_none()).count());
        let connected = t.mqtt.as_ref().is_some_and(|c| c.stats().connected);
        info!(
            "status: t = {} | {url} {} | {rate:.1} msg/s, {} messages | accepted {} | rejected: {} | drift alarms active: {active}",
            scenario::Dur::from_secs(world.resource::<SimClock>().now_s),
            if connected { "connected" } else { "DISCONNECTED" },
            t.drained,
            counters.get("accepted").copied().unwrap_or(0),
            if rejected.is_empty() { "none".to_owned() } else { rejected.join(", ") },
        );
        // Sources that misbehave, by name (what "rejected" hides), with each status line while they do.
        for d in t.ingestor.diagnostics() {
            warn!("source problem: {d}");
        }
    }
}
