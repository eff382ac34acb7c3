//! Synchronization: keeps the twin's model in step with the plant. Samples are queued by event time and applied
//! to the assimilated branch of the models (see [`crate::twin::simulate`]) at the end of the model step their
//! event time falls in; each application scores the model's prediction (prediction error, a residual monitor
//! per signal that raises drift alarms with their likely cause), corrects the estimated state (thermal and level
//! Kalman filters) and feeds the calibrators, whose settled estimates become recalibration proposals (applied
//! when the scenario allows it, as a new model version).
//!
//! Event time: a sample is applied at model step `k = ceil(event / step)`, whenever it arrived, as long as the
//! assimilated branch has not passed step `k` yet (it trails the clock by the allowed lateness). A sample that
//! arrives after the clock's time passed its event time revises what the twin showed for `[event, arrival]`;
//! those spans are kept for plots and reports. One that arrives after the horizon passed it cannot be applied and
//! is counted `too_late`.

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;

pub mod performance;
pub mod setpoints;
mod train;

pub use setpoints::{Draft, DraftState, SetpointReported, Setpoints};
pub use train::Recalibration;
use twin_models::calibration::{Estimate, Factors, Observation, Param};
use twin_models::drift::{
    AlarmKind, Cause, DriftConfig, MonitorStatus, ResidualMonitor, SignalKind, SignalView, classify,
};

use crate::ingest::SampleApplied;
use crate::twin::simulate::{Branch, Corrector, SimulatePlugin, Slot, Topology};
use crate::twin::{SimClock, TwinSystems};
use crate::units::Quantity;

/// A sample waiting for the assimilated branch to reach its step.
#[derive(Debug, Clone, Copy)]
struct Queued {
    asset: Entity,
    quantity: Quantity,
    value: f64,
}

/// A span of simulated time whose shown values were revised by a late sample, s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Revision {
    /// Event time of the earliest late sample, s.
    pub from_s: f64,
    /// The clock's time when it arrived, s.
    pub to_s: f64,
}

/// How the model's predictions compare with the measurements, per signal (asset, quantity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PredictionError {
    /// Samples scored.
    pub samples: u64,
    /// Mean of measured - predicted, in the quantity's canonical unit.
    pub mean: f64,
    /// Root mean square of measured - predicted, canonical unit.
    pub rms: f64,
    #[serde(skip)]
    sum_sq: f64,
}

impl PredictionError {
    /// Sum of the squared residuals so far, canonical unit squared.
    pub fn sum_sq(&self) -> f64 {
        self.sum_sq
    }

    fn add(&mut self, residual: f64) {
        self.samples += 1;
        let n = self.samples as f64;
        self.mean += (residual - self.mean) / n;
        self.sum_sq += residual * residual;
        self.rms = (self.sum_sq / n).sqrt();
    }
}

/// One sample next to the model's prediction for it (before the correction), canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scored {
    /// Event time the sample was applied at, s.
    pub t_s: f64,
    /// The measured value.
    pub measured: f64,
    /// The model's prediction of it.
    pub predicted: f64,
}

/// Counters of the assimilation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AssimilationCounters {
    /// Samples applied to the assimilated state.
    pub applied: u64,
    /// Samples whose step the assimilated branch had already passed (later than the allowed lateness).
    pub too_late: u64,
    /// Samples of a quantity the asset's model does not predict.
    pub unmodelled: u64,
}

/// Kalman filter of one tank's level: a random walk driven by the inflow's fluctuation, corrected by the level
/// sensor.
#[derive(Debug, Clone, Copy, Default)]
struct LevelFilter {
    /// Variance of the level estimate, m².
    var_m2: f64,
}

/// Level sensor noise (the virtual plant's, and a typical radar gauge's), m.
const LEVEL_SENSOR_STD_M: f64 = 0.005;
/// Model steps between two looks at the calibrators' estimates (at a 1 s step: hourly).
const RECALIBRATION_EVERY_STEPS: u64 = 3600;

/// The residual monitor of one signal (asset, quantity).
struct Monitor {
    monitor: ResidualMonitor,
    /// "asset quantity", for alarms.
    name: String,
    kind: SignalKind,
    /// The pump train (pump entity) or tank the signal belongs to, to find its coupled neighbours.
    group: Entity,
    status: MonitorStatus,
}

