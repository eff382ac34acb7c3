//! The virtual plant: the physical assets simulated with hidden "true" parameters, sensor noise and faults,
//! publishing telemetry like the real plant would.
//!
//! Plain Rust, no Bevy and no network: [`VirtualPlant::advance`] steps the plant in simulated time and returns the
//! MQTT publications its edge devices made meanwhile; whoever drives it (the CLI, a test) puts them on a broker.
//!
//! # Physics
//! The same reduced-order models and coupling as the twin (`twin_models::PumpTrain`, `twin_models::tank`), at the
//! scenario's model step: every pump draws on the level its feed tank had at the start of the step, the tanks then
//! integrate `A dL/dt = Q_in - sum Q_pumps`. Ambient temperature follows the daily cycle plus a first-order
//! Gauss–Markov fluctuation (σ = `ambient_noise_k`, τ = 600 s); the tanks' inflow is multiplied by `1 + ε`, ε a
//! Gauss–Markov process of σ = `inflow_noise`. Pumps start at their speed set-point's initial value (rated speed
//! without one) and at ambient temperature, as the twin does. A speed set-point written with
//! [`VirtualPlant::set_setpoint`] reaches the drive through its ramp (`max_rate_per_s` of the set-point), then the
//! model's torque-limited acceleration.
//!
//! # Hidden true parameters
//! Each pump train's true parameters are its nominal ones times seeded factors, uniform in (see [`TrueFactors`]):
//!
//! | parameter | factor range | why |
//! |---|---|---|
//! | frame-to-ambient thermal resistance (fan and still) | ×[1.05, 1.15] | fouled cooling fins |
//! | rotor unbalance | ×[1.2, 1.8] | deposits and wear since balancing |
//! | head curve (shut-off and rated head alike) | ×[0.95, 0.99] | impeller wear |
//! | winding-to-frame thermal resistance | ×[0.95, 1.10] | stator manufacturing scatter |
//!
//! The bearing-load map (a rapier fit per pump design) is fitted once from the nominal design and evaluated at the
//! true unbalance: the map takes the unbalance as an argument, and none of the factors changes the rotor.
//!
//! # Sensors
//! Each signal is sampled every `period` (rounded to whole model steps, at least one), at the end of a model step,
//! from `t = period` on. Noise, Gaussian, added in the canonical unit before converting to the signal's own unit:
//!
//! | quantity | standard deviation |
//! |---|---|
//! | vibration RMS and peak | 3 % (the edge box's gain error per 1 s window) |
//! | crest factor | none added (the 1 kHz synthesis's own scatter) |
//! | winding and bearing temperature | 0.2 K |
//! | flow | 0.5 % of reading |
//! | motor current | 0.5 % of reading |
//! | tank level | 5 mm |
//! | speed | 2 rpm |
//!
//! Readings of magnitudes (everything but temperatures) are clamped at 0. Vibration is synthesised at 1 kHz and
//! aggregated to RMS, peak and crest factor once per second by `twin_models::vibration`'s edge aggregator (see
//! [`edge`](self::edge)); a vibration signal reads the last complete window.
//!
//! # Faults
//! - `BearingDefect`: from `onset`, a defect of the given severity enters the pump model (damage rate ×(1 + 9 s²),
//!   crest rise) and the synthesised vibration gets outer-race impacts scaled by the severity. The defect then
//!   grows (`twin_models::degradation`: `ds/dt = λ g s`, faster under load and at speed) at the pump's hidden rate
//!   `λ = λ_own exp((T_b - 55 °C) / 30 K)`: its own rate `λ_own`, drawn once per pump (log-normal around the
//!   fleet's median, log standard deviation 0.25), sped up as the bearing runs warmer (the lubricant's film thins;
//!   [`truth::lubricant_pace`], a law the twin's physics does not know and a fleet's histories show); when it reaches the failure threshold the bearing has
//!   failed and the pump trips (stops, whatever its set-point says), and the truth records when. A defect in the
//!   asset's history is there from the start.
//! - `CavitationEpisode`: during `[start, start + duration)` the level the pump sees at its suction is its tank's
//!   level minus `level_drop_m` (a vortex or a blocked strainer); the tank itself and its level sensor are unaffected.
//! - `StuckSensor`: from `at`, the signal repeats its last reading before `at`.
//! - `DriftingSensor`: from `at`, `rate_per_h × (t - at) / 1 h` is added to the reading, in the signal's unit.
//! - `SkewedClock`: the signal's device clock runs `offset` ahead: every timestamp on its topic is offset (one clock
//!   per topic, i.e. per edge device; the largest offset among the topic's signals; for Sparkplug, one clock per
//!   device or node).
//! - `ConfigChange`: at `at`, the asset's configuration version and/or firmware change, and it publishes its new
//!   identity.
//! - `BrokerOutage`: messages sampled during `[at, at + duration)` are held at the edge (store-and-forward) and
//!   published when the broker is back, at the first sample time at or after `at + duration`, in their original
//!   order with their original timestamps and sequence numbers, ahead of that instant's fresh messages.
//!
//! # Payloads
//! An asset with an `identity_topic` publishes, retained, `{"config_version": …, "firmware": …, "ts": …}` at the
//! start and after each `ConfigChange`.
//!
//! Each signal is published as its source says: JSON for `Mqtt(...)` sources, Sparkplug B for `Sparkplug(...)`.
//!
//! JSON: one JSON object per topic and sample time holding every signal of that topic sampled then,
//! each at its `value` path ("$.rms" → `{"rms": …}`, "$.a.b" → `{"a": {"b": …}}`, "$.a[1]" → `{"a": [null, …]}`),
//! the device timestamp (unix s, ms resolution, [`VirtualPlant::EPOCH_UNIX_S`] at t = 0, plus any clock skew) at
//! every `timestamp` path, `"good"` at any `quality` path, and a per-topic counter `"seq"` (0, 1, 2, …) for
//! de-duplication. Topic filters are made concrete: a `+` level becomes the signal's asset id, `#` its signal id.
//!
//! Sparkplug B (see [`sparkplug`](self::sparkplug)): one edge node per (group, edge node) of the signals. The first
//! [`VirtualPlant::advance`] starts with each node's NBIRTH (seq 0; `bdSeq`, `Node Control/Rebirth` = false and
//! the node's own metrics) and a DBIRTH per device carrying every metric with name, alias, datatype Double, its
//! current reading and that reading's timestamp (null before the sensor has anything to read, e.g. vibration
//! before its first 1 s window). Then, per node or device and sample time with a metric due, an NDATA/DDATA
//! whose metrics carry only alias, timestamp and value. Timestamps are Unix ms on the device clock (the same
//! epoch and skew as the JSON timestamps; one clock per device). `seq` counts every message of a node, births
//! included, 0..=255 wrapping; messages held through an outage keep the seq they were given.
//! [`VirtualPlant::handle_command`] takes an NCMD `Node Control/Rebirth = true`: the next `advance` starts with
//! that node's births again, seq reset to 0 (held messages are released first). [`VirtualPlant::death_certificates`]
//! gives the NDEATHs for a clean shutdown.
//!
//! # Determinism
//! Everything random is drawn from ChaCha8 streams of the one seed (true parameters, site, each pump's edge box,
//! each sensor), so the same scenario and seed give byte-identical publications.

