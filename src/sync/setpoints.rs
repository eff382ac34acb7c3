//! Live set-points and drafts: the values the PLCs report are part of the twin, versioned; a draft change
//! records the version it was based on, and a live change made elsewhere (an operator at the HMI) marks it
//! conflicted until the engineer rebases it. Nothing is ever silently overwritten.

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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LiveSetpoint {
    /// Value in the canonical unit.
    pub value: f64,
    /// Incremented whenever the reported value changes.
    pub version: u64,
    /// Simulated time of the last change, s.
    pub changed_s: f64,
}

/// Where a draft stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum DraftState {
    /// Based on the live version: may be validated.
    Open,
    /// The live value changed after the draft was made; it must be rebased before validation.
    Conflicted {
        /// The live value now, canonical unit.
        live_value: f64,
        /// The live version now.
        live_version: u64,
    },
}

/// A drafted set-point change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    /// Draft id, unique in the run.
    pub id: u64,
    /// Set-point id.
    pub setpoint: String,
    /// Proposed value, canonical unit.
    pub value: f64,
    /// The live version the draft was made against.
    pub based_on_version: u64,
    /// The live value it was made against, canonical unit.
    pub based_on_value: f64,
    /// Who drafted it.
    pub author: String,
    /// When, simulated s.
    pub created_s: f64,
    /// Open or conflicted.
    pub state: DraftState,
}

/// Why a draft operation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DraftError {
    /// No set-point has this id.
    #[error("no set-point \"{0}\"")]
    UnknownSetpoint(String),
    /// No draft has this id.
    #[error("no draft {0}")]
    UnknownDraft(u64),
}

/// The live set-points and the open drafts.
#[derive(Resource, Debug, Default)]
pub struct Setpoints {
    /// Live values by set-point id.
    pub live: BTreeMap<String, LiveSetpoint>,
    /// Drafts not yet applied or discarded.
    pub drafts: Vec<Draft>,
    next_id: u64,
}

impl Setpoints {
    /// `author` drafts a change of `setpoint` to `value` (canonical unit) at simulated time `t_s`, against its live
    /// version.
    pub fn draft(&mut self, setpoint: &str, value: f64, author: &str, t_s: f64) -> Result<u64, DraftError> {
        let live = *self.live.get(setpoint).ok_or_else(|| DraftError::UnknownSetpoint(setpoint.into()))?;
        self.next_id += 1;
        self.drafts.push(Draft {
            id: self.next_id,
            setpoint: setpoint.into(),
            value,
            based_on_version: live.version,
            based_on_value: live.value,
            author: author.into(),
            created_s: t_s,
            state: DraftState::Open,
        });
        Ok(self.next_id)
    }

    /// Discards a draft (nothing else changes); returns it, if it existed.
    pub fn discard(&mut self, id: u64) -> Option<Draft> {
        let i = self.drafts.iter().position(|d| d.id == id)?;
        Some(self.drafts.remove(i))
    }

    /// The draft with this id.
    pub fn get(&self, id: u64) -> Option<&Draft> {
        self.drafts.iter().find(|d| d.id == id)
    }

    /// Takes a value a PLC reported at `t_s`: a change bumps the live version and marks every draft made
    /// against an older version conflicted. Returns whether the value changed.
    pub fn report(&mut self, setpoint: &str, value: f64, t_s: f64) -> bool {
        let Some(live) = self.live.get_mut(setpoint) else { return false };
        if live.value.to_bits() == value.to_bits() || !value.is_finite() {
            return false;
        }
        *live = LiveSetpoint { value, version: live.version + 1, changed_s: t_s };
        let live = *live;
        for d in self.drafts.iter_mut().filter(|d| d.setpoint == setpoint && d.based_on_version < live.version) {
            d.state = DraftState::Conflicted { live_value: live.value, live_version: live.version };
        }
        true
    }

