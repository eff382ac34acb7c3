//! The Ingest stage: telemetry from any source (an MQTT client, the in-process virtual plant, a recording)
//! arrives as raw messages over one bounded channel, is decoded and quality-checked by the [`Ingestor`], and
//! lands on the asset entities as [`Measurements`] with their quality flags. Nothing here knows MQTT.

pub mod csv;
pub mod opcua;
pub mod quality;
pub mod recording;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde::Serialize;

pub use quality::{IngestSettings, Ingestor, Outcome, RawMessage, Sample, VALUE_TOPIC_PREFIX, value_message};

use crate::scenario::Scenario;
use crate::twin::{AssetIndex, ClockPacing, SimClock, TwinSystems};
use crate::units::Quantity;

/// One measured value on an asset, with its quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Measured {
    /// Value in the quantity's canonical unit.
    pub value: f64,
    /// Event time (source time, clock-corrected), s on the twin's time base.
    pub event_s: f64,
    /// When the twin received it, s on the twin's time base.
    pub received_s: f64,
    /// The earliest it may have arrived, s on the twin's time base: `received_s` for sources that stamp their
    /// arrival (the in-process plant, a replay), the previous tick's time for live messages, which are stamped
    /// with the time of the tick that drains them.
    #[serde(skip)]
    pub received_from_s: f64,
    /// The source clock is skewed (and was corrected).
    pub skewed_clock: bool,
    /// The sample arrived out of order within the allowed lateness.
    pub reordered: bool,
    /// No sample for several expected periods.
    pub stale: bool,
    /// The source said the value is Uncertain (an OPC UA status): applied, and flagged.
    #[serde(default)]
    pub uncertain: bool,
}

/// One sample applied to the twin this tick, in event-time order: what the state estimation consumes. A
/// `reordered` sample is older than one already applied for its signal (it arrived late, within the allowed
/// lateness); consumers that integrate over time re-apply from its event time.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SampleApplied {
    /// The asset entity the sample belongs to.
    pub asset: Entity,
    /// Index of the signal in the ingestor's signal table.
    pub signal: usize,
    /// What it measures.
    pub quantity: Quantity,
    /// The measurement, with its times on the twin's time base.
    pub measured: Measured,
}

/// The latest measured values of an asset, by quantity.
#[derive(Component, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Measurements(pub BTreeMap<Quantity, Measured>);

/// Telemetry state of the twin: the inbound channel, the ingestor and its counters.
#[derive(Resource)]
pub struct Telemetry {
    /// The decoding and quality checks.
    pub ingestor: Ingestor,
    rx: Receiver<RawMessage>,
    tx: Sender<RawMessage>,
    /// Unix time of the twin's t = 0, s: converts source timestamps to the twin's time base.
    pub epoch_unix_s: f64,
    /// Wall-clock budget for draining in one tick (live sources; a live client's channel over half full is drained to
    /// half whatever the budget); `None` drains everything that is waiting, which keeps replays deterministic.
    pub budget: Option<Duration>,
    /// Messages refused because the channel was full (counted by the senders).
    dropped_full: Arc<AtomicU64>,
    /// Messages taken from the channel.
    pub drained: u64,
    /// A live MQTT client, when the twin is connected to a broker.
    pub mqtt: Option<twin_mqtt::MqttClient>,
    /// Live OPC UA subscriptions, one per endpoint the signals name.
    pub opcua: Vec<opcua::OpcUaLink>,
    /// The twin's time since which the live messages now waiting may have arrived, s since its t = 0: the previous
    /// drain's, or an earlier one's while the drains since stopped at their budget with messages left waiting.
    live_since_s: Option<f64>,
    /// Messages stamped with the draining tick's time (live ones) have been taken since the start.
    live_seen: bool,
    /// How far behind the end of the tick being run the samples of the next drain may lie, s beyond the allowed
    /// lateness (see [`Telemetry::receive_lag_s`]).
    receive_lag_s: f64,
    /// When the history store keeps a journal: the messages taken since it last collected them, numbered as
    /// `drained` counts them.
    pub journal: Option<Vec<(u64, RawMessage)>>,
    /// Messages taken from the live client's receiver, count (what its [`twin_mqtt::AckGate`] counts).
    pub mqtt_taken: u64,
    /// The gate a live client connected from now on acknowledges by (the history store's commits move it).
    pub ack_gate: Option<twin_mqtt::AckGate>,
    /// When a fresh live twin's t = 0 was set to the wall clock's now, until its first tick paced by the wall clock
    /// catches the clock up to it (see [`drain_telemetry`]).
    epoch_set_at: Option<Instant>,
}