/// A drift alarm: a signal's residual changed (or its sensor is stuck), with the likely cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftAlarm {
    /// The asset the signal belongs to.
    pub asset: String,
    /// What the signal measures.
    pub quantity: Quantity,
    /// Shift up or down, or flatline.
    pub kind: AlarmKind,
    /// Simulated time the alarm was raised, s.
    pub raised_s: f64,
    /// When it cleared, if it did, s.
    pub cleared_s: Option<f64>,
    /// Likely cause (re-judged while the alarm is active, as coupled signals react).
    pub cause: Cause,
    /// Why, for an operator.
    pub reason: String,
}

/// The assimilation: the event-time queue, the estimators and the scores.
#[derive(Resource)]
pub struct Assimilation {
    lateness_s: f64,
    /// How much longer live samples may take to be drained, s (set each tick from ingestion).
    receive_lag_s: f64,
    /// Samples by (step, arrival).
    queue: BTreeMap<(u64, u64), Queued>,
    arrivals: u64,
    /// Steps the assimilated branch has taken.
    assimilated_steps: u64,
    /// Counters.
    pub counters: AssimilationCounters,
    /// Revised spans, merged when they overlap, oldest first.
    pub revisions: Vec<Revision>,
    /// Prediction error per asset entity and quantity.
    pub errors: BTreeMap<(Entity, Quantity), PredictionError>,
    /// The latest scored sample per asset entity and quantity (what the workbench plots against its prediction).
    pub last_scored: BTreeMap<(Entity, Quantity), Scored>,
    levels: BTreeMap<Entity, LevelFilter>,
    inflow_noise: f64,
    /// Asset ids by entity.
    names: BTreeMap<Entity, String>,
    /// Estimators per pump entity, created with the train's first sample.
    trains: BTreeMap<Entity, train::TrainSync>,
    monitors: BTreeMap<(Entity, Quantity), Monitor>,
    drift: DriftConfig,
    auto_recalibrate: bool,
    /// Every drift alarm raised, in order.
    pub alarms: Vec<DriftAlarm>,
    /// Every recalibration proposed or applied, in order.
    pub recalibrations: Vec<train::Recalibration>,
    /// New models waiting to replace a pump's (applied recalibrations).
    model_updates: Vec<(Entity, std::sync::Arc<twin_models::PumpTrain>)>,
}

impl Assimilation {
    /// An empty assimilation for samples up to `lateness_s` late; `inflow_noise` is the scenario's relative
    /// inflow fluctuation (it sets how fast a tank's level estimate loses confidence between samples).
    pub fn new(lateness_s: f64, inflow_noise: f64) -> Self {
        Self {
            lateness_s,
            receive_lag_s: 0.0,
            queue: BTreeMap::new(),
            arrivals: 0,
            assimilated_steps: 0,
            counters: AssimilationCounters::default(),
            revisions: Vec::new(),
            errors: BTreeMap::new(),
            last_scored: BTreeMap::new(),
            levels: BTreeMap::new(),
            inflow_noise,
            names: BTreeMap::new(),
            trains: BTreeMap::new(),
            monitors: BTreeMap::new(),
            drift: DriftConfig::default(),
            auto_recalibrate: false,
            alarms: Vec::new(),
            recalibrations: Vec::new(),
            model_updates: Vec::new(),
        }
    }

    /// Queues one sample applied by ingestion; `now_s` is the clock's time, `dt_s` the model step.
    fn queue(&mut self, s: &SampleApplied, now_s: f64, dt_s: f64) {
        let e = s.measured.event_s;
        let step = (e / dt_s).ceil();
        if !(step.is_finite() && step as u64 > self.assimilated_steps) {
            self.counters.too_late += 1;
            return;
        }
        // Shown without it: its time had passed on the clock, and it came later than its source's normal delivery
        // allows (a live message that waited for the next tick is not late, only quantised to the frame).
        if e < now_s.min(s.measured.received_from_s) {
            match self.revisions.last_mut() {
                Some(r) if e <= r.to_s => {
                    r.from_s = r.from_s.min(e);
                    r.to_s = r.to_s.max(now_s);
                }
                _ => self.revisions.push(Revision { from_s: e, to_s: now_s }),
            }
        }
        self.arrivals += 1;
        self.queue.insert(
            (step as u64, self.arrivals),
            Queued { asset: s.asset, quantity: s.quantity, value: s.measured.value },
        );
    }

