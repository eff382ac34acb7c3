//! The twin's history on disk: every accepted sample, the derived indices once a simulated minute, drift alarms
//! and service windows are handed to the history store's writer thread (`twin-store`, SQLite), so that what the
//! twin saw and concluded outlives the process and can be read by other tools.

use std::path::Path;

use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;
use twin_store::{FLAG_REORDERED, FLAG_SKEWED, Record, SignalInfo, Store, StoreError, Writer, WriterStats};

use crate::assess::service::ServiceLog;
use crate::ingest::{SampleApplied, Telemetry};
use crate::scenario::{Index, Scenario};
use crate::sync::Assimilation;
use crate::twin::{LoadedScenario, SimClock, TwinSystems, read_index};

/// Simulated time between two rows of an asset's indices, s.
const INDEX_PERIOD_S: f64 = 60.0;
/// Batches the writer may have in flight (one per tick): minutes of a fast run's ticks.
const CHANNEL_BATCHES: usize = 4096;

/// The open store's writer and what the twin has handed it so far.
#[derive(Resource)]
pub struct HistoryStore {
    writer: Writer,
    /// The store's id of each ingested signal, in the ingestor's table order.
    signal_ids: Vec<i64>,
    /// (asset id, index) of every index the assets' kinds carry.
    indices: Vec<(String, Index)>,
    /// Simulated time of the last index rows, s.
    last_index_s: Option<f64>,
    /// Drift alarms whose raising is written, count.
    alarms_raised: usize,
    /// Per drift alarm, whether its clearing is written.
    alarms_cleared: Vec<bool>,
    /// Where this store's reading of the applied samples is.
    cursor: MessageCursor<SampleApplied>,
    /// Service notifications already written, count.
    notifications_written: usize,
    /// Whether a full channel or a stopped writer was already logged.
    warned: bool,
}

impl HistoryStore {
    /// Opens (or creates) the store at `path` for `scenario` and registers its signals; raw samples are kept
    /// `retain_s` behind the newest (none: all).
    pub fn open(path: &Path, scenario: &Scenario, retain_s: Option<f64>) -> Result<Self, StoreError> {
        let mut store = Store::open(path, &scenario.name)?;
        store.retain_raw_s = retain_s;
        let mut signal_ids = Vec::with_capacity(scenario.signals.len());
        for s in &scenario.signals {
            let q = s.quantity;
            let info = SignalInfo {
                name: s.id.clone(),
                asset: s.asset.clone(),
                quantity: format!("{q:?}"),
                unit: q.canonical_unit().to_owned(),
            };
            signal_ids.push(store.register(&info)?);
        }
        let indices = scenario
            .assets
            .iter()
            .flat_map(|a| Index::of_kind(a.kind.name()).map(move |i| (a.id.clone(), i)))
            .collect();
        Ok(Self {
            writer: Writer::spawn(store, CHANNEL_BATCHES),
            signal_ids,
            indices,
            last_index_s: None,
            alarms_raised: 0,
            alarms_cleared: Vec::new(),
            cursor: MessageCursor::default(),
            notifications_written: 0,
            warned: false,
        })
    }

    /// Writes what is queued and closes the store.
    pub fn finish(self) -> Result<WriterStats, StoreError> {
        self.writer.finish()
    }
}

