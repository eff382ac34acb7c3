//! The ECS twin: one entity per asset, the ordered `TwinSystems` pipeline, the fixed-step `SimClock`, and the
//! per-kind plugins that spawn and step each asset kind.

pub mod clock;
pub mod environment;
pub mod kinds;
pub mod motor;
pub mod pump;
pub mod simulate;
pub mod tank;

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy::prelude::*;

use crate::scenario::{Index, Scenario};
pub use clock::{ClockPacing, SimClock};
pub use environment::{CORRELATION_S, Environment};
pub use kinds::{AssetKindDef, AssetKinds, RegisterAssetKind};

/// The twin's pipeline, declared once; every module joins one of these sets, which run in this order each tick.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwinSystems {
    /// Set this tick's model steps (real-time pacing).
    Pace,
    /// Producers inside the app (the in-process virtual plant, a replay) deliver what they have up to the end
    /// of this tick.
    Sources,
    /// Decode and validate incoming samples.
    Ingest,
    /// Merge samples into the estimated state at their event times.
    Assimilate,
    /// Step the models by the ticks' model steps.
    Simulate,
    /// Derive health indices, drift and alarms.
    Assess,
    /// Drafts, validation, what-if.
    Control,
    /// Approved writes to PLCs, read-back.
    Dispatch,
}

/// The scenario the twin was built from.
#[derive(Resource, Clone)]
pub struct LoadedScenario(pub Arc<Scenario>);

/// Identity of an asset entity.
#[derive(Component, Debug, Clone)]
pub struct Asset {
    /// Tag from the scenario, e.g. "P-101".
    pub id: String,
    /// The kind's name as written in the scenario ("CentrifugalPump", "Motor", "Tank").
    pub kind: &'static str,
}

/// Position on the site plan, m.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct SitePosition {
    pub x_m: f32,
    pub y_m: f32,
    pub z_m: f32,
}

/// Assets this one depends on (resolved from the scenario's ids).
#[derive(Component, Debug, Clone, Default)]
pub struct DependsOn(pub Vec<Entity>);

/// Asset id to entity, in id order.
#[derive(Resource, Debug, Default)]
pub struct AssetIndex(pub BTreeMap<String, Entity>);

/// Builds the twin from a scenario: resources, pipeline order, kind plugins, and the asset entities.
pub struct TwinPlugin {
    pub scenario: Arc<Scenario>,
    /// Seed of every random process in the run (ambient and inflow fluctuations).
    pub seed: u64,
}

impl Plugin for TwinPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (
                TwinSystems::Pace,
                TwinSystems::Sources,
                TwinSystems::Ingest,
                TwinSystems::Assimilate,
                TwinSystems::Simulate,
                TwinSystems::Assess,
                TwinSystems::Control,
                TwinSystems::Dispatch,
            )
                .chain(),
        )
        .insert_resource(LoadedScenario(self.scenario.clone()))
        .insert_resource(SimClock::new(self.scenario.simulation.model_step.secs()))
        .insert_resource(Environment::new(&self.scenario.simulation, self.seed))
        .init_resource::<ClockPacing>()
        .init_resource::<AssetIndex>()
        .init_resource::<AssetKinds>()
        .add_plugins((clock::ClockPlugin, simulate::SimulatePlugin))
        .add_plugins((pump::PumpPlugin, motor::MotorPlugin, tank::TankPlugin)); // the modelled kinds
        spawn_assets(app.world_mut(), &self.scenario);
        app.add_plugins(crate::sync::SyncPlugin {
            lateness_s: crate::ingest::IngestSettings::default().allowed_lateness_s,
            inflow_noise: self.scenario.simulation.inflow_noise,
            spec: self.scenario.sync.clone(),
        });
        app.add_plugins((crate::sync::config::ConfigPlugin, crate::sync::dependency::DependencyPlugin));
        app.add_plugins(crate::ingest::IngestPlugin {
            scenario: self.scenario.clone(),
            settings: crate::ingest::IngestSettings::default(),
            epoch_unix_s: crate::ingest::DEFAULT_EPOCH_UNIX_S,
            budget: None,
        });
    }
}