    /// After the assimilated branch `b` took a step: propagates the estimators and applies every sample of that
    /// step.
    pub fn correct(&mut self, topo: &Topology, b: &mut Branch, dt_s: f64) {
        self.assimilated_steps = b.steps;
        let t_s = b.steps as f64 * dt_s;
        for slot in &topo.tanks {
            let q = self.level_q(slot.params.inflow_m3h, slot.params.area_m2);
            self.levels.entry(slot.entity).or_default().var_m2 += q * dt_s;
        }
        let cycle = b.env.ambient_cycle_c(t_s - dt_s);
        for (i, slot) in topo.pumps.iter().enumerate() {
            if let Some(ts) = self.trains.get_mut(&slot.entity) {
                ts.after_step(&slot.model, &b.pumps[i].1, &b.inputs[i], cycle, dt_s);
            }
        }
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > b.steps {
                break;
            }
            let s = entry.remove();
            self.apply(topo, b, s, t_s);
        }
        if b.steps.is_multiple_of(RECALIBRATION_EVERY_STEPS) {
            self.recalibrate(topo, t_s);
        }
    }

    /// Variance growth of a tank's level estimate, m²/s: the inflow's relative fluctuation σ (correlated over
    /// 600 s) makes the level drift at σ Q_in / A; treated as a random walk of that rate over the correlation time.
    fn level_q(&self, inflow_m3h: f64, area_m2: f64) -> f64 {
        let rate = self.inflow_noise * inflow_m3h / 3600.0 / area_m2.max(1e-9);
        rate * rate * crate::twin::CORRELATION_S
    }

    fn apply(&mut self, topo: &Topology, b: &mut Branch, s: Queued, t_s: f64) {
        let p = match topo.slot(s.asset) {
            Some(Slot::Train(p)) => p,
            Some(Slot::Tank(i)) => return self.apply_level(b, i, s, t_s),
            None => {
                self.counters.unmodelled += 1;
                return;
            }
        };
        let (state, out) = &mut b.pumps[p];
        let (predicted, observation) = match s.quantity {
            Quantity::Flow => (out.flow_m3h, Some(Observation::Flow { m3h: s.value })),
            Quantity::VibrationVelocityRms => (out.vib_rms_mm_s, Some(Observation::VibrationRms { mm_s: s.value })),
            Quantity::VibrationVelocityPeak => (out.vib_peak_mm_s, None),
            Quantity::VibrationCrestFactor => (out.crest_factor, None),
            Quantity::MotorCurrent => (out.motor_current_a, None),
            Quantity::WindingTemperature => (state.winding_temp_c, Some(Observation::WindingTemp { c: s.value })),
            Quantity::BearingTemperature => (state.bearing_temp_c, None),
            Quantity::Speed => (state.speed_rpm, None),
            Quantity::TankLevel => {
                self.counters.unmodelled += 1;
                return;
            }
        };
        let slot = &topo.pumps[p];
        self.score(s, predicted, t_s, slot.entity);
        if let Some(o) = observation {
            if !self.trains.contains_key(&slot.entity)
                && let Some(ts) = train::TrainSync::new(&slot.model, state)
            {
                self.trains.insert(slot.entity, ts);
            }
            if let Some(ts) = self.trains.get_mut(&slot.entity) {
                ts.observe(state, o);
                b.ambient_offset_k[p] = ts.observer.ambient_offset_c();
            }
        }
        self.counters.applied += 1;
    }

    /// Applies a sample of tank `i`: its level filter's correction.
    fn apply_level(&mut self, b: &mut Branch, i: usize, s: Queued, t_s: f64) {
        if s.quantity != Quantity::TankLevel {
            self.counters.unmodelled += 1;
            return;
        }
        let level = &mut b.tanks[i].level_m;
        let predicted = *level;
        self.score(s, predicted, t_s, s.asset);
        let f = self.levels.entry(s.asset).or_default();
        let r = LEVEL_SENSOR_STD_M * LEVEL_SENSOR_STD_M;
        let k = f.var_m2 / (f.var_m2 + r);
        *level += k * (s.value - *level);
        f.var_m2 *= 1.0 - k;
        self.counters.applied += 1;
    }

    /// Scores a sample against the prediction and runs its residual monitor; `group` is its pump train or tank.
    fn score(&mut self, s: Queued, predicted: f64, t_s: f64, group: Entity) {
        self.errors.entry((s.asset, s.quantity)).or_default().add(s.value - predicted);
        self.last_scored.insert((s.asset, s.quantity), Scored { t_s, measured: s.value, predicted });
        let kind = signal_kind(s.quantity);
        let sigma = kind.noise_sigma(s.value);
        if !sigma.is_finite() {
            return;
        }
        let key = (s.asset, s.quantity);
        if !self.monitors.contains_key(&key) {
            let Ok(monitor) = ResidualMonitor::new(self.drift) else { return };
            let name =
                format!("{} {}", self.names.get(&s.asset).map_or("?", String::as_str), quantity_name(s.quantity));
            self.monitors.insert(key, Monitor { monitor, name, kind, group, status: MonitorStatus::default() });
        }
        let Some(m) = self.monitors.get_mut(&key) else { return };
        let before = m.status.alarm;
        m.status = m.monitor.update(t_s, s.value, predicted, sigma);
        let after = m.status.alarm;
        if before == after {
            return;
        }
        let asset = self.names.get(&s.asset).cloned().unwrap_or_default();
        if before.is_some()
            && let Some(a) = self.alarms.iter_mut().rev().find(|a| a.asset == asset && a.quantity == s.quantity)
        {
            a.cleared_s = Some(t_s);
        }
        if let Some(kind) = after {
            self.alarms.push(DriftAlarm {
                asset,
                quantity: s.quantity,
                kind,
                raised_s: t_s,
                cleared_s: None,
                cause: Cause::Unknown,
                reason: String::new(),
            });
        }
        self.freeze_calibration(s.asset, s.quantity, after.is_some());
        self.classify_active(group);
    }

    /// Stops (or resumes) estimating the parameter a signal informs while it is in alarm: a defect must not be
    /// absorbed into the calibration.
    fn freeze_calibration(&mut self, asset: Entity, q: Quantity, frozen: bool) {
        let param = match q {
            Quantity::Flow => Param::Head,
            Quantity::VibrationVelocityRms | Quantity::VibrationVelocityPeak | Quantity::VibrationCrestFactor => {
                Param::Unbalance
            }
            Quantity::WindingTemperature => Param::FrameAmbient,
            _ => return,
        };
        if let Some(ts) = self.monitors.get(&(asset, q)).and_then(|m| self.trains.get_mut(&m.group)) {
            ts.calibrator.freeze(param, frozen);
        }
    }

    /// Re-judges the cause of every active alarm of one pump train or tank from its coupled signals.
    fn classify_active(&mut self, group: Entity) {
        let views: Vec<(Entity, Quantity, String, SignalKind, MonitorStatus)> = self
            .monitors
            .iter()
            .filter(|(_, m)| m.group == group)
            .map(|(&(e, q), m)| (e, q, m.name.clone(), m.kind, m.status))
            .collect();
        for (e, q, name, kind, status) in &views {
            if status.alarm.is_none() {
                continue;
            }
            let me = SignalView { name, kind: *kind, status: *status };
            let others: Vec<SignalView<'_>> = views
                .iter()
                .filter(|(e2, q2, ..)| (e2, q2) != (e, q))
                .map(|(_, _, n, k, st)| SignalView { name: n, kind: *k, status: *st })
                .collect();
            let d = classify(&me, &others);
            let asset = self.names.get(e).cloned().unwrap_or_default();
            if let Some(a) =
                self.alarms.iter_mut().rev().find(|a| a.asset == asset && a.quantity == *q && a.cleared_s.is_none())
            {
                a.cause = d.cause;
                a.reason = d.reason;
            }
        }
    }

    /// Looks at every calibrator's estimates: proposes a new model version where they moved, and applies it when
    /// the scenario allows automatic recalibration.
    fn recalibrate(&mut self, topo: &Topology, t_s: f64) {
        for slot in &topo.pumps {
            let Some(ts) = self.trains.get_mut(&slot.entity) else { continue };
            let asset = self.names.get(&slot.entity).cloned().unwrap_or_default();
            let Some(mut proposal) = ts.proposal(&asset, t_s) else { continue };
            if self.auto_recalibrate {
                let model = ts.recalibrated();
                proposal.applied = true;
                self.model_updates.push((slot.entity, std::sync::Arc::new(model)));
                // The model changed on purpose: its residuals have a new normal.
                for m in self.monitors.values_mut().filter(|m| m.group == slot.entity) {
                    m.monitor.rebaseline();
                }
            }
            // A standing proposal is recorded once per version.
            let seen = self.recalibrations.iter().any(|r| r.asset == asset && r.version == proposal.version);
            if !seen || proposal.applied {
                self.recalibrations.retain(|r| !(r.asset == asset && r.version == proposal.version && !r.applied));
                self.recalibrations.push(proposal);
            }
        }
    }

    /// Standard deviation of a tank's level estimate at the horizon, m (`None` before its first step).
    pub fn level_std_m(&self, tank: Entity) -> Option<f64> {
        self.levels.get(&tank).map(|f| f.var_m2.sqrt())
    }

    /// The calibration state of a pump: (model version, applied factors, current estimates).
    pub fn calibration(&self, pump: Entity) -> Option<(u32, Factors<f64>, Factors<Estimate>)> {
        self.trains.get(&pump).map(|t| (t.version, t.applied, t.calibrator.estimates()))
    }

    /// Confidence of an asset's readings, 0..1: the lowest of its signals' monitors (1 without monitors).
    pub fn confidence(&self, asset: Entity) -> f64 {
        self.monitors.iter().filter(|((e, _), m)| *e == asset || m.group == asset).fold(1.0, |c, (_, m)| {
            c.min(if m.status.warmed_up || m.status.alarm.is_some() { m.status.confidence } else { 1.0 })
        })
    }
}