/// The most the assimilated branch waits for live samples beyond the allowed lateness, s of simulated time: a
/// twin that cannot keep up (a long backlog) or runs very fast stops waiting for its samples rather than
/// re-simulate an ever longer span every tick.
pub const MAX_RECEIVE_LAG_S: f64 = 600.0;

impl Telemetry {
    /// Connects the twin to a broker: every filter of `Ingestor::subscriptions` (the JSON signals' topics and each
    /// Sparkplug node's births, data and deaths) is subscribed at QoS 1, and the client's bounded receiver is
    /// drained with the internal channel each tick.
    pub fn connect(&mut self, mut config: twin_mqtt::MqttConfig) -> Result<(), twin_mqtt::MqttError> {
        let topics = self.ingestor.subscriptions();
        config.subscriptions = topics.into_iter().map(|t| (t, twin_mqtt::Qos::AtLeastOnce)).collect();
        config.ack_gate.clone_from(&self.ack_gate);
        self.mqtt = Some(twin_mqtt::MqttClient::start(config)?);
        Ok(())
    }

    /// How far behind the end of the tick now running the next drain's samples may lie, s, beyond the allowed
    /// lateness: 0 for sources that stamp their own arrival (the in-process plant, a replay), which deliver up to
    /// the end of the tick. Live messages are drained at the start of the next tick, so they may be as old as this
    /// tick's length (and older, from the start of a backlog left at the budget); the assimilated branch trails
    /// the clock by that much more so that they still reach it at their event times. At most
    /// [`MAX_RECEIVE_LAG_S`].
    pub fn receive_lag_s(&self) -> f64 {
        self.receive_lag_s
    }

    /// Blocks until a message waits on the inbound channel or on the live client's, or `timeout` passes, and
    /// says which; takes nothing. A live loop that waits here before each tick applies a sample as soon as it
    /// arrives instead of at the next frame.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let mut sel = crossbeam_channel::Select::new();
        sel.recv(&self.rx);
        if let Some(c) = &self.mqtt {
            sel.recv(c.receiver());
        }
        for l in &self.opcua {
            sel.recv(l.client.receiver());
        }
        sel.ready_timeout(timeout).is_ok()
    }

    /// Counters per signal id, by outcome (only the outcomes that happened).
    pub fn signal_counters(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.ingestor
            .signals()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (s.id.clone(), self.ingestor.signal_counts(i).iter().map(|(k, v)| (outcome_key(*k), *v)).collect())
            })
            .collect()
    }

    /// Takes one received message: records it if a recording runs, and ingests it.
    fn take(&mut self, msg: RawMessage, recorder: Option<&mut recording::Recorder>) {
        if let Some(r) = recorder {
            r.write(&msg);
        }
        self.ingestor.ingest(&msg);
        self.drained += 1;
        if let Some(j) = &mut self.journal {
            j.push((self.drained, msg));
        }
    }

    /// A sender for producers (an MQTT bridge, the virtual plant, a replay) to feed the twin.
    pub fn sender(&self) -> TelemetrySender {
        TelemetrySender(self.tx.clone(), self.dropped_full.clone())
    }

    /// Messages refused because a channel was full: the twin's inbound channel and the live client's.
    pub fn dropped_channel_full(&self) -> u64 {
        let mqtt_dropped = self.mqtt.as_ref().map_or(0, |c| c.stats().dropped_channel_full);
        let opcua_dropped: u64 = self.opcua.iter().map(|l| l.client.stats().dropped_channel_full).sum();
        self.dropped_full.load(Ordering::Relaxed) + mqtt_dropped + opcua_dropped
    }

    /// Counters of every ingestion outcome, with the channel drops, keyed for reports.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = self.ingestor.counts().iter().map(|(k, v)| (outcome_key(*k), *v)).collect();
        m.insert("dropped_channel_full".into(), self.dropped_channel_full());
        m.insert("messages".into(), self.drained);
        for (status, n) in self.ingestor.status_counts() {
            m.insert(format!("status.{status}"), *n);
        }
        m
    }
}