/// Hands this tick's samples, indices and events to the writer.
fn store_history(world: &mut World) {
    let Some(mut h) = world.remove_resource::<HistoryStore>() else { return };
    let now = world.resource::<SimClock>().now_s;
    let epoch = world.get_resource::<Telemetry>().map_or(crate::ingest::DEFAULT_EPOCH_UNIX_S, |t| t.epoch_unix_s);
    let mut batch = Vec::new();
    let samples = world.resource::<Messages<SampleApplied>>();
    for s in h.cursor.read(samples) {
        let Some(&signal) = h.signal_ids.get(s.signal) else { continue };
        let m = &s.measured;
        let flags = if m.skewed_clock { FLAG_SKEWED } else { 0 } | if m.reordered { FLAG_REORDERED } else { 0 };
        batch.push(Record::Sample {
            signal,
            t_unix_s: epoch + m.event_s,
            received_unix_s: epoch + m.received_s,
            value: m.value,
            flags,
        });
    }
    if h.last_index_s.is_none_or(|t| now - t >= INDEX_PERIOD_S - 1e-9) {
        h.last_index_s = Some(now);
        for (asset, index) in &h.indices {
            if let Some(v) = read_index(world, asset, *index).filter(|v| v.is_finite()) {
                batch.push(Record::Index { asset: asset.clone(), name: index.key(), t_unix_s: epoch + now, value: v });
            }
        }
    }
    if let Some(a) = world.get_resource::<Assimilation>() {
        h.alarms_cleared.resize(a.alarms.len(), false);
        for (x, written) in a.alarms.iter().zip(h.alarms_cleared.iter_mut()).skip(h.alarms_raised) {
            let detail = serde_json::to_string(x).unwrap_or_default();
            let asset = Some(x.asset.clone());
            batch.push(Record::Event { t_unix_s: epoch + x.raised_s, kind: "drift_alarm", asset, detail });
            *written = false;
        }
        h.alarms_raised = a.alarms.len();
        for (x, written) in a.alarms.iter().zip(h.alarms_cleared.iter_mut()) {
            if let (Some(c), false) = (x.cleared_s, *written) {
                *written = true;
                let detail = serde_json::to_string(x).unwrap_or_default();
                let asset = Some(x.asset.clone());
                batch.push(Record::Event { t_unix_s: epoch + c, kind: "drift_alarm_cleared", asset, detail });
            }
        }
    }
    if let Some(log) = world.get_resource::<ServiceLog>() {
        for n in log.notifications.iter().skip(h.notifications_written) {
            let detail = serde_json::to_string(n).unwrap_or_default();
            let asset = Some(n.asset.clone());
            batch.push(Record::Event { t_unix_s: epoch + n.raised_at_s, kind: "service_window", asset, detail });
        }
        h.notifications_written = log.notifications.len();
    }
    h.writer.send(batch);
    if !h.warned && (h.writer.dropped() > 0 || h.writer.stopped()) {
        h.warned = true;
        warn!("history store: the writer fell behind or stopped; {} records dropped so far", h.writer.dropped());
    }
    world.insert_resource(h);
}

/// Writes the twin's history into the [`HistoryStore`] resource, when there is one.
pub struct StorePlugin;

impl Plugin for StorePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            store_history
                .run_if(resource_exists::<HistoryStore>)
                .after(TwinSystems::Assess)
                .before(TwinSystems::Control),
        );
    }
}

/// Opens the store at `path` for the app's scenario (raw samples kept `retain_s` behind the newest; none: all)
/// and adds the plugin that writes it.
pub fn add_store(app: &mut App, path: &Path, retain_s: Option<f64>) -> Result<(), StoreError> {
    let scenario = app.world().resource::<LoadedScenario>().0.clone();
    app.insert_resource(HistoryStore::open(path, &scenario, retain_s)?).add_plugins(StorePlugin);
    Ok(())
}

/// Takes the store out of the app, writes what is queued and closes it.
pub fn finish_store(app: &mut App) -> Option<Result<WriterStats, StoreError>> {
    app.world_mut().remove_resource::<HistoryStore>().map(HistoryStore::finish)
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Write {
        path: String,
        #[source]
        source: csv::Error,
    },
}

/// Writes the store's samples in `[from, to]` (of `asset` when given) as CSV to `output` (standard output when
/// none): `t_utc,t_unix_s,signal,asset,quantity,unit,value`. Returns the number of samples.
pub fn export_csv(
    store: &Path,
    from: Option<f64>,
    to: Option<f64>,
    asset: Option<&str>,
    output: Option<&Path>,
) -> Result<u64, ExportError> {
    let s = Store::open_read(store)?;
    let (sink, name): (Box<dyn std::io::Write>, String) = match output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| ExportError::Write { path: p.display().to_string(), source: e.into() })?;
            (Box::new(std::io::BufWriter::new(f)), p.display().to_string())
        }
        None => (Box::new(std::io::BufWriter::new(std::io::stdout().lock())), "standard output".into()),
    };
    let mut w = csv::Writer::from_writer(sink);
    let failed = |e: csv::Error| ExportError::Write { path: name.clone(), source: e };
    w.write_record(["t_utc", "t_unix_s", "signal", "asset", "quantity", "unit", "value"]).map_err(failed)?;
    let mut error = None;
    let n = s.for_each_sample(from.unwrap_or(f64::MIN), to.unwrap_or(f64::MAX), asset, |t, sig, v| {
        if error.is_some() {
            return;
        }
        let utc = chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
            .map_or(String::new(), |d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let row = [
            utc,
            t.to_string(),
            sig.name.clone(),
            sig.asset.clone(),
            sig.quantity.clone(),
            sig.unit.clone(),
            v.to_string(),
        ];
        if let Err(e) = w.write_record(&row) {
            error = Some(e);
        }
    })?;
    if let Some(e) = error {
        return Err(failed(e));
    }
    w.flush().map_err(|e| failed(e.into()))?;
    Ok(n)
}
