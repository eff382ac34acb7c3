//! The scenario file's typed form: what an engineer writes in a `.ron` file, field for field, with units.
//! A signal's source is JSON over MQTT ([`MqttSource`]) or a Sparkplug B metric ([`SparkplugSource`]).

use serde::{Deserialize, Serialize};
use twin_models::params::{AmbientParams, MotorParams, PumpParams, TankParams};

use super::duration::Dur;
use crate::units::Quantity;

/// The scenario format version this build reads.
pub const SCENARIO_VERSION: u32 = 1;

/// A whole scenario: the plant, its signals and set-points, how to reach it, and what must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; this build reads version 1.
    pub version: u32,
    /// Human-readable name, shown in the GUI and in reports.
    pub name: String,
    /// Free text for the engineers.
    #[serde(default)]
    pub description: String,
    /// Where telemetry comes from and where set-points go.
    #[serde(default)]
    pub connections: Connections,
    /// Simulation settings.
    #[serde(default)]
    pub simulation: Simulation,
    /// The physical assets, one twin entity each.
    pub assets: Vec<AssetSpec>,
    /// Measured signals and how they map from the source.
    #[serde(default)]
    pub signals: Vec<SignalSpec>,
    /// Writable set-points and their PLC mapping.
    #[serde(default)]
    pub setpoints: Vec<SetpointSpec>,
    /// Faults the virtual plant injects (the twin does not see these directly).
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// What must hold in a headless run.
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// How the twin keeps in step with the plant: drift thresholds, recalibration.
    #[serde(default)]
    pub sync: SyncSpec,
    /// How set-point changes are validated, approved and written to the PLC.
    #[serde(default)]
    pub change: ChangeSpec,
    /// Planned maintenance (what-if questions defer or advance it).
    #[serde(default)]
    pub maintenance: Vec<Maintenance>,
    /// Alert and alarm thresholds, service windows and maintenance notifications.
    #[serde(default, skip_serializing_if = "MaintenancePolicy::is_default")]
    pub maintenance_policy: MaintenancePolicy,
    /// Run the scenario once per value of one parameter (`twin run` reports each case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<super::sweep::Sweep>,
    /// Publish the twin's knowledge on the broker (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishSpec>,
    /// The ML layer's degradation-pace model (ONNX, trained by `scripts/train_pace.py` on `twin fleet` histories),
    /// relative to the scenario file: the prior of a detected defect's growth rate. Physics only when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace_model: Option<String>,
}

/// The twin's knowledge published back on the broker, when it changed and at most once per `every` of
/// wall-clock time per asset: as retained JSON on `{prefix}/{asset}/state` (QoS 1) with a `prefix`, and as a
/// Sparkplug B edge node of the twin's own with `sparkplug` (at least one of the two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSpec {
    /// Topic prefix of the JSON states, e.g. "twin/pump_station" (concrete topic levels: no wildcard, no leading
    /// or trailing '/').
    #[serde(default)]
    pub prefix: Option<String>,
    /// The twin's Sparkplug B edge node: each asset a device.
    #[serde(default)]
    pub sparkplug: Option<SparkplugNodeSpec>,
    /// Shortest time between two publications of an asset's state, wall clock (default "10s").
    #[serde(default = "default_publish_every")]
    pub every: Dur,
}

/// The twin's own Sparkplug B edge node (`spBv1.0/{group}/.../{edge_node}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkplugNodeSpec {
    /// Sparkplug group id, e.g. "twin".
    pub group: String,
    /// Edge node id, e.g. "pump-station-twin".
    pub edge_node: String,
}

fn default_publish_every() -> Dur {
    Dur::from_secs(10.0)
}

