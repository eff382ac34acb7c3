//! Telemetry ingestion as plain Rust: maps a message's topic to the scenario's signals, decodes the values,
//! converts them to canonical units and applies the data-quality checks (range, NaN, dead-band, duplicates,
//! clock offset, event-time reordering, lateness, staleness), counting every outcome by reason.
//!
//! Two decodings feed the same per-value checks ([`Ingestor`]'s `check_value`):
//! - JSON: the topic is matched against the JSON signals' topic filters and each value read at its path.
//! - Sparkplug B: a message whose topic parses as Sparkplug and whose (group, edge node) has signals is decoded
//!   (protobuf that does not decode is `bad_payload`, counted against the node's or device's signals), checked
//!   for a QoS 1 redelivery (same topic, payload `seq` and payload timestamp: `duplicate`), then run through a
//!   `NodeTracker` (aliases from the births, `seq` continuity). Each metric of a birth or data message maps to
//!   the signal of the same (group, edge node, device, metric); its timestamp (ms) is the source time; metrics
//!   mapped to no signal are `unmapped_metric` (the protocol's `bdSeq`, `Node Control/*`, `Device Control/*` and
//!   `Properties/*` are not telemetry and are skipped), null or non-numeric ones `missing_value`. A sequence gap,
//!   an unknown alias or data before a birth queues the node's rebirth NCMD ([`Ingestor::take_commands`],
//!   `rebirth_requested`) and the node's messages are `awaiting_rebirth` until its NBIRTH. NDEATH and DDEATH
//!   (`death`) make the node's or device's signals stale at once. Commands and STATE are `ignored`.

mod clock;
mod identity;
mod message;
mod sources;
mod spb;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use twin_mqtt::sparkplug::{self, MessageType, NodeEvent, NodeTracker, SparkplugTopic};
use twin_mqtt::{CodecError, json, topic};

use crate::scenario::{Scenario, SignalSource, SparkplugSource};
use crate::units::{Quantity, UnitConverter};

pub use clock::CLOCK_MIN_SPAN_S;
use clock::{ClockEstimate, ClockJudgement};
pub use identity::IdentityReport;
pub use message::{Outcome, RawMessage, VALUE_TOPIC_PREFIX, value_message, value_message_with};
pub use sources::{SourceKind, SourceQuality};
pub use spb::MAX_PENDING_COMMANDS;
use spb::{SparkplugKey, data_topic};

/// One signal as the ingestor needs it.
#[derive(Debug, Clone)]
pub struct SignalEntry {
    /// Signal id.
    pub id: String,
    /// Asset id.
    pub asset: String,
    /// What it measures.
    pub quantity: Quantity,
    /// Topic filter (JSON); for a Sparkplug signal, its NDATA or DDATA topic (informative).
    pub topic: String,
    /// The Sparkplug metric, for a Sparkplug signal (then `value_path` is empty and `timestamp_path` `None`).
    pub sparkplug: Option<SparkplugSource>,
    /// The node, for an OPC UA signal (its values arrive as value-level messages; `topic` is the node id).
    pub opcua: Option<String>,
    /// JSON path of the value, compiled once (`None` for a Sparkplug signal, or a path that does not compile:
    /// the scenario's validation refuses those, so every message would count `missing_value`).
    pub value_path: Option<json::JsonPath>,
    /// JSON path of the source timestamp, compiled once.
    pub timestamp_path: Option<json::JsonPath>,
    /// Source unit to canonical.
    pub converter: UnitConverter,
    /// Valid range in the canonical unit.
    pub valid: (f64, f64),
    /// Dead-band in the canonical unit (0: off).
    pub deadband: f64,
    /// Expected sample period, s.
    pub period_s: f64,
    /// The source it comes from, as the data-quality panel groups signals: its MQTT topic filter, Sparkplug
    /// `group/node[/device]`, or OPC UA endpoint.
    pub source: (SourceKind, String),
}

/// A sample that passed every check, ready for the twin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Sample {
    /// Index into the ingestor's signal table.
    pub signal: usize,
    /// Value in the canonical unit.
    pub value: f64,
    /// Event time after clock correction, s on the twin's time base.
    pub event_s: f64,
    /// Receive time, s on the twin's time base.
    pub received_s: f64,
    /// The earliest the twin may have received it, s on the twin's time base: `received_s` less the ingestor's
    /// receive window before the stamp (see [`Ingestor::set_receive_window`]).
    pub received_from_s: f64,
    /// The source's clock was found skewed and corrected.
    pub skewed_clock: bool,
    /// Arrived out of order (within the allowed lateness).
    pub reordered: bool,
    /// Its source said the value is Uncertain (an OPC UA status): applied, and flagged.
    #[serde(default)]
    pub uncertain: bool,
}

/// Ingestion settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IngestSettings {
    /// How long a sample may lag the newest event time of its signal and still be applied in order, s.
    pub allowed_lateness_s: f64,
    /// A signal is stale after this many expected periods without a sample.
    pub stale_periods: f64,
    /// A source clock offset beyond this is flagged as skewed (and corrected), s.
    pub skew_threshold_s: f64,
    /// Duplicate-detection memory per topic, messages. A QoS 1 redelivery is of a message the twin had not yet
    /// acknowledged, and it acknowledges a message once it is in its channel: at most the broker's in-flight
    /// window (Mosquitto: 20 messages) is ever redelivered, so the last [`DEDUP_WINDOW`] of a topic suffice.
    pub dedup_window: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { allowed_lateness_s: 5.0, stale_periods: 3.0, skew_threshold_s: 2.0, dedup_window: DEDUP_WINDOW }
    }
}

