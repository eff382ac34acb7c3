//! The Simulate stage: steps every asset model, pumps and their feed tanks coupled at every step (the pumps draw
//! on the level the tanks had at the start of the step), in two branches.
//!
//! - The **assimilated** branch lags the clock by the allowed lateness of telemetry. It advances only to the
//!   horizon `now - lateness`, and every sample whose event time falls within a step is applied at the end of
//!   that step by the state estimation that plugs into the stepping as its [`Corrector`] (the sync layer's). By the time the horizon passes an event time, every sample of that time
//!   that may still be accepted has arrived, so the assimilated state is the same whatever order the samples
//!   arrived in: a late sample changes the indices exactly as if it had come on time.
//! - The **predicted** branch is what the twin shows at the clock's time (`PumpState`, `PumpReadings`,
//!   `TankLevel`, `Environment`): each tick it is recomputed from the assimilated state, open loop, over the
//!   lateness. It is the checkpoint-and-replay of event-time processing, with the checkpoint always at the
//!   horizon.
//!
//! A live twin (real-time pacing) takes a step in slices of about [`LIVE_STEP_SLICE`] per tick, the clock
//! advancing when the step is whole: at plant scale the samples of one step take tens of ms to apply, and the
//! ticks in between drain the telemetry that arrived meanwhile instead of leaving it waiting. A twin that falls a
//! step behind the wall clock takes its steps whole again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::ecs::component::Mutable;
use bevy::prelude::*;
use twin_models::params::TankParams;
use twin_models::tank::TankState;
use twin_models::{PumpTrain, PumpTrainInputs, PumpTrainOutputs, PumpTrainState};

use super::coupling::{Station, step_station};
use super::pump::{Drive, Feed, PumpModel, PumpReadings, PumpState, SpeedSetpoint, inputs};
use super::tank::{TankLevel, TankModel};
use super::{ClockPacing, Environment, SimClock, TwinSystems};

/// One pump train as the stepping needs it.
pub struct PumpSlot {
    /// The pump's entity.
    pub entity: Entity,
    /// Its drive motor's entity.
    pub motor: Entity,
    /// Its model (the current calibration).
    pub model: Arc<PumpTrain>,
    /// Commanded speed, rpm.
    pub rpm: f64,
    /// Index of its feed tank in the tank table.
    pub feed: Option<usize>,
}

/// One tank as the stepping needs it.
pub struct TankSlot {
    /// The tank's entity.
    pub entity: Entity,
    /// Geometry and nominal inflow.
    pub params: TankParams,
}

/// Where an asset entity sits in the [`Topology`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A pump, or the motor driving it: the index of the pump train.
    Train(usize),
    /// The index of a tank.
    Tank(usize),
}

/// The plant's topology this tick: pumps and tanks in a fixed order.
#[derive(Default)]
pub struct Topology {
    pub pumps: Vec<PumpSlot>,
    pub tanks: Vec<TankSlot>,
    /// Every modelled entity's slot.
    pub slots: std::collections::HashMap<Entity, Slot>,
}

impl Topology {
    /// The slot of an asset entity, if it is modelled.
    pub fn slot(&self, e: Entity) -> Option<Slot> {
        self.slots.get(&e).copied()
    }
}

/// The state of every model at one time, in [`Topology`] order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Branch {
    /// Pump-train states and the outputs of their last step.
    pub pumps: Vec<(PumpTrainState, PumpTrainOutputs)>,
    /// Tank levels.
    pub tanks: Vec<TankState>,
    /// Boundary conditions.
    pub env: Environment,
    /// Model steps taken since t = 0.
    pub steps: u64,
    /// Estimated deviation of each pump's ambient from the environment's, K (the thermal filter's).
    pub ambient_offset_k: Vec<f64>,
    /// The inputs of each pump's last step.
    pub inputs: Vec<PumpTrainInputs>,
    /// Outflow per tank during the last step, m³/h (scratch).
    #[serde(skip)]
    draw: Vec<f64>,
    /// The correction of the last step is not finished (a live twin's step was cut into slices).
    #[serde(default)]
    pub correcting: bool,
}

impl Branch {
    /// Takes one model step of `dt_s` from `steps × dt_s` (the station's coupling, [`step_station`]).
    pub fn step(&mut self, topo: &Topology, dt_s: f64) {
        let ambient = self.env.ambient_c(self.steps as f64 * dt_s);
        self.ambient_offset_k.resize(self.pumps.len(), 0.0);
        self.inputs.resize(self.pumps.len(), inputs(0.0, None, ambient));
        let factor = self.env.inflow_factor();
        let mut station = BranchStation {
            topo,
            pumps: &mut self.pumps,
            tanks: &mut self.tanks,
            inputs: &mut self.inputs,
            ambient_offset_k: &self.ambient_offset_k,
            ambient_c: ambient,
        };
        step_station(&mut station, &mut self.draw, factor, dt_s);
        self.env.advance(dt_s);
        self.steps += 1;
    }
}