/// The snake-case name of an outcome, as reports write it (the same as its serde name).
fn outcome_key(o: Outcome) -> String {
    <&'static str>::from(o).to_owned()
}

/// The producer side of the twin's inbound channel. It never blocks; a message refused by a full channel is
/// counted in the twin's `dropped_channel_full`.
#[derive(Clone)]
pub struct TelemetrySender(Sender<RawMessage>, Arc<AtomicU64>);

impl TelemetrySender {
    /// Whether the channel has room for a message now.
    pub fn has_room(&self) -> bool {
        !self.0.is_full()
    }

    /// Offers a message; `false` (and counted) when the channel was full.
    pub fn offer(&self, msg: RawMessage) -> bool {
        match self.0.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.1.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Where the twin's telemetry comes from. A decision about a real PLC is made only on telemetry from a real
/// broker ([`TelemetryOrigin::Broker`]): never on the virtual plant's, a replay's, or none.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub enum TelemetryOrigin {
    /// Nothing feeds the twin: it runs on its models alone.
    #[default]
    None,
    /// The in-process virtual plant (directly, or through the embedded broker).
    VirtualPlant,
    /// A recording or a CSV log replayed through ingestion.
    Replay,
    /// An external MQTT broker: the plant's own telemetry. Its URL.
    Broker(String),
    /// OPC UA servers of the plant, subscribed to: the plant's own telemetry. Their URLs.
    OpcUa(String),
}

impl TelemetryOrigin {
    /// Whether the telemetry is the real plant's (a broker's or an OPC UA server's): the only kind a decision
    /// about a real PLC is made on.
    pub fn is_real_plant(&self) -> bool {
        matches!(self, TelemetryOrigin::Broker(_) | TelemetryOrigin::OpcUa(_))
    }
}

impl std::fmt::Display for TelemetryOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TelemetryOrigin::None => write!(f, "no telemetry (the twin's models alone)"),
            TelemetryOrigin::VirtualPlant => write!(f, "the virtual plant"),
            TelemetryOrigin::Replay => write!(f, "a replayed recording"),
            TelemetryOrigin::Broker(url) => write!(f, "the broker at {url}"),
            TelemetryOrigin::OpcUa(urls) => write!(f, "the OPC UA server at {urls}"),
        }
    }
}

/// Connects the twin in `world` to the scenario's external broker `spec`, with the twin's t = 0 at the wall
/// clock's now (unless its clock already ran: a resumed twin), so that live timestamps fit. Credentials come from the environment variables the scenario names.
/// The telemetry's origin becomes the broker.
///
/// With `Session::Persistent(id)` the client is `id` (or the scenario's `client_id`) with a persistent session:
/// the broker keeps what arrives while it is away. `Session::OneShot(id)` is a clean session under that id, for
/// a command that asks once and leaves: it must not be handed a backlog queued for an earlier run, nor take the
/// session of a twin that runs on.
pub fn connect_broker(
    world: &mut World,
    spec: &crate::scenario::MqttSpec,
    session: Session<'_>,
    budget: Option<Duration>,
) -> Result<(), twin_mqtt::MqttError> {
    let cfg = match session {
        Session::Persistent(id) => broker_config(spec, spec.client_id.as_deref().unwrap_or(id))?,
        Session::OneShot(id) => {
            let mut cfg = broker_config(spec, id)?;
            cfg.clean_session = true;
            cfg
        }
    };
    let now = crate::scenario::unix_now_s();
    // A twin resumed from a checkpoint keeps its time base (its clock then catches up with the wall clock).
    let fresh = world.resource::<SimClock>().steps_done == 0;
    let mut telemetry = world.resource_mut::<Telemetry>();
    telemetry.budget = budget;
    if fresh {
        telemetry.epoch_unix_s = now;
        telemetry.epoch_set_at = Some(Instant::now());
    }
    telemetry.connect(cfg)?;
    world.insert_resource(TelemetryOrigin::Broker(spec.url.clone()));
    Ok(())
}

