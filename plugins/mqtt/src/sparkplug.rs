//! Sparkplug B (Eclipse Tahu `sparkplug_b.proto`, spec 3.0) for industrial edge nodes: prost structs with the
//! spec's tag numbers (hand-written, no protoc), topic parsing, and [`NodeTracker`], which resolves metric
//! aliases from NBIRTH/DBIRTH and checks the 0..=255 sequence so that lost messages trigger a rebirth request.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::CodecError;

/// Topic namespace of Sparkplug B.
pub const NAMESPACE: &str = "spBv1.0";
/// Metric name of the rebirth request in an NCMD.
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";

/// Sparkplug DataType numbers (spec 3.0, §6.4.16).
pub mod datatype {
    pub const UNKNOWN: u32 = 0;
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATASET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;
}

/// `org.eclipse.tahu.protobuf.Payload` (fields not listed here, e.g. extensions, are skipped on decode).
#[derive(Clone, PartialEq, Message)]
pub struct Payload {
    /// Message time, ms since the Unix epoch.
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// Sequence number 0..=255 (wraps), per edge node.
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
    #[prost(string, optional, tag = "4")]
    pub uuid: Option<String>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub body: Option<Vec<u8>>,
}

/// `Payload.Metric`; metadata (8), properties (9), dataset/template/extension values (17..19) are skipped.
#[derive(Clone, PartialEq, Message)]
pub struct Metric {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    /// Sample time, ms since the Unix epoch.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    /// One of [`datatype`].
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub is_transient: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    #[prost(oneof = "MetricValue", tags = "10, 11, 12, 13, 14, 15, 16")]
    pub value: Option<MetricValue>,
}

/// `Metric.value` oneof.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricValue {
    /// Int8/16/32 (two's complement), UInt8/16.
    #[prost(uint32, tag = "10")]
    IntValue(u32),
    /// Int64 (two's complement), UInt32/64, DateTime.
    #[prost(uint64, tag = "11")]
    LongValue(u64),
    #[prost(float, tag = "12")]
    FloatValue(f32),
    #[prost(double, tag = "13")]
    DoubleValue(f64),
    #[prost(bool, tag = "14")]
    BooleanValue(bool),
    #[prost(string, tag = "15")]
    StringValue(String),
    #[prost(bytes = "vec", tag = "16")]
    BytesValue(Vec<u8>),
}

impl Metric {
    /// A named metric with a value and a datatype (alias and timestamp unset).
    pub fn new(name: &str, datatype: u32, value: MetricValue) -> Self {
        Metric { name: Some(name.to_string()), datatype: Some(datatype), value: Some(value), ..Default::default() }
    }

    /// The value as f64 for numeric and boolean types (false/true = 0/1), interpreting signed types by
    /// `datatype` (the metric's own, else `birth_datatype`). `None` for strings, bytes, null and non-finite.
    pub fn value_f64(&self, birth_datatype: Option<u32>) -> Option<f64> {
        use datatype as dt;
        if self.is_null == Some(true) {
            return None;
        }
        let ty = self.datatype.or(birth_datatype).unwrap_or(dt::UNKNOWN);
        let v = match self.value.as_ref()? {
            MetricValue::IntValue(v) => match ty {
                dt::INT8 => *v as i8 as f64,
                dt::INT16 => *v as i16 as f64,
                dt::UINT8 | dt::UINT16 | dt::UINT32 => *v as f64,
                _ => *v as i32 as f64,
            },
            MetricValue::LongValue(v) => match ty {
                dt::UINT32 | dt::UINT64 | dt::DATETIME => *v as f64,
                _ => *v as i64 as f64,
            },
            MetricValue::FloatValue(v) => *v as f64,
            MetricValue::DoubleValue(v) => *v,
            MetricValue::BooleanValue(b) => f64::from(u8::from(*b)),
            MetricValue::StringValue(_) | MetricValue::BytesValue(_) => return None,
        };
        v.is_finite().then_some(v)
    }
}

