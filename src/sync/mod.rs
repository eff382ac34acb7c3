//! Synchronization: keeps the twin's model in step with the plant. Samples are queued by event time and applied
//! to the assimilated branch of the models (see [`crate::twin::simulate`]) at the end of the model step their
//! event time falls in; each application corrects the estimated state and scores the model's prediction.
//!
//! Event time: a sample is applied at model step `k = ceil(event / step)`, whenever it arrived, as long as the
//! assimilated branch has not passed step `k` yet (it trails the clock by the allowed lateness). A sample that
//! arrives after the clock's time passed its event time revises what the twin showed for `[event, arrival]`;
//! those spans are kept for plots and reports. One that arrives after the horizon passed it cannot be applied and
//! is counted `too_late`.

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;

use crate::ingest::SampleApplied;
use crate::twin::simulate::{Branch, Topology};
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
    fn add(&mut self, residual: f64) {
        self.samples += 1;
        let n = self.samples as f64;
        self.mean += (residual - self.mean) / n;
        self.sum_sq += residual * residual;
        self.rms = (self.sum_sq / n).sqrt();
    }
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

/// The assimilation: the event-time queue, the estimators and the scores.
#[derive(Resource)]
pub struct Assimilation {
    lateness_s: f64,
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
    levels: BTreeMap<Entity, LevelFilter>,
    inflow_noise: f64,
}

impl Assimilation {
    /// An empty assimilation for samples up to `lateness_s` late; `inflow_noise` is the scenario's relative
    /// inflow fluctuation (it sets how fast a tank's level estimate loses confidence between samples).
    pub fn new(lateness_s: f64, inflow_noise: f64) -> Self {
        Self {
            lateness_s,
            queue: BTreeMap::new(),
            arrivals: 0,
            assimilated_steps: 0,
            counters: AssimilationCounters::default(),
            revisions: Vec::new(),
            errors: BTreeMap::new(),
            levels: BTreeMap::new(),
            inflow_noise,
        }
    }

    /// The lag of the assimilated branch behind the clock, in whole steps of `dt_s`.
    pub fn lateness_steps(&self, dt_s: f64) -> u64 {
        (self.lateness_s / dt_s).ceil().max(0.0) as u64
    }

    /// Queues one sample applied by ingestion; `now_s` is the clock's time, `dt_s` the model step.
    fn queue(&mut self, s: &SampleApplied, now_s: f64, dt_s: f64) {
        let e = s.measured.event_s;
        let step = (e / dt_s).ceil();
        if !(step.is_finite() && step as u64 > self.assimilated_steps) {
            self.counters.too_late += 1;
            return;
        }
        if e < now_s {
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

    /// Applies every sample of the step the assimilated branch `b` just took.
    pub fn correct(&mut self, topo: &Topology, b: &mut Branch, dt_s: f64) {
        self.assimilated_steps = b.steps;
        for slot in &topo.tanks {
            let q = self.level_q(slot.params.inflow_m3h, slot.params.area_m2);
            self.levels.entry(slot.entity).or_default().var_m2 += q * dt_s;
        }
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > b.steps {
                break;
            }
            let s = entry.remove();
            self.apply(topo, b, s);
        }
    }

    /// Variance growth of a tank's level estimate, m²/s: the inflow's relative fluctuation σ (correlated over
    /// 600 s) makes the level drift at σ Q_in / A; treated as a random walk of that rate over the correlation time.
    fn level_q(&self, inflow_m3h: f64, area_m2: f64) -> f64 {
        let rate = self.inflow_noise * inflow_m3h / 3600.0 / area_m2.max(1e-9);
        rate * rate * crate::twin::CORRELATION_S
    }

    fn apply(&mut self, topo: &Topology, b: &mut Branch, s: Queued) {
        if let Some(i) = topo.tanks.iter().position(|t| t.entity == s.asset) {
            if s.quantity != Quantity::TankLevel {
                self.counters.unmodelled += 1;
                return;
            }
            let level = &mut b.tanks[i].level_m;
            self.errors.entry((s.asset, s.quantity)).or_default().add(s.value - *level);
            let f = self.levels.entry(s.asset).or_default();
            let r = LEVEL_SENSOR_STD_M * LEVEL_SENSOR_STD_M;
            let k = f.var_m2 / (f.var_m2 + r);
            *level += k * (s.value - *level);
            f.var_m2 *= 1.0 - k;
            self.counters.applied += 1;
            return;
        }
        let Some(p) = topo.pumps.iter().position(|p| p.entity == s.asset || p.motor == s.asset) else {
            self.counters.unmodelled += 1;
            return;
        };
        let (state, out) = &b.pumps[p];
        let predicted = match s.quantity {
            Quantity::Flow => out.flow_m3h,
            Quantity::VibrationVelocityRms => out.vib_rms_mm_s,
            Quantity::VibrationVelocityPeak => out.vib_peak_mm_s,
            Quantity::VibrationCrestFactor => out.crest_factor,
            Quantity::MotorCurrent => out.motor_current_a,
            Quantity::WindingTemperature => state.winding_temp_c,
            Quantity::BearingTemperature => state.bearing_temp_c,
            Quantity::Speed => state.speed_rpm,
            Quantity::TankLevel => {
                self.counters.unmodelled += 1;
                return;
            }
        };
        self.errors.entry((s.asset, s.quantity)).or_default().add(s.value - predicted);
        self.counters.applied += 1;
    }

    /// Standard deviation of a tank's level estimate at the horizon, m (`None` before its first step).
    pub fn level_std_m(&self, tank: Entity) -> Option<f64> {
        self.levels.get(&tank).map(|f| f.var_m2.sqrt())
    }
}

/// The synchronization part of a run's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Samples applied, too late, unmodelled.
    pub assimilation: AssimilationCounters,
    /// Spans of simulated time whose shown values a late sample revised.
    pub revisions: Vec<Revision>,
    /// Measured minus predicted (before correction), per "asset.quantity".
    pub prediction_error: BTreeMap<String, PredictionError>,
}

impl SyncReport {
    /// The report of the twin in `world`.
    pub fn of(world: &World) -> Self {
        let Some(a) = world.get_resource::<Assimilation>() else { return Self::default() };
        let ids: BTreeMap<Entity, &str> = world
            .get_resource::<crate::twin::AssetIndex>()
            .map(|i| i.0.iter().map(|(id, e)| (*e, id.as_str())).collect())
            .unwrap_or_default();
        let prediction_error = a
            .errors
            .iter()
            .map(|((e, q), err)| (format!("{}.{q:?}", ids.get(e).copied().unwrap_or("?")), *err))
            .collect();
        Self { assimilation: a.counters, revisions: a.revisions.clone(), prediction_error }
    }
}

/// Queues this tick's applied samples for the assimilated branch.
fn queue_samples(mut samples: MessageReader<SampleApplied>, mut a: ResMut<Assimilation>, clock: Res<SimClock>) {
    for s in samples.read() {
        a.queue(s, clock.now_s, clock.step_s);
    }
}

/// Installs the assimilation (before the Simulate stage steps the branches).
pub struct SyncPlugin {
    /// Allowed lateness of samples, s.
    pub lateness_s: f64,
    /// The scenario's relative inflow fluctuation.
    pub inflow_noise: f64,
}

impl Plugin for SyncPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Assimilation::new(self.lateness_s, self.inflow_noise))
            .add_systems(Update, queue_samples.in_set(TwinSystems::Assimilate));
    }
}
