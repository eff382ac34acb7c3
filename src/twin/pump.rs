//! Centrifugal pumps in the twin: the pump-train model (pump, its drive motor, its feed tank) on each pump
//! entity, its speed set-point, and its latest outputs and health indices.

use std::sync::Arc;

use bevy::prelude::*;
use serde::Serialize;
use twin_models::params::{MotorParams, PumpParams};
use twin_models::{PumpTrain, PumpTrainOutputs, PumpTrainState};

use bevy::ecs::world::EntityRef;

use super::{AssetKindDef, DependsOn, RegisterAssetKind};
use crate::scenario::{AssetKind, AssetSpec, Index, Scenario, SetpointTarget};

/// The pump-train model, shared between pumps of the same design.
#[derive(Component, Clone)]
pub struct PumpModel(pub Arc<PumpTrain>);

/// The model's dynamic state.
#[derive(Component, Debug, Clone)]
pub struct PumpState(pub PumpTrainState);

/// The model's latest outputs and health indices.
#[derive(Component, Debug, Clone)]
pub struct PumpReadings(pub PumpTrainOutputs);

/// The speed the drive is commanded to, rpm.
#[derive(Component, Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SpeedSetpoint {
    pub rpm: f64,
}

/// The motor entity driving this pump.
#[derive(Component, Debug, Clone, Copy)]
pub struct Drive(pub Entity);

/// The tank feeding this pump, if any (none: a constant suction level at the tank-less elevation).
#[derive(Component, Debug, Clone, Copy)]
pub struct Feed(pub Option<Entity>);

/// Why an asset's model could not be built; the runner reports these as bad input.
#[derive(Resource, Debug, Default)]
pub struct ModelBuildErrors(pub Vec<String>);

/// Models already built during this spawn, by design, so identical pumps share one fitted load map.
#[derive(Resource, Default)]
pub(super) struct ModelCache(Vec<(PumpParams, MotorParams, Arc<PumpTrain>)>);

/// The risk a pump's upstream assets put on it: derived by the assessment (`assess::dependency`), kept on the pump.
#[derive(Component, Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct UpstreamRisk {
    /// Cavitation risk over the look-ahead, 0..1: the present risk, or the risk at the feed level projected
    /// `assess::dependency::LOOKAHEAD_S` ahead at its trend (less `DISTRUST_SIGMAS` σ when the level cannot be trusted),
    /// whichever is higher.
    pub cavitation_risk: f64,
    /// Feed level trend, m/h (none without a feed tank).
    pub level_rate_m_per_h: Option<f64>,
    /// Time until the NPSH margin falls to the cavitation threshold at the present trend, s (none when it does
    /// not fall, or the margin is already below).
    pub cavitation_in_s: Option<f64>,
    /// Every upstream problem, naming the upstream asset, e.g. `T-1: level falling 2.0 m/h, cavitation risk in
    /// 25 min`.
    pub causes: Vec<String>,
}

/// Registers the pump kind.
pub struct PumpPlugin;

impl Plugin for PumpPlugin {
    fn build(&self, app: &mut App) {
        app.register_asset_kind(AssetKindDef { name: "CentrifugalPump", insert, index });
    }
}

fn index(e: &EntityRef<'_>, index: Index) -> Option<f64> {
    if index == Index::CavitationRiskAhead {
        return Some(e.get::<UpstreamRisk>()?.cavitation_risk);
    }
    output_index(&e.get::<PumpReadings>()?.0, index)
}

/// An index read off a pump train's outputs (`None` for indices the outputs do not carry).
pub fn output_index(o: &PumpTrainOutputs, index: Index) -> Option<f64> {
    Some(match index {
        Index::BearingWear => o.health.bearing_wear,
        Index::RemainingLifeHours => o.health.rul_h,
        Index::RemainingLifeP10Hours => o.health.rul_p10_p90().0,
        Index::RemainingLifeP90Hours => o.health.rul_p10_p90().1,
        Index::CavitationRisk => o.health.cavitation_risk,
        Index::VibrationRms => o.vib_rms_mm_s,
        Index::Flow => o.flow_m3h,
        _ => return None,
    })
}

/// Adds the pump components to `entity`; its motor and tank are found through its dependency edges.
fn insert(world: &mut World, entity: Entity, spec: &AssetSpec, scenario: &Scenario) {
    let AssetKind::CentrifugalPump(params) = &spec.kind else { return };
    let deps = world.get::<DependsOn>(entity).map(|d| d.0.clone()).unwrap_or_default();
    let id = world.get::<super::Asset>(entity).map(|a| a.id.clone()).unwrap_or_default();
    let kind_of = |e: Entity| world.get::<super::Asset>(e).map(|a| a.kind);
    let motor = deps.iter().copied().find(|&e| kind_of(e) == Some("Motor"));
    let tank = deps.iter().copied().find(|&e| kind_of(e) == Some("Tank"));
    let Some(motor) = motor else {
        world.get_resource_or_init::<ModelBuildErrors>().0.push(format!("pump \"{id}\" has no motor"));
        return;
    };
    let motor_id = world.get::<super::Asset>(motor).map(|a| a.id.clone()).unwrap_or_default();
    let Some(motor_spec) = scenario.asset(&motor_id) else { return };
    let AssetKind::Motor(motor_params) = &motor_spec.kind else { return };

    let cached = world
        .get_resource_or_init::<ModelCache>()
        .0
        .iter()
        .find(|(p, m, _)| p == params && m == motor_params)
        .map(|(_, _, t)| t.clone());
    let train = match cached {
        Some(t) => t,
        None => match PumpTrain::new(params.clone(), motor_params.clone()) {
            Ok(t) => {
                let t = Arc::new(t);
                world.resource_mut::<ModelCache>().0.push((params.clone(), motor_params.clone(), t.clone()));
                t
            }
            Err(e) => {
                world.get_resource_or_init::<ModelBuildErrors>().0.push(format!("pump \"{id}\": {e}"));
                return;
            }
        },
    };
    let speed = scenario
        .setpoints
        .iter()
        .find(|s| s.asset == id && s.target == SetpointTarget::Speed)
        .and_then(|s| s.target.quantity().converter(&s.unit).map(|c| c.to_canonical(s.initial)))
        .unwrap_or(params.rated_speed_rpm);
    // The twin mirrors a running plant: pumps start at their set-point speed, machines at ambient temperature, the
    // bearing and the insulation as old as the asset's history says (new without one).
    let bearing_h = scenario.bearing_hours(spec);
    let insulation_h = motor_spec.history.insulation_age_h.unwrap_or(0.0);
    let mut state = train.aged_state(scenario.simulation.ambient.mean_c, bearing_h, insulation_h);
    state.speed_rpm = speed;
    let first = train.step(&mut state.clone(), &inputs(speed, None, scenario.simulation.ambient.mean_c), 0.0);
    world.entity_mut(entity).insert((
        PumpModel(train),
        PumpState(state),
        PumpReadings(first),
        SpeedSetpoint { rpm: speed },
        Drive(motor),
        Feed(tank),
    ));
    world.entity_mut(motor).insert(super::motor::DrivenPump(entity));
}

/// The model inputs for one step.
pub(super) fn inputs(speed_rpm: f64, tank_level_m: Option<f64>, ambient_c: f64) -> twin_models::PumpTrainInputs {
    twin_models::PumpTrainInputs {
        speed_setpoint_rpm: speed_rpm,
        tank_level_m: tank_level_m.unwrap_or(0.0),
        ambient_c,
        bearing_defect_severity: 0.0,
    }
}