/// The default duplicate-detection memory per topic, messages (see [`IngestSettings::dedup_window`]). 4,096 before:
/// about 25 kB of keys per topic, 360 MB in memory and in each checkpoint at a 10,000-asset site's 14,500 topics
/// once an hour of 1 Hz messages had filled them.
pub const DEDUP_WINDOW: usize = 64;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct SignalState {
    /// Newest event time accepted, s.
    watermark_s: Option<f64>,
    /// Last applied value, canonical.
    last_value: Option<f64>,
    /// Receive time of the last accepted sample (the latest it may have arrived, within the receive window), s.
    last_received_s: Option<f64>,
    /// Its Sparkplug node or device announced its death (NDEATH/DDEATH) after the last sample.
    dead: bool,
}

/// De-duplication key: (kind, seq or timestamp bits, timestamp ms). Kinds: 0 JSON seq, 1 JSON timestamp,
/// 2 Sparkplug (seq, payload timestamp).
type DedupKey = (u8, u64, u64);

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct TopicState {
    /// The keys of `order`, for lookup (rebuilt from it when restored from a checkpoint).
    #[serde(skip)]
    seen: BTreeSet<DedupKey>,
    order: VecDeque<DedupKey>,
    clock: ClockEstimate,
}

/// Decodes and checks telemetry for one scenario.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ingestor {
    #[serde(skip)]
    settings: IngestSettings,
    #[serde(skip)]
    signals: Vec<SignalEntry>,
    state: Vec<SignalState>,
    topics: BTreeMap<String, TopicState>,
    /// Samples waiting for their event time to pass the reorder horizon, by (event time, arrival order).
    pending: BTreeMap<(OrdF64, u64), Sample>,
    arrivals: u64,
    counts: BTreeMap<Outcome, u64>,
    per_signal: Vec<BTreeMap<Outcome, u64>>,
    /// Sparkplug: signal by (group, edge node, device, metric).
    #[serde(skip)]
    sp_signals: BTreeMap<SparkplugKey, usize>,
    /// Sparkplug: the (group, edge node) pairs that have signals; messages of other nodes are not tracked.
    #[serde(skip)]
    sp_nodes: BTreeSet<(String, String)>,
    /// Sparkplug: the signals a message concerns, by `group/node` (all the node's devices) and
    /// `group/node/device`: found by one lookup, whatever the number of signals.
    #[serde(skip)]
    sp_concerned: HashMap<String, Arc<[usize]>>,
    /// Sparkplug: what each of those nodes did, for the diagnostics.
    sp_health: BTreeMap<(String, String), spb::NodeHealth>,
    tracker: NodeTracker,
    /// Outgoing commands (topic, payload) waiting for [`Ingestor::take_commands`].
    #[serde(skip)]
    commands: VecDeque<(String, Vec<u8>)>,
    /// Asset id by identity topic.
    #[serde(skip)]
    identity_topics: BTreeMap<String, String>,
    /// Identity reports waiting for [`Ingestor::take_identities`].
    identities: Vec<IdentityReport>,
    /// How long before and after its receive stamp a message may have arrived, s (see
    /// [`Ingestor::set_receive_window`]).
    receive_window_s: (f64, f64),
    /// The JSON signals whose topic filter is a topic (no wildcard), by topic: a site's thousands of signals are
    /// found by one lookup, whatever the number of topics.
    #[serde(skip)]
    exact: HashMap<String, Arc<[usize]>>,
    /// The JSON signals whose topic filter has a wildcard (`+`, `#`): those a received topic is matched against.
    #[serde(skip)]
    wildcard: Vec<usize>,
    /// The JSON signals whose topic filter matches a received topic, by topic, when there are wildcard filters:
    /// the filters are fixed, so each topic is matched once (at most [`MATCH_CACHE_TOPICS`] topics are kept;
    /// others are matched every time).
    #[serde(skip)]
    matches: HashMap<String, Arc<[usize]>>,
    /// Values with a status other than Good (OPC UA), by status name: Bad ones were rejected, Uncertain ones applied.
    #[serde(default)]
    statuses: BTreeMap<String, u64>,
}

/// Received topics whose matching signals are remembered, at most: a stream of ever new topics (unknown ones
/// included) cannot grow the cache without bound.
pub const MATCH_CACHE_TOPICS: usize = 4096;