/// How set-point changes are validated, approved and written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSpec {
    /// The scenario allows writes to the PLC at all; the user must enable them too (`--allow-writes`, or the GUI
    /// switch). Off by default.
    #[serde(default)]
    pub allow_writes: bool,
    /// Approvals a validated change needs before it is pushed: 1, or 2 from different people.
    #[serde(default = "default_approvals")]
    pub approvals: u8,
    /// The site's trusted public keys and their roles (a RON file, relative to the scenario; `twin keys new`
    /// makes a key pair): when given, an approval is a signature by a trusted key with the engineer role, and
    /// `approvals` distinct keys must sign. A change for a real PLC needs it; names approve only changes for the
    /// virtual plant's PLC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_keys: Option<String>,
    /// Horizon of the forward simulation that validates a change.
    #[serde(default = "default_validation_horizon")]
    pub horizon: Dur,
    /// Highest acceptable probability of leaving an operating limit (winding temperature class, vibration zone D,
    /// cavitation) within the horizon, 0..1.
    #[serde(default = "default_max_limit_probability")]
    pub max_limit_probability: f64,
    /// Monte Carlo samples of the validating what-if.
    #[serde(default = "default_validation_samples")]
    pub samples: u32,
    /// Time between two writes of a ramp (a jump larger than `max_rate_per_s × ramp_interval` is ramped).
    #[serde(default = "default_ramp_interval")]
    pub ramp_interval: Dur,
    /// Timeout of each PLC write and read-back.
    #[serde(default = "default_plc_timeout")]
    pub timeout: Dur,
    /// Rules over the twin's state that a change must satisfy.
    #[serde(default)]
    pub interlocks: Vec<Interlock>,
}

fn default_approvals() -> u8 {
    1
}
fn default_validation_horizon() -> Dur {
    Dur::from_secs(86_400.0)
}
fn default_max_limit_probability() -> f64 {
    0.05
}
fn default_validation_samples() -> u32 {
    200
}
fn default_ramp_interval() -> Dur {
    Dur::from_secs(1.0)
}
fn default_plc_timeout() -> Dur {
    Dur::from_secs(2.0)
}

impl Default for ChangeSpec {
    fn default() -> Self {
        Self {
            allow_writes: false,
            approvals: default_approvals(),
            trusted_keys: None,
            horizon: default_validation_horizon(),
            max_limit_probability: default_max_limit_probability(),
            samples: default_validation_samples(),
            ramp_interval: default_ramp_interval(),
            timeout: default_plc_timeout(),
            interlocks: Vec::new(),
        }
    }
}

/// A rule a change must satisfy: when the set-point is driven above `above` (its unit), the requirement must
/// hold in the twin's state at the new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interlock {
    /// Rule id, quoted in the verdict.
    pub id: String,
    /// The set-point it guards.
    pub setpoint: String,
    /// Applies when the proposed value is above this, in the set-point's unit.
    pub above: f64,
    /// What must hold.
    pub require: Requirement,
}

/// A condition on the twin's state at a proposed set-point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Requirement {
    /// NPSH available over required at least `min` (dimensionless).
    NpshMarginAbove { asset: String, min: f64 },
    /// An index at least `min`.
    IndexAbove { asset: String, index: Index, min: f64 },
    /// An index at most `max`.
    IndexBelow { asset: String, index: Index, max: f64 },
}

/// Planned maintenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Maintenance {
    /// A pump's bearing is replaced at `at` (from the start of the run).
    BearingReplacement { asset: String, at: Dur },
}

/// Alert and alarm thresholds of an index (the workbench's colours, and the crossings that raise maintenance
/// notifications).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexThresholds {
    /// The index.
    pub index: Index,
    /// Alert threshold, in the index's unit.
    pub alert: f64,
    /// Alarm threshold, in the index's unit (beyond the alert: above it where higher is worse, below it where
    /// lower is worse, as for a remaining life).
    pub alarm: f64,
}

impl IndexThresholds {
    /// Whether a higher value is worse (the alarm lies above the alert).
    pub fn higher_is_worse(&self) -> bool {
        self.alarm >= self.alert
    }

    /// Whether `v` is at or beyond the alert threshold.
    pub fn alerted(&self, v: f64) -> bool {
        if self.higher_is_worse() { v >= self.alert } else { v <= self.alert }
    }
}