/// The drift detector's kind for a quantity.
fn signal_kind(q: Quantity) -> SignalKind {
    match q {
        Quantity::Flow => SignalKind::Flow,
        Quantity::MotorCurrent => SignalKind::MotorCurrent,
        Quantity::TankLevel => SignalKind::TankLevel,
        Quantity::WindingTemperature => SignalKind::WindingTemperature,
        Quantity::VibrationVelocityRms => SignalKind::VibrationRms,
        Quantity::VibrationVelocityPeak => SignalKind::VibrationPeak,
        Quantity::VibrationCrestFactor => SignalKind::CrestFactor,
        Quantity::BearingTemperature | Quantity::Speed => SignalKind::Other,
    }
}

/// A quantity in words.
pub(crate) fn quantity_name(q: Quantity) -> &'static str {
    match q {
        Quantity::Flow => "flow",
        Quantity::MotorCurrent => "motor current",
        Quantity::TankLevel => "tank level",
        Quantity::WindingTemperature => "winding temperature",
        Quantity::BearingTemperature => "bearing temperature",
        Quantity::VibrationVelocityRms => "vibration RMS",
        Quantity::VibrationVelocityPeak => "vibration peak",
        Quantity::VibrationCrestFactor => "crest factor",
        Quantity::Speed => "speed",
    }
}

