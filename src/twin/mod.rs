//! The ECS twin: one entity per asset, the ordered `TwinSystems` pipeline, the fixed-step `SimClock`, the
//! per-kind plugins that spawn each asset kind, and the model coupling that steps them.

pub mod clock;
pub mod coupling;
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
pub use clock::{ClockPacing, STEPS_PER_TICK, SimClock, Speed};
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

/// Builds the twin's core from a scenario: resources, pipeline order, clock, kind plugins, and the asset entities.
/// The layers above add ingestion, synchronization and assessment (see `crate::app::TwinPlugins`).
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
        .add_plugins(clock::ClockPlugin)
        .add_plugins((pump::PumpPlugin, motor::MotorPlugin, tank::TankPlugin)); // the modelled kinds
        spawn_assets(app.world_mut(), &self.scenario);
    }
}

/// Spawns one entity per asset with its identity and dependency edges, then lets each asset's kind add its own
/// components (in scenario order, once every edge exists).
fn spawn_assets(world: &mut World, scenario: &Scenario) {
    let mut index = BTreeMap::new();
    for spec in &scenario.assets {
        let (x, y, z) = spec.position;
        let e = world
            .spawn((Asset { id: spec.id.clone(), kind: spec.kind.name() }, SitePosition { x_m: x, y_m: y, z_m: z }));
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
