//! Validation of a drafted set-point change, in layers, each with a verdict and a reason a person can read:
//! (1) the static envelope, (2) the rate of change and its ramp plan, (3) the scenario's interlocks, (4) a
//! forward what-if of the change over the validation horizon, (5) the freshness of the inputs, (6) conflict with
//! the live version. A change is valid only when every layer passes.

use bevy::prelude::*;
use serde::Serialize;
use twin_models::whatif::{Answer, Study};

use super::draft::{Draft, DraftState};
use super::{ChangeError, whatif};
use crate::assess::config::{ConfigStatus, Configuration};
use crate::ingest::{Measurements, Telemetry, TelemetryOrigin};
pub use crate::scenario::Layer;
use crate::scenario::{Index, PlcSpec, RegisterEncoding, Requirement, Scenario, SetpointSpec};
use crate::sync::{Assimilation, Setpoints};
use crate::twin::pump::{Feed, PumpModel, PumpReadings, PumpState, output_index};
use crate::twin::tank::TankLevel;
use crate::twin::{AssetIndex, DependsOn, Environment, LoadedScenario, SimClock, read_index};

/// Longest a ramp may take, s: a change that needs longer is split by the engineer into several.
pub const MAX_RAMP_S: f64 = 600.0;
/// Model seconds the interlock check lets the train settle at the proposed value.
const SETTLE_S: u32 = 120;

/// One layer's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub layer: Layer,
    pub passed: bool,
    /// Why, for a person.
    pub reason: String,
}

/// A draft's validation.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Draft id.
    pub draft: u64,
    /// Set-point id.
    pub setpoint: String,
    /// Its unit.
    pub unit: String,
    /// Live value it changes from, in the set-point's unit.
    pub from: f64,
    /// Proposed value, in the set-point's unit.
    pub to: f64,
    /// The writes that get there, in the set-point's unit (one, or a ramp).
    pub ramp: Vec<f64>,
    /// Every layer's verdict, in order.
    pub verdicts: Vec<Verdict>,
    /// The forward what-if, when it ran.
    pub forecast: Option<Answer>,
}

impl Validation {
    /// Every layer passed.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed)
    }

    /// The verdict of one layer.
    pub fn verdict(&self, layer: Layer) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| v.layer == layer)
    }
}

/// The resolution of a set-point on its PLC, in its unit (0 for a float): its register's on a Modbus PLC, its
/// node's data type's on an OPC UA PLC.
pub fn resolution(scenario: &Scenario, sp: &SetpointSpec) -> f64 {
    use crate::scenario::OpcUaDataType as T;
    match (&scenario.connections.plc, &sp.plc, &sp.opcua) {
        (PlcSpec::OpcUa(_), _, Some(tag)) => match tag.data_type {
            T::Double | T::Float => 0.0,
            _ => 1.0,
        },
        (_, Some(plc), _) => match plc.encoding {
            RegisterEncoding::F32 => 0.0,
            _ => 1.0 / plc.scale.abs(),
        },
        _ => 0.0,
    }
}

/// The ramp from `from` to `to`: equal steps no larger than the rate allows in one interval, each rounded to the
/// register's resolution, ending exactly at `to`.
pub fn ramp(scenario: &Scenario, sp: &SetpointSpec, from: f64, to: f64, interval_s: f64) -> Vec<f64> {
    let max_step = sp.max_rate_per_s * interval_s;
    let delta = to - from;
    let n = if max_step > 0.0 { (delta.abs() / max_step - 1e-9).ceil().max(1.0) as usize } else { 1 };
    let res = resolution(scenario, sp);
    (1..=n)
        .map(|k| {
            if k == n {
                return to;
            }
            let v = from + delta * k as f64 / n as f64;
            if res > 0.0 { (v / res).round() * res } else { v }
        })
        .collect()
}

fn pass(layer: Layer, reason: String) -> Verdict {
    Verdict { layer, passed: true, reason }
}

fn fail(layer: Layer, reason: String) -> Verdict {
    Verdict { layer, passed: false, reason }
}

/// An index of a pump train's outputs at a proposed value (there, the look-ahead risk is the risk itself).
fn pump_index(o: &twin_models::PumpTrainOutputs, index: Index) -> Option<f64> {
    let index = if index == Index::CavitationRiskAhead { Index::CavitationRisk } else { index };
    output_index(o, index)
}

/// A draft's validation with every layer but the forecast decided: the forecast's Monte Carlo is prepared
/// (forked from the live twin) and runs in [`Pending::finish`], which needs no world, so that it can run off the
/// frame (on a worker thread in the workbench).
pub struct Pending {
    validation: Validation,
    /// The forecast's study, or why it was not run.
    forecast: Result<Study, String>,
    horizon: crate::scenario::Dur,
    limit: f64,
}