/// Spawns one entity per asset with its identity and dependency edges, then lets each asset's kind add its own
/// components (in scenario order, once every edge exists).
fn spawn_assets(world: &mut World, scenario: &Scenario) {
    let mut index = BTreeMap::new();
    for spec in &scenario.assets {
        let (x, y, z) = spec.position;
        let e = world.spawn((
            Asset { id: spec.id.clone(), kind: spec.kind.name() },
            crate::sync::config::Configuration::expected(spec),
            SitePosition { x_m: x, y_m: y, z_m: z },
        ));
        index.insert(spec.id.clone(), e.id());
    }
    for spec in &scenario.assets {
        let deps: Vec<Entity> = spec.depends_on.iter().filter_map(|d| index.get(d).copied()).collect();
        world.entity_mut(index[&spec.id]).insert(DependsOn(deps));
    }
    world.insert_resource(AssetIndex(index.clone()));
    world.resource_scope(|world, kinds: Mut<AssetKinds>| {
        for spec in &scenario.assets {
            match kinds.get(spec.kind.name()) {
                Some(def) => (def.insert)(world, index[&spec.id], spec, scenario),
                None => world.get_resource_or_init::<pump::ModelBuildErrors>().0.push(format!(
                    "asset \"{}\": no model is registered for kind {}",
                    spec.id,
                    spec.kind.name()
                )),
            }
        }
    });
}

/// Reads `index` of the asset `id` from the world.
pub fn read_index(world: &World, id: &str, index: Index) -> Option<f64> {
    let e = *world.resource::<AssetIndex>().0.get(id)?;
    let entity = world.get_entity(e).ok()?;
    let def = world.resource::<AssetKinds>().get(entity.get::<Asset>()?.kind)?;
    (def.index)(&entity, index)
}

/// Builds a headless app (no window, no renderer) holding the twin for `scenario`, on one thread.
///
/// Its schedules run on the single-threaded executor: a tick is a handful of systems, most of the work is in
/// one of them, and handing systems between threads 40,000 times a simulated month cost more than it saved
/// (a 30-day run of the pump station went from 2.6 s to well under 1 s; see the README's benchmarks).
pub fn headless_app(scenario: Arc<Scenario>, seed: u64) -> App {
    headless_app_threaded(scenario, seed, 1)
}

/// [`headless_app`] with the schedules on `threads` threads: 0 or 1 is the single-threaded executor; more runs
/// them on Bevy's multi-threaded executor over a compute task pool of that many threads (the pool is the
/// process's: the first app that sets it up sizes it). The results do not depend on it: every system that
/// touches another's data is ordered after it, so only independent systems run side by side.
pub fn headless_app_threaded(scenario: Arc<Scenario>, seed: u64, threads: usize) -> App {
    let mut app = App::new();
    if threads > 1 {
        use bevy::app::{TaskPoolOptions, TaskPoolPlugin, TaskPoolThreadAssignmentPolicy};
        let fixed = |n: usize| TaskPoolThreadAssignmentPolicy {
            min_threads: n,
            max_threads: n,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        };
        let task_pool_options =
            TaskPoolOptions { io: fixed(1), async_compute: fixed(1), compute: fixed(threads), ..Default::default() };
        app.add_plugins(MinimalPlugins.set(TaskPoolPlugin { task_pool_options }))
            .add_plugins(TwinPlugin { scenario, seed });
        return app;
    }
    app.add_plugins(MinimalPlugins).add_plugins(TwinPlugin { scenario, seed });
    fn single_threaded(s: &mut Schedule) {
        s.set_executor(bevy::ecs::schedule::SingleThreadedExecutor::new());
    }
    app.edit_schedule(First, single_threaded)
        .edit_schedule(PreUpdate, single_threaded)
        .edit_schedule(Update, single_threaded)
        .edit_schedule(PostUpdate, single_threaded)
        .edit_schedule(Last, single_threaded);
    app
}
