//! Live set-points: the values the PLCs report are part of the twin, versioned, so that a drafted change (see
//! `change`) knows the version it was made against and a live change made elsewhere (an operator at the HMI) is
//! never silently overwritten.

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;

use crate::scenario::SetpointTarget;
use crate::twin::pump::SpeedSetpoint;
use crate::twin::{AssetIndex, LoadedScenario, SimClock, TwinSystems};

/// A set-point value as a PLC reported it (read-back, or a change made at the HMI).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct SetpointReported {
    /// Set-point id from the scenario.
    pub setpoint: String,
    /// Value in the set-point's canonical unit.
    pub value: f64,
}

/// One live set-point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct LiveSetpoint {
    /// Value in the canonical unit.
    pub value: f64,
    /// Incremented whenever the reported value changes.
    pub version: u64,
    /// Simulated time of the last change, s.
    pub changed_s: f64,
}

/// The live set-points.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Setpoints {
    /// Live values by set-point id.
    pub live: BTreeMap<String, LiveSetpoint>,
}

impl Setpoints {
    /// Takes a value a PLC reported at `t_s`: a change bumps the live version (drafts made against an older one
    /// are in conflict). Returns whether the value changed.
    pub fn report(&mut self, setpoint: &str, value: f64, t_s: f64) -> bool {
        let Some(live) = self.live.get_mut(setpoint) else { return false };
        if live.value.to_bits() == value.to_bits() || !value.is_finite() {
            return false;
        }
        *live = LiveSetpoint { value, version: live.version + 1, changed_s: t_s };
        true
    }
}

/// Takes the PLCs' reports: the live set-points and the models' commanded speeds follow.
fn take_reports(
    mut reports: MessageReader<SetpointReported>,
    mut setpoints: ResMut<Setpoints>,
    scenario: Res<LoadedScenario>,
    index: Res<AssetIndex>,
    clock: Res<SimClock>,
    mut speeds: Query<&mut SpeedSetpoint>,
) {
    for r in reports.read() {
        if !setpoints.report(&r.setpoint, r.value, clock.now_s) {
            continue;
        }
        let Some(spec) = scenario.0.setpoints.iter().find(|s| s.id == r.setpoint) else { continue };
        if spec.target == SetpointTarget::Speed
            && let Some(&e) = index.0.get(&spec.asset)
            && let Ok(mut sp) = speeds.get_mut(e)
        {
            sp.rpm = r.value;
        }
    }
}

/// Installs the live set-points (at the scenario's initial values, version 1) and the PLC reports.
pub struct SetpointsPlugin;

impl Plugin for SetpointsPlugin {
    fn build(&self, app: &mut App) {
        let scenario = app.world().resource::<LoadedScenario>().0.clone();
        let mut s = Setpoints::default();
        for sp in &scenario.setpoints {
            let value = sp.target.quantity().converter(&sp.unit).map_or(sp.initial, |c| c.to_canonical(sp.initial));
            s.live.insert(sp.id.clone(), LiveSetpoint { value, version: 1, changed_s: 0.0 });
        }
        app.insert_resource(s)
            .add_message::<SetpointReported>()
            .add_systems(Update, take_reports.in_set(TwinSystems::Ingest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plc_report_moves_the_live_set_point_and_drives_the_pumps_speed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = std::sync::Arc::new(crate::scenario::load(&path).unwrap());
        let mut app = App::new();
        let pump = app.world_mut().spawn(SpeedSetpoint { rpm: 1480.0 }).id();
        app.insert_resource(LoadedScenario(scenario))
            .insert_resource(SimClock::new(1.0))
            .insert_resource(AssetIndex([("P-101".to_string(), pump)].into()))
            .add_plugins(SetpointsPlugin);
        app.world_mut().resource_mut::<SimClock>().now_s = 42.0;
        app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
        app.world_mut().write_message(SetpointReported { setpoint: "P-9.speed".into(), value: 1.0 });
        app.update();
        let s = app.world().resource::<Setpoints>();
        let live = &s.live["P-101.speed"];
        assert_eq!((live.value, live.version, live.changed_s), (1400.0, 2, 42.0));
        assert!(!s.live.contains_key("P-9.speed"), "a report of an unknown set-point is ignored");
        assert_eq!(app.world().get::<SpeedSetpoint>(pump).unwrap().rpm, 1400.0, "the model's drive follows");
        // The same value again is no change: no new version.
        app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
        app.update();
        assert_eq!(app.world().resource::<Setpoints>().live["P-101.speed"].version, 2);
    }
}