/// Subscribes the twin in `world` to the OPC UA servers its signals name (see [`opcua::connect`]), with the twin's
/// t = 0 at the wall clock's now unless its clock already ran (a resumed twin). Unless a broker is the origin
/// already, the telemetry's origin becomes the OPC UA servers. Nothing happens without OPC UA signals.
pub fn connect_opcua(world: &mut World, scenario: &Scenario, budget: Option<Duration>) -> Result<(), String> {
    if !opcua::has_opcua_signals(scenario) {
        return Ok(());
    }
    let links = opcua::connect(scenario, Duration::from_secs_f64(scenario.change.timeout.secs().max(5.0)))?;
    let urls: Vec<String> = links.iter().map(|l| l.client.url().to_owned()).collect();
    let fresh = world.resource::<SimClock>().steps_done == 0;
    let mut telemetry = world.resource_mut::<Telemetry>();
    if telemetry.mqtt.is_none() {
        telemetry.budget = budget;
        if fresh {
            telemetry.epoch_unix_s = crate::scenario::unix_now_s();
            telemetry.epoch_set_at = Some(Instant::now());
        }
    }
    telemetry.opcua = links;
    let origin = world.get_resource::<TelemetryOrigin>().cloned().unwrap_or_default();
    if !matches!(origin, TelemetryOrigin::Broker(_)) {
        world.insert_resource(TelemetryOrigin::OpcUa(urls.join(", ")));
    }
    Ok(())
}

/// The client configuration for the scenario's broker under `client_id`: its URL, the credentials from the
/// environment variables it names, its CA file.
pub fn broker_config(
    spec: &crate::scenario::MqttSpec,
    client_id: &str,
) -> Result<twin_mqtt::MqttConfig, twin_mqtt::MqttError> {
    let mut cfg = twin_mqtt::MqttConfig::from_url(&spec.url, client_id)?;
    let env = |name: &Option<String>| name.as_ref().and_then(|n| std::env::var(n).ok());
    cfg.username = env(&spec.username_env);
    cfg.password = env(&spec.password_env);
    if spec.ca_file.is_some() || spec.client_cert.is_some() || spec.client_key.is_some() {
        cfg.tls = Some(twin_mqtt::TlsConfig {
            ca_file: spec.ca_file.clone().unwrap_or_default().into(),
            client_cert_file: spec.client_cert.as_ref().map(Into::into),
            client_key_file: spec.client_key.as_ref().map(Into::into),
        });
    }
    Ok(cfg)
}

