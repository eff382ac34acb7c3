//! Sparkplug B: the topics of a signal's node and device, the protocol's own metrics, the node's births, data,
//! deaths and rebirth commands, each metric checked like a JSON value.

use super::*;

/// `spBv1.0/{group}/{N|D}{kind}/{node}[/{device}]`.
pub(super) fn sparkplug_topic(group: &str, kind: &str, node: &str, device: Option<&str>) -> String {
    let ns = sparkplug::NAMESPACE;
    match device {
        Some(d) => format!("{ns}/{group}/D{kind}/{node}/{d}"),
        None => format!("{ns}/{group}/N{kind}/{node}"),
    }
}

/// The NDATA or DDATA topic of a Sparkplug signal.
pub(super) fn data_topic(sp: &SparkplugSource) -> String {
    sparkplug_topic(&sp.group, "DATA", &sp.edge_node, sp.device.as_deref())
}

/// The key of [`Ingestor::sparkplug_signals`]' index: `group/node`, or `group/node/device` (a topic level holds
/// no `/`).
pub(super) fn concerned_key(group: &str, node: &str, device: Option<&str>) -> String {
    match device {
        Some(d) => format!("{group}/{node}/{d}"),
        None => format!("{group}/{node}"),
    }
}

/// (group, edge node, device, metric) of a Sparkplug signal.
pub(super) type SparkplugKey = (String, String, Option<String>, String);

/// Outgoing commands kept for a consumer, at most.
pub const MAX_PENDING_COMMANDS: usize = 64;

/// What one Sparkplug edge node did since the twin started, for the diagnostics.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct NodeHealth {
    /// Node births (NBIRTH) received.
    births: u64,
    /// Messages of the node or its devices held back since its last birth, waiting for the next one.
    held: u64,
    /// Rebirth requests sent to it since its last birth.
    rebirths: u64,
}

/// Sparkplug metrics of the protocol itself, not telemetry: not counted as unmapped.
pub(super) fn is_protocol_metric(name: &str) -> bool {
    name == "bdSeq" || ["Node Control/", "Device Control/", "Properties/"].iter().any(|p| name.starts_with(p))
}

impl Ingestor {
    /// What is wrong with the sources, named, for a person: a Sparkplug node whose messages are held because it
    /// never sent its node birth (some edge libraries publish device births and data without one), or one that
    /// does not answer the rebirth requests. Empty when nothing is.
    pub fn diagnostics(&self) -> Vec<String> {
        let mut out = Vec::new();
        for ((group, node), h) in &self.sp_health {
            if h.held == 0 {
                continue;
            }
            let what = if h.births == 0 {
                "never sent its node birth (NBIRTH)".to_string()
            } else {
                "has not answered the rebirth request since its last birth".to_string()
            };
            out.push(format!(
                "Sparkplug edge node {group}/{node} {what}: {} message(s) of it and its devices held, {} rebirth \
                 request(s) sent; an edge library that publishes device births and data without a node birth needs \
                 its edge-node entity running too",
                h.held, h.rebirths
            ));
        }
        out
    }

    /// Why the messages of Sparkplug edge node `group/node` are held back, if they are.
    pub(super) fn held_reason(&self, group: &str, node: &str) -> Option<String> {
        let h = self.sp_health.get(&(group.to_owned(), node.to_owned())).filter(|h| h.held > 0)?;
        let why =
            if h.births == 0 { "the node never sent its birth (NBIRTH)" } else { "waiting for the node's rebirth" };
        Some(format!("{} message(s) held: {why}; {} rebirth request(s) sent", h.held, h.rebirths))
    }

    /// Takes the commands the twin should publish (QoS 1, not retained): Sparkplug rebirth requests. At most
    /// [`MAX_PENDING_COMMANDS`] wait; further ones are dropped and counted as `command_dropped`.
    pub fn take_commands(&mut self) -> Vec<(String, Vec<u8>)> {
        self.commands.drain(..).collect()
    }

    /// Commands waiting to be taken.
    pub fn pending_commands(&self) -> usize {
        self.commands.len()
    }

    /// Counters of the Sparkplug node tracker (metrics skipped, rebirths requested, messages ignored).
    pub fn sparkplug_stats(&self) -> sparkplug::TrackerStats {
        self.tracker.stats()
    }