/// When to recommend service and whom to tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenancePolicy {
    /// Thresholds per index; an index not listed keeps the built-in ones (see the README).
    #[serde(default)]
    pub thresholds: Vec<IndexThresholds>,
    /// Highest acceptable probability of a bearing failure before its service: the recommended window closes when
    /// the probability of failing before then reaches it.
    #[serde(default = "default_max_failure_probability")]
    pub max_failure_probability: f64,
    /// Planned shutdowns (from the start of the run) a service can be done in, besides the bearing replacements in
    /// `maintenance`.
    #[serde(default)]
    pub planned_shutdowns: Vec<Dur>,
    /// JSON Lines file that each maintenance notification is appended to (none: not written to a file).
    #[serde(default)]
    pub notify_file: Option<String>,
    /// MQTT topic each notification is published to when a broker is connected (QoS 1).
    #[serde(default)]
    pub notify_topic: Option<String>,
}

fn default_max_failure_probability() -> f64 {
    0.05
}

impl Default for MaintenancePolicy {
    fn default() -> Self {
        Self {
            thresholds: Vec::new(),
            max_failure_probability: default_max_failure_probability(),
            planned_shutdowns: Vec::new(),
            notify_file: None,
            notify_topic: None,
        }
    }
}

impl MaintenancePolicy {
    /// Whether this is the default policy (written out of a saved scenario).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The thresholds of `index`: the scenario's, or the built-in ones (None for an index without).
    pub fn thresholds(&self, index: Index) -> Option<IndexThresholds> {
        self.thresholds.iter().find(|t| t.index == index).copied().or_else(|| {
            let (alert, alarm) = match index {
                Index::BearingWear => (0.5, 0.8),
                Index::RemainingLifeHours => (720.0, 168.0),
                Index::CavitationRisk | Index::CavitationRiskAhead => (0.2, 0.6),
                Index::InsulationHealth => (0.5, 0.2),
                _ => return None,
            };
            Some(IndexThresholds { index, alert, alarm })
        })
    }
}

/// Synchronization settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncSpec {
    /// Apply recalibration proposals to the model without an engineer's approval (each applied one bumps the
    /// asset's model version and is logged).
    #[serde(default)]
    pub auto_recalibrate: bool,
    /// Residual monitor thresholds for every signal (EWMA, CUSUM, baseline, warm-up, flatline).
    #[serde(default)]
    pub drift: twin_models::drift::DriftConfig,
}

/// Telemetry broker and PLC connections; each defaults to the embedded/virtual peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    #[serde(default)]
    pub broker: BrokerSpec,
    #[serde(default)]
    pub plc: PlcSpec,
    /// OPC UA servers, by name: signals (`OpcUa(endpoint: ..., node: ...)`) and an OPC UA PLC name them.
    #[serde(default)]
    pub opcua: Vec<OpcUaEndpointSpec>,
}

/// An OPC UA server. Secrets are never written here: only the names of variables or files holding them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaEndpointSpec {
    /// The name signals and the PLC use for it.
    pub name: String,
    /// `opc.tcp://host:port[/path]`.
    pub url: String,
    /// Message security: `SignAndEncrypt` (the default), `Sign`, or `None` (which the workbench shows).
    #[serde(default)]
    pub security: OpcUaSecurity,
    /// Security policy of a signed channel.
    #[serde(default)]
    pub policy: OpcUaPolicy,
    /// Environment variable holding the user name (with `password_env`).
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// X.509 user certificate (DER or PEM), relative to the scenario, with `user_key`.
    #[serde(default)]
    pub user_cert: Option<String>,
    /// The user certificate's private key (PEM), relative to the scenario.
    #[serde(default)]
    pub user_key: Option<String>,
    /// Trust the server's certificate the first time it is seen and add it to the trust list. Off: an unknown
    /// certificate is refused (and put in the PKI directory's `rejected/` for an administrator to move to
    /// `trusted/`).
    #[serde(default)]
    pub trust_on_first_use: bool,
    /// The client's certificate, key and trust list, relative to the scenario [default: the twin's files,
    /// `$XDG_DATA_HOME/twin/pki` or `~/.local/share/twin/pki`]. The client's certificate is made on first use.
    #[serde(default)]
    pub pki_dir: Option<String>,
    /// How often the server publishes the subscription's values.
    #[serde(default = "default_publishing_interval")]
    pub publishing_interval: Dur,
}

