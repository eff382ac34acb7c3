//! The Simulate stage: steps every asset model by the tick's model steps, pumps and their feed tanks coupled
//! at every step (the pumps draw on the level the tanks had at the start of the step).

use bevy::prelude::*;
use twin_models::tank::{self, TankInputs};

use super::pump::{Feed, PumpModel, PumpReadings, PumpState, SpeedSetpoint, inputs};
use super::tank::{TankLevel, TankModel};
use super::{Environment, SimClock, TwinSystems};

/// Advances all models by `clock.pending_steps` steps.
fn step_models(
    mut clock: ResMut<SimClock>,
    mut env: ResMut<Environment>,
    mut pumps: Query<(&PumpModel, &mut PumpState, &mut PumpReadings, &SpeedSetpoint, &Feed)>,
    mut tanks: Query<(Entity, &TankModel, &mut TankLevel)>,
    mut draw: Local<Vec<(Entity, f64)>>,
) {
    let dt = clock.step_s;
    for _ in 0..clock.pending_steps {
        let ambient = env.ambient_c(clock.now_s);
        draw.clear();
        draw.extend(tanks.iter().map(|(e, _, _)| (e, 0.0)));
        for (model, mut state, mut readings, setpoint, feed) in &mut pumps {
            let level = feed.0.and_then(|t| tanks.get(t).ok()).map(|(_, _, l)| l.0.level_m);
            readings.0 = model.0.step(&mut state.0, &inputs(setpoint.rpm, level, ambient), dt);
            if let Some(t) = feed.0
                && let Some(slot) = draw.iter_mut().find(|(e, _)| *e == t)
            {
                slot.1 += readings.0.flow_m3h;
            }
        }
        let factor = env.inflow_factor();
        for ((_, params, mut level), (_, outflow)) in tanks.iter_mut().zip(draw.iter()) {
            let i = TankInputs { inflow_m3h: params.0.inflow_m3h * factor, outflow_m3h: *outflow };
            tank::step(&params.0, &mut level.0, &i, dt);
        }
        env.advance(dt);
        clock.steps_done += 1;
        clock.now_s = clock.steps_done as f64 * dt;
    }
    clock.pending_steps = 0;
}

/// Registers the model stepping in `TwinSystems::Simulate`.
pub struct SimulatePlugin;

impl Plugin for SimulatePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, step_models.in_set(TwinSystems::Simulate));
    }
}
