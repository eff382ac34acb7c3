//! The twin's history on disk: every accepted sample, the derived indices once a simulated minute, drift alarms
//! and service windows are handed to the history store's writer thread (`twin-store`, SQLite), so that what the
//! twin saw and concluded outlives the process and can be read by other tools. A live service also keeps
//! checkpoints of its whole state there with the journal of the messages it took since, acknowledges a message
//! to the broker only once it is on disk, and resumes from them after a restart or a crash.

pub mod checkpoint;
pub mod export;

use std::path::Path;

use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;
use twin_store::{
    CheckpointRow, FLAG_REORDERED, FLAG_SKEWED, Record, SignalInfo, Store, StoreError, Writer, WriterStats,
};

use checkpoint::CheckpointError;

use crate::assess::service::ServiceLog;
use crate::ingest::{RawMessage, SampleApplied, Telemetry};
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
    /// Checkpoints and the journal, when kept.
    checkpoints: Option<Checkpoints>,
}

/// What a store that keeps checkpoints knows of them.
struct Checkpoints {
    /// Simulated time between two checkpoints, s.
    every_s: f64,
    /// Simulated time of the last one taken, s.
    last_s: Option<f64>,
    /// The scenario's digest, written with each.
    digest: String,
}

/// How a store is used.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// Raw samples kept behind the newest, s (none: all).
    pub retain_s: Option<f64>,
    /// Take a checkpoint of the whole twin every this much simulated time (and at the end), journal the messages
    /// taken, and acknowledge live messages once on disk (none: the history alone).
    pub checkpoint_every_s: Option<f64>,
}

/// Simulated time between two checkpoints of a live service, s.
pub const CHECKPOINT_EVERY_S: f64 = 300.0;

/// Why a store cannot be opened or resumed from.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// What a resume restored.
#[derive(Debug, Clone, Copy)]
pub struct Resumed {
    /// The checkpoint's simulated time, s.
    pub checkpoint_s: f64,
    /// Journaled messages after it, to be replayed, count.
    pub journaled: usize,
    /// Unix time of the last of them (the checkpoint's time when none), s.
    pub until_unix_s: f64,
}

/// The journaled messages a resumed twin takes again, offered as its clock reaches their receive times.
#[derive(Resource)]
pub struct JournalTail {
    messages: std::collections::VecDeque<RawMessage>,
    sender: crate::ingest::TelemetrySender,
}

/// Offers the journaled messages received by the end of this tick (as many as the channel takes now).
fn feed_journal(mut tail: ResMut<JournalTail>, clock: Res<SimClock>, telemetry: Res<Telemetry>) {
    let end_unix = telemetry.epoch_unix_s + clock.now_s + f64::from(clock.pending_steps) * clock.step_s;
    while tail.messages.front().is_some_and(|m| m.received_s <= end_unix) && tail.sender.has_room() {
        let Some(m) = tail.messages.pop_front() else { break };
        tail.sender.offer(m);
    }
}

impl HistoryStore {
    /// Registers `scenario`'s signals in the open `store` and starts its writer.
    fn start(mut store: Store, scenario: &Scenario, opts: StoreOptions) -> Result<Self, StoreError> {
        store.retain_raw_s = opts.retain_s;
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
            checkpoints: opts.checkpoint_every_s.map(|every_s| Checkpoints {
                every_s,
                last_s: None,
                digest: checkpoint::digest(scenario),
            }),
        })
    }

    /// Appends the rows of every asset's indices now.
    fn index_rows(&self, world: &World, batch: &mut Vec<Record>) {
        let epoch = world.get_resource::<Telemetry>().map_or(crate::ingest::DEFAULT_EPOCH_UNIX_S, |t| t.epoch_unix_s);
        let t_unix_s = epoch + world.resource::<SimClock>().now_s;
        for (asset, index) in &self.indices {
            if let Some(v) = read_index(world, asset, *index).filter(|v| v.is_finite()) {
                batch.push(Record::Index { asset: asset.clone(), name: index.key(), t_unix_s, value: v });
            }
        }
    }

    /// Takes a checkpoint of `world`'s twin and hands it to the writer (after this tick's samples).
    fn checkpoint(&mut self, world: &World) {
        let Some(c) = &mut self.checkpoints else { return };
        match checkpoint::take(world) {
            Ok(t) => {
                let written_unix_s = crate::scenario::unix_now_s();
                let row = CheckpointRow {
                    id: 0,
                    t_unix_s: t.t_unix_s,
                    written_unix_s,
                    format: checkpoint::FORMAT,
                    twin_version: env!("CARGO_PKG_VERSION").into(),
                    scenario_digest: c.digest.clone(),
                    messages: i64::try_from(t.messages).unwrap_or(i64::MAX),
                    state: t.state,
                };
                self.writer.send(vec![Record::Checkpoint(Box::new(row))]);
            }
            Err(e) => warn!("history store: cannot take a checkpoint: {e}"),
        }
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
        h.index_rows(world, &mut batch);
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
    let mut mark = None;
    if h.checkpoints.is_some() {
        let mut t = world.resource_mut::<Telemetry>();
        for (seq, m) in t.journal.get_or_insert_default().drain(..) {
            batch.push(Record::Journal {
                seq: i64::try_from(seq).unwrap_or(i64::MAX),
                received_unix_s: m.received_s,
                topic: m.topic,
                payload: m.payload,
            });
        }
        mark = t.ack_gate.is_some().then_some(t.mqtt_taken);
    }
    h.writer.send_marked(batch, mark);
    if !h.warned && (h.writer.dropped() > 0 || h.writer.stopped()) {
        h.warned = true;
        warn!("history store: the writer fell behind or stopped; {} records dropped so far", h.writer.dropped());
    }
    world.insert_resource(h);
}