/// Sparkplug message types (the third topic level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    NBirth,
    NDeath,
    NData,
    NCmd,
    DBirth,
    DDeath,
    DData,
    DCmd,
    State,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::NBirth => "NBIRTH",
            MessageType::NDeath => "NDEATH",
            MessageType::NData => "NDATA",
            MessageType::NCmd => "NCMD",
            MessageType::DBirth => "DBIRTH",
            MessageType::DDeath => "DDEATH",
            MessageType::DData => "DDATA",
            MessageType::DCmd => "DCMD",
            MessageType::State => "STATE",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NBIRTH" => MessageType::NBirth,
            "NDEATH" => MessageType::NDeath,
            "NDATA" => MessageType::NData,
            "NCMD" => MessageType::NCmd,
            "DBIRTH" => MessageType::DBirth,
            "DDEATH" => MessageType::DDeath,
            "DDATA" => MessageType::DData,
            "DCMD" => MessageType::DCmd,
            _ => return None,
        })
    }

    fn is_device(self) -> bool {
        matches!(self, MessageType::DBirth | MessageType::DDeath | MessageType::DData | MessageType::DCmd)
    }
}

/// A parsed Sparkplug topic. For `STATE` (`spBv1.0/STATE/{host_id}`, or the older `STATE/{host_id}`), `group`
/// is empty and `edge_node` holds the host application id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SparkplugTopic {
    pub group: String,
    pub message_type: MessageType,
    pub edge_node: String,
    pub device: Option<String>,
}

/// Parses `spBv1.0/{group}/{type}/{edge_node}[/{device}]`; `None` if it is not a well-formed Sparkplug topic
/// (wrong namespace, unknown type, empty or wildcard levels, device part missing or extra).
pub fn parse_topic(topic: &str) -> Option<SparkplugTopic> {
    let parts: Vec<&str> = topic.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.contains(['+', '#'])) {
        return None;
    }
    let state = |host: &str| SparkplugTopic {
        group: String::new(),
        message_type: MessageType::State,
        edge_node: host.to_string(),
        device: None,
    };
    match parts.as_slice() {
        ["STATE", host] => Some(state(host)),
        [ns, "STATE", host] if *ns == NAMESPACE => Some(state(host)),
        [ns, group, ty, node, rest @ ..] if *ns == NAMESPACE => {
            let message_type = MessageType::parse(ty)?;
            let device = match (message_type.is_device(), rest) {
                (false, []) => None,
                (true, [d]) => Some(d.to_string()),
                _ => return None,
            };
            Some(SparkplugTopic { group: group.to_string(), message_type, edge_node: node.to_string(), device })
        }
        _ => None,
    }
}

/// Protobuf encoding of a payload.
pub fn encode(p: &Payload) -> Vec<u8> {
    p.encode_to_vec()
}

/// Decodes a payload; truncated or malformed protobuf gives [`CodecError::Protobuf`].
pub fn decode(bytes: &[u8]) -> Result<Payload, CodecError> {
    Payload::decode(bytes).map_err(|e| CodecError::Protobuf(e.to_string()))
}

/// One numeric sample, name resolved from the alias map.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedMetric {
    pub name: String,
    /// Sample time, ms since the Unix epoch (the metric's, else the payload's).
    pub timestamp_ms: Option<u64>,
    /// Numeric value; booleans are 0.0/1.0.
    pub value: f64,
}

/// What the twin should do with one Sparkplug message.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// Samples from a BIRTH or DATA message (`device` is `None` for node-level messages).
    Metrics { edge_node: String, device: Option<String>, metrics: Vec<DecodedMetric> },
    /// State was lost (sequence gap, unknown alias, data before birth): publish [`rebirth_command`].
    RebirthNeeded { group: String, edge_node: String, reason: String },
    /// NDEATH (`device == None`) or DDEATH.
    NodeDead { group: String, edge_node: String, device: Option<String> },
    /// Commands, STATE, and messages of a node that is already waiting for its rebirth.
    Ignored,
}

