//! Tanks in the twin: the level balance that feeds the pumps' suction.

use bevy::prelude::*;
use twin_models::params::TankParams;

use super::IndexSource;
use crate::scenario::Index;

/// Tank geometry and nominal inflow.
#[derive(Component, Debug, Clone)]
pub struct TankModel(pub TankParams);

/// The tank's level, m above its bottom.
#[derive(Component, Debug, Clone, Copy)]
pub struct TankLevel(pub twin_models::tank::TankState);

impl IndexSource for TankLevel {
    fn index(&self, index: Index) -> Option<f64> {
        (index == Index::TankLevel).then_some(self.0.level_m)
    }
}

pub(super) fn insert(e: &mut EntityWorldMut<'_>, params: &TankParams) {
    e.insert((TankModel(params.clone()), TankLevel(twin_models::tank::TankState::initial(params))));
}
