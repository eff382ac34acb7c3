//! Telemetry ingestion as plain Rust: maps a message's topic to the scenario's signals, decodes the values,
//! converts them to canonical units and applies the data-quality checks (range, NaN, dead-band, duplicates,
//! clock offset, event-time reordering, lateness, staleness), counting every outcome by reason.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use serde_json::Value;
use twin_mqtt::{CodecError, json, topic};

use crate::scenario::{Scenario, SignalSource};
use crate::units::{Quantity, UnitConverter};

/// A message as it arrives from any source (MQTT, a recording, a CSV row).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RawMessage {
    /// MQTT topic (or the recording's topic column).
    pub topic: String,
    /// Payload bytes (JSON for the mappings supported here).
    pub payload: Vec<u8>,
    /// When the twin received it, s on the twin's time base.
    pub received_s: f64,
}

/// What happened to one value (or one message, for message-level outcomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied to the twin.
    Accepted,
    /// No signal maps the topic.
    UnknownTopic,
    /// The payload is not valid JSON.
    BadPayload,
    /// The value path is missing from the payload.
    MissingValue,
    /// The value is not a number.
    NotANumber,
    /// NaN or infinite.
    NonFinite,
    /// Outside the signal's valid range.
    OutOfRange,
    /// A repeat of a sample already seen (QoS 1 redelivery).
    Duplicate,
    /// Within the dead-band of the last applied value.
    Deadband,
    /// Older than the watermark minus the allowed lateness: recorded, not applied.
    Late,
    /// Arrived out of event-time order but within the allowed lateness: reordered, then applied.
    Reordered,
    /// The timestamp path is present but unreadable.
    BadTimestamp,
}

/// One signal as the ingestor needs it.
#[derive(Debug, Clone)]
pub struct SignalEntry {
    /// Signal id.
    pub id: String,
    /// Asset id.
    pub asset: String,
    /// What it measures.
    pub quantity: Quantity,
    /// Topic filter.
    pub topic: String,
    /// JSON path of the value.
    pub value_path: String,
    /// JSON path of the source timestamp.
    pub timestamp_path: Option<String>,
    /// Source unit to canonical.
    pub converter: UnitConverter,
    /// Valid range in the canonical unit.
    pub valid: (f64, f64),
    /// Dead-band in the canonical unit (0: off).
    pub deadband: f64,
    /// Expected sample period, s.
    pub period_s: f64,
}

/// A sample that passed every check, ready for the twin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Index into the ingestor's signal table.
    pub signal: usize,
    /// Value in the canonical unit.
    pub value: f64,
    /// Event time after clock correction, s on the twin's time base.
    pub event_s: f64,
    /// Receive time, s on the twin's time base.
    pub received_s: f64,
    /// The source's clock was found skewed and corrected.
    pub skewed_clock: bool,
    /// Arrived out of order (within the allowed lateness).
    pub reordered: bool,
}

/// Ingestion settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IngestSettings {
    /// How long a sample may lag the newest event time of its signal and still be applied in order, s.
    pub allowed_lateness_s: f64,
    /// A signal is stale after this many expected periods without a sample.
    pub stale_periods: f64,
    /// A source clock offset beyond this is flagged as skewed (and corrected), s.
    pub skew_threshold_s: f64,
    /// Duplicate-detection memory per topic, messages.
    pub dedup_window: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { allowed_lateness_s: 5.0, stale_periods: 3.0, skew_threshold_s: 2.0, dedup_window: 4096 }
    }
}

/// Per-source clock offset estimate. A message's delay, receive time minus source time, is the clocks'
/// difference plus a transport delay that is never negative, so the smallest delay over a window estimates the
/// difference (of either sign). A source is judged only once the window spans [`CLOCK_MIN_SPAN_S`] of arrivals:
/// a backlog delivered in one burst (after an outage, or a replay) has old timestamps too, but no spread.
#[derive(Debug, Clone, Default)]
struct ClockEstimate {
    /// (receive time s, delay s), oldest first.
    window: VecDeque<(f64, f64)>,
    offset_s: f64,
    skewed: bool,
}

