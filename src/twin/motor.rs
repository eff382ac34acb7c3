//! Motors in the twin: nameplate parameters, and the winding temperature, current and insulation health of
//! the pump train each motor drives.

use bevy::prelude::*;
use twin_models::params::MotorParams;

use super::pump::{PumpReadings, PumpState};
use bevy::ecs::world::EntityRef;

use super::{AssetKindDef, RegisterAssetKind, TwinSystems};
use crate::scenario::{AssetKind, AssetSpec, Index, Scenario};

/// Nameplate and thermal parameters.
#[derive(Component, Debug, Clone)]
pub struct MotorNameplate(pub MotorParams);

/// The pump this motor drives.
#[derive(Component, Debug, Clone, Copy)]
pub struct DrivenPump(pub Entity);

/// What the twin knows of the motor now.
#[derive(Component, Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct MotorReadings {
    /// Winding (hot-spot) temperature, °C.
    pub winding_temp_c: f64,
    /// Line current, A.
    pub current_a: f64,
    /// Shaft speed, rpm.
    pub speed_rpm: f64,
    /// Insulation health, 0..1 (1 = new).
    pub insulation_health: f64,
}

fn index(e: &EntityRef<'_>, index: Index) -> Option<f64> {
    let r = e.get::<MotorReadings>()?;
    match index {
        Index::WindingTemperature => Some(r.winding_temp_c),
        Index::InsulationHealth => Some(r.insulation_health),
        _ => None,
    }
}

fn insert(world: &mut World, entity: Entity, spec: &AssetSpec, scenario: &Scenario) {
    let AssetKind::Motor(params) = &spec.kind else { return };
    let ambient_c = scenario.simulation.ambient.mean_c;
    let readings = MotorReadings { insulation_health: 1.0, winding_temp_c: ambient_c, ..default() };
    world.entity_mut(entity).insert((MotorNameplate(params.clone()), readings));
}

/// Copies the motor's side of each pump train into the motor entity.
pub fn update_motor_readings(
    mut motors: Query<(&DrivenPump, &mut MotorReadings)>,
    pumps: Query<(&PumpState, &PumpReadings)>,
) {
    for (driven, mut readings) in &mut motors {
        if let Ok((state, out)) = pumps.get(driven.0) {
            *readings = MotorReadings {
                winding_temp_c: state.0.winding_temp_c,
                current_a: out.0.motor_current_a,
                speed_rpm: state.0.speed_rpm,
                insulation_health: out.0.health.insulation_health,
            };
        }
    }
}

/// Registers the motor kind and its systems.
pub struct MotorPlugin;

impl Plugin for MotorPlugin {
    fn build(&self, app: &mut App) {
        app.register_asset_kind(AssetKindDef { name: "Motor", insert, index })
            .add_systems(Update, update_motor_readings.in_set(TwinSystems::Assess).run_if(super::clock::model_stepped));
    }
}