impl Pending {
    /// Runs the forecast and completes the validation (the verdicts in layer order).
    pub fn finish(self) -> Result<Validation, ChangeError> {
        let Pending { mut validation, forecast, horizon, limit } = self;
        let verdict = match forecast {
            Err(why) => fail(Layer::Forecast, why),
            Ok(study) => {
                let answer = twin_models::whatif::run(&study)?;
                let c = &answer.change;
                let parts = format!(
                    "winding over class {:.1} %, zone D {:.1} %, cavitation {:.1} %",
                    100.0 * c.p_over_winding_limit,
                    100.0 * c.p_zone_d,
                    100.0 * c.p_cavitation
                );
                let (p, l) = (100.0 * c.p_leave_limits, 100.0 * limit);
                let v = if c.p_leave_limits > limit {
                    fail(
                        Layer::Forecast,
                        format!("P(leaving an operating limit within {horizon}) = {p:.1} % exceeds {l:.1} % ({parts})"),
                    )
                } else {
                    pass(
                        Layer::Forecast,
                        format!("P(leaving an operating limit within {horizon}) = {p:.1} % ≤ {l:.1} % ({parts})"),
                    )
                };
                validation.forecast = Some(answer);
                v
            }
        };
        let at =
            validation.verdicts.iter().position(|v| v.layer > Layer::Forecast).unwrap_or(validation.verdicts.len());
        validation.verdicts.insert(at, verdict);
        Ok(validation)
    }
}

/// Validates `draft` against the twin in `world`, every layer at once; `seed` seeds the forecast's Monte Carlo.
pub fn validate(world: &World, draft: &Draft, seed: u64) -> Result<Validation, ChangeError> {
    prepare(world, draft, seed)?.finish()
}