/// The MQTT session [`connect_broker`] opens.
#[derive(Debug, Clone, Copy)]
pub enum Session<'a> {
    /// A persistent session under this client id (or the scenario's).
    Persistent(&'a str),
    /// A clean session under this client id, which must be unique to the process.
    OneShot(&'a str),
}

/// Unix time of the twin's t = 0 unless a live source says otherwise: 2026-01-01T00:00:00Z, the virtual
/// plant's epoch, so in-process runs and replays are repeatable.
pub const DEFAULT_EPOCH_UNIX_S: f64 = 1_767_225_600.0;

/// Capacity of the inbound channel, messages.
pub const CHANNEL_CAPACITY: usize = 65_536;

/// Installs telemetry ingestion for a scenario.
pub struct IngestPlugin {
    pub scenario: std::sync::Arc<Scenario>,
    pub settings: IngestSettings,
    pub epoch_unix_s: f64,
    pub budget: Option<Duration>,
}

impl Plugin for IngestPlugin {
    fn build(&self, app: &mut App) {
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        app.insert_resource(Telemetry {
            ingestor: Ingestor::new(&self.scenario, self.settings),
            rx,
            tx,
            epoch_unix_s: self.epoch_unix_s,
            budget: self.budget,
            dropped_full: Arc::new(AtomicU64::new(0)),
            drained: 0,
            mqtt: None,
            opcua: Vec::new(),
            live_since_s: None,
            live_seen: false,
            receive_lag_s: 0.0,
            journal: None,
            mqtt_taken: 0,
            ack_gate: None,
            epoch_set_at: None,
        })
        .init_resource::<TelemetryOrigin>()
        .add_message::<SampleApplied>()
        .add_systems(Update, drain_telemetry.in_set(TwinSystems::Ingest));
        let entities: Vec<Entity> = app.world().resource::<AssetIndex>().0.values().copied().collect();
        for e in entities {
            app.world_mut().entity_mut(e).insert(Measurements::default());
        }
    }
}

/// What [`drain_telemetry`] keeps between ticks.
#[derive(Default)]
struct DrainCache {
    /// Each signal's asset entity (by signal index), resolved when the asset index changes.
    entities: Vec<Option<Entity>>,
    /// The twin's time (unix s, as bits) and the count of source deaths at the last check of every signal's
    /// staleness.
    stale_checked: Option<(u64, u64)>,
}

/// Drains the inbound channel (within the budget), runs the checks, and applies every sample whose event time
/// has come to the assets in event-time order (a [`SampleApplied`] each); then refreshes the signals' staleness
/// when the twin's time moved or a source died. A sample is applied in the tick it arrives: waiting for the
/// allowed lateness would delay every sample by it. One that arrives out of order is still applied (flagged
/// `reordered`) but does not replace a newer value in [`Measurements`].
fn drain_telemetry(
    mut telemetry: ResMut<Telemetry>,
    clock: Res<SimClock>,
    mut pacing: Option<ResMut<ClockPacing>>,
    index: Res<AssetIndex>,
    mut assets: Query<&mut Measurements>,
    mut recorder: Option<ResMut<recording::Recorder>>,
    (mut applied, mut cache): (MessageWriter<SampleApplied>, Local<DrainCache>),
) {
    let t = &mut *telemetry;
    let started = Instant::now();
    // The wall clock's first tick counts no time (Bevy's first frame has no delta), so a fresh live twin's clock
    // would trail its t = 0, set at connection, by however long its start-up took (the models' construction in the
    // first frame: ~0.1 s at 1,000 assets), and hold every live sample that long. Its first paced tick owes it.
    if let Some(at) = t.epoch_set_at.take()
        && let Some(ClockPacing::Realtime { speed, owed_s, paused: false }) = pacing.as_deref_mut()
    {
        let counted_s = clock.now_s + f64::from(clock.pending_steps) * clock.step_s + *owed_s;
        *owed_s += (at.elapsed().as_secs_f64() * *speed - counted_s).max(0.0);
    }
    let now_unix = t.epoch_unix_s + clock.now_s;
    // Sources inside the app (the in-process plant, a replay) deliver up to the end of this tick.
    let tick_end_unix = now_unix + f64::from(clock.pending_steps) * clock.step_s;
    let over_budget = |t: &Telemetry| t.budget.is_some_and(|b| started.elapsed() > b);
    // What this tick stamps "now" arrived since the previous drain (or earlier, while drains left a backlog), and
    // belongs to a tick that runs to its end: that much simulated time (tens of seconds each at 60x and a few
    // frames per second) is how uncertain its receive time is.
    let window_s = (t.live_since_s.map_or(0.0, |since| clock.now_s - since), tick_end_unix - now_unix);
    // Live messages first. Their receive time is the twin's now: the client stamps wall time, which the
    // twin's clock need not follow.
    if let Some(client) = t.mqtt.take() {
        t.ingestor.set_receive_window(window_s.0, window_s.1);
        while let Ok(m) = client.receiver().try_recv() {
            t.live_seen = true;
            t.take(RawMessage { topic: m.topic, payload: m.payload, received_s: now_unix }, recorder.as_deref_mut());
            t.mqtt_taken += 1;
            // Past the budget, a channel more than half full is still drained down to half: a message the client
            // cannot hand over is dropped (and redelivered only after a reconnect), which costs more than a slow
            // frame.
            let filling = client.receiver().capacity().is_some_and(|c| client.receiver().len() > c / 2);
            if over_budget(t) && !filling {
                break;
            }
        }
        t.mqtt = Some(client);
    }
    // OPC UA values, stamped like live MQTT messages.
    let links = std::mem::take(&mut t.opcua);
    for link in &links {
        t.ingestor.set_receive_window(window_s.0, window_s.1);
        let rx = link.client.receiver();
        while let Ok(c) = rx.try_recv() {
            t.live_seen = true;
            if let Some(msg) = opcua::message(&link.signals, &c, now_unix) {
                t.take(msg, recorder.as_deref_mut());
            }
            let filling = rx.capacity().is_some_and(|cap| rx.len() > cap / 2);
            if over_budget(t) && !filling {
                break;
            }
        }
    }
    t.opcua = links;
    while let Ok(mut msg) = t.rx.try_recv() {
        // Received "now" on the twin's clock, unless the producer stamped its own receive time within this tick
        // (a replay, the in-process plant). Those are all taken, budget or not: their producer runs in the app and
        // publishes no more than the tick's span, and one left waiting would be received late.
        let stamped = msg.received_s.is_finite() && msg.received_s <= tick_end_unix;
        if stamped {
            t.ingestor.set_receive_window(0.0, 0.0);
        } else {
            msg.received_s = now_unix;
            t.live_seen = true;
            t.ingestor.set_receive_window(window_s.0, window_s.1);
        }
        t.take(msg, recorder.as_deref_mut());
        if !stamped && over_budget(t) {
            break;
        }
    }
    // Messages left waiting at the budget may date from any drain since the last one that emptied the channels.
    let backlog = t.mqtt.as_ref().is_some_and(|c| !c.receiver().is_empty())
        || t.opcua.iter().any(|l| !l.client.receiver().is_empty())
        || !t.rx.is_empty();
    if !backlog || t.live_since_s.is_none() {
        t.live_since_s = Some(clock.now_s);
    }
    t.receive_lag_s = if t.live_seen || t.mqtt.is_some() || !t.opcua.is_empty() {
        let waiting_s = t.live_since_s.map_or(0.0, |since| clock.now_s - since);
        (waiting_s + window_s.1).clamp(0.0, MAX_RECEIVE_LAG_S)
    } else {
        0.0
    };
    // Samples stamped in the twin's future (a source clock ahead of ours) wait until their time comes. Paced by
    // the wall clock, the present is the end of this tick's whole steps plus what is owed of the next one: a sample
    // stamped within it is not from the future, and waiting for the next whole step would hold every live sample
    // up to a step (1 s) for nothing (the assimilated branch takes it at its step either way).
    let present_unix = match pacing.as_deref() {
        Some(ClockPacing::Realtime { owed_s, paused: false, .. }) => tick_end_unix + owed_s.clamp(0.0, clock.step_s),
        _ => tick_end_unix,
    };
    let n = t.ingestor.signals().len();
    if index.is_changed() || cache.entities.len() != n {
        cache.entities = t.ingestor.signals().iter().map(|sig| index.0.get(&sig.asset).copied()).collect();
    }
    for s in t.ingestor.release(present_unix) {
        let sig = &t.ingestor.signals()[s.signal];
        let Some(e) = cache.entities[s.signal] else { continue };
        let measured = Measured {
            value: s.value,
            event_s: s.event_s - t.epoch_unix_s,
            received_s: s.received_s - t.epoch_unix_s,
            received_from_s: s.received_from_s - t.epoch_unix_s,
            skewed_clock: s.skewed_clock,
            reordered: s.reordered,
            stale: t.ingestor.is_stale(s.signal, now_unix),
            uncertain: s.uncertain,
        };
        if let Ok(mut m) = assets.get_mut(e) {
            let newest = m.0.get(&sig.quantity).is_none_or(|old| old.event_s <= measured.event_s);
            if newest {
                m.0.insert(sig.quantity, measured);
            }
        }
        applied.write(SampleApplied { asset: e, signal: s.signal, quantity: sig.quantity, measured });
    }
    // A signal goes stale as the twin's time passes its last message, or when its source dies: every signal is
    // checked then, not on each of the thousands of ticks a second a busy live twin runs between (a sample applied
    // meanwhile carries its signal's staleness).
    let deaths = t.ingestor.counts().get(&Outcome::Death).copied().unwrap_or(0);
    if cache.stale_checked != Some((now_unix.to_bits(), deaths)) {
        cache.stale_checked = Some((now_unix.to_bits(), deaths));
        for (i, sig) in t.ingestor.signals().iter().enumerate() {
            let stale = t.ingestor.is_stale(i, now_unix);
            if let Some(e) = cache.entities[i]
                && let Ok(mut m) = assets.get_mut(e)
                && let Some(v) = m.0.get_mut(&sig.quantity)
                && v.stale != stale
            {
                v.stale = stale;
            }
        }
    }
    // Sparkplug rebirth requests go out over the live client; without one they wait (bounded, drops counted) in
    // the ingestor for the in-process plant.
    if let Some(client) = &t.mqtt {
        for (topic, payload) in t.ingestor.take_commands() {
            if client.publish(&topic, payload, twin_mqtt::Qos::AtLeastOnce, false).is_err() {
                t.ingestor.record(Outcome::CommandDropped);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn an_outcomes_report_key_is_its_serde_name() {
        for o in Outcome::iter() {
            assert_eq!(serde_json::to_value(o).unwrap(), outcome_key(o), "{o:?}");
        }
    }
}