/// Replaces the models of pumps whose recalibration was applied.
pub fn apply_model_updates(mut a: ResMut<Assimilation>, mut pumps: Query<&mut crate::twin::pump::PumpModel>) {
    for (e, model) in a.model_updates.drain(..) {
        if let Ok(mut m) = pumps.get_mut(e) {
            m.0 = model;
        }
    }
}

/// One pump's calibration in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Model version (1 = nominal; each applied recalibration adds one).
    pub version: u32,
    /// Factors (true / nominal) in the model now.
    pub applied: Factors<f64>,
    /// The calibrator's present estimates, with standard deviations and samples used.
    pub estimates: Factors<Estimate>,
}

/// The synchronization part of a run's report (the assessment's report adds to it).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Samples applied, too late, unmodelled.
    pub assimilation: AssimilationCounters,
    /// Spans of simulated time whose shown values a late sample revised.
    pub revisions: Vec<Revision>,
    /// Measured minus predicted (before correction), per "asset.quantity".
    pub prediction_error: BTreeMap<String, PredictionError>,
    /// Every drift alarm, with its likely cause.
    pub alarms: Vec<DriftAlarm>,
    /// Recalibrations proposed and applied.
    pub recalibrations: Vec<Recalibration>,
    /// Calibration of every pump that received telemetry, by asset id.
    pub calibration: BTreeMap<String, CalibrationReport>,
    /// Confidence of each asset's readings at the end, 0..1 (falls as its residuals grow).
    pub confidence: BTreeMap<String, f64>,
}

