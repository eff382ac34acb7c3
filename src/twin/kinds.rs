//! The registry of asset kinds: each kind's plugin registers how to build its components from a scenario asset
//! and how to read its indices, so the twin's spawning and reporting never name a kind. Adding a kind means a
//! new module with its plugin, one line in `KindPlugins`, and the scenario's `AssetKind` variant.

use bevy::ecs::world::EntityRef;
use bevy::prelude::*;

use crate::scenario::{AssetSpec, Index, Scenario};

/// How one asset kind joins the twin.
pub struct AssetKindDef {
    /// The kind's name as written in a scenario (`AssetKind::name`).
    pub name: &'static str,
    /// Adds the kind's components to an asset entity. Every asset entity and its `DependsOn` edges exist by then.
    pub insert: fn(&mut World, Entity, &AssetSpec, &Scenario),
    /// Reads one index of an entity of this kind (`None`: the kind has no such index).
    pub index: fn(&EntityRef<'_>, Index) -> Option<f64>,
}

/// Every registered kind.
#[derive(Resource, Default)]
pub struct AssetKinds(pub Vec<AssetKindDef>);

impl AssetKinds {
    /// The definition of the kind named `name`.
    pub fn get(&self, name: &str) -> Option<&AssetKindDef> {
        self.0.iter().find(|d| d.name == name)
    }
}

/// Registration from a kind's plugin.
pub trait RegisterAssetKind {
    fn register_asset_kind(&mut self, def: AssetKindDef) -> &mut Self;
}

impl RegisterAssetKind for App {
    fn register_asset_kind(&mut self, def: AssetKindDef) -> &mut Self {
        self.world_mut().get_resource_or_init::<AssetKinds>().0.push(def);
        self
    }
}