/// Takes a checkpoint at the end of a tick when one is due.
fn checkpoint_twin(world: &mut World) {
    let now = world.resource::<SimClock>().now_s;
    let due = world
        .get_resource::<HistoryStore>()
        .and_then(|h| h.checkpoints.as_ref())
        .is_some_and(|c| c.last_s.is_none_or(|t| now - t >= c.every_s - 1e-9));
    if !due {
        return;
    }
    let Some(mut h) = world.remove_resource::<HistoryStore>() else { return };
    if let Some(c) = &mut h.checkpoints {
        c.last_s = Some(now);
    }
    h.checkpoint(world);
    world.insert_resource(h);
}

/// Writes the twin's history into the [`HistoryStore`] resource, when there is one.
pub struct StorePlugin;

impl Plugin for StorePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (
                store_history
                    .run_if(resource_exists::<HistoryStore>)
                    .after(TwinSystems::Assess)
                    .before(TwinSystems::Control),
                checkpoint_twin.run_if(resource_exists::<HistoryStore>).after(TwinSystems::Dispatch),
                feed_journal.run_if(resource_exists::<JournalTail>).in_set(TwinSystems::Sources),
            ),
        );
    }
}

/// Opens the store at `path` for the app's scenario and adds the plugin that writes it. With `resume`, the
/// twin is restored from the store's newest checkpoint (when it has one) and the journal after it waits in a
/// [`JournalTail`] for [`catch_up`]; a checkpoint that cannot be used is refused before anything is written.
pub fn add_store(app: &mut App, path: &Path, opts: StoreOptions, resume: bool) -> Result<Option<Resumed>, OpenError> {
    let scenario = app.world().resource::<LoadedScenario>().0.clone();
    let store = Store::open(path, &scenario.name)?;
    let found = if resume { store.latest_checkpoint()? } else { None };
    let restore = match found {
        Some(row) => {
            let decoded = checkpoint::decode(store.path(), &row, &scenario)?;
            let journal = store.journal_after(i64::try_from(decoded.messages()).unwrap_or(i64::MAX))?;
            Some((decoded, journal))
        }
        None => None,
    };
    let store_path = store.path().to_owned();
    let mut h = HistoryStore::start(store, &scenario, opts)?;
    let mut resumed = None;
    if let Some((decoded, journal)) = restore {
        checkpoint::restore(app.world_mut(), &store_path, decoded)?;
        let world = app.world();
        let epoch = world.resource::<Telemetry>().epoch_unix_s;
        let now = world.resource::<SimClock>().now_s;
        // What the restored state holds was written before: only what follows it is new.
        if let Some(a) = world.get_resource::<Assimilation>() {
            h.alarms_raised = a.alarms.len();
            h.alarms_cleared = a.alarms.iter().map(|x| x.cleared_s.is_some()).collect();
        }
        h.notifications_written = world.get_resource::<ServiceLog>().map_or(0, |l| l.notifications.len());
        if let Some(c) = &mut h.checkpoints {
            c.last_s = Some(now);
        }
        resumed = Some(Resumed {
            checkpoint_s: now,
            journaled: journal.len(),
            until_unix_s: journal.last().map_or(epoch + now, |m| m.received_unix_s),
        });
        let messages = journal
            .into_iter()
            .map(|m| RawMessage { topic: m.topic, payload: m.payload, received_s: m.received_unix_s })
            .collect();
        let sender = world.resource::<Telemetry>().sender();
        app.insert_resource(JournalTail { messages, sender });
    }
    if h.checkpoints.is_some() {
        let mut t = app.world_mut().resource_mut::<Telemetry>();
        t.journal = Some(Vec::new());
        t.ack_gate = Some(twin_mqtt::AckGate(h.writer.committed()));
    }
    app.insert_resource(h).add_plugins(StorePlugin);
    Ok(resumed)
}

/// Replays the journal a resume left (see [`add_store`]) through the twin, stepping its clock to the last
/// journaled message; then the twin is where it was when it stopped, and goes on live.
pub fn catch_up(app: &mut App) {
    let Some(until_unix) = app.world().get_resource::<JournalTail>().map(|t| t.messages.back().map(|m| m.received_s))
    else {
        return;
    };
    let budget = app.world_mut().resource_mut::<Telemetry>().budget.take();
    loop {
        let world = app.world();
        let clock = world.resource::<SimClock>();
        let end = until_unix.map_or(0.0, |u| u - world.resource::<Telemetry>().epoch_unix_s);
        let left = world.get_resource::<JournalTail>().is_some_and(|t| !t.messages.is_empty());
        if !left && clock.now_s >= end {
            break;
        }
        let steps = ((end - clock.now_s) / clock.step_s).ceil().clamp(1.0, crate::twin::STEPS_PER_TICK as f64);
        app.world_mut().resource_mut::<SimClock>().pending_steps = steps as u32;
        app.update();
    }
    app.world_mut().remove_resource::<JournalTail>();
    app.world_mut().resource_mut::<Telemetry>().budget = budget;
}

/// Takes the store out of the app (with a last checkpoint, when it keeps them), writes what is queued and closes
/// it.
pub fn finish_store(world: &mut World) -> Option<Result<WriterStats, StoreError>> {
    let mut h = world.remove_resource::<HistoryStore>()?;
    // The indices where the twin stopped, and (for a service) its state to resume from.
    let mut rows = Vec::new();
    h.index_rows(world, &mut rows);
    h.writer.send(rows);
    h.checkpoint(world);
    Some(h.finish())
}