    /// The signals a Sparkplug message concerns: those of its device, or of the whole node for a node message.
    pub(super) fn sparkplug_signals(&self, t: &SparkplugTopic) -> Arc<[usize]> {
        let key = concerned_key(&t.group, &t.edge_node, t.device.as_deref());
        self.sp_concerned.get(&key).cloned().unwrap_or_else(|| Arc::from([]))
    }

    /// One Sparkplug message of a node that has signals (see the module docs).
    pub(super) fn ingest_sparkplug(&mut self, msg: &RawMessage, t: &SparkplugTopic) {
        let concerned = self.sparkplug_signals(t);
        if matches!(t.message_type, MessageType::NCmd | MessageType::DCmd | MessageType::State) {
            self.count(None, Outcome::Ignored);
            return;
        }
        let payload = match sparkplug::decode(&msg.payload) {
            Ok(p) => p,
            Err(_) => {
                self.count_each(&concerned, Outcome::BadPayload);
                return;
            }
        };
        let window = self.settings.dedup_window;
        if let (Some(seq), Some(ts)) = (payload.seq, payload.timestamp) {
            let topic = self.topics.entry(msg.topic.clone()).or_default();
            let k = (2, seq, ts);
            if !topic.seen.insert(k) {
                self.count_each(&concerned, Outcome::Duplicate);
                return;
            }
            topic.order.push_back(k);
            if topic.order.len() > window
                && let Some(old) = topic.order.pop_front()
            {
                topic.seen.remove(&old);
            }
        }
        // One clock per node or device, births and data alike: keyed by its NDATA/DDATA topic.
        let clock_topic = sparkplug_topic(&t.group, "DATA", &t.edge_node, t.device.as_deref());
        let (threshold, receive_window) = (self.settings.skew_threshold_s, self.receive_window_s);
        let first_ms = payload.metrics.iter().find_map(|m| m.timestamp).or(payload.timestamp);
        let state = self.topics.entry(clock_topic).or_default();
        let moved = first_ms
            .map_or(0.0, |ms| state.clock.observe(msg.received_s, receive_window, ms as f64 / 1000.0, threshold));
        let clock = state.clock.judgement();
        self.rebase(&concerned, moved);

        let skipped_before = self.tracker.stats().skipped_metrics;
        let event = self.tracker.handle(t, &payload);
        let health = self.sp_health.entry((t.group.clone(), t.edge_node.clone())).or_default();
        match (&event, t.message_type) {
            // A birth answers whatever was waiting.
            (NodeEvent::Metrics { .. }, MessageType::NBirth) => {
                *health = NodeHealth { births: health.births + 1, held: 0, rebirths: 0 };
            }
            (NodeEvent::RebirthNeeded { .. }, _) => {
                health.held += 1;
                health.rebirths += 1;
            }
            (NodeEvent::Ignored, _) => health.held += 1,
            _ => {}
        }
        for _ in skipped_before..self.tracker.stats().skipped_metrics {
            self.count(None, Outcome::MissingValue);
        }
        match event {
            NodeEvent::Metrics { edge_node, device, metrics } => {
                for m in metrics {
                    let key = (t.group.clone(), edge_node.clone(), device.clone(), m.name);
                    match self.sp_signals.get(&key) {
                        Some(&i) => {
                            let source_s = m.timestamp_ms.map_or(msg.received_s, |ms| ms as f64 / 1000.0);
                            self.check_value(i, m.value, Some(source_s), msg.received_s, clock, false);
                        }
                        None if is_protocol_metric(&key.3) => {}
                        None => self.count(None, Outcome::UnmappedMetric),
                    }
                }
            }
            NodeEvent::RebirthNeeded { group, edge_node, .. } => {
                self.count(None, Outcome::RebirthRequested);
                self.count_each(&concerned, Outcome::AwaitingRebirth);
                if self.commands.len() >= MAX_PENDING_COMMANDS {
                    self.count(None, Outcome::CommandDropped);
                } else {
                    self.commands.push_back(sparkplug::rebirth_command(&group, &edge_node));
                }
            }
            NodeEvent::NodeDead { .. } => {
                self.count(None, Outcome::Death);
                for &i in concerned.iter() {
                    self.state[i].dead = true;
                }
            }
            NodeEvent::Ignored => self.count_each(&concerned, Outcome::AwaitingRebirth),
        }
    }
}