fn default_publishing_interval() -> Dur {
    Dur::from_secs(0.1)
}

/// OPC UA message security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OpcUaSecurity {
    #[default]
    SignAndEncrypt,
    Sign,
    /// No security: messages in clear, unsigned.
    None,
}

/// OPC UA security policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OpcUaPolicy {
    #[default]
    Basic256Sha256,
    Aes128Sha256RsaOaep,
    Aes256Sha256RsaPss,
}

/// The MQTT broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum BrokerSpec {
    /// An in-process broker on loopback, so the workbench runs with nothing installed.
    #[default]
    Embedded,
    /// An external broker.
    Mqtt(MqttSpec),
}

/// An external MQTT broker. Secrets are never written here: only the names of variables or files holding them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSpec {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Fixed client id (needed for a persistent session).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Environment variable holding the user name.
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// PEM file of the CA that signs the broker's certificate, relative to the scenario.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// PEM client certificate chain for mutual TLS, relative to the scenario (with `client_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// The client certificate's private key (PEM), relative to the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

impl MqttSpec {
    /// A broker at `url` with no client id, credentials or TLS files.
    pub fn at(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: None,
            username_env: None,
            password_env: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

/// The PLC that takes set-point writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum PlcSpec {
    /// The virtual plant's Modbus server.
    #[default]
    VirtualPlc,
    /// A real Modbus TCP device.
    ModbusTcp(ModbusSpec),
    /// A PLC's OPC UA server: set-points are written to their `opcua` nodes.
    OpcUa(OpcUaPlcSpec),
}

/// An OPC UA PLC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaPlcSpec {
    /// The name of one of `connections.opcua`.
    pub endpoint: String,
}

/// A Modbus TCP device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusSpec {
    /// `host:port`, usually port 502.
    pub addr: String,
    /// Modbus unit (slave) id.
    #[serde(default = "default_unit_id")]
    pub unit_id: u8,
}

fn default_unit_id() -> u8 {
    1
}

/// How the twin's models are stepped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Model step, e.g. "1s".
    #[serde(default = "default_model_step")]
    pub model_step: Dur,
    /// Site ambient conditions.
    #[serde(default)]
    pub ambient: AmbientParams,
    /// Standard deviation of the random ambient fluctuation around the daily cycle, K (seeded).
    #[serde(default)]
    pub ambient_noise_k: f64,
    /// Relative standard deviation of the random tank inflow fluctuation, 0..1 (seeded).
    #[serde(default)]
    pub inflow_noise: f64,
    /// The calendar time the run starts at (RFC 3339, e.g. "2026-12-01" or "2026-12-01T06:00:00Z"): dated history
    /// (a bearing's install date) counts up to it. Default: when the scenario is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

fn default_model_step() -> Dur {
    Dur::from_secs(1.0)
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            model_step: default_model_step(),
            ambient: AmbientParams::default(),
            ambient_noise_k: 0.0,
            inflow_noise: 0.0,
            start: None,
        }
    }
}

/// One physical asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetSpec {
    /// Unique tag, e.g. "P-101".
    pub id: String,
    /// Kind and nominal parameters.
    pub kind: AssetKind,
    /// Position on the site plan, m (x east, y up, z south).
    #[serde(default)]
    pub position: (f32, f32, f32),
    /// Configuration version the asset is expected to run.
    #[serde(default)]
    pub config_version: String,
    /// Firmware version the asset is expected to run.
    #[serde(default)]
    pub firmware: String,
    /// Assets this one depends on: a pump on its motor and its feed tank.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// MQTT topic on which the asset reports its configuration and firmware (retained JSON
    /// `{"config_version": "…", "firmware": "…"}`); the twin compares them with `config_version` and `firmware`.
    #[serde(default)]
    pub identity_topic: Option<String>,
    /// What the asset has been through before the twin starts (absent: new).
    #[serde(default, skip_serializing_if = "AssetHistory::is_new")]
    pub history: AssetHistory,
}