/// Decides every layer of `draft` but the forecast, whose study it forks from the twin in `world` (see
/// [`Pending`]).
pub fn prepare(world: &World, draft: &Draft, seed: u64) -> Result<Pending, ChangeError> {
    let scenario = world.resource::<LoadedScenario>().0.clone();
    let setpoints = world.resource::<Setpoints>();
    let d = draft;
    let sp = scenario
        .setpoints
        .iter()
        .find(|s| s.id == d.setpoint)
        .ok_or_else(|| ChangeError::UnknownSetpoint(d.setpoint.clone()))?;
    let conv = sp.target.quantity().converter(&sp.unit).ok_or_else(|| ChangeError::UnknownSetpoint(sp.id.clone()))?;
    let live = setpoints.live.get(&sp.id).map_or(d.based_on_value, |l| l.value);
    let (from, to) = (conv.from_canonical(live), conv.from_canonical(d.value));
    let unit = sp.unit.as_str();
    let change = &scenario.change;
    let mut verdicts = Vec::new();

    // (1) Envelope.
    let res = resolution(&scenario, sp);
    let off_grid = res > 0.0 && ((to / res) - (to / res).round()).abs() > 1e-6;
    verdicts.push(if !to.is_finite() || to < sp.min || to > sp.max {
        fail(Layer::Envelope, format!("{to} {unit} is outside the envelope [{}, {}] {unit}", sp.min, sp.max))
    } else if off_grid {
        fail(Layer::Envelope, format!("{to} {unit} is not a multiple of the register's step {res} {unit}"))
    } else {
        pass(Layer::Envelope, format!("{to} {unit} is within [{}, {}] {unit}", sp.min, sp.max))
    });
    let envelope_ok = verdicts[0].passed;

    // (2) Rate.
    let interval = change.ramp_interval.secs();
    let plan = ramp(&scenario, sp, from, to, interval);
    let ramp_s = (plan.len().saturating_sub(1)) as f64 * interval;
    verdicts.push(if sp.max_rate_per_s <= 0.0 {
        fail(Layer::Rate, format!("{} allows no change (max_rate_per_s is {})", sp.id, sp.max_rate_per_s))
    } else if ramp_s > MAX_RAMP_S {
        fail(
            Layer::Rate,
            format!(
                "{from} → {to} {unit} at {} {unit}/s needs a ramp of {:.0} min, longer than the {:.0} min a change may take",
                sp.max_rate_per_s,
                ramp_s / 60.0,
                MAX_RAMP_S / 60.0
            ),
        )
    } else if plan.len() == 1 {
        pass(Layer::Rate, format!("{from} → {to} {unit} in one write (at most {} {unit}/s)", sp.max_rate_per_s))
    } else {
        let steps: Vec<String> = plan.iter().map(|v| format!("{v}")).collect();
        pass(
            Layer::Rate,
            format!("too big for one write: ramped in {} writes over {:.0} s: {} {unit}", plan.len(), ramp_s, steps.join(", ")),
        )
    });

    // (3) Interlocks, on the pump's state settled at the proposed value.
    let index = &world.resource::<AssetIndex>().0;
    let pump = index.get(&sp.asset).copied();
    let settled = pump.and_then(|e| {
        let model = world.get::<PumpModel>(e)?;
        let mut state = world.get::<PumpState>(e)?.0;
        let level = world.get::<Feed>(e).and_then(|f| f.0).and_then(|t| world.get::<TankLevel>(t)).map(|l| l.0.level_m);
        let ambient = world.resource::<Environment>().ambient_c(world.resource::<SimClock>().now_s);
        let inputs = twin_models::PumpTrainInputs {
            speed_setpoint_rpm: d.value,
            tank_level_m: level.unwrap_or(0.0),
            ambient_c: ambient,
            bearing_defect_severity: 0.0,
        };
        let mut out = None;
        for _ in 0..SETTLE_S {
            out = Some(model.0.step(&mut state, &inputs, 1.0));
        }
        out
    });
    let mut broken = Vec::new();
    let mut checked = 0;
    for il in change.interlocks.iter().filter(|il| il.setpoint == sp.id && to > il.above) {
        checked += 1;
        let (what, ok) = match &il.require {
            Requirement::NpshMarginAbove { asset, min } => {
                let outputs = if *asset == sp.asset {
                    settled
                } else {
                    index.get(asset).and_then(|&e| world.get::<PumpReadings>(e)).map(|r| r.0)
                };
                let m = outputs.map_or(f64::NAN, |o| o.npsha_m / o.npshr_m.max(1e-9));
                (format!("the NPSH margin of {asset} would be {m:.2}, required above {min}"), m > *min)
            }
            Requirement::IndexAbove { asset, index: ix, min } => {
                let v = if *asset == sp.asset { settled.and_then(|o| pump_index(&o, *ix)) } else { None }
                    .or_else(|| read_index(world, asset, *ix))
                    .unwrap_or(f64::NAN);
                (format!("{ix:?} of {asset} would be {v:.3}, required at least {min}"), v >= *min)
            }
            Requirement::IndexBelow { asset, index: ix, max } => {
                let v = if *asset == sp.asset { settled.and_then(|o| pump_index(&o, *ix)) } else { None }
                    .or_else(|| read_index(world, asset, *ix))
                    .unwrap_or(f64::NAN);
                (format!("{ix:?} of {asset} would be {v:.3}, required at most {max}"), v <= *max)
            }
        };
        if !ok {
            broken.push(format!("interlock {}: above {} {unit}, {what}", il.id, il.above));
        }
    }
    verdicts.push(if !broken.is_empty() {
        fail(Layer::Interlocks, broken.join("; "))
    } else if checked == 0 {
        pass(Layer::Interlocks, format!("no interlock applies to {} at {to} {unit}", sp.id))
    } else {
        pass(Layer::Interlocks, format!("{checked} interlock(s) hold at {to} {unit}"))
    });

    // (4) Forecast: prepared here, run by `Pending::finish`.
    let forecast = if !envelope_ok {
        Err("not run: the value is outside the envelope".to_string())
    } else {
        let changes = whatif::ChangeSet { setpoints: vec![(sp.id.clone(), to)], defer_maintenance_s: 0.0 };
        let mut study = whatif::fork(world, &sp.asset, change.horizon.secs(), change.samples as usize, seed)?;
        whatif::apply(world, &mut study, &sp.asset, &changes)?;
        Ok(study)
    };

    // (5) Freshness of the inputs: the pump and everything it depends on, from the real plant when the PLC is.
    let problems = input_problems(world, &sp.asset);
    verdicts.push(if problems.is_empty() {
        pass(
            Layer::Freshness,
            format!("the inputs of {} and its upstream assets are fresh ({})", sp.asset, origin_words(world)),
        )
    } else {
        fail(Layer::Freshness, format!("refused on stale or drifting inputs: {}", problems.join("; ")))
    });

    // (6) Conflict with the live version.
    verdicts.push(match d.state(setpoints) {
        DraftState::Open => pass(Layer::Conflict, format!("based on live version {}", d.based_on_version)),
        DraftState::Conflicted { live_value, live_version } => fail(
            Layer::Conflict,
            format!(
                "the live value changed to {} {unit} (version {live_version}) after the draft was made against version {}: rebase the draft",
                conv.from_canonical(live_value),
                d.based_on_version
            ),
        ),
    });
    let validation = Validation {
        draft: d.id,
        setpoint: sp.id.clone(),
        unit: sp.unit.clone(),
        from,
        to,
        ramp: plan,
        verdicts,
        forecast: None,
    };
    Ok(Pending { validation, forecast, horizon: change.horizon, limit: change.max_limit_probability })
}