pub mod edge;
pub mod inprocess;
pub mod payload;
pub mod plc;
pub mod publish;
pub mod sensor;
mod site;
pub mod sparkplug;
pub mod truth;

#[cfg(test)]
mod tests;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use twin_models::degradation;
use twin_models::loadmap::LoadMap;
use twin_models::params::{MotorParams, PumpParams, TankParams};
use twin_models::tank::TankState;
use twin_models::{ModelError, PumpTrain, PumpTrainInputs, PumpTrainOutputs, PumpTrainState};

use crate::scenario::{AssetKind, FaultSpec, MqttSource, Scenario, SetpointTarget, SignalSource};
use crate::twin::coupling::{Station, step_station};
use crate::units::{Quantity, UnitConverter};
use edge::{EdgeTables, SAMPLE_RATE_HZ, VibrationEdge};
use payload::{Layout, Slot};
use sensor::{Sensor, Source};
use site::Site;
use sparkplug::SpNode;
pub use truth::{PlantTruth, PumpTruth, TrueFactors};

/// One message the plant's edge devices published.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// MQTT topic.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// MQTT retain flag.
    pub retain: bool,
    /// Simulated time the payload describes, s.
    pub t_s: f64,
    /// Simulated time the edge sent it, s (later than `t_s` only for messages held through a broker outage).
    pub sent_s: f64,
}

/// Why the plant could not be built or a request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlantError {
    /// The scenario cannot be simulated as written.
    #[error("scenario: {0}")]
    Scenario(String),
    /// A pump train's model could not be built.
    #[error("asset \"{asset}\": {source}")]
    Model {
        asset: String,
        #[source]
        source: ModelError,
    },
    /// No set-point has this id.
    #[error("unknown set-point \"{0}\"")]
    UnknownSetpoint(String),
    /// A set-point write outside the set-point's range.
    #[error("set-point \"{id}\": {value} {unit} is outside [{min}, {max}] {unit}")]
    SetpointOutOfRange { id: String, value: f64, min: f64, max: f64, unit: String },
}

/// Random stream of the true parameters.
const STREAM_PARAMS: u64 = 0;
/// Random stream of the site's ambient and inflow.
const STREAM_SITE: u64 = 1;
/// Random stream of the shared vibration noise table.
const STREAM_TABLES: u64 = 2;
/// Stream of the pumps' hidden defect growth rates.
const STREAM_GROWTH: u64 = 3;
/// First random stream of the pumps' edge boxes (one per pump).
const STREAM_EDGE: u64 = 1 << 16;
/// First random stream of the sensors (one per signal).
const STREAM_SENSOR: u64 = 1 << 32;

/// Tolerance on time comparisons, s.
const EPS_S: f64 = 1e-9;

#[derive(Debug, Clone)]
struct PlantTank {
    id: String,
    params: TankParams,
    state: TankState,
}

#[derive(Debug, Clone)]
struct PlantPump {
    id: String,
    motor_id: String,
    factors: TrueFactors,
    train: PumpTrain,
    state: PumpTrainState,
    outputs: PumpTrainOutputs,
    tank: Option<usize>,
    /// Speed the set-point asks for, rpm.
    target_rpm: f64,
    /// Speed the drive is commanded to after its ramp, rpm.
    command_rpm: f64,
    /// Drive ramp, rpm/s (infinite without a set-point).
    ramp_rpm_per_s: f64,
    /// Bearing defects: (onset s, severity at onset).
    defects: Vec<(f64, f64)>,
    /// The defect's own hidden growth rate at the rated point and the lubricant's reference temperature, 1/h.
    growth_rate_per_h: f64,
    /// When the bearing failed (the defect reached the threshold), s.
    failed_at_s: Option<f64>,
    /// Cavitation episodes: (start s, end s, level drop m).
    cavitation: Vec<(f64, f64, f64)>,
    severity: f64,
    edge: VibrationEdge,
}

