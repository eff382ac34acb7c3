//! The plant's Sparkplug B edge nodes: which signals each node and device publishes, their metric aliases and the
//! node's sequence number, and the payloads (NBIRTH, DBIRTH, NDATA, DDATA, NDEATH) built from them. The sampling
//! itself and the fault handling live in the plant (`super`); this module only lays out and encodes.
//!
//! Per node: NBIRTH carries `bdSeq` (Int64, the session number, 0 for the plant's one session),
//! `Node Control/Rebirth` (Boolean, false) and every node-level metric; each DBIRTH carries every metric of its
//! device. Birth metrics carry name, alias (1, 2, … per node, in scenario order), datatype Double, the latest
//! reading and its sample time (or `is_null` before the first reading). DATA metrics carry the alias, the sample
//! time and the value only. Every message of a node except NDEATH carries the node's `seq`, 0 for the NBIRTH and
//! then +1 per message, wrapping after 255.

use twin_mqtt::sparkplug::{self, Metric, MetricValue, Payload, datatype};

/// Name of the session-number metric of NBIRTH and NDEATH.
pub const BD_SEQ_METRIC: &str = "bdSeq";

/// One signal published as a Sparkplug metric.
#[derive(Debug, Clone)]
pub(crate) struct SpMetric {
    pub(crate) name: String,
    pub(crate) alias: u64,
    /// Index of the signal's sensor in the plant's sensor table.
    pub(crate) sensor: usize,
}

/// A device of a node (or, with `id == None`, the node's own metrics).
#[derive(Debug, Clone)]
pub(crate) struct SpDevice {
    pub(crate) id: Option<String>,
    pub(crate) metrics: Vec<SpMetric>,
    /// The device clock's offset from true time, s (the `SkewedClock` faults of its signals).
    pub(crate) clock_offset_s: f64,
    pub(crate) birth_topic: String,
    pub(crate) data_topic: String,
}

/// One Sparkplug edge node.
#[derive(Debug, Clone)]
pub(crate) struct SpNode {
    pub(crate) group: String,
    pub(crate) id: String,
    /// The node's own metrics (device `None`), published in NBIRTH and NDATA.
    pub(crate) own: SpDevice,
    pub(crate) devices: Vec<SpDevice>,
    /// The next sequence number.
    seq: u8,
    /// Birth/death session number.
    pub(crate) bd_seq: u64,
    /// NBIRTH and DBIRTHs are to be (re)published before the next sample.
    pub(crate) birth_due: bool,
    next_alias: u64,
}

impl SpDevice {
    fn new(group: &str, node: &str, id: Option<&str>) -> Self {
        let (birth_topic, data_topic) = match id {
            Some(d) => (topic(group, "DBIRTH", node, Some(d)), topic(group, "DDATA", node, Some(d))),
            None => (topic(group, "NBIRTH", node, None), topic(group, "NDATA", node, None)),
        };
        Self { id: id.map(str::to_owned), metrics: Vec::new(), clock_offset_s: 0.0, birth_topic, data_topic }
    }
}

/// `spBv1.0/{group}/{kind}/{node}[/{device}]`.
pub(crate) fn topic(group: &str, kind: &str, node: &str, device: Option<&str>) -> String {
    match device {
        Some(d) => format!("{}/{group}/{kind}/{node}/{d}", sparkplug::NAMESPACE),
        None => format!("{}/{group}/{kind}/{node}", sparkplug::NAMESPACE),
    }
}

impl SpNode {
    pub(crate) fn new(group: &str, id: &str) -> Self {
        Self {
            group: group.to_owned(),
            id: id.to_owned(),
            own: SpDevice::new(group, id, None),
            devices: Vec::new(),
            seq: 0,
            bd_seq: 0,
            birth_due: true,
            next_alias: 1,
        }
    }

    /// Adds a signal's metric to the node or one of its devices; a name used twice on one device is an error.
    pub(crate) fn add_metric(&mut self, device: Option<&str>, name: &str, sensor: usize) -> Result<(), String> {
        let dev = match device {
            None => &mut self.own,
            Some(d) => match self.devices.iter().position(|x| x.id.as_deref() == Some(d)) {
                Some(k) => &mut self.devices[k],
                None => {
                    self.devices.push(SpDevice::new(&self.group, &self.id, Some(d)));
                    self.devices.last_mut().expect("just pushed")
                }
            },
        };
        if dev.metrics.iter().any(|m| m.name == name) {
            return Err(format!("Sparkplug metric \"{name}\" is published twice by the same node or device"));
        }
        dev.metrics.push(SpMetric { name: name.to_owned(), alias: self.next_alias, sensor });
        self.next_alias += 1;
        Ok(())
    }

