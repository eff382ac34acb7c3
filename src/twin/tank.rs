//! Tanks in the twin: the level balance that feeds the pumps' suction.

use bevy::prelude::*;
use twin_models::params::TankParams;

use bevy::ecs::world::EntityRef;

use super::{AssetKindDef, RegisterAssetKind};
use crate::scenario::{AssetKind, AssetSpec, Index, Scenario};

/// Tank geometry and nominal inflow.
#[derive(Component, Debug, Clone)]
pub struct TankModel(pub TankParams);

/// The tank's level, m above its bottom.
#[derive(Component, Debug, Clone, Copy)]
pub struct TankLevel(pub twin_models::tank::TankState);

/// Registers the tank kind (its level is stepped with the pumps, in `simulate`).
pub struct TankPlugin;

impl Plugin for TankPlugin {
    fn build(&self, app: &mut App) {
        app.register_asset_kind(AssetKindDef { name: "Tank", insert, index });
    }
}

fn index(e: &EntityRef<'_>, index: Index) -> Option<f64> {
    (index == Index::TankLevel).then_some(e.get::<TankLevel>()?.0.level_m)
}

fn insert(world: &mut World, entity: Entity, spec: &AssetSpec, _: &Scenario) {
    let AssetKind::Tank(params) = &spec.kind else { return };
    world
        .entity_mut(entity)
        .insert((TankModel(params.clone()), TankLevel(twin_models::tank::TankState::initial(params))));
}