/// A branch's state over the topology, as the coupling steps it.
struct BranchStation<'a> {
    topo: &'a Topology,
    pumps: &'a mut [(PumpTrainState, PumpTrainOutputs)],
    tanks: &'a mut [TankState],
    inputs: &'a mut [PumpTrainInputs],
    ambient_offset_k: &'a [f64],
    /// The environment's ambient at the start of the step, °C.
    ambient_c: f64,
}

impl Station for BranchStation<'_> {
    fn pump_count(&self) -> usize {
        self.pumps.len()
    }

    fn feed(&self, pump: usize) -> Option<usize> {
        self.topo.pumps[pump].feed
    }

    fn level_m(&self, tank: usize) -> f64 {
        self.tanks[tank].level_m
    }

    fn step_pump(&mut self, pump: usize, feed_level_m: Option<f64>, dt_s: f64) -> f64 {
        let slot = &self.topo.pumps[pump];
        self.inputs[pump] = inputs(slot.rpm, feed_level_m, self.ambient_c + self.ambient_offset_k[pump]);
        let (state, out) = &mut self.pumps[pump];
        *out = slot.model.step(state, &self.inputs[pump], dt_s);
        out.flow_m3h
    }

    fn tank_count(&self) -> usize {
        self.tanks.len()
    }

    fn tank(&mut self, tank: usize) -> (&TankParams, &mut TankState) {
        (&self.topo.tanks[tank].params, &mut self.tanks[tank])
    }
}