/// An asset's past, from the maintenance records: the twin and the virtual plant start from it. Each field belongs
/// to one kind (a pump's bearing, a motor's insulation); absent means new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetHistory {
    /// A pump's bearing: operating hours since it was last replaced, h (taken as run at the pump's rated point).
    #[serde(default)]
    pub bearing_operating_h: Option<f64>,
    /// A pump's bearing: the date it was installed, instead of `bearing_operating_h` (RFC 3339: "2019-06-01" or
    /// "2019-06-01T08:00:00Z"). Its operating hours are the calendar hours from then to the scenario's start
    /// (`simulation.start`, default: when the scenario is loaded) times `bearing_duty`.
    #[serde(default)]
    pub bearing_installed: Option<String>,
    /// A pump's duty with `bearing_installed`: the share of calendar time it runs, more than 0 to 1 (default 1).
    #[serde(default)]
    pub bearing_duty: Option<f64>,
    /// A pump's bearing: the severity of a defect found before the twin starts, 0 (none) .. 1 (severe).
    #[serde(default)]
    pub bearing_defect_severity: Option<f64>,
    /// A motor's insulation: its thermal age, equivalent hours at its insulation class's temperature, h.
    #[serde(default)]
    pub insulation_age_h: Option<f64>,
}

impl AssetHistory {
    /// No history: a new asset.
    pub fn is_new(&self) -> bool {
        *self == Self::default()
    }

    /// The bearing's operating hours when the run starts at `start` (Unix s): given, or counted from its install
    /// date at its duty; 0 for a new bearing or a date that does not parse (validation reports it).
    pub fn bearing_hours(&self, start_unix_s: f64) -> f64 {
        if let Some(h) = self.bearing_operating_h {
            return h;
        }
        let Some(Ok(installed)) = self.bearing_installed.as_deref().map(parse_date) else { return 0.0 };
        ((start_unix_s - installed) / 3600.0).max(0.0) * self.bearing_duty.unwrap_or(1.0)
    }
}

/// An RFC 3339 date ("2019-06-01", midnight UTC) or date and time ("2019-06-01T08:00:00Z"), as Unix time, s.
pub fn parse_date(text: &str) -> Result<f64, String> {
    use chrono::{DateTime, NaiveDate};
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()) as f64);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| format!("\"{text}\" is not a date: write \"2019-06-01\" or \"2019-06-01T08:00:00Z\""))
}

/// The asset kinds the twin models, each with its nominal parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum AssetKind {
    CentrifugalPump(PumpParams),
    Motor(MotorParams),
    Tank(TankParams),
}

impl AssetKind {
    /// The variant's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// A measured signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    /// Unique id, e.g. "P-101.vib_rms".
    pub id: String,
    /// The asset it measures.
    pub asset: String,
    /// What it measures.
    pub quantity: Quantity,
    /// The unit the source sends; converted to the quantity's canonical unit on ingestion.
    pub unit: String,
    /// Where samples come from.
    pub source: SignalSource,
    /// Valid range (min, max), in `unit`; samples outside are rejected.
    pub valid: (f64, f64),
    /// Expected time between samples; a signal is stale after a few periods without one.
    #[serde(default = "default_period")]
    pub period: Dur,
    /// Dead-band, in `unit`: a value closer than this to the last applied one is not applied (0: off).
    #[serde(default)]
    pub deadband: f64,
}

fn default_period() -> Dur {
    Dur::from_secs(1.0)
}

/// Where a signal's samples come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SignalSource {
    /// A JSON MQTT payload: `value` and `timestamp` are paths such as "$.rms".
    Mqtt(MqttSource),
    /// A metric of a Sparkplug B edge node or device (protobuf, births with aliases, sequence numbers).
    Sparkplug(SparkplugSource),
    /// A node of an OPC UA server, read through a subscription (sampling interval: the signal's period; dead-band:
    /// the signal's, absolute).
    OpcUa(OpcUaSource),
}

/// An OPC UA variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaSource {
    /// The name of one of `connections.opcua`.
    pub endpoint: String,
    /// Node id, e.g. "ns=2;s=P101.Flow".
    pub node: String,
    /// Values the server queues between two publishes.
    #[serde(default = "default_queue_size")]
    pub queue_size: u32,
}

fn default_queue_size() -> u32 {
    10
}