impl SyncReport {
    /// The report of the twin in `world`.
    pub fn of(world: &World) -> Self {
        let Some(a) = world.get_resource::<Assimilation>() else { return Self::default() };
        let id = |e: &Entity| a.names.get(e).cloned().unwrap_or_else(|| "?".into());
        let prediction_error = a.errors.iter().map(|((e, q), err)| (format!("{}.{q:?}", id(e)), *err)).collect();
        let calibration = a
            .trains
            .keys()
            .filter_map(|e| {
                let (version, applied, estimates) = a.calibration(*e)?;
                Some((id(e), CalibrationReport { version, applied, estimates }))
            })
            .collect();
        let confidence = a.names.iter().map(|(e, name)| (name.clone(), a.confidence(*e))).collect();
        Self {
            assimilation: a.counters,
            revisions: a.revisions.clone(),
            prediction_error,
            alarms: a.alarms.clone(),
            recalibrations: a.recalibrations.clone(),
            calibration,
            confidence,
        }
    }
}

impl Corrector for Assimilation {
    /// The allowed lateness, and for live telemetry the span its next drain may reach back (see
    /// [`crate::ingest::Telemetry::receive_lag_s`]).
    fn lateness_steps(&self, dt_s: f64) -> u64 {
        ((self.lateness_s + self.receive_lag_s) / dt_s).ceil().max(0.0) as u64
    }

    fn correct(&mut self, topo: &Topology, branch: &mut Branch, dt_s: f64) {
        Assimilation::correct(self, topo, branch, dt_s);
    }
}

/// Queues this tick's applied samples for the assimilated branch, and takes the lag live telemetry needs.
fn queue_samples(
    mut samples: MessageReader<SampleApplied>,
    mut a: ResMut<Assimilation>,
    clock: Res<SimClock>,
    telemetry: Option<Res<crate::ingest::Telemetry>>,
) {
    a.receive_lag_s = telemetry.map_or(0.0, |t| t.receive_lag_s());
    for s in samples.read() {
        a.queue(s, clock.now_s, clock.step_s);
    }
}

/// Installs the assimilation and the model stepping it corrects; add it after the assets exist.
pub struct SyncPlugin {
    /// Allowed lateness of samples, s.
    pub lateness_s: f64,
    /// The scenario's relative inflow fluctuation.
    pub inflow_noise: f64,
    /// The scenario's synchronization settings.
    pub spec: crate::scenario::SyncSpec,
}

impl Plugin for SyncPlugin {
    fn build(&self, app: &mut App) {
        let mut a = Assimilation::new(self.lateness_s, self.inflow_noise);
        a.drift = self.spec.drift;
        a.auto_recalibrate = self.spec.auto_recalibrate;
        if let Some(index) = app.world().get_resource::<crate::twin::AssetIndex>() {
            a.names = index.0.iter().map(|(id, e)| (*e, id.clone())).collect();
        }
        app.add_plugins((setpoints::SetpointsPlugin, SimulatePlugin::<Assimilation>::default()))
            .insert_resource(a)
            .add_systems(Update, queue_samples.in_set(TwinSystems::Assimilate))
            .add_systems(Update, apply_model_updates.in_set(TwinSystems::Assess));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Measured;

    fn sample(event_s: f64, received_s: f64, received_from_s: f64) -> SampleApplied {
        SampleApplied {
            asset: Entity::PLACEHOLDER,
            signal: 0,
            quantity: Quantity::TankLevel,
            measured: Measured {
                value: 2.0,
                event_s,
                received_s,
                received_from_s,
                skewed_clock: false,
                reordered: false,
                stale: false,
            },
        }
    }

    #[test]
    fn only_samples_later_than_their_delivery_allows_revise_what_was_shown() {
        let mut a = Assimilation::new(5.0, 0.0);
        // Live, 15 s ticks: drained at t = 120, sent since the drain at 105: the tick quantised it, not late.
        a.queue(&sample(110.0, 120.0, 105.0), 120.0, 1.0);
        // Stamped by its source's own receive time, in the tick that covers it: on time.
        a.queue(&sample(121.0, 121.0, 121.0), 120.0, 1.0);
        assert!(a.revisions.is_empty(), "{:?}", a.revisions);
        // Sent before the previous drain, arriving only now: the twin showed 100..120 without it.
        a.queue(&sample(100.0, 120.0, 105.0), 120.0, 1.0);
        // Three seconds late by its own receive stamp (a replay).
        a.queue(&sample(130.0, 133.0, 133.0), 135.0, 1.0);
        let spans: Vec<(f64, f64)> = a.revisions.iter().map(|r| (r.from_s, r.to_s)).collect();
        assert_eq!(spans, [(100.0, 120.0), (130.0, 135.0)]);
    }
}
