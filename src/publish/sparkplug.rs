//! The twin as a Sparkplug B edge node of its own (`spBv1.0/{group}/.../{edge_node}`), each asset a device, so
//! SCADA and historians that speak Sparkplug read what the twin knows.
//!
//! The node has an MQTT connection of its own whose last will is its NDEATH (`bdSeq`). On each connection, and
//! on a `Node Control/Rebirth` command (NCMD), it publishes its NBIRTH (seq 0, `bdSeq`, `Node Control/Rebirth`
//! false) and a DBIRTH per asset with every metric; then a DDATA per asset with the metrics that changed, at most
//! once per `every` of wall-clock time. Every message but NDEATH carries the node's seq (+1 per message, wrapping
//! after 255). A clean shutdown publishes the NDEATH itself before disconnecting.
//!
//! Per device: `Indices/<key>` (Double; null while the index has no value), `Drift alarms/Active` (Int32),
//! `Service window/Latest` (DateTime, ms; null without a window) and `Configuration/Status` (String).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin_mqtt::sparkplug::{self, Metric, MetricValue, Payload, datatype};
use twin_mqtt::{MqttClient, MqttConfig, Qos, Will};

use super::asset_state;
use crate::ingest::Telemetry;
use crate::scenario::{Index, Scenario, SparkplugNodeSpec};
use crate::twin::{LoadedScenario, SimClock, TwinSystems};

/// The node's session number: one session per process.
const BD_SEQ: u64 = 0;
/// Name of the rebirth command metric.
const REBIRTH: &str = "Node Control/Rebirth";

/// One metric's value as the node last sent it (`None`: null).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Double(Option<f64>),
    Int(i32),
    DateTimeMs(Option<u64>),
    Text(String),
}

/// The twin's edge node.
#[derive(Resource)]
pub struct EdgeNode {
    client: Option<MqttClient>,
    group: String,
    node: String,
    seq: u8,
    /// Births are due (a new connection, a rebirth command).
    birth_due: bool,
    /// The client's connection count at the last birth.
    connects: u64,
    /// Per asset: when its metrics were last sent and their values.
    last: HashMap<String, (Instant, Vec<(String, Value)>)>,
    every: Duration,
    /// Messages handed to the client, count: births (NBIRTH and DBIRTHs) and data (DDATA).
    pub births: u64,
    pub data: u64,
    /// Messages the client refused, count.
    pub refused: u64,
}

fn topic(group: &str, kind: &str, node: &str, device: Option<&str>) -> String {
    match device {
        Some(d) => format!("spBv1.0/{group}/{kind}/{node}/{d}"),
        None => format!("spBv1.0/{group}/{kind}/{node}"),
    }
}

/// The session-number metric of NBIRTH and NDEATH.
fn bd_seq_metric(t_ms: u64) -> Metric {
    Metric {
        name: Some("bdSeq".into()),
        datatype: Some(datatype::INT64),
        timestamp: Some(t_ms),
        value: Some(MetricValue::LongValue(BD_SEQ)),
        ..Default::default()
    }
}

/// The NDEATH payload: `bdSeq` only, no seq.
fn ndeath(t_ms: u64) -> Vec<u8> {
    sparkplug::encode(&Payload { timestamp: Some(t_ms), metrics: vec![bd_seq_metric(t_ms)], ..Default::default() })
}

impl EdgeNode {
    /// Connects the node to the broker `cfg` points at (its client id and will are set here).
    pub fn connect(
        mut cfg: MqttConfig,
        spec: &SparkplugNodeSpec,
        every: Duration,
    ) -> Result<Self, twin_mqtt::MqttError> {
        let now_ms = unix_ms(crate::scenario::unix_now_s());
        cfg.client_id = format!("{}-{}", spec.group, spec.edge_node);
        cfg.clean_session = true;
        cfg.subscriptions = vec![(topic(&spec.group, "NCMD", &spec.edge_node, None), Qos::AtLeastOnce)];
        cfg.will = Some(Will {
            topic: topic(&spec.group, "NDEATH", &spec.edge_node, None),
            payload: ndeath(now_ms),
            qos: Qos::AtLeastOnce,
            retain: false,
        });
        Ok(Self {
            client: Some(MqttClient::start(cfg)?),
            group: spec.group.clone(),
            node: spec.edge_node.clone(),
            seq: 0,
            birth_due: true,
            connects: 0,
            last: HashMap::new(),
            every,
            births: 0,
            data: 0,
            refused: 0,
        })
    }

    fn send(&mut self, topic: String, mut payload: Payload, birth: bool) {
        let Some(client) = &self.client else { return };
        payload.seq = Some(u64::from(self.seq));
        match client.publish(&topic, sparkplug::encode(&payload), Qos::AtLeastOnce, false) {
            Ok(()) => {
                self.seq = self.seq.wrapping_add(1);
                if birth { self.births += 1 } else { self.data += 1 }
            }
            Err(e) => {
                if self.refused == 0 {
                    warn!("Sparkplug node {}/{}: {topic}: {e}", self.group, self.node);
                }
                self.refused += 1;
            }
        }
    }