/// What the stepping reads and writes of a pump entity.
type PumpItem = (Entity, &'static PumpModel, &'static mut PumpState, &'static mut PumpReadings, PumpInputs);
type PumpInputs = (&'static SpeedSetpoint, &'static Feed, &'static Drive);

/// What the stepping asks of the state estimation: how far the assimilated branch lags the clock, and the
/// correction of that branch after each of its steps. The layer that estimates provides it and registers
/// [`step_models`] with its type (see [`SimulatePlugin`]).
pub trait Corrector: Resource + Component<Mutability = Mutable> {
    /// The lag of the assimilated branch behind the clock, in whole steps of `dt_s`.
    fn lateness_steps(&self, dt_s: f64) -> u64;
    /// Corrects the assimilated branch `branch` with what was measured during the step it just took, until
    /// `deadline` if there is one: false when it stopped there with samples of the step left, to go on from
    /// where it stopped when called again for the same step.
    fn correct(&mut self, topo: &Topology, branch: &mut Branch, dt_s: f64, deadline: Option<Instant>) -> bool;
}

/// What makes the stepping's [`Topology`] out of date.
type TopologyChanged =
    Or<(Changed<PumpModel>, Changed<SpeedSetpoint>, Changed<Feed>, Changed<Drive>, Changed<TankModel>)>;

/// The plant's topology from the pump and tank entities.
fn rebuild_topology(topo: &mut Topology, pumps: &Query<PumpItem>, tanks: &Query<(Entity, &TankModel, &mut TankLevel)>) {
    topo.tanks.clear();
    topo.pumps.clear();
    topo.slots.clear();
    for (i, (entity, m, _)) in tanks.iter().enumerate() {
        topo.tanks.push(TankSlot { entity, params: m.0.clone() });
        topo.slots.insert(entity, Slot::Tank(i));
    }
    for (i, (entity, model, _, _, (sp, feed, drive))) in pumps.iter().enumerate() {
        let feed = feed.0.and_then(|t| match topo.slot(t) {
            Some(Slot::Tank(i)) => Some(i),
            _ => None,
        });
        topo.pumps.push(PumpSlot { entity, motor: drive.0, model: model.0.clone(), rpm: sp.rpm, feed });
        topo.slots.insert(entity, Slot::Train(i));
        topo.slots.insert(drive.0, Slot::Train(i));
    }
}

/// How long a live twin's tick works on a model step (the correction of the assimilated branch, the predicted
/// branch) before it lets ingestion drain what arrived meanwhile; a slice ends at the next look at the clock
/// (every 64 samples, 256 estimators or one model step of the site).
pub const LIVE_STEP_SLICE: Duration = Duration::from_millis(1);

/// When a model step is taken in slices.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub enum StepSlicing {
    /// In slices of this long when paced by the wall clock (a live twin, the workbench); whole otherwise (a batch
    /// run, whose driver sets the steps of each tick).
    Live(Duration),
    /// Always in slices of this long, for a driver that waits for each step to be whole (tests).
    Always(Duration),
}

impl Default for StepSlicing {
    fn default() -> Self {
        Self::Live(LIVE_STEP_SLICE)
    }
}

/// Advances the assimilated branch to the horizon and the predicted one to the clock's new time (registered to run
/// on the ticks with steps to take). A sliced step leaves the clock's pending steps for the ticks that go on with
/// it, and the clock advances when it is whole.
pub fn step_models<C: Corrector>(
    (mut clock, pacing, slicing): (ResMut<SimClock>, Res<ClockPacing>, Res<StepSlicing>),
    mut env: ResMut<Environment>,
    mut assimilation: ResMut<C>,
    mut pumps: Query<PumpItem>,
    mut tanks: Query<(Entity, &TankModel, &mut TankLevel)>,
    (mut topo, changed): (Local<Topology>, Query<(), TopologyChanged>),
    (mut assimilated, mut predicting): (ResMut<Assimilated>, Local<Option<(u64, Branch)>>),
) {
    // Sliced while the twin keeps up: one that owes more than a step (ticks too few for its slices, a slow frame)
    // takes what it owes whole.
    let slice = match *slicing {
        StepSlicing::Live(d) if matches!(*pacing, ClockPacing::Realtime { .. }) => Some(d),
        StepSlicing::Always(d) => Some(d),
        _ => None,
    };
    let deadline = slice.filter(|_| clock.pending_steps <= 1).map(|d| Instant::now() + d);
    let dt = clock.step_s;
    let topo = &mut *topo;
    // The topology (models, set-points, feeds) is rebuilt when some of it changed since the last step (the system
    // runs on steps alone, see [`SimulatePlugin`]), not at every step: cloning a large site's thousands of
    // pump-train models each step was most of its step's time.
    if !changed.is_empty() || topo.pumps.len() != pumps.iter().len() || topo.tanks.len() != tanks.iter().len() {
        rebuild_topology(topo, &pumps, &tanks);
    }
    let a = assimilated.0.get_or_insert_with(|| Branch {
        pumps: pumps.iter().map(|(_, _, s, r, _)| (s.0, r.0)).collect(),
        tanks: tanks.iter().map(|(_, _, l)| l.0).collect(),
        env: env.clone(),
        steps: clock.steps_done,
        ambient_offset_k: Vec::new(),
        inputs: Vec::new(),
        draw: Vec::new(),
        correcting: false,
    });

    let target = clock.steps_done + u64::from(clock.pending_steps);
    let horizon = target.saturating_sub(assimilation.lateness_steps(dt)).max(a.steps);
    loop {
        if !a.correcting {
            if a.steps >= horizon {
                break;
            }
            a.step(topo, dt);
        }
        a.correcting = !assimilation.correct(topo, a, dt, deadline);
        if a.correcting {
            return;
        }
    }
    // The predicted branch, from the assimilated one at the horizon (sliced too: the lateness is several steps); one
    // left unfinished by the previous tick goes on if it started from the same horizon.
    let mut predicted = match predicting.take() {
        Some((from, p)) if from == a.steps => p,
        _ => a.clone(),
    };
    while predicted.steps < target {
        predicted.step(topo, dt);
        if predicted.steps < target && deadline.is_some_and(|d| Instant::now() >= d) {
            *predicting = Some((a.steps, predicted));
            return;
        }
    }
    for ((_, _, mut state, mut readings, _), (s, r)) in pumps.iter_mut().zip(predicted.pumps) {
        state.0 = s;
        readings.0 = r;
    }
    for ((_, _, mut level), l) in tanks.iter_mut().zip(predicted.tanks) {
        level.0 = l;
    }
    *env = predicted.env;
    clock.steps_done = target;
    clock.now_s = target as f64 * dt;
    clock.pending_steps = 0;
}

/// The assimilated branch (none before the first step): kept in checkpoints with the estimators that correct it.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Assimilated(pub Option<Branch>);

/// Registers the model stepping in `TwinSystems::Simulate`, corrected by the state estimation `C`.
pub struct SimulatePlugin<C: Corrector>(std::marker::PhantomData<C>);

impl<C: Corrector> Default for SimulatePlugin<C> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<C: Corrector> Plugin for SimulatePlugin<C> {
    fn build(&self, app: &mut App) {
        app.init_resource::<Assimilated>().init_resource::<StepSlicing>().add_systems(
            Update,
            // On the ticks that step alone: a live twin ticks on every message, and `step_models` finds what
            // changed since its previous run.
            step_models::<C>.in_set(TwinSystems::Simulate).run_if(|c: Res<SimClock>| c.pending_steps > 0),
        );
    }
}