/// A Sparkplug B metric: `spBv1.0/{group}/DDATA/{edge_node}/{device}` (or `NDATA/{edge_node}` without a device),
/// the metric named `metric` in its births.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkplugSource {
    /// Sparkplug group id (one topic level).
    pub group: String,
    /// Edge node id (one topic level).
    pub edge_node: String,
    /// Device id under the edge node (one topic level); `None` for a metric of the node itself.
    #[serde(default)]
    pub device: Option<String>,
    /// Metric name as the births declare it, e.g. "Flow" or "Bearing/Vibration RMS".
    pub metric: String,
}

/// A JSON-over-MQTT mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSource {
    /// Topic or topic filter (MQTT wildcards + and #).
    pub topic: String,
    /// JSON path of the value, e.g. "$.rms".
    pub value: String,
    /// JSON path of the source timestamp, e.g. "$.ts".
    #[serde(default)]
    pub timestamp: Option<String>,
    /// JSON path of a quality flag, if the source sends one.
    #[serde(default)]
    pub quality: Option<String>,
}

/// What a set-point commands on its asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetpointTarget {
    /// Pump shaft speed (through the motor's drive).
    Speed,
}

impl SetpointTarget {
    /// The quantity the set-point is expressed in.
    pub fn quantity(self) -> Quantity {
        match self {
            SetpointTarget::Speed => Quantity::Speed,
        }
    }
}

/// A writable set-point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetpointSpec {
    /// Unique id, e.g. "P-101.speed".
    pub id: String,
    /// The asset it acts on.
    pub asset: String,
    /// What it commands.
    pub target: SetpointTarget,
    /// Unit of `initial`, `min`, `max` and the rate.
    pub unit: String,
    /// Value at the start of a run.
    pub initial: f64,
    /// Lowest value a write may set.
    pub min: f64,
    /// Highest value a write may set.
    pub max: f64,
    /// Largest change per second, in `unit`/s.
    pub max_rate_per_s: f64,
    /// PLC register mapping (a Modbus PLC: the virtual one or a real one).
    #[serde(default)]
    pub plc: Option<PlcRegister>,
    /// The node written on an OPC UA PLC.
    #[serde(default)]
    pub opcua: Option<OpcUaTag>,
}

/// A set-point's node on an OPC UA PLC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaTag {
    /// Node id, e.g. "ns=2;s=P101.SpeedSetpoint".
    pub node: String,
    /// The node's data type; the value is written in the set-point's unit.
    #[serde(default)]
    pub data_type: OpcUaDataType,
}

/// Data types a set-point node may have: the OPC UA crate's own, named as the scenario writes them.
pub use twin_opcua::DataType as OpcUaDataType;

/// Register encodings on the PLC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterEncoding {
    U16,
    I16,
    U32,
    F32,
}

/// Word order of 32-bit values spread over two 16-bit registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum WordOrder {
    #[default]
    HighFirst,
    LowFirst,
}

/// Where a set-point lives on the PLC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlcRegister {
    /// Holding register address (0-based protocol address).
    pub register: u16,
    /// How the value is encoded.
    pub encoding: RegisterEncoding,
    /// Register value = engineering value × scale.
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// For 32-bit encodings.
    #[serde(default)]
    pub word_order: WordOrder,
}

fn default_scale() -> f64 {
    1.0
}

/// A fault the virtual plant injects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum FaultSpec {
    /// A bearing defect that starts at `onset` with a severity 0..1.
    BearingDefect { asset: String, onset: Dur, severity: f64 },
    /// The feed tank level drops by `level_drop_m` for a while, starving the pump.
    CavitationEpisode { asset: String, start: Dur, duration: Dur, level_drop_m: f64 },
    /// A sensor freezes at its last value.
    StuckSensor { signal: String, at: Dur },
    /// A sensor's reading drifts at `rate_per_h` (signal unit per hour).
    DriftingSensor { signal: String, at: Dur, rate_per_h: f64 },
    /// A sensor's clock runs off by `offset`.
    SkewedClock { signal: String, offset: Dur },
    /// The broker is unreachable for a while.
    BrokerOutage { at: Dur, duration: Dur },
    /// Someone changes an asset's configuration or firmware on site at `at` (it reports the new identity).
    ConfigChange {
        asset: String,
        at: Dur,
        #[serde(default)]
        config_version: Option<String>,
        #[serde(default)]
        firmware: Option<String>,
    },
}