#[derive(Debug, Clone)]
struct PlantSetpoint {
    id: String,
    pump: usize,
    unit: String,
    converter: UnitConverter,
    min: f64,
    max: f64,
}

#[derive(Debug, Clone)]
struct Topic {
    name: String,
    layout: Layout,
    sensors: Vec<usize>,
    clock_offset_s: f64,
    seq: u64,
}

/// The simulated plant: true assets, their sensors and edge devices, and the faults injected into them.
#[derive(Debug, Clone)]
pub struct VirtualPlant {
    /// Unix time (s) of simulated t = 0 on the plant's true clock: [`VirtualPlant::EPOCH_UNIX_S`] unless set.
    epoch_unix_s: f64,
    step_s: f64,
    steps: u64,
    owed_s: f64,
    /// Whether the edge boxes synthesise vibration and the sensors publish (off: the physics and the hidden truth
    /// only, for fleet histories).
    telemetry: bool,
    site: Site,
    tanks: Vec<PlantTank>,
    pumps: Vec<PlantPump>,
    setpoints: Vec<PlantSetpoint>,
    sensors: Vec<Sensor>,
    topics: Vec<Topic>,
    tables: EdgeTables,
    /// Broker outages: (start s, end s).
    outages: Vec<(f64, f64)>,
    /// Messages held at the edge during an outage.
    held: Vec<Publication>,
    /// Scratch: per-tank pump draw, m³/h.
    draw: Vec<f64>,
    /// Scratch: per-sensor reading of the sample being written.
    values: Vec<Option<f64>>,
    /// Sparkplug B edge nodes, in the scenario order of their first signal.
    sp_nodes: Vec<SpNode>,
    /// Per sensor: the last reading published over Sparkplug and its device timestamp, Unix ms (for births).
    sp_last: Vec<Option<(f64, u64)>>,
    /// Commands received that asked nothing of this plant (not an NCMD rebirth for one of its nodes).
    commands_ignored: u64,
    /// Assets that report their configuration and firmware, in scenario order.
    identities: Vec<PlantIdentity>,
    /// Configuration changes on site: (time s, index into `identities`, new config version, new firmware).
    identity_changes: Vec<(f64, usize, Option<String>, Option<String>)>,
    /// The identities still have to be published (at the start).
    identity_due: bool,
}

/// What one asset reports about itself on its identity topic.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantIdentity {
    /// Asset id.
    pub asset: String,
    /// Retained topic it reports on.
    pub topic: String,
    /// Configuration version it runs.
    pub config_version: String,
    /// Firmware it runs.
    pub firmware: String,
}

fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