/// Observations kept per source.
const CLOCK_WINDOW: usize = 64;
/// Arrival time the window must span before a clock is judged, s.
pub const CLOCK_MIN_SPAN_S: f64 = 30.0;

impl ClockEstimate {
    fn observe(&mut self, received_s: f64, source_s: f64, threshold_s: f64) {
        self.window.push_back((received_s, received_s - source_s));
        if self.window.len() > CLOCK_WINDOW {
            self.window.pop_front();
        }
        let span = match (self.window.front(), self.window.back()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0.0,
        };
        if span < CLOCK_MIN_SPAN_S {
            return; // not enough evidence yet: keep the last judgement
        }
        self.offset_s = self.window.iter().map(|w| w.1).fold(f64::INFINITY, f64::min);
        self.skewed = self.offset_s.abs() > threshold_s;
    }

    fn correct(&self, source_s: f64) -> f64 {
        if self.skewed { source_s + self.offset_s } else { source_s }
    }
}

#[derive(Debug, Clone, Default)]
struct SignalState {
    /// Newest event time accepted, s.
    watermark_s: Option<f64>,
    /// Last applied value, canonical.
    last_value: Option<f64>,
    /// Receive time of the last accepted sample, s.
    last_received_s: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct TopicState {
    seen: BTreeSet<(u64, u64)>,
    order: VecDeque<(u64, u64)>,
    clock: ClockEstimate,
}

/// Decodes and checks telemetry for one scenario.
#[derive(Debug, Clone)]
pub struct Ingestor {
    settings: IngestSettings,
    signals: Vec<SignalEntry>,
    state: Vec<SignalState>,
    topics: BTreeMap<String, TopicState>,
    /// Samples waiting for their event time to pass the reorder horizon, by (event time, arrival order).
    pending: BTreeMap<(OrdF64, u64), Sample>,
    arrivals: u64,
    counts: BTreeMap<Outcome, u64>,
    per_signal: Vec<BTreeMap<Outcome, u64>>,
}

/// f64 ordered by total order, for map keys.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// The ingestor for a scenario's signals (every signal has a valid unit: the scenario was validated).
    pub fn new(scenario: &Scenario, settings: IngestSettings) -> Self {
        let signals: Vec<SignalEntry> = scenario
            .signals
            .iter()
            .filter_map(|s| {
                let converter = s.quantity.converter(&s.unit)?;
                let SignalSource::Mqtt(src) = &s.source;
                let (a, b) = (converter.to_canonical(s.valid.0), converter.to_canonical(s.valid.1));
                Some(SignalEntry {
                    id: s.id.clone(),
                    asset: s.asset.clone(),
                    quantity: s.quantity,
                    topic: src.topic.clone(),
                    value_path: src.value.clone(),
                    timestamp_path: src.timestamp.clone(),
                    converter,
                    valid: (a.min(b), a.max(b)),
                    deadband: (converter.to_canonical(s.deadband) - converter.to_canonical(0.0)).abs(),
                    period_s: s.period.secs(),
                })
            })
            .collect();
        let n = signals.len();
        Self {
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

    /// Takes one message: decodes every signal mapped to its topic and queues the samples that pass. Returns
    /// nothing: call [`Ingestor::release`] to get the samples in event-time order.
    pub fn ingest(&mut self, msg: &RawMessage) {
        let matching: Vec<usize> =
            (0..self.signals.len()).filter(|&i| topic::matches(&self.signals[i].topic, &msg.topic)).collect();
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
                for &i in &matching {
                    self.count(Some(i), o);
                }
                return;
            }
        };
        // De-duplicate QoS 1 redeliveries by (topic, seq) when the source numbers its messages, else by
        // (topic, source timestamp).
        let seq = json.get("seq").and_then(Value::as_u64);
        let first_ts = matching
            .iter()
            .find_map(|&i| self.signals[i].timestamp_path.as_deref().and_then(|p| json::timestamp_at(&json, p).ok()));
        let key = match (seq, first_ts) {
            (Some(s), _) => Some((0, s)),
            (None, Some(t)) => Some((1, t.to_bits())),
            (None, None) => None,
        };
        let window = self.settings.dedup_window;
        let threshold = self.settings.skew_threshold_s;
        let topic = self.topics.entry(msg.topic.clone()).or_default();
        if let Some(k) = key {
            if !topic.seen.insert(k) {
                for &i in &matching {
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
        if let Some(t) = first_ts {
            topic.clock.observe(msg.received_s, t, threshold);
        }
        let clock = topic.clock.clone();

        for i in matching {
            let sig = &self.signals[i];
            let v = match json::number_at(&json, &sig.value_path) {
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
            let value = sig.converter.to_canonical(v);
            if !value.is_finite() {
                self.count(Some(i), Outcome::NonFinite);
                continue;
            }
            if value < sig.valid.0 || value > sig.valid.1 {
                self.count(Some(i), Outcome::OutOfRange);
                continue;
            }
            let source_s = match &sig.timestamp_path {
                None => msg.received_s,
                Some(p) => match json::timestamp_at(&json, p) {
                    Ok(t) => t,
                    Err(_) => {
                        self.count(Some(i), Outcome::BadTimestamp);
                        continue;
                    }
                },
            };
            let event_s = clock.correct(source_s);
            let state = &self.state[i];
            let mut reordered = false;
            if let Some(w) = state.watermark_s
                && event_s < w
            {
                if event_s < w - self.settings.allowed_lateness_s {
                    self.count(Some(i), Outcome::Late);
                    continue;
                }
                reordered = true;
            }
            let sample =
                Sample { signal: i, value, event_s, received_s: msg.received_s, skewed_clock: clock.skewed, reordered };
            let st = &mut self.state[i];
            st.watermark_s = Some(st.watermark_s.map_or(event_s, |w| w.max(event_s)));
            st.last_received_s = Some(msg.received_s);
            self.arrivals += 1;
            self.pending.insert((OrdF64(event_s), self.arrivals), sample);
        }
    }

    /// Releases, in event-time order, every queued sample older than `horizon_s` (pass the newest receive time
    /// minus the allowed lateness, or infinity to flush), applying the dead-band on the way.
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

    /// The allowed lateness, s.
    pub fn allowed_lateness_s(&self) -> f64 {
        self.settings.allowed_lateness_s
    }

    /// Whether signal `i` is stale at receive time `now_s`: no sample for `stale_periods` periods (or never).
    pub fn is_stale(&self, i: usize, now_s: f64) -> bool {
        let limit = self.signals[i].period_s * self.settings.stale_periods;
        self.state[i].last_received_s.is_none_or(|t| now_s - t > limit)
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
}
#[cfg(test)]
mod backlog_tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_backlog_received_at_once_is_not_a_skewed_clock_once_recent_samples_arrive() {
        let s = crate::scenario::parse(
            r#"Scenario(version: 1, name: "t",
            assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
            signals: [(id: "T-1.level", asset: "T-1", quantity: TankLevel, unit: "m",
                source: Mqtt(topic: "l", value: "$.v", timestamp: "$.ts"), valid: (0.0, 4.0))])"#,
            Path::new("t.ron"),
        )
        .unwrap();
        let mut i = Ingestor::new(&s, IngestSettings::default());
        for t in 1..=120 {
            i.ingest(&RawMessage {
                topic: "l".into(),
                payload: format!(r#"{{"v": 1, "ts": {t}}}"#).into_bytes(),
                received_s: 121.0,
            });
        }
        let out = i.release(f64::INFINITY);
        let last = out.last().unwrap();
        assert!(out.iter().all(|s| !s.skewed_clock), "a burst is no evidence of a skewed clock");
        assert_eq!(last.event_s, 120.0);
        assert_eq!(i.clock("l"), Some((false, 0.0)));
    }
}