/// Counters of [`NodeTracker`], so nothing is skipped silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackerStats {
    /// Metrics left out of `NodeEvent::Metrics` for want of a usable value: string/bytes, non-finite, or without
    /// name and alias.
    pub skipped_metrics: u64,
    /// Metrics marked `is_null` (no value yet, as a birth announces a metric not read since the node started):
    /// left out too, but no fault of the data.
    pub null_metrics: u64,
    /// `RebirthNeeded` events returned.
    pub rebirths_requested: u64,
    /// Messages answered with `Ignored` (commands, STATE, nodes awaiting rebirth, node table full).
    pub ignored: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct AliasInfo {
    name: String,
    datatype: Option<u32>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct NodeState {
    born: bool,
    next_seq: u8,
    aliases: HashMap<u64, AliasInfo>,
    /// Datatypes of named metrics from the births, for DATA messages that carry only a name.
    named_types: HashMap<String, u32>,
    devices: HashSet<String>,
    /// When a rebirth was last asked for (not kept in checkpoints: a restarted twin may ask again at once).
    #[serde(skip)]
    rebirth_requested_at: Option<Instant>,
}

/// Per-(group, edge node) Sparkplug state: alias map from NBIRTH/DBIRTH and the expected sequence number.
/// A sequence gap, an unknown alias or data before a birth yields `RebirthNeeded` (then `Ignored` for that
/// node until its NBIRTH, repeating the request at most every [`NodeTracker::REBIRTH_RETRY`]).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NodeTracker {
    nodes: HashMap<(String, String), NodeState>,
    stats: TrackerStats,
}

impl NodeTracker {
    /// Minimum time between two rebirth requests for one node.
    pub const REBIRTH_RETRY: Duration = Duration::from_secs(5);
    /// Most nodes tracked; messages from further nodes are `Ignored` (and counted).
    pub const MAX_NODES: usize = 10_000;

    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    pub fn handle(&mut self, topic: &SparkplugTopic, payload: &Payload) -> NodeEvent {
        let ev = self.handle_inner(topic, payload);
        match &ev {
            NodeEvent::RebirthNeeded { .. } => self.stats.rebirths_requested += 1,
            NodeEvent::Ignored => self.stats.ignored += 1,
            _ => {}
        }
        ev
    }

    fn handle_inner(&mut self, topic: &SparkplugTopic, payload: &Payload) -> NodeEvent {
        use MessageType as M;
        let key = (topic.group.clone(), topic.edge_node.clone());
        match topic.message_type {
            M::NCmd | M::DCmd | M::State => return NodeEvent::Ignored,
            M::NDeath => {
                self.nodes.remove(&key);
                return NodeEvent::NodeDead { group: key.0, edge_node: key.1, device: None };
            }
            _ => {}
        }
        if !self.nodes.contains_key(&key) && self.nodes.len() >= Self::MAX_NODES {
            return NodeEvent::Ignored;
        }
        let node = self.nodes.entry(key).or_default();
        let rebirth = |node: &mut NodeState, reason: String| {
            node.born = false;
            match node.rebirth_requested_at {
                Some(t) if t.elapsed() < Self::REBIRTH_RETRY => NodeEvent::Ignored,
                _ => {
                    node.rebirth_requested_at = Some(Instant::now());
                    NodeEvent::RebirthNeeded { group: topic.group.clone(), edge_node: topic.edge_node.clone(), reason }
                }
            }
        };
        let seq = match payload.seq {
            Some(s) if s <= 255 => s as u8,
            Some(s) => return rebirth(node, format!("{} seq {s} is outside 0..=255", topic.message_type.as_str())),
            None => return rebirth(node, format!("{} without seq", topic.message_type.as_str())),
        };
        if topic.message_type == M::NBirth {
            *node = NodeState { born: true, next_seq: seq.wrapping_add(1), ..Default::default() };
        } else {
            if !node.born {
                return rebirth(node, format!("{} before NBIRTH", topic.message_type.as_str()));
            }
            if seq != node.next_seq {
                return rebirth(node, format!("seq gap: expected {}, got {seq}", node.next_seq));
            }
            node.next_seq = seq.wrapping_add(1);
        }
        if let Some(device) = &topic.device {
            match topic.message_type {
                M::DBirth => {
                    node.devices.insert(device.clone());
                }
                M::DDeath => {
                    node.devices.remove(device);
                    return NodeEvent::NodeDead {
                        group: topic.group.clone(),
                        edge_node: topic.edge_node.clone(),
                        device: Some(device.clone()),
                    };
                }
                _ if !node.devices.contains(device) => {
                    return rebirth(node, format!("DDATA from device {device:?} before its DBIRTH"));
                }
                _ => {}
            }
        }
        let is_birth = matches!(topic.message_type, M::NBirth | M::DBirth);
        if is_birth {
            for m in &payload.metrics {
                if let (Some(name), Some(alias)) = (&m.name, m.alias) {
                    node.aliases.insert(alias, AliasInfo { name: name.clone(), datatype: m.datatype });
                }
                if let (Some(name), Some(ty)) = (&m.name, m.datatype) {
                    node.named_types.insert(name.clone(), ty);
                }
            }
        }
        let mut metrics = Vec::with_capacity(payload.metrics.len());
        for m in &payload.metrics {
            let (name, birth_type) = match (&m.name, m.alias) {
                (Some(n), _) => (n.clone(), node.named_types.get(n).copied()),
                (None, Some(a)) => match node.aliases.get(&a) {
                    Some(info) => (info.name.clone(), info.datatype),
                    None => return rebirth(node, format!("unknown alias {a}")),
                },
                (None, None) => {
                    self.stats.skipped_metrics += 1;
                    continue;
                }
            };
            if m.is_null == Some(true) {
                self.stats.null_metrics += 1;
                continue;
            }
            match m.value_f64(birth_type) {
                Some(value) => {
                    metrics.push(DecodedMetric { name, timestamp_ms: m.timestamp.or(payload.timestamp), value })
                }
                None => self.stats.skipped_metrics += 1,
            }
        }
        node.rebirth_requested_at = None;
        NodeEvent::Metrics { edge_node: topic.edge_node.clone(), device: topic.device.clone(), metrics }
    }
}