/// Where the twin's telemetry comes from, in words.
fn origin_words(world: &World) -> String {
    format!("telemetry from {}", world.get_resource::<TelemetryOrigin>().cloned().unwrap_or_default())
}

/// Why the inputs of `asset` (a pump) and of every asset it depends on are not fit to decide a change on, for a
/// person; empty when they are. Every signal of those assets must have delivered a sample within its stale time
/// (never having delivered one is stale too), and its newest reading must be that recent in event time (a
/// retained or replayed old reading received now is no live value); no drift alarm may be active and no
/// configuration may mismatch. A scenario whose PLC is a real device is decided on a real broker's telemetry
/// only: never on the virtual plant's, a replay's, or none.
pub fn input_problems(world: &World, asset: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let scenario = &world.resource::<LoadedScenario>().0;
    let origin = world.get_resource::<TelemetryOrigin>().cloned().unwrap_or_default();
    let real_plc = match &scenario.connections.plc {
        PlcSpec::ModbusTcp(m) => Some(m.addr.clone()),
        PlcSpec::OpcUa(p) => Some(scenario.opcua_endpoint(&p.endpoint).map_or(p.endpoint.clone(), |e| e.url.clone())),
        PlcSpec::VirtualPlc => None,
    };
    if let Some(plc) = real_plc
        && !origin.is_real_plant()
    {
        problems.push(format!(
            "the twin's telemetry comes from {origin}, not from the real plant: a change for the real PLC at {plc} is \
             decided on the plant's live data only (connections: (broker: Mqtt(url: ...)) or OPC UA signals)"
        ));
    }
    let index = &world.resource::<AssetIndex>().0;
    let Some(&pump) = index.get(asset) else {
        problems.push(format!("no asset \"{asset}\" in the twin"));
        return problems;
    };
    let mut assets = vec![pump];
    assets.extend(world.get::<DependsOn>(pump).map(|d| d.0.clone()).unwrap_or_default());
    let name = |e: Entity| index.iter().find(|(_, x)| **x == e).map_or("?".to_string(), |(n, _)| n.clone());
    let names: Vec<String> = assets.iter().map(|&e| name(e)).collect();
    let clock = world.resource::<SimClock>();
    let telemetry = world.resource::<Telemetry>();
    let ingestor = &telemetry.ingestor;
    let now_unix = telemetry.epoch_unix_s + clock.now_s;
    for (i, sig) in ingestor.signals().iter().enumerate().filter(|(_, s)| names.contains(&s.asset)) {
        let what = format!("{} {:?}", sig.asset, sig.quantity);
        let stale_after_s = ingestor.stale_after_s(i);
        match ingestor.last_received_s(i) {
            None => problems.push(format!("{what} is stale (nothing received from {})", sig.id)),
            Some(last) if ingestor.is_stale(i, now_unix) => {
                let age = now_unix - last;
                problems
                    .push(format!("{what} is stale (last sample {age:.0} s ago, stale after {stale_after_s:.0} s)"));
            }
            Some(_) => {
                // The newest reading's event time: as old as the stale time, the allowed lateness and the span
                // live samples may wait to be drained allow, no older.
                let limit = stale_after_s + ingestor.settings().allowed_lateness_s + telemetry.receive_lag_s();
                let newest = index
                    .get(&sig.asset)
                    .and_then(|&e| world.get::<Measurements>(e))
                    .and_then(|m| m.0.get(&sig.quantity))
                    .map(|m| clock.now_s - m.event_s);
                match newest {
                    None => problems.push(format!("{what} is stale (no reading applied yet)")),
                    Some(age) if age > limit => problems.push(format!(
                        "{what} is stale (its newest reading is {age:.0} s old, more than {limit:.0} s)"
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    let alarms = world.get_resource::<Assimilation>().map(|a| a.alarms.clone()).unwrap_or_default();
    for (&a, name) in assets.iter().zip(&names) {
        for al in alarms.iter().filter(|al| &al.asset == name && al.cleared_s.is_none()) {
            problems.push(format!("{name} {:?} is in drift alarm ({:?})", al.quantity, al.cause));
        }
        if let Some(ConfigStatus::Mismatch(what)) = world.get::<Configuration>(a).map(Configuration::status) {
            problems.push(format!("{name} configuration mismatch: {what}"));
        }
    }
    problems
}