/// A health index or derived value that expectations and reports name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Index {
    /// Bearing wear index, 0..1 (1 = expected failure). Pumps.
    BearingWear,
    /// Remaining useful life at the present operating point, h (the median, once a defect grows). Pumps.
    RemainingLifeHours,
    /// The remaining useful life's 10th percentile, h. Pumps.
    RemainingLifeP10Hours,
    /// The remaining useful life's 90th percentile, h. Pumps.
    RemainingLifeP90Hours,
    /// Cavitation risk, 0..1. Pumps.
    CavitationRisk,
    /// Cavitation risk an hour ahead through the pump's feed (a falling or untrusted tank level), 0..1. Pumps.
    CavitationRiskAhead,
    /// Vibration velocity RMS, mm/s. Pumps.
    VibrationRms,
    /// Outlet flow, m³/h. Pumps.
    Flow,
    /// Motor insulation health, 0..1. Motors.
    InsulationHealth,
    /// Winding temperature, °C. Motors.
    WindingTemperature,
    /// Level above the bottom, m. Tanks.
    TankLevel,
}

impl Index {
    /// Every index, in report order.
    pub const ALL: [Index; 11] = [
        Index::BearingWear,
        Index::RemainingLifeHours,
        Index::RemainingLifeP10Hours,
        Index::RemainingLifeP90Hours,
        Index::CavitationRisk,
        Index::CavitationRiskAhead,
        Index::VibrationRms,
        Index::Flow,
        Index::InsulationHealth,
        Index::WindingTemperature,
        Index::TankLevel,
    ];

    /// The indices an asset kind (its scenario name) carries, in report order.
    pub fn of_kind(kind: &str) -> impl Iterator<Item = Index> + '_ {
        Self::ALL.into_iter().filter(move |i| i.kind_name() == kind)
    }

    /// The asset kind that carries this index.
    pub fn kind_name(self) -> &'static str {
        match self {
            Index::BearingWear
            | Index::RemainingLifeHours
            | Index::RemainingLifeP10Hours
            | Index::RemainingLifeP90Hours
            | Index::CavitationRisk
            | Index::CavitationRiskAhead
            | Index::VibrationRms
            | Index::Flow => "CentrifugalPump",
            Index::InsulationHealth | Index::WindingTemperature => "Motor",
            Index::TankLevel => "Tank",
        }
    }

    /// Snake-case key used in reports.
    pub fn key(self) -> &'static str {
        match self {
            Index::BearingWear => "bearing_wear",
            Index::RemainingLifeHours => "remaining_life_h",
            Index::RemainingLifeP10Hours => "remaining_life_p10_h",
            Index::RemainingLifeP90Hours => "remaining_life_p90_h",
            Index::CavitationRisk => "cavitation_risk",
            Index::CavitationRiskAhead => "cavitation_risk_ahead",
            Index::VibrationRms => "vibration_rms_mm_s",
            Index::Flow => "flow_m3h",
            Index::InsulationHealth => "insulation_health",
            Index::WindingTemperature => "winding_temp_c",
            Index::TankLevel => "level_m",
        }
    }
}

/// When an expectation is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum When {
    /// At every tick of the run.
    #[default]
    Always,
    /// At one instant after the start.
    At(Dur),
    /// At every tick in [from, to].
    Between(Dur, Dur),
    /// At the end of the run.
    End,
}