/// The NCMD that asks an edge node to re-send its births: topic `spBv1.0/{group}/NCMD/{edge_node}` and a payload
/// with the boolean metric `Node Control/Rebirth = true`.
pub fn rebirth_command(group: &str, edge_node: &str) -> (String, Vec<u8>) {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let payload = Payload {
        timestamp: Some(now_ms),
        metrics: vec![Metric {
            timestamp: Some(now_ms),
            ..Metric::new(REBIRTH_METRIC, datatype::BOOLEAN, MetricValue::BooleanValue(true))
        }],
        ..Default::default()
    };
    (format!("{NAMESPACE}/{group}/NCMD/{edge_node}"), encode(&payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliased(name: &str, alias: u64, ty: u32, v: MetricValue) -> Metric {
        Metric { alias: Some(alias), ..Metric::new(name, ty, v) }
    }

    fn by_alias(alias: u64, v: MetricValue) -> Metric {
        Metric { alias: Some(alias), value: Some(v), ..Default::default() }
    }

    fn topic(ty: &str) -> SparkplugTopic {
        parse_topic(&format!("spBv1.0/plant/{ty}/edge1")).unwrap()
    }

    fn dtopic(ty: &str) -> SparkplugTopic {
        parse_topic(&format!("spBv1.0/plant/{ty}/edge1/pump7")).unwrap()
    }

    fn birth(seq: u64) -> Payload {
        Payload {
            timestamp: Some(1_700_000_000_000),
            seq: Some(seq),
            metrics: vec![
                aliased("bdSeq", 0, datatype::INT64, MetricValue::LongValue(3)),
                aliased("Pump/Flow_m3h", 1, datatype::DOUBLE, MetricValue::DoubleValue(12.5)),
                aliased("Pump/Temp_C", 2, datatype::INT16, MetricValue::IntValue(20)),
                aliased("Pump/Running", 3, datatype::BOOLEAN, MetricValue::BooleanValue(true)),
                aliased("Pump/Name", 4, datatype::STRING, MetricValue::StringValue("P7".into())),
            ],
            ..Default::default()
        }
    }

    fn data(seq: u64, metrics: Vec<Metric>) -> Payload {
        Payload { timestamp: Some(1_700_000_001_000), seq: Some(seq), metrics, ..Default::default() }
    }

    #[test]
    fn parse_topics() {
        let t = parse_topic("spBv1.0/plant/NDATA/edge1").unwrap();
        assert_eq!(
            (t.group.as_str(), t.message_type, t.edge_node.as_str(), t.device),
            ("plant", MessageType::NData, "edge1", None)
        );
        let t = parse_topic("spBv1.0/plant/DDATA/edge1/pump7").unwrap();
        assert_eq!(t.device.as_deref(), Some("pump7"));
        assert_eq!(parse_topic("spBv1.0/STATE/scada1").unwrap().message_type, MessageType::State);
        assert_eq!(parse_topic("STATE/scada1").unwrap().edge_node, "scada1");
        for bad in [
            "spBv1.0/plant/NDATA",
            "spBv1.0/plant/NDATA/e/dev",
            "spBv1.0/plant/DDATA/e",
            "spAv1.0/g/NDATA/e",
            "spBv1.0/g/XDATA/e",
            "spBv1.0//NDATA/e",
            "spBv1.0/g/NDATA/+",
            "",
            "spBv1.0/g/DDATA/e/d/x",
        ] {
            assert!(parse_topic(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let p = Payload {
            uuid: Some("u-1".into()),
            body: Some(vec![1, 2, 3]),
            metrics: vec![
                Metric { is_historical: Some(false), timestamp: Some(5), ..birth(0).metrics[1].clone() },
                Metric::new("i32", datatype::INT32, MetricValue::IntValue((-7i32) as u32)),
                Metric::new("f", datatype::FLOAT, MetricValue::FloatValue(1.5)),
                Metric::new("b", datatype::BYTES, MetricValue::BytesValue(vec![9; 10])),
                Metric { is_null: Some(true), ..Metric::new("null", datatype::DOUBLE, MetricValue::DoubleValue(0.0)) },
            ],
            ..birth(0)
        };
        let bytes = encode(&p);
        let q = decode(&bytes).unwrap();
        assert_eq!(p, q);
        assert_eq!(q.metrics[1].value_f64(None), Some(-7.0));
        assert_eq!(q.metrics[4].value_f64(None), None, "is_null metric has no value");
    }

    #[test]
    fn tag_numbers_follow_the_spec() {
        // Payload.seq = 3 (varint): key byte (3 << 3) | 0 = 0x18. Metric.double_value = 13 (64-bit): 0x69.
        let p = Payload { seq: Some(5), ..Default::default() };
        assert_eq!(encode(&p), vec![0x18, 5]);
        let m = Metric { value: Some(MetricValue::DoubleValue(1.0)), ..Default::default() };
        assert_eq!(m.encode_to_vec()[0], 0x69);
        let m = Metric { datatype: Some(datatype::DOUBLE), ..Default::default() };
        assert_eq!(m.encode_to_vec(), vec![0x20, 10]);
    }

    #[test]
    fn truncated_and_garbage_protobuf_are_errors() {
        let bytes = encode(&birth(0));
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(decode(&bytes[..cut]), Err(CodecError::Protobuf(_))), "cut at {cut}");
        }
        assert!(decode(&[0xff; 64]).is_err());
        assert!(decode(&[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err(), "huge declared length");
        assert_eq!(decode(&[]).unwrap(), Payload::default(), "empty input is an empty payload");
    }

    #[test]
    fn signed_and_unsigned_values_by_datatype() {
        let m = |ty, v| Metric::new("x", ty, v).value_f64(None);
        assert_eq!(m(datatype::INT8, MetricValue::IntValue(0xFF)), Some(-1.0));
        assert_eq!(m(datatype::INT8, MetricValue::IntValue(u32::MAX)), Some(-1.0));
        assert_eq!(m(datatype::INT16, MetricValue::IntValue(0xFFFE)), Some(-2.0));
        assert_eq!(m(datatype::UINT16, MetricValue::IntValue(0xFFFE)), Some(65534.0));
        assert_eq!(m(datatype::INT64, MetricValue::LongValue(u64::MAX)), Some(-1.0));
        assert_eq!(m(datatype::UINT64, MetricValue::LongValue(1 << 63)), Some(2f64.powi(63)));
        assert_eq!(m(datatype::FLOAT, MetricValue::FloatValue(f32::NAN)), None);
        assert_eq!(m(datatype::BOOLEAN, MetricValue::BooleanValue(false)), Some(0.0));
    }

    #[test]
    fn nbirth_aliases_then_ndata_by_alias_decodes_by_name() {
        let mut tr = NodeTracker::new();
        match tr.handle(&topic("NBIRTH"), &birth(0)) {
            NodeEvent::Metrics { edge_node, device: None, metrics } => {
                assert_eq!(edge_node, "edge1");
                assert_eq!(metrics.len(), 4, "string metric skipped");
                assert_eq!(metrics[1].name, "Pump/Flow_m3h");
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(tr.stats().skipped_metrics, 1);
        assert_eq!(tr.stats().null_metrics, 0);
        let ev = tr.handle(
            &topic("NDATA"),
            &data(
                1,
                vec![
                    by_alias(1, MetricValue::DoubleValue(13.25)),
                    Metric { timestamp: Some(42), ..by_alias(2, MetricValue::IntValue(0xFFFF)) },
                ],
            ),
        );
        let NodeEvent::Metrics { metrics, .. } = ev else { panic!("{ev:?}") };
        assert_eq!(
            metrics[0],
            DecodedMetric { name: "Pump/Flow_m3h".into(), timestamp_ms: Some(1_700_000_001_000), value: 13.25 }
        );
        assert_eq!(
            metrics[1],
            DecodedMetric { name: "Pump/Temp_C".into(), timestamp_ms: Some(42), value: -1.0 },
            "Int16 from birth datatype"
        );
    }

    #[test]
    fn a_null_birth_metric_is_counted_as_no_value_yet_not_as_a_bad_one() {
        let mut tr = NodeTracker::new();
        let mut b = birth(0);
        b.metrics.push(Metric {
            is_null: Some(true),
            value: None,
            ..aliased("Pump/Vib_mm_s", 5, datatype::DOUBLE, MetricValue::DoubleValue(0.0))
        });
        let NodeEvent::Metrics { metrics, .. } = tr.handle(&topic("NBIRTH"), &b) else { panic!("birth") };
        assert!(metrics.iter().all(|m| m.name != "Pump/Vib_mm_s"), "no value to apply");
        assert_eq!(
            (tr.stats().skipped_metrics, tr.stats().null_metrics),
            (1, 1),
            "the string is skipped, the null not"
        );
        // The alias it announced still names the metric's later values.
        let NodeEvent::Metrics { metrics, .. } =
            tr.handle(&topic("NDATA"), &data(1, vec![by_alias(5, MetricValue::DoubleValue(1.5))]))
        else {
            panic!("data")
        };
        assert_eq!((metrics[0].name.as_str(), metrics[0].value), ("Pump/Vib_mm_s", 1.5));
    }

    #[test]
    fn seq_gap_requests_rebirth_then_ignores_until_nbirth() {
        let mut tr = NodeTracker::new();
        tr.handle(&topic("NBIRTH"), &birth(0));
        assert!(matches!(tr.handle(&topic("NDATA"), &data(1, vec![])), NodeEvent::Metrics { .. }));
        match tr.handle(&topic("NDATA"), &data(3, vec![])) {
            NodeEvent::RebirthNeeded { group, edge_node, reason } => {
                assert_eq!((group.as_str(), edge_node.as_str()), ("plant", "edge1"));
                assert!(reason.contains("expected 2, got 3"), "{reason}");
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(tr.handle(&topic("NDATA"), &data(4, vec![])), NodeEvent::Ignored, "request not repeated at once");
        assert!(matches!(tr.handle(&topic("NBIRTH"), &birth(0)), NodeEvent::Metrics { .. }));
        assert!(matches!(tr.handle(&topic("NDATA"), &data(1, vec![])), NodeEvent::Metrics { .. }));
        assert_eq!(tr.stats().rebirths_requested, 1);
    }

    #[test]
    fn unknown_alias_and_data_before_birth_request_rebirth() {
        let mut tr = NodeTracker::new();
        assert!(matches!(tr.handle(&topic("NDATA"), &data(0, vec![])), NodeEvent::RebirthNeeded { .. }));
        let mut tr = NodeTracker::new();
        tr.handle(&topic("NBIRTH"), &birth(0));
        match tr.handle(&topic("NDATA"), &data(1, vec![by_alias(99, MetricValue::DoubleValue(1.0))])) {
            NodeEvent::RebirthNeeded { reason, .. } => assert!(reason.contains("unknown alias 99"), "{reason}"),
            e => panic!("{e:?}"),
        }
        let mut tr = NodeTracker::new();
        tr.handle(&topic("NBIRTH"), &birth(0));
        assert!(
            matches!(tr.handle(&dtopic("DDATA"), &data(1, vec![])), NodeEvent::RebirthNeeded { .. }),
            "DDATA before DBIRTH"
        );
    }

    #[test]
    fn seq_wraps_from_255_to_0() {
        let mut tr = NodeTracker::new();
        tr.handle(&topic("NBIRTH"), &birth(250));
        for s in (251..=255).chain(0..=3) {
            assert!(matches!(tr.handle(&topic("NDATA"), &data(s, vec![])), NodeEvent::Metrics { .. }), "seq {s}");
        }
        assert!(matches!(tr.handle(&topic("NDATA"), &data(256, vec![])), NodeEvent::RebirthNeeded { .. }));
    }

    #[test]
    fn devices_share_the_node_sequence_and_deaths_are_reported() {
        let mut tr = NodeTracker::new();
        tr.handle(&topic("NBIRTH"), &birth(0));
        let dbirth = data(1, vec![aliased("Dev/Speed_rpm", 10, datatype::FLOAT, MetricValue::FloatValue(1450.0))]);
        assert!(matches!(tr.handle(&dtopic("DBIRTH"), &dbirth), NodeEvent::Metrics { device: Some(_), .. }));
        let ev = tr.handle(&dtopic("DDATA"), &data(2, vec![by_alias(10, MetricValue::FloatValue(1500.0))]));
        let NodeEvent::Metrics { device, metrics, .. } = ev else { panic!("{ev:?}") };
        assert_eq!(
            (device.as_deref(), metrics[0].name.as_str(), metrics[0].value),
            (Some("pump7"), "Dev/Speed_rpm", 1500.0)
        );
        assert!(matches!(tr.handle(&topic("NDATA"), &data(3, vec![])), NodeEvent::Metrics { .. }));
        assert_eq!(
            tr.handle(&dtopic("DDEATH"), &data(4, vec![])),
            NodeEvent::NodeDead { group: "plant".into(), edge_node: "edge1".into(), device: Some("pump7".into()) }
        );
        assert!(matches!(tr.handle(&topic("NDEATH"), &Payload::default()), NodeEvent::NodeDead { device: None, .. }));
        assert!(matches!(tr.handle(&topic("NDATA"), &data(5, vec![])), NodeEvent::RebirthNeeded { .. }), "dead node");
        assert_eq!(tr.handle(&topic("NCMD"), &Payload::default()), NodeEvent::Ignored);
    }

    #[test]
    fn rebirth_command_payload_decodes_to_the_rebirth_metric() {
        let (t, bytes) = rebirth_command("plant", "edge1");
        assert_eq!(t, "spBv1.0/plant/NCMD/edge1");
        let pt = parse_topic(&t).unwrap();
        assert_eq!(pt.message_type, MessageType::NCmd);
        let p = decode(&bytes).unwrap();
        assert_eq!(p.metrics.len(), 1);
        let m = &p.metrics[0];
        assert_eq!(m.name.as_deref(), Some(REBIRTH_METRIC));
        assert_eq!(m.datatype, Some(datatype::BOOLEAN));
        assert_eq!(m.value, Some(MetricValue::BooleanValue(true)));
    }
}