    /// Rebases a draft on the live version: the engineer has seen the new live value and keeps (or has edited)
    /// the draft's value.
    pub fn rebase(&mut self, id: u64) -> Result<(), DraftError> {
        let d = self.drafts.iter_mut().find(|d| d.id == id).ok_or(DraftError::UnknownDraft(id))?;
        let live = self.live.get(&d.setpoint).ok_or_else(|| DraftError::UnknownSetpoint(d.setpoint.clone()))?;
        d.based_on_version = live.version;
        d.based_on_value = live.value;
        d.state = DraftState::Open;
        Ok(())
    }
}

/// Takes the PLCs' reports: the live set-points, the drafts' states, and the models' commanded speeds follow.
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
    fn a_plc_report_moves_the_live_set_point_conflicts_older_drafts_and_drives_the_pumps_speed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = std::sync::Arc::new(crate::scenario::load(&path).unwrap());
        let mut app = App::new();
        let pump = app.world_mut().spawn(SpeedSetpoint { rpm: 1480.0 }).id();
        app.insert_resource(LoadedScenario(scenario))
            .insert_resource(SimClock::new(1.0))
            .insert_resource(AssetIndex([("P-101".to_string(), pump)].into()))
            .add_plugins(SetpointsPlugin);
        let d = app.world_mut().resource_mut::<Setpoints>().draft("P-101.speed", 1300.0, "alice", 0.0).unwrap();
        app.world_mut().resource_mut::<SimClock>().now_s = 42.0;
        app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
        app.world_mut().write_message(SetpointReported { setpoint: "P-9.speed".into(), value: 1.0 });
        app.update();
        let s = app.world().resource::<Setpoints>();
        let live = &s.live["P-101.speed"];
        assert_eq!((live.value, live.version, live.changed_s), (1400.0, 2, 42.0));
        assert_eq!(s.get(d).unwrap().state, DraftState::Conflicted { live_value: 1400.0, live_version: 2 });
        assert!(!s.live.contains_key("P-9.speed"), "a report of an unknown set-point is ignored");
        assert_eq!(app.world().get::<SpeedSetpoint>(pump).unwrap().rpm, 1400.0, "the model's drive follows");
        // The same value again is no change: no new version.
        app.world_mut().write_message(SetpointReported { setpoint: "P-101.speed".into(), value: 1400.0 });
        app.update();
        assert_eq!(app.world().resource::<Setpoints>().live["P-101.speed"].version, 2);
    }

    fn one() -> Setpoints {
        let mut s = Setpoints::default();
        s.live.insert("P-1.speed".into(), LiveSetpoint { value: 1480.0, version: 1, changed_s: 0.0 });
        s
    }

    #[test]
    fn a_live_change_conflicts_older_drafts_and_rebase_reopens_them_without_touching_values() {
        let mut s = one();
        let d = s.draft("P-1.speed", 1300.0, "alice", 1.0).unwrap();
        assert!(!s.report("P-1.speed", 1480.0, 5.0), "the same value is no change");
        assert_eq!(s.get(d).unwrap().state, DraftState::Open);
        assert!(s.report("P-1.speed", 1400.0, 10.0));
        assert_eq!(s.get(d).unwrap().state, DraftState::Conflicted { live_value: 1400.0, live_version: 2 });
        assert_eq!(s.get(d).unwrap().value, 1300.0, "the draft keeps its value");
        assert_eq!(s.live["P-1.speed"].value, 1400.0, "the live value is the operator's");
        s.rebase(d).unwrap();
        let draft = s.get(d).unwrap();
        assert_eq!((draft.state, draft.based_on_version, draft.based_on_value), (DraftState::Open, 2, 1400.0));
        assert_eq!(s.draft("nope", 1.0, "alice", 1.0), Err(DraftError::UnknownSetpoint("nope".into())));
        assert_eq!(s.rebase(99), Err(DraftError::UnknownDraft(99)));
    }
}