    /// The node's own metrics and then its devices.
    pub(crate) fn all_devices(&self) -> impl Iterator<Item = &SpDevice> {
        std::iter::once(&self.own).chain(&self.devices)
    }

    /// Takes the next sequence number (0..=255, wrapping).
    pub(crate) fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        u64::from(s)
    }

    /// Starts a birth sequence: the NBIRTH takes seq 0.
    pub(crate) fn reset_seq(&mut self) {
        self.seq = 0;
    }

    pub(crate) fn death_topic(&self) -> String {
        topic(&self.group, "NDEATH", &self.id, None)
    }

    /// Whether the node publishes `sensor`, and the clock offset of the device that does.
    pub(crate) fn device_of(&mut self, sensor: usize) -> Option<&mut SpDevice> {
        std::iter::once(&mut self.own).chain(&mut self.devices).find(|d| d.metrics.iter().any(|m| m.sensor == sensor))
    }
}

/// Unix ms of simulated time `t_s` on a clock `offset_s` ahead, with the plant's epoch (never negative).
pub(crate) fn unix_ms(epoch_unix_s: f64, t_s: f64, offset_s: f64) -> u64 {
    ((epoch_unix_s + t_s + offset_s) * 1000.0).round().max(0.0) as u64
}

/// A birth metric: name, alias, Double, the reading (or null) and its sample time.
pub(crate) fn birth_metric(m: &SpMetric, reading: Option<(f64, u64)>, now_ms: u64) -> Metric {
    let (value, ts, null) = match reading {
        Some((v, ts)) => (Some(MetricValue::DoubleValue(v)), ts, None),
        None => (None, now_ms, Some(true)),
    };
    Metric {
        name: Some(m.name.clone()),
        alias: Some(m.alias),
        timestamp: Some(ts),
        datatype: Some(datatype::DOUBLE),
        is_null: null,
        value,
        ..Default::default()
    }
}

/// The metrics NBIRTH carries before the node's signals: `bdSeq` and `Node Control/Rebirth`.
pub(crate) fn node_control_metrics(bd_seq: u64, now_ms: u64) -> Vec<Metric> {
    vec![
        Metric {
            timestamp: Some(now_ms),
            ..Metric::new(BD_SEQ_METRIC, datatype::INT64, MetricValue::LongValue(bd_seq))
        },
        Metric {
            timestamp: Some(now_ms),
            ..Metric::new(sparkplug::REBIRTH_METRIC, datatype::BOOLEAN, MetricValue::BooleanValue(false))
        },
    ]
}

/// A DATA metric: alias, sample time and value only.
pub(crate) fn data_metric(alias: u64, value: f64, ts_ms: u64) -> Metric {
    Metric {
        alias: Some(alias),
        timestamp: Some(ts_ms),
        value: Some(MetricValue::DoubleValue(value)),
        ..Default::default()
    }
}

/// Encodes a payload with its message timestamp and (for all but NDEATH) seq.
pub(crate) fn payload(ts_ms: u64, seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    sparkplug::encode(&Payload { timestamp: Some(ts_ms), metrics, seq, ..Default::default() })
}

/// The NDEATH payload: the session's `bdSeq`, no seq.
pub(crate) fn death_payload(bd_seq: u64, ts_ms: u64) -> Vec<u8> {
    let m = Metric::new(BD_SEQ_METRIC, datatype::INT64, MetricValue::LongValue(bd_seq));
    payload(ts_ms, None, vec![m])
}

/// Whether an NCMD payload asks for a rebirth (`Node Control/Rebirth = true`); `None` when it does not decode.
pub(crate) fn is_rebirth_request(bytes: &[u8]) -> Option<bool> {
    let p = sparkplug::decode(bytes).ok()?;
    Some(p.metrics.iter().any(|m| {
        m.name.as_deref() == Some(sparkplug::REBIRTH_METRIC) && m.value == Some(MetricValue::BooleanValue(true))
    }))
}
