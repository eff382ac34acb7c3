//! Data quality per source, for the workbench's data-quality panel: each MQTT topic filter, Sparkplug node or
//! device and OPC UA endpoint with its messages, rejections by reason, newest sample, clock offset, and what is
//! held and why. Built from the ingestor's own counters and clocks, so it says what ingestion did.

use super::*;

/// What kind of source a signal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// An MQTT topic filter with JSON payloads.
    Mqtt,
    /// A Sparkplug B edge node or device.
    Sparkplug,
    /// An OPC UA server (endpoint).
    OpcUa,
}

impl SourceKind {
    /// Its name for a person.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Mqtt => "MQTT",
            SourceKind::Sparkplug => "Sparkplug",
            SourceKind::OpcUa => "OPC UA",
        }
    }
}

/// The quality of one source's data so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceQuality {
    pub kind: SourceKind,
    /// Topic filter, `group/node[/device]`, or endpoint name.
    pub name: String,
    /// Its signals' ids.
    pub signals: Vec<String>,
    /// Messages counted against its signals, every outcome, count.
    pub messages: u64,
    /// Samples accepted (in order or reordered), count.
    pub accepted: u64,
    /// Messages refused, by reason (the outcome's report key), count.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Receive time of its newest accepted sample, unix s.
    pub last_received_s: Option<f64>,
    /// Its clock as estimated: skewed (and corrected), offset receive − source, s (the largest of its topics').
    pub clock: Option<(bool, f64)>,
    /// Samples waiting for their event time to come (a source clock ahead of the twin's), count.
    pub waiting: usize,
    /// Why its messages are held back, when they are (a Sparkplug node that never sent its birth).
    pub held: Option<String>,
}

/// Outcomes that are not a refusal: accepted, filtered by the dead-band, or protocol bookkeeping.
fn is_rejection(o: Outcome) -> bool {
    !matches!(
        o,
        Outcome::Accepted
            | Outcome::Reordered
            | Outcome::Deadband
            | Outcome::RebirthRequested
            | Outcome::CommandDropped
            | Outcome::Death
            | Outcome::Identity
            | Outcome::AwaitingRebirth
    )
}

impl Ingestor {
    /// Every source of the scenario's signals with its data quality, in (kind, name) order.
    pub fn sources(&self) -> Vec<SourceQuality> {
        let mut by: BTreeMap<(SourceKind, &str), SourceQuality> = BTreeMap::new();
        for (i, sig) in self.signals.iter().enumerate() {
            let q = by.entry((sig.source.0, sig.source.1.as_str())).or_insert_with(|| SourceQuality {
                kind: sig.source.0,
                name: sig.source.1.clone(),
                signals: Vec::new(),
                messages: 0,
                accepted: 0,
                rejected: BTreeMap::new(),
                last_received_s: None,
                clock: None,
                waiting: 0,
                held: None,
            });
            q.signals.push(sig.id.clone());
            for (&o, &n) in &self.per_signal[i] {
                q.messages += n;
                match o {
                    Outcome::Accepted | Outcome::Reordered => q.accepted += n,
                    o if is_rejection(o) => *q.rejected.entry(<&'static str>::from(o)).or_default() += n,
                    _ => {}
                }
            }
            if let Some(t) = self.state[i].last_received_s {
                q.last_received_s = Some(q.last_received_s.map_or(t, |l: f64| l.max(t)));
            }
            // The clocks of the topics it arrives on: its own (Sparkplug, a value-level message) or every topic
            // its filter matched.
            let value_topic = format!("{VALUE_TOPIC_PREFIX}{}", sig.id);
            for (topic, state) in &self.topics {
                let mine = match sig.source.0 {
                    SourceKind::Mqtt => topic::matches(&sig.topic, topic),
                    SourceKind::Sparkplug => *topic == sig.topic,
                    SourceKind::OpcUa => *topic == value_topic,
                };
                if mine && state.clock.offset_s.is_finite() {
                    let c = (state.clock.skewed, state.clock.offset_s);
                    if q.clock.is_none_or(|old| c.1.abs() > old.1.abs()) {
                        q.clock = Some(c);
                    }
                }
            }
            if let Some(sp) = &sig.sparkplug
                && q.held.is_none()
            {
                q.held = self.held_reason(&sp.group, &sp.edge_node);
            }
        }
        for s in self.pending.values() {
            let sig = &self.signals[s.signal];
            if let Some(q) = by.get_mut(&(sig.source.0, sig.source.1.as_str())) {
                q.waiting += 1;
            }
        }
        by.into_values().collect()
    }
}