    /// Publishes the NDEATH, waits (at most 1 s) for the broker to confirm it, and disconnects.
    pub fn shutdown(&mut self, t_unix_s: f64) {
        let Some(client) = self.client.take() else { return };
        if client.stats().connected {
            let before = client.stats().publish_confirmed;
            let t = topic(&self.group, "NDEATH", &self.node, None);
            if client.publish(&t, ndeath(unix_ms(t_unix_s)), Qos::AtLeastOnce, false).is_ok() {
                let deadline = Instant::now() + Duration::from_secs(1);
                while client.stats().publish_confirmed <= before && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        client.shutdown();
    }
}

fn unix_ms(t_unix_s: f64) -> u64 {
    (t_unix_s * 1000.0).round().max(0.0) as u64
}

/// An asset's metrics, from its published state.
fn device_metrics(world: &World, asset: &str, kind: &str) -> Vec<(String, Value)> {
    let state = asset_state(world, asset, kind);
    let mut out: Vec<(String, Value)> = Index::of_kind(kind)
        .map(|i| (format!("Indices/{}", i.key()), Value::Double(state["indices"][i.key()].as_f64())))
        .collect();
    let alarms = state["drift_alarms"].as_array().map_or(0, |a| a.len() as i32);
    out.push(("Drift alarms/Active".into(), Value::Int(alarms)));
    let latest = state["service_window"]["latest_unix_s"].as_f64().map(unix_ms);
    out.push(("Service window/Latest".into(), Value::DateTimeMs(latest)));
    let config = match &state["configuration"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "not_reported".into(),
        other => other.to_string(),
    };
    out.push(("Configuration/Status".into(), Value::Text(config)));
    out
}

fn metric(name: &str, v: &Value, t_ms: u64) -> Metric {
    let (dt, value) = match v {
        Value::Double(x) => (datatype::DOUBLE, x.map(MetricValue::DoubleValue)),
        Value::Int(x) => (datatype::INT32, Some(MetricValue::IntValue(*x as u32))),
        Value::DateTimeMs(x) => (datatype::DATETIME, x.map(MetricValue::LongValue)),
        Value::Text(x) => (datatype::STRING, Some(MetricValue::StringValue(x.clone()))),
    };
    Metric {
        name: Some(name.into()),
        timestamp: Some(t_ms),
        datatype: Some(dt),
        is_null: value.is_none().then_some(true),
        value,
        ..Default::default()
    }
}

/// Births on a new connection or a rebirth command, then each asset's changed metrics.
fn run_edge_node(world: &mut World) {
    let Some(mut node) = world.remove_resource::<EdgeNode>() else { return };
    let scenario = world.resource::<LoadedScenario>().0.clone();
    step_node(world, &scenario, &mut node);
    world.insert_resource(node);
}

fn step_node(world: &World, scenario: &Scenario, node: &mut EdgeNode) {
    let Some(client) = &node.client else { return };
    let stats = client.stats();
    if stats.connects > node.connects {
        node.connects = stats.connects;
        node.birth_due = true;
    }
    let ncmd = topic(&node.group, "NCMD", &node.node, None);
    while let Ok(m) = client.receiver().try_recv() {
        let rebirth = m.topic == ncmd
            && sparkplug::decode(&m.payload).is_ok_and(|p| {
                p.metrics.iter().any(|x| {
                    x.name.as_deref() == Some(REBIRTH) && matches!(x.value, Some(MetricValue::BooleanValue(true)))
                })
            });
        if rebirth {
            info!("Sparkplug node {}/{}: rebirth requested", node.group, node.node);
            node.birth_due = true;
        }
    }
    if !stats.connected {
        return;
    }
    let t_ms = unix_ms(world.resource::<Telemetry>().epoch_unix_s + world.resource::<SimClock>().now_s);
    let now = Instant::now();
    if node.birth_due {
        node.birth_due = false;
        node.seq = 0;
        let bd = bd_seq_metric(t_ms);
        let rebirth = Metric {
            name: Some(REBIRTH.into()),
            datatype: Some(datatype::BOOLEAN),
            timestamp: Some(t_ms),
            value: Some(MetricValue::BooleanValue(false)),
            ..Default::default()
        };
        let t = topic(&node.group, "NBIRTH", &node.node, None);
        node.send(t, Payload { timestamp: Some(t_ms), metrics: vec![bd, rebirth], ..Default::default() }, true);
        for a in &scenario.assets {
            let metrics = device_metrics(world, &a.id, a.kind.name());
            let payload = Payload {
                timestamp: Some(t_ms),
                metrics: metrics.iter().map(|(n, v)| metric(n, v, t_ms)).collect(),
                ..Default::default()
            };
            node.send(topic(&node.group, "DBIRTH", &node.node, Some(&a.id)), payload, true);
            node.last.insert(a.id.clone(), (now, metrics));
        }
        return;
    }
    for a in &scenario.assets {
        if node.last.get(&a.id).is_some_and(|(at, _)| now.duration_since(*at) < node.every) {
            continue;
        }
        let metrics = device_metrics(world, &a.id, a.kind.name());
        let before = node.last.get(&a.id).map(|(_, m)| m.clone()).unwrap_or_default();
        let changed: Vec<Metric> = metrics
            .iter()
            .filter(|(n, v)| !before.iter().any(|(bn, bv)| bn == n && bv == v))
            .map(|(n, v)| metric(n, v, t_ms))
            .collect();
        if changed.is_empty() {
            continue;
        }
        let payload = Payload { timestamp: Some(t_ms), metrics: changed, ..Default::default() };
        node.send(topic(&node.group, "DDATA", &node.node, Some(&a.id)), payload, false);
        node.last.insert(a.id.clone(), (now, metrics));
    }
}

/// Runs the twin's edge node, when there is one (after the assessment, each tick).
pub struct SparkplugNodePlugin;

impl Plugin for SparkplugNodePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            run_edge_node.run_if(resource_exists::<EdgeNode>).after(TwinSystems::Assess).before(TwinSystems::Control),
        );
    }
}

/// Publishes the node's NDEATH and disconnects it (a clean shutdown).
pub fn shutdown(world: &mut World) {
    let t = world.resource::<Telemetry>().epoch_unix_s + world.resource::<SimClock>().now_s;
    if let Some(mut node) = world.get_resource_mut::<EdgeNode>() {
        node.shutdown(t);
    }
}