/// f64 ordered by total order, for map keys.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Ingestor {
    /// Takes the state of `saved` (a checkpoint's ingestor of the same scenario): source clocks, de-duplication
    /// memory, watermarks, samples waiting for their time, counters and Sparkplug node states; this one's
    /// configuration stays.
    pub fn restore(&mut self, saved: Ingestor) {
        self.state = saved.state;
        self.topics = saved.topics;
        for t in self.topics.values_mut() {
            t.seen = t.order.iter().copied().collect();
        }
        self.pending = saved.pending;
        self.arrivals = saved.arrivals;
        self.counts = saved.counts;
        self.statuses = saved.statuses;
        self.per_signal = saved.per_signal;
        self.sp_health = saved.sp_health;
        self.tracker = saved.tracker;
        self.identities = saved.identities;
        self.receive_window_s = saved.receive_window_s;
    }

    /// The ingestor for a scenario's signals (every signal has a valid unit: the scenario was validated).
    pub fn new(scenario: &Scenario, settings: IngestSettings) -> Self {
        let signals: Vec<SignalEntry> = scenario
            .signals
            .iter()
            .filter_map(|s| {
                let converter = s.quantity.converter(&s.unit)?;
                let (topic, sparkplug, value_path, timestamp_path) = match &s.source {
                    SignalSource::Mqtt(src) => {
                        let ts = src.timestamp.as_deref().and_then(|p| json::JsonPath::parse(p).ok());
                        (src.topic.clone(), None, json::JsonPath::parse(&src.value).ok(), ts)
                    }
                    SignalSource::Sparkplug(sp) => (data_topic(sp), Some(sp.clone()), None, None),
                    SignalSource::OpcUa(src) => (src.node.clone(), None, None, None),
                };
                let opcua = match &s.source {
                    SignalSource::OpcUa(src) => Some(src.node.clone()),
                    _ => None,
                };
                let source = match &s.source {
                    SignalSource::Mqtt(src) => (SourceKind::Mqtt, src.topic.clone()),
                    SignalSource::Sparkplug(sp) => (
                        SourceKind::Sparkplug,
                        match &sp.device {
                            Some(d) => format!("{}/{}/{d}", sp.group, sp.edge_node),
                            None => format!("{}/{}", sp.group, sp.edge_node),
                        },
                    ),
                    SignalSource::OpcUa(src) => (SourceKind::OpcUa, src.endpoint.clone()),
                };
                let (a, b) = (converter.to_canonical(s.valid.0), converter.to_canonical(s.valid.1));
                Some(SignalEntry {
                    id: s.id.clone(),
                    asset: s.asset.clone(),
                    quantity: s.quantity,
                    topic,
                    sparkplug,
                    opcua,
                    value_path,
                    timestamp_path,
                    converter,
                    valid: (a.min(b), a.max(b)),
                    deadband: (converter.to_canonical(s.deadband) - converter.to_canonical(0.0)).abs(),
                    period_s: s.period.secs(),
                    source,
                })
            })
            .collect();
        let n = signals.len();
        let mut sp_signals = BTreeMap::new();
        let mut sp_nodes = BTreeSet::new();
        let mut sp_concerned = HashMap::<String, Vec<usize>>::new();
        for (i, s) in signals.iter().enumerate() {
            if let Some(sp) = &s.sparkplug {
                sp_signals.insert((sp.group.clone(), sp.edge_node.clone(), sp.device.clone(), sp.metric.clone()), i);
                sp_nodes.insert((sp.group.clone(), sp.edge_node.clone()));
                sp_concerned.entry(spb::concerned_key(&sp.group, &sp.edge_node, None)).or_default().push(i);
                if let Some(d) = &sp.device {
                    sp_concerned.entry(spb::concerned_key(&sp.group, &sp.edge_node, Some(d))).or_default().push(i);
                }
            }
        }
        let sp_concerned = sp_concerned.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
        let identity_topics =
            scenario.assets.iter().filter_map(|a| Some((a.identity_topic.clone()?, a.id.clone()))).collect();
        let (mut by_topic, mut wildcard) = (HashMap::<String, Vec<usize>>::new(), Vec::new());
        for (i, s) in signals.iter().enumerate() {
            if s.sparkplug.is_some() || s.opcua.is_some() {
                continue;
            }
            if s.topic.contains(['+', '#']) {
                wildcard.push(i);
            } else {
                by_topic.entry(s.topic.clone()).or_default().push(i);
            }
        }
        let exact = by_topic.into_iter().map(|(t, v)| (t, Arc::from(v))).collect();
        Self {
            exact,
            wildcard,
            identity_topics,
            identities: Vec::new(),
            receive_window_s: (0.0, 0.0),
            matches: HashMap::new(),
            statuses: BTreeMap::new(),
            sp_signals,
            sp_nodes,
            sp_concerned,
            sp_health: BTreeMap::new(),
            tracker: NodeTracker::new(),
            commands: VecDeque::new(),
            settings,
            signals,
            state: vec![SignalState::default(); n],
            topics: BTreeMap::new(),
            pending: BTreeMap::new(),
            arrivals: 0,
            counts: BTreeMap::new(),
            per_signal: vec![BTreeMap::new(); n],
        }
    }

    /// The signal table.
    pub fn signals(&self) -> &[SignalEntry] {
        &self.signals
    }

    /// Counts of every outcome so far.
    pub fn counts(&self) -> &BTreeMap<Outcome, u64> {
        &self.counts
    }

    /// Values whose source gave a status other than Good (OPC UA), by status name, e.g. `BadSensorFailure`.
    pub fn status_counts(&self) -> &BTreeMap<String, u64> {
        &self.statuses
    }

    /// Counts of every outcome per signal, in the table's order.
    pub fn signal_counts(&self, signal: usize) -> &BTreeMap<Outcome, u64> {
        &self.per_signal[signal]
    }

    /// Whether the source of `topic` has a skewed clock, and its estimated offset (receive - source), s.
    pub fn clock(&self, topic: &str) -> Option<(bool, f64)> {
        self.topics.get(topic).map(|t| (t.clock.skewed, t.clock.offset_s))
    }

    fn count(&mut self, signal: Option<usize>, o: Outcome) {
        *self.counts.entry(o).or_default() += 1;
        if let Some(s) = signal {
            *self.per_signal[s].entry(o).or_default() += 1;
        }
    }

    /// Counts a message-level outcome against each of `signals`, or once when there are none.
    fn count_each(&mut self, signals: &[usize], o: Outcome) {
        if signals.is_empty() {
            self.count(None, o);
        }
        for &i in signals {
            self.count(Some(i), o);
        }
    }

    /// Counts an outcome that happened outside the ingestor (e.g. `CommandDropped` when the client refused a
    /// command taken from [`Ingestor::take_commands`]).
    pub fn record(&mut self, o: Outcome) {
        self.count(None, o);
    }

    /// The MQTT topic filters that cover every signal: each JSON signal's topic, each asset's identity topic, and for each Sparkplug edge
    /// node with signals its NBIRTH, NDATA, NDEATH topics and DBIRTH, DDATA, DDEATH of any device (not its
    /// commands). Sorted, without repeats.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .signals
            .iter()
            .filter(|s| s.sparkplug.is_none() && s.opcua.is_none())
            .map(|s| s.topic.clone())
            .collect();
        v.extend(self.identity_topics.keys().cloned());
        for (g, n) in &self.sp_nodes {
            let ns = sparkplug::NAMESPACE;
            for ty in ["NBIRTH", "NDATA", "NDEATH"] {
                v.push(format!("{ns}/{g}/{ty}/{n}"));
            }
            for ty in ["DBIRTH", "DDATA", "DDEATH"] {
                v.push(format!("{ns}/{g}/{ty}/{n}/+"));
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// How long before and after its `received_s` each message ingested from now on may have arrived, s: none (the
    /// default) for sources that stamp their own arrival (the in-process plant, a replay). Live messages are
    /// stamped with the start of the tick that drains them: they came in since the previous drain (`before_s`, the
    /// simulated time since), and the tick runs to its end (`after_s`, what it steps), which sources that run
    /// with the twin (the virtual plant) may already have reached. The clock-skew judgement and
    /// [`Sample::received_from_s`] allow for it.
    pub fn set_receive_window(&mut self, before_s: f64, after_s: f64) {
        let clean = |s: f64| if s.is_finite() { s.max(0.0) } else { 0.0 };
        self.receive_window_s = (clean(before_s), clean(after_s));
    }

    /// Takes one message: decodes every signal mapped to its topic and queues the samples that pass. Returns
    /// nothing: call [`Ingestor::release`] to get the samples in event-time order.
    pub fn ingest(&mut self, msg: &RawMessage) {
        if let Some(asset) = self.identity_topics.get(&msg.topic) {
            let asset = asset.clone();
            return self.ingest_identity(msg, asset);
        }
        if let Some(id) = msg.topic.strip_prefix(VALUE_TOPIC_PREFIX) {
            return self.ingest_value(msg, id);
        }
        if !self.sp_nodes.is_empty()
            && let Some(t) = sparkplug::parse_topic(&msg.topic)
            && self.sp_nodes.contains(&(t.group.clone(), t.edge_node.clone()))
        {
            self.ingest_sparkplug(msg, &t);
            return;
        }
        // Shared lists: a message's lookup allocates nothing.
        let exact = self.exact.get(&msg.topic);
        let matching: Arc<[usize]> = match (exact, self.wildcard.is_empty()) {
            (Some(m), true) => m.clone(),
            (None, true) => {
                self.count(None, Outcome::UnknownTopic);
                return;
            }
            _ => match self.matches.get(&msg.topic) {
                Some(m) => m.clone(),
                None => {
                    let mut m: Vec<usize> = exact.map_or(Vec::new(), |e| e.to_vec());
                    let signals = &self.signals;
                    m.extend(self.wildcard.iter().copied().filter(|&i| topic::matches(&signals[i].topic, &msg.topic)));
                    m.sort_unstable();
                    let m: Arc<[usize]> = Arc::from(m);
                    if self.matches.len() < MATCH_CACHE_TOPICS {
                        self.matches.insert(msg.topic.clone(), m.clone());
                    }
                    m
                }
            },
        };
        if matching.is_empty() {
            self.count(None, Outcome::UnknownTopic);
            return;
        }
        let json = match json::parse(&msg.payload) {
            Ok(j) => j,
            Err(e) => {
                // A number too large for f64 fails the parse itself: count it as non-finite, not as bad JSON.
                let o =
                    if matches!(e, CodecError::NonFinite { .. }) { Outcome::NonFinite } else { Outcome::BadPayload };
                for &i in matching.iter() {
                    self.count(Some(i), o);
                }
                return;
            }
        };
        // De-duplicate QoS 1 redeliveries by (topic, seq) when the source numbers its messages, else by
        // (topic, source timestamp).
        let seq = json.get("seq").and_then(Value::as_u64);
        // The source time at the first matching signal's timestamp path that reads one (and that path, so that the
        // signals sharing it, as the fields of one device's message do, are not read again).
        let first = matching.iter().find_map(|&i| {
            let p = self.signals[i].timestamp_path.as_ref()?;
            Some((i, json::timestamp_at(&json, p).ok()?))
        });
        let first_ts = first.as_ref().map(|(_, t)| *t);
        let key = match (seq, first_ts) {
            (Some(s), _) => Some((0, s, 0)),
            (None, Some(t)) => Some((1, t.to_bits(), 0)),
            (None, None) => None,
        };
        let window = self.settings.dedup_window;
        let (threshold, receive_window) = (self.settings.skew_threshold_s, self.receive_window_s);
        let topic = self.topics.entry(msg.topic.clone()).or_default();
        if let Some(k) = key {
            if !topic.seen.insert(k) {
                for &i in matching.iter() {
                    self.count(Some(i), Outcome::Duplicate);
                }
                return;
            }
            topic.order.push_back(k);
            if topic.order.len() > window
                && let Some(old) = topic.order.pop_front()
            {
                topic.seen.remove(&old);
            }
        }
        let moved = first_ts.map_or(0.0, |t| topic.clock.observe(msg.received_s, receive_window, t, threshold));
        let clock = topic.clock.judgement();
        self.rebase(&matching, moved);

        for &i in matching.iter() {
            let sig = &self.signals[i];
            let v = match sig.value_path.as_ref().map(|p| json::number_at(&json, p)) {
                None => {
                    self.count(Some(i), Outcome::MissingValue);
                    continue;
                }
                Some(v) => v,
            };
            let v = match v {
                Ok(v) => v,
                Err(e) => {
                    let o = match e {
                        CodecError::MissingPath { .. } | CodecError::BadPath { .. } => Outcome::MissingValue,
                        CodecError::NonFinite { .. } => Outcome::NonFinite,
                        _ => Outcome::NotANumber,
                    };
                    self.count(Some(i), o);
                    continue;
                }
            };
            let source_s = match &sig.timestamp_path {
                None => Some(msg.received_s),
                Some(p) => match first {
                    Some((f, t))
                        if self.signals[f].timestamp_path.as_ref().map(json::JsonPath::as_str) == Some(p.as_str()) =>
                    {
                        Some(t)
                    }
                    _ => json::timestamp_at(&json, p).ok(),
                },
            };
            self.check_value(i, v, source_s, msg.received_s, clock, false);
        }
    }

    /// A value-level message (`$twin/value/<signal id>`, see [`value_message`]): one value of one signal, in the
    /// signal's unit, whatever the signal's own source. Redeliveries (same topic and timestamp) are `duplicate`;
    /// the value then goes through the same checks as a JSON or Sparkplug value.
    fn ingest_value(&mut self, msg: &RawMessage, id: &str) {
        let Some(i) = self.signals.iter().position(|s| s.id == id) else {
            self.count(None, Outcome::UnknownTopic);
            return;
        };
        let json = match json::parse(&msg.payload) {
            Ok(j) => j,
            Err(CodecError::NonFinite { .. }) => return self.count(Some(i), Outcome::NonFinite),
            Err(_) => return self.count(Some(i), Outcome::BadPayload),
        };
        // A source's own verdict on the value (an OPC UA StatusCode's name): Bad is rejected, Uncertain applied and
        // flagged, each counted by its name.
        let mut uncertain = false;
        if let Some(status) = json.get("status").and_then(|s| s.as_str()) {
            *self.statuses.entry(status.to_owned()).or_default() += 1;
            if status.starts_with("Bad") {
                return self.count(Some(i), Outcome::BadStatus);
            }
            uncertain = status.starts_with("Uncertain");
        }
        let source_s = match json.get("ts") {
            None => Some(msg.received_s),
            Some(ts) => json::timestamp(ts, "$.ts").ok(),
        };
        let window = self.settings.dedup_window;
        let (threshold, receive_window) = (self.settings.skew_threshold_s, self.receive_window_s);
        let topic = self.topics.entry(msg.topic.clone()).or_default();
        let mut moved = 0.0;
        if let Some(t) = source_s {
            let k = (1, t.to_bits(), 0);
            if !topic.seen.insert(k) {
                return self.count(Some(i), Outcome::Duplicate);
            }
            topic.order.push_back(k);
            if topic.order.len() > window
                && let Some(old) = topic.order.pop_front()
            {
                topic.seen.remove(&old);
            }
            moved = topic.clock.observe(msg.received_s, receive_window, t, threshold);
        }
        let clock = topic.clock.judgement();
        self.rebase(&[i], moved);
        match json.get("value").map(|x| json::number(x, "$.value")) {
            Some(Ok(v)) => self.check_value(i, v, source_s, msg.received_s, clock, uncertain),
            None => self.count(Some(i), Outcome::MissingValue),
            Some(Err(CodecError::NonFinite { .. })) => self.count(Some(i), Outcome::NonFinite),
            Some(Err(_)) => self.count(Some(i), Outcome::NotANumber),
        }
    }

    /// The checks every value goes through, whatever its encoding: conversion of `v` (the signal's unit) to the
    /// canonical unit, finite, in range, a readable source time (`None`: unreadable), clock correction, lateness
    /// and reordering. A value that passes is queued for [`Ingestor::release`] (which applies the dead-band),
    /// flagged `uncertain` when its source said so.
    fn check_value(
        &mut self,
        i: usize,
        v: f64,
        source_s: Option<f64>,
        received_s: f64,
        clock: ClockJudgement,
        uncertain: bool,
    ) {
        let sig = &self.signals[i];
        let value = sig.converter.to_canonical(v);
        if !value.is_finite() {
            self.count(Some(i), Outcome::NonFinite);
            return;
        }
        if value < sig.valid.0 || value > sig.valid.1 {
            self.count(Some(i), Outcome::OutOfRange);
            return;
        }
        let Some(source_s) = source_s.filter(|t| t.is_finite()) else {
            self.count(Some(i), Outcome::BadTimestamp);
            return;
        };
        let event_s = clock.correct(source_s);
        let state = &self.state[i];
        let mut reordered = false;
        if let Some(w) = state.watermark_s
            && event_s < w
        {
            if event_s < w - self.settings.allowed_lateness_s {
                self.count(Some(i), Outcome::Late);
                return;
            }
            reordered = true;
        }
        let received_from_s = received_s - self.receive_window_s.0;
        let sample = Sample {
            signal: i,
            value,
            event_s,
            received_s,
            received_from_s,
            skewed_clock: clock.skewed,
            reordered,
            uncertain,
        };
        let st = &mut self.state[i];
        st.watermark_s = Some(st.watermark_s.map_or(event_s, |w| w.max(event_s)));
        // The latest it may have arrived: a live message drained at a tick's start may have come at its end.
        st.last_received_s = Some(received_s + self.receive_window_s.1);
        st.dead = false;
        self.arrivals += 1;
        self.pending.insert((OrdF64(event_s), self.arrivals), sample);
    }

    /// Releases, in event-time order, every queued sample whose event time is at or before `horizon_s` (the twin
    /// passes the time its clock reaches this tick; infinity flushes), applying the dead-band on the way.
    pub fn release(&mut self, horizon_s: f64) -> Vec<Sample> {
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0.0 > horizon_s {
                break;
            }
            let s = entry.remove();
            let sig = &self.signals[s.signal];
            let last = self.state[s.signal].last_value;
            if sig.deadband > 0.0 && last.is_some_and(|l| (s.value - l).abs() < sig.deadband) {
                self.count(Some(s.signal), Outcome::Deadband);
                continue;
            }
            self.state[s.signal].last_value = Some(s.value);
            self.count(Some(s.signal), if s.reordered { Outcome::Reordered } else { Outcome::Accepted });
            out.push(s);
        }
        out
    }

    /// Moves the newest event times of `signals` by `moved_s` when their source's clock correction changed: a
    /// source found skewed after its first samples were taken at face value would otherwise see every corrected
    /// sample refused as late, for as long as the skew.
    fn rebase(&mut self, signals: &[usize], moved_s: f64) {
        if moved_s == 0.0 || !moved_s.is_finite() {
            return;
        }
        for &i in signals {
            if let Some(w) = &mut self.state[i].watermark_s {
                *w += moved_s;
            }
        }
    }

    /// How long signal `i` may go without a sample before it is stale, s.
    pub fn stale_after_s(&self, i: usize) -> f64 {
        self.signals[i].period_s * self.settings.stale_periods
    }

    /// When signal `i` last delivered a sample (receive time, unix s), if ever.
    pub fn last_received_s(&self, i: usize) -> Option<f64> {
        self.state[i].last_received_s
    }

    /// The settings the checks run with.
    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    /// Whether signal `i` is stale at receive time `now_s`: no sample for `stale_periods` periods (or never), or
    /// its Sparkplug node or device died (NDEATH/DDEATH) since its last sample.
    pub fn is_stale(&self, i: usize, now_s: f64) -> bool {
        let limit = self.stale_after_s(i);
        self.state[i].dead || self.state[i].last_received_s.is_none_or(|t| now_s - t > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SCENE: &str = r#"Scenario(version: 1, name: "t",
        assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
        signals: [
            (id: "T-1.level", asset: "T-1", quantity: TankLevel, unit: "cm",
             source: Mqtt(topic: "site/+/level", value: "$.v", timestamp: "$.ts"), valid: (0.0, 400.0),
             period: "1s", deadband: 0.5),
        ])"#;

    fn ingestor() -> Ingestor {
        let s = crate::scenario::parse(SCENE, Path::new("t.ron")).expect("valid");
        Ingestor::new(&s, IngestSettings::default())
    }

    fn msg(topic: &str, payload: &str, received_s: f64) -> RawMessage {
        RawMessage { topic: topic.into(), payload: payload.as_bytes().to_vec(), received_s }
    }

    fn count(i: &Ingestor, o: Outcome) -> u64 {
        i.counts().get(&o).copied().unwrap_or(0)
    }

    #[test]
    fn a_sources_status_rejects_bad_values_by_name_and_flags_uncertain_ones() {
        let mut i = ingestor();
        let topic = format!("{VALUE_TOPIC_PREFIX}T-1.level");
        i.ingest(&msg(&topic, r#"{"ts": 1, "value": 100, "status": "BadSensorFailure"}"#, 1.0));
        // An Uncertain message without a value flags nothing that follows.
        i.ingest(&msg(&topic, r#"{"ts": 2, "status": "UncertainLastUsableValue"}"#, 2.0));
        i.ingest(&msg(&topic, r#"{"ts": 3, "value": 120}"#, 3.0));
        i.ingest(&msg(&topic, r#"{"ts": 4, "value": 130, "status": "UncertainLastUsableValue"}"#, 4.0));
        let out = i.release(f64::INFINITY);
        let got: Vec<(i64, bool)> = out.iter().map(|s| ((s.value * 1000.0).round() as i64, s.uncertain)).collect();
        assert_eq!(got, [(1200, false), (1300, true)], "120 and 130 cm, in mm; the Bad one not applied");
        assert_eq!(count(&i, Outcome::BadStatus), 1);
        assert_eq!(count(&i, Outcome::MissingValue), 1);
        let statuses: Vec<(&str, u64)> = i.status_counts().iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(statuses, [("BadSensorFailure", 1), ("UncertainLastUsableValue", 2)]);
    }

    #[test]
    fn topics_are_matched_once_and_a_flood_of_new_topics_cannot_grow_the_cache() {
        let mut i = ingestor();
        for k in 0..MATCH_CACHE_TOPICS + 100 {
            i.ingest(&msg(&format!("flood/{k}"), r#"{"v": 1, "ts": 1}"#, 1.0));
        }
        assert_eq!(count(&i, Outcome::UnknownTopic), (MATCH_CACHE_TOPICS + 100) as u64, "every one counted");
        assert_eq!(i.matches.len(), MATCH_CACHE_TOPICS, "bounded");
        // A known topic past the bound is matched every time, and still reaches its signal.
        for ts in [1000.0, 1001.0] {
            i.ingest(&msg("site/a/level", &format!(r#"{{"v": {}, "ts": {ts}}}"#, 250.0 + ts - 1000.0), ts));
        }
        assert!(!i.matches.contains_key("site/a/level"));
        assert_eq!(i.release(f64::INFINITY).len(), 2);
        // Below the bound, a topic's matches are remembered and give the same signals.
        let mut j = ingestor();
        for ts in [1000.0, 1001.0] {
            j.ingest(&msg("site/a/level", &format!(r#"{{"v": {}, "ts": {ts}}}"#, 250.0 + ts - 1000.0), ts));
        }
        assert_eq!(j.matches.get("site/a/level").map(|m| m.len()), Some(1));
        assert_eq!(j.release(f64::INFINITY).len(), 2);
        assert_eq!(count(&j, Outcome::Accepted), 2);
    }

    #[test]
    fn each_source_reports_its_messages_rejections_by_reason_newest_sample_clock_and_what_waits() {
        let mut i = ingestor();
        for k in 0..5 {
            let ts = 1000.0 + f64::from(k);
            i.ingest(&msg("site/a/level", &format!(r#"{{"v": {}, "ts": {ts}}}"#, 250 + 10 * k), ts + 0.2));
        }
        i.ingest(&msg("site/b/level", r#"{"v": 1e300, "ts": 1005}"#, 1005.2));
        i.ingest(&msg("site/b/level", r#"{"v": -1, "ts": 1006}"#, 1006.2));
        i.ingest(&msg("site/a/level", r#"{"v": "high", "ts": 1007}"#, 1007.2));
        // Stamped ahead of the twin's clock: it waits for its time.
        i.ingest(&msg("site/a/level", r#"{"v": 260, "ts": 1100}"#, 1008.2));
        assert_eq!(i.release(1050.0).len(), 5);
        let sources = i.sources();
        assert_eq!(sources.len(), 1, "one topic filter, one source: {sources:#?}");
        let q = &sources[0];
        assert_eq!(
            (q.kind, q.name.as_str(), q.signals.as_slice()),
            (SourceKind::Mqtt, "site/+/level", &["T-1.level".to_owned()][..])
        );
        assert_eq!(q.accepted, 5);
        assert_eq!(q.rejected.get("out_of_range"), Some(&2));
        assert_eq!(q.rejected.get("not_a_number"), Some(&1));
        assert_eq!(q.rejected.values().sum::<u64>(), 3, "{:?}", q.rejected);
        assert_eq!(q.messages, 8, "five accepted, three refused (the waiting one is not counted yet)");
        assert_eq!(q.waiting, 1);
        assert!(q.last_received_s.is_some_and(|t| t >= 1008.2), "{:?}", q.last_received_s);
        let (skewed, offset) = q.clock.expect("a clock estimated from its timestamps");
        assert!(!skewed && offset.abs() < 1.0, "{offset}");
        assert_eq!(q.held, None);
    }

    #[test]
    fn a_value_is_converted_to_the_canonical_unit_with_its_event_time() {
        let mut i = ingestor();
        i.ingest(&msg("site/a/level", r#"{"v": 250, "ts": 1000.0, "seq": 1}"#, 1000.2));
        let out = i.release(f64::INFINITY);
        assert_eq!(out.len(), 1);
        assert!((out[0].value - 2.5).abs() < 1e-12, "250 cm is 2.5 m");
        assert_eq!(out[0].event_s, 1000.0);
        assert_eq!(out[0].received_s, 1000.2);
        assert!(!out[0].skewed_clock && !out[0].reordered);
        assert_eq!(count(&i, Outcome::Accepted), 1);
    }

    #[test]
    fn bad_values_are_counted_by_reason_and_kept_out() {
        let mut i = ingestor();
        let cases = [
            ("other/topic", r#"{"v": 1, "ts": 1}"#, Outcome::UnknownTopic),
            ("site/a/level", "{not json", Outcome::BadPayload),
            ("site/a/level", r#"{"ts": 2}"#, Outcome::MissingValue),
            ("site/a/level", r#"{"v": "high", "ts": 3}"#, Outcome::NotANumber),
            ("site/a/level", r#"{"v": 1e300, "ts": 4}"#, Outcome::OutOfRange),
            ("site/a/level", r#"{"v": -1, "ts": 5}"#, Outcome::OutOfRange),
            ("site/a/level", r#"{"v": 10, "ts": "yesterday"}"#, Outcome::BadTimestamp),
        ];
        for (topic, payload, _) in cases {
            i.ingest(&msg(topic, payload, 10.0));
        }
        assert!(i.release(f64::INFINITY).is_empty());
        for (_, _, o) in cases {
            assert!(count(&i, o) >= 1, "{o:?} not counted: {:?}", i.counts());
        }
        assert_eq!(count(&i, Outcome::OutOfRange), 2);
    }

    #[test]
    fn a_redelivered_message_is_a_duplicate() {
        let mut i = ingestor();
        let m = msg("site/a/level", r#"{"v": 100, "ts": 50.0, "seq": 7}"#, 50.1);
        i.ingest(&m);
        i.ingest(&m);
        assert_eq!(i.release(f64::INFINITY).len(), 1);
        assert_eq!(count(&i, Outcome::Duplicate), 1);
    }

    #[test]
    fn out_of_order_samples_within_the_lateness_are_applied_in_event_order_and_later_ones_are_late() {
        let mut i = ingestor();
        i.ingest(&msg("site/a/level", r#"{"v": 100, "ts": 100.0, "seq": 1}"#, 100.1));
        i.ingest(&msg("site/a/level", r#"{"v": 110, "ts": 98.0, "seq": 2}"#, 100.2)); // 2 s late: allowed
        i.ingest(&msg("site/a/level", r#"{"v": 120, "ts": 90.0, "seq": 3}"#, 100.3)); // 10 s late: too late
        let out = i.release(f64::INFINITY);
        let times: Vec<f64> = out.iter().map(|s| s.event_s).collect();
        assert_eq!(times, vec![98.0, 100.0]);
        assert!(out[0].reordered);
        assert_eq!(count(&i, Outcome::Reordered), 1);
        assert_eq!(count(&i, Outcome::Late), 1);
    }

    #[test]
    fn release_waits_for_the_reorder_horizon() {
        let mut i = ingestor();
        i.ingest(&msg("site/a/level", r#"{"v": 100, "ts": 100.0}"#, 100.0));
        assert!(i.release(99.0).is_empty(), "not released before its event time passes the horizon");
        assert_eq!(i.release(100.0).len(), 1);
    }

    #[test]
    fn values_inside_the_deadband_are_not_applied() {
        let mut i = ingestor();
        i.ingest(&msg("site/a/level", r#"{"v": 100.0, "ts": 1}"#, 1.0));
        i.ingest(&msg("site/a/level", r#"{"v": 100.3, "ts": 2}"#, 2.0)); // 0.3 cm < 0.5 cm dead-band
        i.ingest(&msg("site/a/level", r#"{"v": 101.0, "ts": 3}"#, 3.0));
        let out = i.release(f64::INFINITY);
        assert_eq!(out.len(), 2);
        assert_eq!(count(&i, Outcome::Deadband), 1);
    }

    #[test]
    fn a_signal_is_stale_after_three_periods_without_a_sample() {
        let mut i = ingestor();
        assert!(i.is_stale(0, 0.0), "never received");
        i.ingest(&msg("site/a/level", r#"{"v": 100, "ts": 10}"#, 10.0));
        assert!(!i.is_stale(0, 12.9));
        assert!(i.is_stale(0, 13.1));
    }

    #[test]
    fn a_skewed_source_clock_is_flagged_and_corrected() {
        let mut i = ingestor();
        // The source's clock runs 30 s behind; transport adds 0.05..0.25 s; a minute of arrivals.
        for k in 0..64 {
            let t = 1000.0 + k as f64;
            let delay = 0.05 + 0.01 * (k % 20) as f64;
            i.ingest(&msg("site/a/level", &format!(r#"{{"v": {}, "ts": {}}}"#, 100 + k * 2, t - 30.0), t + delay));
        }
        let (skewed, offset) = i.clock("site/a/level").unwrap();
        assert!(skewed);
        assert!((offset - 30.05).abs() < 1e-9, "offset {offset}");
        let out = i.release(f64::INFINITY);
        let last = out.last().unwrap();
        assert!(last.skewed_clock);
        assert!((last.event_s - (1063.0 + 0.05)).abs() < 1e-9, "corrected to the receive clock: {}", last.event_s);
    }

    /// Two minutes of a 1 Hz source whose clock is `behind_s` behind, in 15 s ticks (60x at 4 frames per
    /// second) like the virtual plant in the workbench: each tick it publishes up to the tick's end; the first
    /// half arrives while the tick is being drained, the rest with the next tick. Every message is stamped with
    /// the start of the tick that drains it, within the receive window when `window` is set. Returns the clock
    /// judgement and the last sample.
    fn drained_in_ticks(behind_s: f64, window: bool) -> ((bool, f64), Sample) {
        let mut i = ingestor();
        let mut out = Vec::new();
        let mut carried: Vec<f64> = Vec::new();
        for tick in 0..8 {
            let now = 1000.0 + 15.0 * f64::from(tick);
            if window {
                i.set_receive_window(if tick == 0 { 0.0 } else { 15.0 }, 15.0);
            }
            let published: Vec<f64> = (1..=15).map(|k| now + f64::from(k)).collect();
            let (early, late) = published.split_at(8);
            for &t in carried.iter().chain(early) {
                let v = 100.0 + 2.0 * (t % 100.0); // changing by more than the dead-band
                i.ingest(&msg("site/a/level", &format!(r#"{{"v": {v}, "ts": {}}}"#, t - behind_s), now));
            }
            carried = late.to_vec();
            out.extend(i.release(now + 15.0));
        }
        (i.clock("site/a/level").unwrap(), *out.last().unwrap())
    }

    #[test]
    fn waiting_for_a_long_tick_is_no_skewed_clock_but_a_clock_beyond_the_tick_is() {
        // Stamped at the tick's start, a sample from the tick's end looks 8 s early: taken at face value, a clock
        // ahead.
        let ((skewed, offset), _) = drained_in_ticks(0.0, false);
        assert!(skewed && offset < -2.0, "without the window: {offset}");
        let ((skewed, _), last) = drained_in_ticks(0.0, true);
        assert!(!skewed, "delays within a tick either way are the tick's, not the source's clock");
        assert!(!last.skewed_clock);
        assert_eq!((last.received_s, last.received_from_s), (1105.0, 1090.0));
        let ((skewed, offset), last) = drained_in_ticks(60.0, true);
        assert!(skewed, "a clock a minute behind is skewed whatever the tick");
        // Corrected by the least the window allows (52 s at the shortest, less the 15 s before the stamp): never
        // into the future of the receive stamps.
        assert!((offset - 37.0).abs() < 1e-9, "offset {offset}");
        assert!(last.skewed_clock && last.event_s <= last.received_s);
    }
}
