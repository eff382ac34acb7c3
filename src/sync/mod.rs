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
use std::time::Instant;

use bevy::prelude::*;
use serde::Serialize;

mod drift;
mod level;
pub mod performance;
mod queue;
mod report;
pub mod setpoints;
mod train;

use drift::Monitor;
pub(crate) use drift::quantity_name;
pub use drift::{DriftAlarm, PredictionError, Scored};
use level::LevelFilter;
pub use queue::{AssimilationCounters, Revision};
use queue::{Queued, queue_samples};
pub use report::{CalibrationReport, SyncReport};
pub use setpoints::{LiveSetpoint, SetpointReported, Setpoints};
pub use train::Recalibration;
use twin_models::calibration::{Estimate, Factors, Observation, Param};
use twin_models::drift::{
    AlarmKind, Cause, DriftConfig, MonitorStatus, ResidualMonitor, SignalKind, SignalView, classify,
};

use crate::ingest::SampleApplied;

use crate::twin::simulate::{Branch, Corrector, SimulatePlugin, Slot, Topology};

use crate::twin::{SimClock, TwinSystems};

use crate::units::Quantity;

/// Model steps between two looks at the calibrators' estimates (at a 1 s step: hourly).
const RECALIBRATION_EVERY_STEPS: u64 = 3600;

/// What a checkpoint from before sliced steps restores: its last step was whole.
fn all_propagated() -> usize {
    usize::MAX
}

/// The assimilation: the event-time queue, the estimators and the scores.
#[derive(Resource, Clone, serde::Serialize, serde::Deserialize)]
pub struct Assimilation {
    lateness_s: f64,
    /// How much longer live samples may take to be drained, s (set each tick from ingestion).
    receive_lag_s: f64,
    /// Samples by (step, arrival).
    queue: BTreeMap<(u64, u64), Queued>,
    arrivals: u64,
    /// Steps the assimilated branch has taken.
    assimilated_steps: u64,
    /// Pump trains whose estimators were propagated over that step (all of them, but in a sliced live step).
    #[serde(default = "all_propagated")]
    propagated: usize,
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
    #[serde(skip)]
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
            propagated: usize::MAX,
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

    /// After the assimilated branch `b` took a step: propagates the estimators and applies every sample of that
    /// step, until `deadline` if there is one (false when it stopped there; called again for the same step, it
    /// goes on with the samples left).
    pub fn correct(&mut self, topo: &Topology, b: &mut Branch, dt_s: f64, deadline: Option<Instant>) -> bool {
        let t_s = b.steps as f64 * dt_s;
        if self.assimilated_steps != b.steps {
            self.assimilated_steps = b.steps;
            self.propagated = 0;
            for slot in &topo.tanks {
                let q = self.level_q(slot.params.inflow_m3h, slot.params.area_m2);
                self.levels.entry(slot.entity).or_default().var_m2 += q * dt_s;
            }
        }
        let cycle = b.env.ambient_cycle_c(t_s - dt_s);
        while let Some(slot) = topo.pumps.get(self.propagated) {
            let i = self.propagated;
            if let Some(ts) = self.trains.get_mut(&slot.entity) {
                ts.after_step(&slot.model, &b.pumps[i].1, &b.inputs[i], cycle, dt_s);
            }
            self.propagated += 1;
            if self.propagated.is_multiple_of(256) && deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
        let mut taken = 0u32;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > b.steps {
                break;
            }
            // The clock is read once every 64 samples (a sample takes about a µs).
            taken += 1;
            if taken.is_multiple_of(64) && deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            let s = entry.remove();
            self.apply(topo, b, s, t_s);
        }
        if b.steps.is_multiple_of(RECALIBRATION_EVERY_STEPS) {
            self.recalibrate(topo, t_s);
        }
        true
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

    /// The calibration state of a pump: (model version, applied factors, current estimates).
    pub fn calibration(&self, pump: Entity) -> Option<(u32, Factors<f64>, Factors<Estimate>)> {
        self.trains.get(&pump).map(|t| (t.version, t.applied, t.calibrator.estimates()))
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

impl Corrector for Assimilation {
    /// The allowed lateness, and for live telemetry the span its next drain may reach back (see
    /// [`crate::ingest::Telemetry::receive_lag_s`]).
    fn lateness_steps(&self, dt_s: f64) -> u64 {
        ((self.lateness_s + self.receive_lag_s) / dt_s).ceil().max(0.0) as u64
    }

    fn correct(&mut self, topo: &Topology, branch: &mut Branch, dt_s: f64, deadline: Option<Instant>) -> bool {
        Assimilation::correct(self, topo, branch, dt_s, deadline)
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
                uncertain: false,
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

    #[test]
    fn every_assets_confidence_in_one_pass_is_the_one_asked_asset_by_asset() {
        let mut a = Assimilation::new(5.0, 0.0);
        let (motor, pump, tank) =
            (Entity::from_raw_u32(1).unwrap(), Entity::from_raw_u32(2).unwrap(), Entity::from_raw_u32(3).unwrap());
        for (e, name) in [(motor, "M-1"), (pump, "P-1"), (tank, "T-1")] {
            a.names.insert(e, name.into());
        }
        // The pump's flow and the motor's temperature in its train; the flow goes wrong half-way.
        for i in 0..600 {
            let t = f64::from(i);
            let flow = if i < 300 { 250.0 } else { 150.0 };
            a.score(queue::Queued { asset: pump, quantity: Quantity::Flow, value: flow }, 250.0, t, pump);
            a.score(queue::Queued { asset: motor, quantity: Quantity::WindingTemperature, value: 80.0 }, 80.0, t, pump);
        }
        let all = a.confidences();
        for e in [motor, pump, tank] {
            assert_eq!(all[&e], a.confidence(e), "{e:?}");
        }
        assert!(all[&pump] < 1.0, "the flow's drift lowers the pump's confidence: {all:?}");
        assert_eq!(all[&tank], 1.0, "no monitor of the tank");
    }
}