/// Something that must hold in a headless run. Each is checked by `twin run` and reported with the value that
/// decided it and when (see `src/headless/expect.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum Expectation {
    /// The index stays at or below `max`.
    IndexBelow {
        asset: String,
        index: Index,
        max: f64,
        #[serde(default)]
        when: When,
    },
    /// The index stays at or above `min`.
    IndexAbove {
        asset: String,
        index: Index,
        min: f64,
        #[serde(default)]
        when: When,
    },
    /// A pump's remaining useful life ([`Index::RemainingLifeHours`]) stays within `[min_h, max_h]` hours.
    RulBetween {
        asset: String,
        min_h: f64,
        max_h: f64,
        #[serde(default)]
        when: When,
    },
    /// A drift alarm is raised on `asset` at or before `before` (only of `quantity`, or of alarm `kind`, when
    /// given).
    AlarmRaised {
        asset: String,
        before: Dur,
        #[serde(default)]
        quantity: Option<Quantity>,
        #[serde(default)]
        kind: Option<twin_models::drift::AlarmKind>,
    },
    /// No drift alarm is raised (on `asset`, or on any asset) before `before` (or during the whole run).
    NoAlarm {
        #[serde(default)]
        asset: Option<String>,
        #[serde(default)]
        before: Option<Dur>,
    },
    /// The fault `faults[fault]` is detected: a drift alarm it explains (the scoring of the report's
    /// `sync.performance.alarms`) is raised no later than `within` after its onset.
    DriftDetected { fault: usize, within: Dur },
    /// At `at`, a draft of `setpoint` to `value` (in the set-point's unit) passes every validation layer. The
    /// draft is discarded after validation: nothing is pushed and the run goes on unchanged.
    DraftAccepted { setpoint: String, value: f64, at: Dur },
    /// At `at`, a draft of `setpoint` to `value` is rejected by validation (by `layer`, when given; other layers
    /// may reject it too). Discarded like [`Expectation::DraftAccepted`].
    DraftRejected {
        setpoint: String,
        value: f64,
        at: Dur,
        #[serde(default)]
        layer: Option<Layer>,
    },
    /// No telemetry sample is lost on its way to the twin during the run. See `src/headless/expect.rs` for
    /// what counts as dropped.
    NoSampleDropped,
    /// A service window is recommended for pump `asset` (one of its bearing indices crossed its alert) by
    /// `before`.
    ServiceWindowBefore { asset: String, before: Dur },
}

impl Expectation {
    /// The variant's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// The asset and index of an expectation on an index's value.
    pub fn index_of(&self) -> Option<(&str, Index)> {
        match self {
            Expectation::IndexBelow { asset, index, .. } | Expectation::IndexAbove { asset, index, .. } => {
                Some((asset, *index))
            }
            Expectation::RulBetween { asset, .. } => Some((asset, Index::RemainingLifeHours)),
            _ => None,
        }
    }

    /// When an expectation on an index's value is checked.
    pub fn when(&self) -> Option<&When> {
        match self {
            Expectation::IndexBelow { when, .. }
            | Expectation::IndexAbove { when, .. }
            | Expectation::RulBetween { when, .. } => Some(when),
            _ => None,
        }
    }
}

/// The validation layers, in order (scenarios name them in `DraftRejected` expectations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Layer {
    Envelope,
    Rate,
    Interlocks,
    Forecast,
    Freshness,
    Conflict,
}

impl FaultSpec {
    /// The variant's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Whether a drift monitor should see this kind of fault (and the run's model performance scores it).
    pub fn detectable(&self) -> bool {
        matches!(
            self,
            FaultSpec::BearingDefect { .. }
                | FaultSpec::CavitationEpisode { .. }
                | FaultSpec::StuckSensor { .. }
                | FaultSpec::DriftingSensor { .. }
        )
    }
}

impl PlcRegister {
    /// The Modbus register spec of this mapping: the scenario's register map is what every writer and reader of
    /// the PLC (the change session, the virtual PLC) uses.
    pub fn spec(&self) -> twin_modbus::RegisterSpec {
        use twin_modbus::{Encoding, RegisterSpec};
        let encoding = match self.encoding {
            RegisterEncoding::U16 => Encoding::U16,
            RegisterEncoding::I16 => Encoding::I16,
            RegisterEncoding::U32 => Encoding::U32,
            RegisterEncoding::F32 => Encoding::F32,
        };
        let order = match self.word_order {
            WordOrder::HighFirst => twin_modbus::WordOrder::HighFirst,
            WordOrder::LowFirst => twin_modbus::WordOrder::LowFirst,
        };
        RegisterSpec::new(self.register, encoding).with_scale(self.scale).with_word_order(order)
    }
}