#[cfg(test)]
mod sparkplug_tests {
    use super::*;
    use std::path::Path;
    use twin_mqtt::sparkplug::{Metric, MetricValue, Payload, datatype, encode};

    /// A tank level in cm from device "T-1" of edge node "edge" in group "site", and a JSON signal beside it.
    const SCENE: &str = r#"Scenario(version: 1, name: "t",
        assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
        signals: [
            (id: "T-1.level", asset: "T-1", quantity: TankLevel, unit: "cm",
             source: Sparkplug(group: "site", edge_node: "edge", device: "T-1", metric: "Level"),
             valid: (0.0, 400.0), period: "1s"),
            (id: "T-1.level2", asset: "T-1", quantity: TankLevel, unit: "m",
             source: Mqtt(topic: "site/t1/level", value: "$.v", timestamp: "$.ts"), valid: (0.0, 4.0)),
        ])"#;

    const NBIRTH: &str = "spBv1.0/site/NBIRTH/edge";
    const DBIRTH: &str = "spBv1.0/site/DBIRTH/edge/T-1";
    const DDATA: &str = "spBv1.0/site/DDATA/edge/T-1";

    fn ingestor() -> Ingestor {
        let s = crate::scenario::parse(SCENE, Path::new("t.ron")).expect("valid");
        Ingestor::new(&s, IngestSettings::default())
    }

    fn msg(topic: &str, p: &Payload, received_s: f64) -> RawMessage {
        RawMessage { topic: topic.into(), payload: encode(p), received_s }
    }

    fn ms(t_s: f64) -> u64 {
        (t_s * 1000.0).round() as u64
    }

    fn nbirth(t_s: f64) -> Payload {
        let bd = Metric::new("bdSeq", datatype::INT64, MetricValue::LongValue(0));
        let rb = Metric::new("Node Control/Rebirth", datatype::BOOLEAN, MetricValue::BooleanValue(false));
        Payload { timestamp: Some(ms(t_s)), seq: Some(0), metrics: vec![bd, rb], ..Default::default() }
    }

    fn dbirth(seq: u64, t_s: f64, level_cm: f64, extra: bool) -> Payload {
        let mut metrics = vec![Metric {
            alias: Some(1),
            timestamp: Some(ms(t_s)),
            ..Metric::new("Level", datatype::DOUBLE, MetricValue::DoubleValue(level_cm))
        }];
        if extra {
            metrics.push(Metric {
                alias: Some(2),
                ..Metric::new("Other", datatype::DOUBLE, MetricValue::DoubleValue(1.0))
            });
        }
        Payload { timestamp: Some(ms(t_s)), seq: Some(seq), metrics, ..Default::default() }
    }

    fn ddata(seq: u64, t_s: f64, alias: u64, v: f64) -> Payload {
        let m = Metric {
            alias: Some(alias),
            timestamp: Some(ms(t_s)),
            value: Some(MetricValue::DoubleValue(v)),
            ..Default::default()
        };
        Payload { timestamp: Some(ms(t_s)), seq: Some(seq), metrics: vec![m], ..Default::default() }
    }

    /// NBIRTH at `t_s`, DBIRTH (level 250 cm) right after.
    fn born(i: &mut Ingestor, t_s: f64) {
        i.ingest(&msg(NBIRTH, &nbirth(t_s), t_s + 0.1));
        i.ingest(&msg(DBIRTH, &dbirth(1, t_s, 250.0, false), t_s + 0.1));
    }

    fn count(i: &Ingestor, o: Outcome) -> u64 {
        i.counts().get(&o).copied().unwrap_or(0)
    }

    #[test]
    fn metrics_are_converted_to_the_canonical_unit_and_birth_values_are_samples() {
        let mut i = ingestor();
        born(&mut i, 1000.0);
        i.ingest(&msg(DDATA, &ddata(2, 1001.0, 1, 260.0), 1001.1));
        let out = i.release(f64::INFINITY);
        let got: Vec<(f64, f64)> = out.iter().map(|s| (s.value, s.event_s)).collect();
        assert_eq!(got.len(), 2, "{:?}", i.counts());
        assert!((got[0].0 - 2.5).abs() < 1e-12 && got[0].1 == 1000.0, "250 cm at the DBIRTH's time: {got:?}");
        assert!((got[1].0 - 2.6).abs() < 1e-12 && got[1].1 == 1001.0, "260 cm from the metric's ms: {got:?}");
        assert_eq!(count(&i, Outcome::Accepted), 2);
        assert_eq!(i.signal_counts(0).get(&Outcome::Accepted), Some(&2));
        assert!(i.take_commands().is_empty());
        assert_eq!(count(&i, Outcome::UnmappedMetric), 0, "bdSeq and Node Control/Rebirth are not telemetry");
        // The same range check as JSON: 500 cm is out of range.
        i.ingest(&msg(DDATA, &ddata(3, 1002.0, 1, 500.0), 1002.1));
        assert_eq!(count(&i, Outcome::OutOfRange), 1);
        i.ingest(&msg(DDATA, &ddata(4, 1003.0, 1, f64::NAN), 1003.1));
        assert_eq!(count(&i, Outcome::MissingValue), 1, "a NaN metric has no usable value");
    }

    #[test]
    fn a_gap_queues_one_rebirth_command_and_samples_wait_for_the_rebirth() {
        let mut i = ingestor();
        born(&mut i, 1000.0);
        i.ingest(&msg(DDATA, &ddata(2, 1001.0, 1, 260.0), 1001.1));
        i.ingest(&msg(DDATA, &ddata(4, 1003.0, 1, 280.0), 1003.1)); // seq 3 lost
        i.ingest(&msg(DDATA, &ddata(5, 1004.0, 1, 290.0), 1004.1));
        let cmds = i.take_commands();
        assert_eq!(cmds.len(), 1, "one request, not one per message");
        assert_eq!(cmds[0].0, "spBv1.0/site/NCMD/edge");
        let p = sparkplug::decode(&cmds[0].1).unwrap();
        assert_eq!(p.metrics[0].name.as_deref(), Some(sparkplug::REBIRTH_METRIC));
        assert_eq!(p.metrics[0].value, Some(MetricValue::BooleanValue(true)));
        assert_eq!(count(&i, Outcome::RebirthRequested), 1);
        assert_eq!(i.signal_counts(0).get(&Outcome::AwaitingRebirth), Some(&2));
        // The rebirth: births again from seq 0, then data flows.
        i.ingest(&msg(NBIRTH, &nbirth(1005.0), 1005.1));
        i.ingest(&msg(DBIRTH, &dbirth(1, 1005.0, 300.0, false), 1005.1));
        i.ingest(&msg(DDATA, &ddata(2, 1006.0, 1, 310.0), 1006.1));
        let values: Vec<f64> = i.release(f64::INFINITY).iter().map(|s| (s.value * 100.0).round()).collect();
        assert_eq!(values, [250.0, 260.0, 300.0, 310.0], "280 and 290 cm were never applied");
        assert!(i.take_commands().is_empty());
        assert_eq!(i.pending_commands(), 0);
    }

    #[test]
    fn a_device_whose_node_never_sent_a_birth_is_named_in_the_diagnostics_until_the_node_is_born() {
        let mut i = ingestor();
        i.ingest(&msg(DBIRTH, &dbirth(0, 1000.0, 250.0, false), 1000.1));
        i.ingest(&msg(DDATA, &ddata(1, 1001.0, 1, 251.0), 1001.1));
        let d = i.diagnostics();
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with(
                "Sparkplug edge node site/edge never sent its node birth (NBIRTH): 2 message(s) of it and \
             its devices held, 1 rebirth request(s) sent"
            ),
            "{d:?}"
        );
        assert_eq!(count(&i, Outcome::AwaitingRebirth), 2);
        born(&mut i, 1002.0);
        assert!(i.diagnostics().is_empty(), "{:?}", i.diagnostics());
    }

    #[test]
    fn an_unknown_alias_requests_a_rebirth() {
        let mut i = ingestor();
        born(&mut i, 1000.0);
        i.ingest(&msg(DDATA, &ddata(2, 1001.0, 9, 260.0), 1001.1));
        assert_eq!(i.take_commands().len(), 1);
        assert_eq!(count(&i, Outcome::RebirthRequested), 1);
        assert_eq!(i.release(f64::INFINITY).len(), 1, "only the birth's value");
    }

    #[test]
    fn a_redelivered_ddata_is_a_duplicate_and_no_rebirth() {
        let mut i = ingestor();
        born(&mut i, 1000.0);
        let m = msg(DDATA, &ddata(2, 1001.0, 1, 260.0), 1001.1);
        i.ingest(&m);
        i.ingest(&m);
        i.ingest(&msg(DDATA, &ddata(3, 1002.0, 1, 270.0), 1002.1));
        assert_eq!(count(&i, Outcome::Duplicate), 1);
        assert_eq!(count(&i, Outcome::RebirthRequested), 0);
        assert!(i.take_commands().is_empty());
        assert_eq!(i.release(f64::INFINITY).len(), 3);
    }

    #[test]
    fn truncated_or_garbage_protobuf_is_a_bad_payload_against_the_devices_signals() {
        let mut i = ingestor();
        born(&mut i, 1000.0);
        let bytes = encode(&ddata(2, 1001.0, 1, 260.0));
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            i.ingest(&RawMessage { topic: DDATA.into(), payload: bytes[..cut].to_vec(), received_s: 1001.1 });
        }
        i.ingest(&RawMessage { topic: DDATA.into(), payload: vec![0xff; 40], received_s: 1001.2 });
        assert_eq!(i.signal_counts(0).get(&Outcome::BadPayload), Some(&4));
        assert_eq!(i.signal_counts(1).get(&Outcome::BadPayload), None, "not the JSON signal's");
        // A device without signals: counted once, at message level.
        i.ingest(&RawMessage { topic: "spBv1.0/site/DDATA/edge/X".into(), payload: vec![0xff], received_s: 1001.3 });
        assert_eq!(count(&i, Outcome::BadPayload), 5);
        // The node was not disturbed: seq 2 follows.
        i.ingest(&msg(DDATA, &ddata(2, 1001.0, 1, 260.0), 1001.4));
        assert_eq!(i.release(f64::INFINITY).len(), 2);
        assert_eq!(count(&i, Outcome::RebirthRequested), 0);
    }

    #[test]
    fn unmapped_metrics_other_nodes_and_commands_are_counted_and_a_death_makes_signals_stale() {
        let mut i = ingestor();
        i.ingest(&msg(NBIRTH, &nbirth(1000.0), 1000.1));
        i.ingest(&msg(DBIRTH, &dbirth(1, 1000.0, 250.0, true), 1000.1));
        assert_eq!(count(&i, Outcome::UnmappedMetric), 1, "\"Other\" feeds no signal");
        i.ingest(&msg("spBv1.0/site/NBIRTH/stranger", &nbirth(1000.0), 1000.2));
        assert_eq!(count(&i, Outcome::UnknownTopic), 1, "a node without signals is not tracked");
        assert!(i.take_commands().is_empty());
        let (t, p) = sparkplug::rebirth_command("site", "edge");
        i.ingest(&RawMessage { topic: t, payload: p, received_s: 1000.3 });
        assert_eq!(count(&i, Outcome::Ignored), 1);
        assert!(!i.is_stale(0, 1000.5));
        let ddeath = Payload { timestamp: Some(ms(1000.4)), seq: Some(2), ..Default::default() };
        i.ingest(&msg("spBv1.0/site/DDEATH/edge/T-1", &ddeath, 1000.4));
        assert_eq!(count(&i, Outcome::Death), 1);
        assert!(i.is_stale(0, 1000.5), "stale at once, not after three periods");
        // Data again (a new birth) clears it.
        i.ingest(&msg(NBIRTH, &nbirth(1001.0), 1001.1));
        i.ingest(&msg(DBIRTH, &dbirth(1, 1001.0, 250.0, false), 1001.1));
        assert!(!i.is_stale(0, 1001.5));
    }

    #[test]
    fn subscriptions_cover_json_topics_and_the_sparkplug_nodes_telemetry() {
        let i = ingestor();
        assert_eq!(
            i.subscriptions(),
            [
                "site/t1/level",
                "spBv1.0/site/DBIRTH/edge/+",
                "spBv1.0/site/DDATA/edge/+",
                "spBv1.0/site/DDEATH/edge/+",
                "spBv1.0/site/NBIRTH/edge",
                "spBv1.0/site/NDATA/edge",
                "spBv1.0/site/NDEATH/edge",
            ]
        );
        assert_eq!(i.signals()[0].topic, DDATA);
    }
}