/// A topic filter made publishable: `+` becomes the asset id, `#` the signal id.
fn concrete_topic(filter: &str, asset: &str, signal: &str) -> String {
    let clean = |s: &str| s.replace(['/', '+', '#'], "_");
    filter
        .split('/')
        .map(|level| match level {
            "+" => clean(asset),
            "#" => clean(signal),
            l => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The plant's pumps and tanks over one step, as the station's coupling steps them: each pump's drive ramps to
/// its target, its bearing defect and any cavitation episode (a drop of the suction level) apply, and its edge
/// box samples the step's vibration.
struct PlantStation<'a> {
    pumps: &'a mut [PlantPump],
    tanks: &'a mut [PlantTank],
    tables: &'a EdgeTables,
    /// Time at the start of the step, s.
    t0_s: f64,
    /// The site's ambient at the start of the step, °C.
    ambient_c: f64,
    /// 1 kHz vibration samples due in the step (0: the edge boxes do not run).
    n_samples: u64,
}

impl Station for PlantStation<'_> {
    fn pump_count(&self) -> usize {
        self.pumps.len()
    }

    fn feed(&self, pump: usize) -> Option<usize> {
        self.pumps[pump].tank
    }

    fn level_m(&self, tank: usize) -> f64 {
        self.tanks[tank].state.level_m
    }

    fn step_pump(&mut self, pump: usize, feed_level_m: Option<f64>, dt_s: f64) -> f64 {
        let (p, t0) = (&mut self.pumps[pump], self.t0_s);
        // A defect appears at its onset (or a worse one is injected), then grows.
        let appeared = p.defects.iter().filter(|(on, _)| t0 >= on - EPS_S).fold(0.0, |m, (_, s)| s.max(m));
        p.severity = p.severity.max(appeared);
        let drop = p
            .cavitation
            .iter()
            .filter(|(s, e, _)| t0 >= s - EPS_S && t0 < e - EPS_S)
            .fold(0.0, |m, (_, _, d)| d.max(m));
        let max_change = p.ramp_rpm_per_s * dt_s;
        p.command_rpm += (p.target_rpm - p.command_rpm).clamp(-max_change, max_change);
        let inputs = PumpTrainInputs {
            // A failed bearing has tripped the pump.
            speed_setpoint_rpm: if p.failed_at_s.is_some() { 0.0 } else { p.command_rpm },
            tank_level_m: feed_level_m.unwrap_or(0.0) - drop,
            ambient_c: self.ambient_c,
            bearing_defect_severity: p.severity,
        };
        p.outputs = p.train.step(&mut p.state, &inputs, dt_s);
        if p.severity > 0.0 && p.failed_at_s.is_none() {
            let g = p.train.defect_growth_factor(&p.outputs);
            let rate = p.growth_rate_per_h * truth::lubricant_pace(p.state.bearing_temp_c);
            p.severity = degradation::grow(p.severity, rate, g, dt_s / 3600.0);
            if p.severity >= degradation::FAILURE_SEVERITY {
                p.failed_at_s = Some(t0 + dt_s);
            }
        }
        if self.n_samples > 0 {
            p.edge.run(self.tables, &p.outputs, p.severity, self.n_samples);
        }
        p.outputs.flow_m3h
    }

    fn tank_count(&self) -> usize {
        self.tanks.len()
    }

    fn tank(&mut self, tank: usize) -> (&TankParams, &mut TankState) {
        let t = &mut self.tanks[tank];
        (&t.params, &mut t.state)
    }
}

/// Unix time rounded to the millisecond.
fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

impl VirtualPlant {
    /// Unix time (s) of simulated t = 0 on the plant's true clock: 2026-01-01T00:00:00Z, so runs are repeatable.
    pub const EPOCH_UNIX_S: f64 = 1_767_225_600.0;

    /// Sets the unix time (s) of simulated t = 0, which every timestamp the plant sends counts from: a plant that
    /// publishes live to a broker (`twin plant` in real time) stamps its data with the wall clock, as a real
    /// site's edge does.
    pub fn set_epoch(&mut self, epoch_unix_s: f64) {
        self.epoch_unix_s = epoch_unix_s;
    }

    /// Builds the plant for a (validated) scenario. Every random draw comes from `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Self, PlantError> {
        let sim = &scenario.simulation;
        let step_s = sim.model_step.secs();
        if !(step_s > 0.0 && step_s.is_finite()) {
            return Err(PlantError::Scenario(format!("model step {step_s} s must be a positive number")));
        }
        let ambient0 = sim.ambient.mean_c;

        let tanks: Vec<PlantTank> = scenario
            .assets
            .iter()
            .filter_map(|a| match &a.kind {
                AssetKind::Tank(p) => {
                    Some(PlantTank { id: a.id.clone(), params: p.clone(), state: TankState::initial(p) })
                }
                _ => None,
            })
            .collect();
        let tank_index = |id: &str| tanks.iter().position(|t| t.id == id);

        let mut param_rng = stream(seed, STREAM_PARAMS);
        let mut growth_rng = stream(seed, STREAM_GROWTH);
        let mut maps: Vec<(PumpParams, MotorParams, LoadMap)> = Vec::new();
        let mut pumps = Vec::new();
        for a in &scenario.assets {
            let AssetKind::CentrifugalPump(nominal_pump) = &a.kind else { continue };
            let deps: Vec<_> = a.depends_on.iter().filter_map(|d| scenario.asset(d)).collect();
            let Some((motor_id, nominal_motor, insulation_h)) = deps.iter().find_map(|d| match &d.kind {
                AssetKind::Motor(m) => Some((d.id.clone(), m, d.history.insulation_age_h.unwrap_or(0.0))),
                _ => None,
            }) else {
                return Err(PlantError::Scenario(format!("pump \"{}\" depends on no Motor", a.id)));
            };
            let tank = deps.iter().find(|d| matches!(d.kind, AssetKind::Tank(_))).and_then(|d| tank_index(&d.id));
            let model_err = |source| PlantError::Model { asset: a.id.clone(), source };

            let map = match maps.iter().find(|(p, m, _)| p == nominal_pump && m == nominal_motor) {
                Some((_, _, map)) => map.clone(),
                None => {
                    let nominal = PumpTrain::new(nominal_pump.clone(), nominal_motor.clone()).map_err(model_err)?;
                    maps.push((nominal_pump.clone(), nominal_motor.clone(), nominal.map.clone()));
                    nominal.map
                }
            };
            let factors = TrueFactors::draw(&mut param_rng);
            let (true_pump, true_motor) = factors.apply(nominal_pump, nominal_motor);
            let mut issues = true_pump.validate();
            issues.extend(true_motor.validate().into_iter().map(|(f, m)| (format!("motor.{f}"), m)));
            if !issues.is_empty() {
                return Err(model_err(ModelError::InvalidParams(issues)));
            }
            let train = PumpTrain::with_map(true_pump, true_motor, map);

            let mut speed = nominal_pump.rated_speed_rpm;
            let mut ramp = f64::INFINITY;
            for sp in scenario.setpoints.iter().filter(|s| s.asset == a.id && s.target == SetpointTarget::Speed) {
                let Some(c) = sp.target.quantity().converter(&sp.unit) else {
                    return Err(PlantError::Scenario(format!("set-point \"{}\": unknown unit \"{}\"", sp.id, sp.unit)));
                };
                speed = c.to_canonical(sp.initial);
                ramp = (c.to_canonical(sp.max_rate_per_s) - c.to_canonical(0.0)).abs();
            }
            // The hidden truth is as old as the asset's history says: the true bearing, at its true load, has
            // consumed what those hours consume.
            let bearing_h = scenario.bearing_hours(a);
            let mut state = train.aged_state(ambient0, bearing_h, insulation_h);
            state.speed_rpm = speed;
            let level = tank.map_or(0.0, |t| tanks[t].state.level_m);
            let inputs = PumpTrainInputs {
                speed_setpoint_rpm: speed,
                tank_level_m: level,
                ambient_c: ambient0,
                bearing_defect_severity: 0.0,
            };
            let outputs = train.step(&mut state.clone(), &inputs, 0.0);
            let edge = VibrationEdge::new(stream(seed, STREAM_EDGE + pumps.len() as u64));
            pumps.push(PlantPump {
                id: a.id.clone(),
                motor_id,
                factors,
                train,
                state,
                outputs,
                tank,
                target_rpm: speed,
                command_rpm: speed,
                ramp_rpm_per_s: if ramp > 0.0 { ramp } else { f64::INFINITY },
                defects: a.history.bearing_defect_severity.map(|s| (0.0, s.clamp(0.0, 1.0))).into_iter().collect(),
                growth_rate_per_h: truth::own_growth_rate(StandardNormal.sample(&mut growth_rng)),
                failed_at_s: None,
                cavitation: Vec::new(),
                severity: 0.0,
                edge,
            });
        }
        let pump_ids: Vec<String> = pumps.iter().map(|p| p.id.clone()).collect();
        let pump_index = |id: &str| pump_ids.iter().position(|p| p == id);

        let mut setpoints = Vec::new();
        for sp in &scenario.setpoints {
            let (Some(pump), Some(converter)) = (pump_index(&sp.asset), sp.target.quantity().converter(&sp.unit))
            else {
                return Err(PlantError::Scenario(format!("set-point \"{}\" acts on no pump", sp.id)));
            };
            setpoints.push(PlantSetpoint {
                id: sp.id.clone(),
                pump,
                unit: sp.unit.clone(),
                converter,
                min: sp.min,
                max: sp.max,
            });
        }

        let mut sensors = Vec::new();
        let mut topics: Vec<Topic> = Vec::new();
        let mut sp_nodes: Vec<SpNode> = Vec::new();
        for (i, sig) in scenario.signals.iter().enumerate() {
            let bad = |what: String| PlantError::Scenario(format!("signal \"{}\": {what}", sig.id));
            let converter =
                sig.quantity.converter(&sig.unit).ok_or_else(|| bad(format!("unknown unit \"{}\"", sig.unit)))?;
            let source = match scenario.asset(&sig.asset).map(|a| &a.kind) {
                Some(AssetKind::Tank(_)) if sig.quantity == Quantity::TankLevel => {
                    Source::Tank(tank_index(&sig.asset).unwrap_or_default())
                }
                Some(AssetKind::CentrifugalPump(_)) if sig.quantity == Quantity::TankLevel => {
                    match pump_index(&sig.asset).and_then(|p| pumps[p].tank) {
                        Some(t) => Source::Tank(t),
                        None => return Err(bad("the pump has no feed tank to measure".into())),
                    }
                }
                Some(AssetKind::CentrifugalPump(_)) => Source::Pump(pump_index(&sig.asset).unwrap_or_default()),
                Some(AssetKind::Motor(_)) if sig.quantity != Quantity::TankLevel => {
                    pumps.iter().position(|p| p.motor_id == sig.asset).map_or(Source::Undriven, Source::Pump)
                }
                Some(k) => return Err(bad(format!("{:?} cannot be measured on a {}", sig.quantity, k.name()))),
                None => return Err(bad(format!("unknown asset \"{}\"", sig.asset))),
            };
            let period_steps = (sig.period.secs() / step_s).round().max(1.0) as u64;
            sensors.push(Sensor::new(
                sig.quantity,
                source,
                converter,
                period_steps,
                stream(seed, STREAM_SENSOR + i as u64),
            ));

            let value_level;
            let src = match &sig.source {
                SignalSource::Mqtt(src) => src,
                // What an OPC UA subscription would deliver, value by value: the in-process plant hands it over as
                // the value-level message of the signal (it serves no OPC UA).
                SignalSource::OpcUa(_) => {
                    value_level = MqttSource {
                        topic: format!("{}{}", crate::ingest::VALUE_TOPIC_PREFIX, sig.id),
                        value: "$.value".into(),
                        timestamp: Some("$.ts".into()),
                        quality: None,
                    };
                    &value_level
                }
                SignalSource::Sparkplug(sp) => {
                    let n = match sp_nodes.iter().position(|n| n.group == sp.group && n.id == sp.edge_node) {
                        Some(n) => n,
                        None => {
                            sp_nodes.push(SpNode::new(&sp.group, &sp.edge_node));
                            sp_nodes.len() - 1
                        }
                    };
                    sp_nodes[n].add_metric(sp.device.as_deref(), &sp.metric, i).map_err(bad)?;
                    continue;
                }
            };
            let name = concrete_topic(&src.topic, &sig.asset, &sig.id);
            let t = match topics.iter().position(|t| t.name == name) {
                Some(t) => t,
                None => {
                    topics.push(Topic { name, layout: Layout::new(), sensors: vec![], clock_offset_s: 0.0, seq: 0 });
                    topics.len() - 1
                }
            };
            let topic = &mut topics[t];
            topic.sensors.push(i);
            topic.layout.insert(&src.value, Slot::Value(i)).map_err(bad)?;
            if let Some(p) = &src.timestamp {
                topic.layout.insert(p, Slot::Timestamp).map_err(bad)?;
            }
            if let Some(p) = &src.quality {
                topic.layout.insert(p, Slot::Quality(i)).map_err(bad)?;
            }
        }
        for t in &mut topics {
            t.layout.add_seq();
        }

        let identities: Vec<PlantIdentity> = scenario
            .assets
            .iter()
            .filter_map(|a| {
                Some(PlantIdentity {
                    asset: a.id.clone(),
                    topic: a.identity_topic.clone()?,
                    config_version: a.config_version.clone(),
                    firmware: a.firmware.clone(),
                })
            })
            .collect();
        let mut identity_changes = Vec::new();
        let mut outages = Vec::new();
        let signal_index = |id: &str| scenario.signals.iter().position(|s| s.id == id);
        for (i, f) in scenario.faults.iter().enumerate() {
            let bad = |what: &str| PlantError::Scenario(format!("faults[{i}]: unknown {what}"));
            match f {
                FaultSpec::BearingDefect { asset, onset, severity } => {
                    let p = pump_index(asset).ok_or_else(|| bad("pump"))?;
                    pumps[p].defects.push((onset.secs(), severity.clamp(0.0, 1.0)));
                }
                FaultSpec::CavitationEpisode { asset, start, duration, level_drop_m } => {
                    let p = pump_index(asset).ok_or_else(|| bad("pump"))?;
                    let (s, d) = (start.secs(), duration.secs());
                    pumps[p].cavitation.push((s, s + d, level_drop_m.max(0.0)));
                }
                FaultSpec::StuckSensor { signal, at } => {
                    sensors[signal_index(signal).ok_or_else(|| bad("signal"))?].stick_at(at.secs());
                }
                FaultSpec::DriftingSensor { signal, at, rate_per_h } => {
                    sensors[signal_index(signal).ok_or_else(|| bad("signal"))?].drift_from(at.secs(), *rate_per_h);
                }
                FaultSpec::SkewedClock { signal, offset } => {
                    let s = signal_index(signal).ok_or_else(|| bad("signal"))?;
                    if let Some(t) = topics.iter_mut().find(|t| t.sensors.contains(&s)) {
                        t.clock_offset_s = t.clock_offset_s.max(offset.secs());
                    }
                    if let Some(d) = sp_nodes.iter_mut().find_map(|n| n.device_of(s)) {
                        d.clock_offset_s = d.clock_offset_s.max(offset.secs());
                    }
                }
                FaultSpec::BrokerOutage { at, duration } => outages.push((at.secs(), at.secs() + duration.secs())),
                FaultSpec::ConfigChange { asset, at, config_version, firmware } => {
                    let k = identities.iter().position(|d| &d.asset == asset).ok_or_else(|| bad("asset to report"))?;
                    identity_changes.push((at.secs(), k, config_version.clone(), firmware.clone()));
                }
            }
        }

        let tables = EdgeTables::new(&mut stream(seed, STREAM_TABLES));
        let n_tanks = tanks.len();
        let n_sensors = sensors.len();
        Ok(Self {
            epoch_unix_s: Self::EPOCH_UNIX_S,
            step_s,
            steps: 0,
            owed_s: 0.0,
            telemetry: true,
            site: Site::from_rng(sim, stream(seed, STREAM_SITE)),
            tanks,
            pumps,
            setpoints,
            sensors,
            topics,
            tables,
            outages,
            held: Vec::new(),
            draw: vec![0.0; n_tanks],
            values: vec![None; n_sensors],
            sp_nodes,
            sp_last: vec![None; n_sensors],
            commands_ignored: 0,
            identities,
            identity_changes,
            identity_due: true,
        })
    }

    /// Simulated time since the start, s.
    pub fn now_s(&self) -> f64 {
        self.steps as f64 * self.step_s
    }

    /// The model step, s.
    pub fn step_s(&self) -> f64 {
        self.step_s
    }

    /// The topics the plant publishes data on: the JSON topics in scenario order, then the Sparkplug NDATA and
    /// DDATA topics (births and deaths go to the matching NBIRTH/DBIRTH/NDEATH topics).
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        let sp = self.sp_nodes.iter().flat_map(|n| n.all_devices().filter(|d| !d.metrics.is_empty()));
        self.topics.iter().map(|t| t.name.as_str()).chain(sp.map(|d| d.data_topic.as_str()))
    }

    /// The Sparkplug edge nodes the plant runs, as (group, edge node).
    pub fn sparkplug_nodes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sp_nodes.iter().map(|n| (n.group.as_str(), n.id.as_str()))
    }

    /// A command from the broker. An NCMD with `Node Control/Rebirth = true` for one of the plant's edge nodes
    /// makes the next [`VirtualPlant::advance`] (an `advance(0.0)` too) start with that node's NBIRTH (seq 0)
    /// and DBIRTHs; returns whether it did. Anything else (another node, another message type, a payload that
    /// does not decode, no rebirth request) is counted in [`VirtualPlant::commands_ignored`].
    pub fn handle_command(&mut self, topic: &str, payload: &[u8]) -> bool {
        let node = twin_mqtt::sparkplug::parse_topic(topic)
            .filter(|t| t.message_type == twin_mqtt::sparkplug::MessageType::NCmd)
            .and_then(|t| self.sp_nodes.iter().position(|n| n.group == t.group && n.id == t.edge_node));
        match node {
            Some(n) if sparkplug::is_rebirth_request(payload) == Some(true) => {
                self.sp_nodes[n].birth_due = true;
                true
            }
            _ => {
                self.commands_ignored += 1;
                false
            }
        }
    }

    /// Commands so far that asked nothing of this plant.
    pub fn commands_ignored(&self) -> u64 {
        self.commands_ignored
    }

    /// The NDEATH of every Sparkplug edge node (payload: `bdSeq`, no seq), to publish on a clean shutdown.
    pub fn death_certificates(&self) -> Vec<Publication> {
        let t = self.now_s();
        self.sp_nodes
            .iter()
            .map(|n| {
                let ms = sparkplug::unix_ms(self.epoch_unix_s, t, n.own.clock_offset_s);
                let payload = sparkplug::death_payload(n.bd_seq, ms);
                Publication { topic: n.death_topic(), payload, retain: false, t_s: t, sent_s: t }
            })
            .collect()
    }

    /// Advances simulated time by `dt_s` (a multiple of the model step; any remainder is carried to the next
    /// call) and returns what the plant published meanwhile, in the order it was sent: first any Sparkplug births
    /// that are due (at the start, and after a rebirth request), then (at the start) the retained identity reports,
    /// then the samples.
    pub fn advance(&mut self, dt_s: f64) -> Vec<Publication> {
        let mut out = Vec::new();
        if self.sp_nodes.iter().any(|n| n.birth_due) {
            let t = self.now_s();
            if !self.in_outage(t) {
                self.release_held(t, &mut out);
            }
            for n in 0..self.sp_nodes.len() {
                if self.sp_nodes[n].birth_due {
                    self.births(n, &mut out);
                }
            }
        }
        if self.identity_due {
            self.identity_due = false;
            for k in 0..self.identities.len() {
                self.publish_identity(k, &mut out);
            }
        }
        if !(dt_s > 0.0 && dt_s.is_finite()) {
            return out;
        }
        let total = self.owed_s + dt_s;
        let n = (total / self.step_s + 1e-9).floor();
        self.owed_s = (total - n * self.step_s).max(0.0);
        for _ in 0..n as u64 {
            self.step_once(&mut out);
        }
        out
    }

    /// Stops the edge boxes and sensors: the plant steps its physics and keeps its hidden truth, and publishes
    /// nothing (a fleet's run-to-failure histories are read off the truth, many times faster).
    pub fn without_telemetry(mut self) -> Self {
        self.telemetry = false;
        self
    }

    /// The hidden truth, for tests and for model-performance figures.
    pub fn truth(&self) -> PlantTruth {
        PlantTruth {
            pumps: self
                .pumps
                .iter()
                .map(|p| PumpTruth {
                    id: p.id.clone(),
                    motor_id: p.motor_id.clone(),
                    pump: p.train.pump.clone(),
                    motor: p.train.motor.clone(),
                    factors: p.factors,
                    state: p.state,
                    outputs: p.outputs,
                    defect_severity: p.severity,
                    defect_growth_rate_per_h: p.growth_rate_per_h * truth::lubricant_pace(p.state.bearing_temp_c),
                    defect_own_growth_rate_per_h: p.growth_rate_per_h,
                    growth_factor: p.train.defect_growth_factor(&p.outputs),
                    failed_at_s: p.failed_at_s,
                    speed_command_rpm: p.command_rpm,
                })
                .collect(),
            tanks: self.tanks.iter().map(|t| (t.id.clone(), t.state.level_m)).collect(),
            identities: self.identities.clone(),
        }
    }

    /// Publishes (or holds) asset `k`'s retained identity message.
    fn publish_identity(&mut self, k: usize, out: &mut Vec<Publication>) {
        let t = self.now_s();
        let d = &self.identities[k];
        let payload = serde_json::json!({
            "config_version": d.config_version,
            "firmware": d.firmware,
            "ts": round_ms(self.epoch_unix_s + t),
        });
        let p = Publication {
            topic: d.topic.clone(),
            payload: payload.to_string().into_bytes(),
            retain: true,
            t_s: t,
            sent_s: t,
        };
        let hold = self.in_outage(t);
        self.send(p, hold, out);
    }

    /// A set-point write from the (virtual) PLC, in the set-point's unit. The drive ramps to it at the
    /// set-point's `max_rate_per_s`. A value outside the set-point's `[min, max]` is refused.
    pub fn set_setpoint(&mut self, id: &str, value: f64) -> Result<(), PlantError> {
        let sp = self.setpoints.iter().find(|s| s.id == id).ok_or_else(|| PlantError::UnknownSetpoint(id.into()))?;
        if !(sp.min..=sp.max).contains(&value) {
            return Err(PlantError::SetpointOutOfRange {
                id: id.into(),
                value,
                min: sp.min,
                max: sp.max,
                unit: sp.unit.clone(),
            });
        }
        self.pumps[sp.pump].target_rpm = sp.converter.to_canonical(value);
        Ok(())
    }

    /// Total 1 kHz vibration samples due by the end of step `n`.
    fn samples_by_step(&self, n: u64) -> u64 {
        (n as f64 * self.step_s * SAMPLE_RATE_HZ).round() as u64
    }

    /// One model step of the physics, then the sensors sampled at its end.
    fn step_once(&mut self, out: &mut Vec<Publication>) {
        let dt = self.step_s;
        let t0 = self.now_s();
        let ambient = self.site.ambient_c(t0);
        let n_samples =
            if self.telemetry { self.samples_by_step(self.steps + 1) - self.samples_by_step(self.steps) } else { 0 };
        let factor = self.site.inflow_factor();
        let Self { pumps, tanks, tables, draw, .. } = self;
        let mut station = PlantStation { pumps, tanks, tables, t0_s: t0, ambient_c: ambient, n_samples };
        step_station(&mut station, draw, factor, dt);
        self.site.advance(dt);
        self.steps += 1;
        if self.telemetry {
            self.publish(out);
        }
        let t1 = self.now_s();
        let due: Vec<usize> = (0..self.identity_changes.len())
            .filter(|&c| (t0 - EPS_S..t1 - EPS_S).contains(&self.identity_changes[c].0))
            .collect();
        for c in due {
            let (_, k, config, firmware) = self.identity_changes[c].clone();
            if let Some(v) = config {
                self.identities[k].config_version = v;
            }
            if let Some(v) = firmware {
                self.identities[k].firmware = v;
            }
            self.publish_identity(k, out);
        }
    }

    /// The true value a sensor reads, canonical unit.
    fn truth_value(&self, source: Source, q: Quantity, t_s: f64) -> Option<f64> {
        match source {
            Source::Tank(t) => self.tanks.get(t).map(|t| t.state.level_m),
            Source::Undriven => match q {
                Quantity::WindingTemperature | Quantity::BearingTemperature => Some(self.site.ambient_c(t_s)),
                _ => Some(0.0),
            },
            Source::Pump(i) => {
                let p = self.pumps.get(i)?;
                let vib = || p.edge.latest();
                Some(match q {
                    Quantity::VibrationVelocityRms => vib()?.rms_mm_s,
                    Quantity::VibrationVelocityPeak => vib()?.peak_mm_s,
                    Quantity::VibrationCrestFactor => vib()?.crest,
                    Quantity::WindingTemperature => p.state.winding_temp_c,
                    Quantity::BearingTemperature => p.state.bearing_temp_c,
                    Quantity::Flow => p.outputs.flow_m3h,
                    Quantity::MotorCurrent => p.outputs.motor_current_a,
                    Quantity::Speed => p.outputs.speed_rpm,
                    Quantity::TankLevel => self.tanks.get(p.tank?)?.state.level_m,
                })
            }
        }
    }

    fn in_outage(&self, t_s: f64) -> bool {
        self.outages.iter().any(|&(s, e)| t_s >= s - EPS_S && t_s < e - EPS_S)
    }

    /// Sends the messages held through an outage, at `t`.
    fn release_held(&mut self, t: f64, out: &mut Vec<Publication>) {
        for mut p in self.held.drain(..) {
            p.sent_s = t;
            out.push(p);
        }
    }

    /// Publishes (or holds, during an outage) one message.
    fn send(&mut self, p: Publication, hold: bool, out: &mut Vec<Publication>) {
        if hold { self.held.push(p) } else { out.push(p) }
    }

    /// Node `n`'s NBIRTH (seq 0) and its DBIRTHs, each metric with its latest reading (a first reading now
    /// when there is none yet).
    fn births(&mut self, n: usize, out: &mut Vec<Publication>) {
        let t = self.now_s();
        let hold = self.in_outage(t);
        self.sp_nodes[n].birth_due = false;
        self.sp_nodes[n].reset_seq();
        let devices: Vec<sparkplug::SpDevice> = self.sp_nodes[n].all_devices().cloned().collect();
        for (k, dev) in devices.iter().enumerate() {
            if k > 0 && dev.metrics.is_empty() {
                continue;
            }
            let now_ms = sparkplug::unix_ms(self.epoch_unix_s, t, dev.clock_offset_s);
            let mut metrics = if k == 0 {
                sparkplug::node_control_metrics(self.sp_nodes[n].bd_seq, now_ms)
            } else {
                Vec::with_capacity(dev.metrics.len())
            };
            for m in &dev.metrics {
                if self.sp_last[m.sensor].is_none() {
                    let (q, source) = (self.sensors[m.sensor].quantity, self.sensors[m.sensor].source);
                    let truth = self.truth_value(source, q, t);
                    self.sp_last[m.sensor] = self.sensors[m.sensor].read(truth, t).map(|v| (v, now_ms));
                }
                metrics.push(sparkplug::birth_metric(m, self.sp_last[m.sensor], now_ms));
            }
            let seq = self.sp_nodes[n].next_seq();
            let payload = sparkplug::payload(now_ms, Some(seq), metrics);
            let p = Publication { topic: dev.birth_topic.clone(), payload, retain: false, t_s: t, sent_s: t };
            self.send(p, hold, out);
        }
    }

    /// Samples every sensor due at the present instant and publishes (or holds) one message per JSON topic and
    /// one NDATA/DDATA per Sparkplug node or device with a metric due.
    fn publish(&mut self, out: &mut Vec<Publication>) {
        let t = self.now_s();
        let hold = self.in_outage(t);
        if !hold {
            self.release_held(t, out);
        }
        for ti in 0..self.topics.len() {
            let mut any = false;
            for k in 0..self.topics[ti].sensors.len() {
                let si = self.topics[ti].sensors[k];
                self.values[si] = None;
                let (q, source, period) = {
                    let s = &self.sensors[si];
                    (s.quantity, s.source, s.period_steps)
                };
                if !self.steps.is_multiple_of(period) {
                    continue;
                }
                let truth = self.truth_value(source, q, t);
                self.values[si] = self.sensors[si].read(truth, t);
                any |= self.values[si].is_some();
            }
            if !any {
                continue;
            }
            let topic = &mut self.topics[ti];
            let ts = round_ms(self.epoch_unix_s + t + topic.clock_offset_s);
            let payload = topic.layout.write(&self.values, ts, topic.seq);
            topic.seq += 1;
            let p = Publication { topic: topic.name.clone(), payload, retain: false, t_s: t, sent_s: t };
            self.send(p, hold, out);
        }
        for n in 0..self.sp_nodes.len() {
            for k in 0..=self.sp_nodes[n].devices.len() {
                let dev = if k == 0 { &self.sp_nodes[n].own } else { &self.sp_nodes[n].devices[k - 1] };
                let ts = sparkplug::unix_ms(self.epoch_unix_s, t, dev.clock_offset_s);
                let due: Vec<(u64, usize)> = dev
                    .metrics
                    .iter()
                    .filter(|m| self.steps.is_multiple_of(self.sensors[m.sensor].period_steps))
                    .map(|m| (m.alias, m.sensor))
                    .collect();
                let mut metrics = Vec::with_capacity(due.len());
                for (alias, si) in due {
                    let (q, source) = (self.sensors[si].quantity, self.sensors[si].source);
                    let truth = self.truth_value(source, q, t);
                    if let Some(v) = self.sensors[si].read(truth, t) {
                        self.sp_last[si] = Some((v, ts));
                        metrics.push(sparkplug::data_metric(alias, v, ts));
                    }
                }
                if metrics.is_empty() {
                    continue;
                }
                let node = &mut self.sp_nodes[n];
                let topic = if k == 0 { node.own.data_topic.clone() } else { node.devices[k - 1].data_topic.clone() };
                let payload = sparkplug::payload(ts, Some(node.next_seq()), metrics);
                self.send(Publication { topic, payload, retain: false, t_s: t, sent_s: t }, hold, out);
            }
        }
    }
}
