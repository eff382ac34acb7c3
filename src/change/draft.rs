//! A drafted set-point change: made against a version of the live set-point (which `sync` keeps), and in
//! conflict once the PLC reports another value (an operator at the HMI), until the engineer rebases it. Nothing is
//! ever silently overwritten.

use serde::Serialize;

use super::ChangeError;
use crate::sync::Setpoints;

/// Where a draft stands against the live set-point.
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
    /// Draft id, unique in its change session.
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
}

impl Draft {
    /// `author`'s draft `id` of `setpoint` to `value` (canonical unit) at simulated time `t_s`, made against the
    /// set-point's live version in `live`.
    pub fn against(
        live: &Setpoints,
        id: u64,
        setpoint: &str,
        value: f64,
        author: &str,
        t_s: f64,
    ) -> Result<Self, ChangeError> {
        let l = live.live.get(setpoint).ok_or_else(|| ChangeError::UnknownSetpoint(setpoint.into()))?;
        Ok(Self {
            id,
            setpoint: setpoint.into(),
            value,
            based_on_version: l.version,
            based_on_value: l.value,
            author: author.into(),
            created_s: t_s,
        })
    }

    /// Open while the live set-point still has the version the draft was made against; conflicted once the PLC
    /// reported a change.
    pub fn state(&self, live: &Setpoints) -> DraftState {
        match live.live.get(&self.setpoint) {
            Some(l) if l.version > self.based_on_version => {
                DraftState::Conflicted { live_value: l.value, live_version: l.version }
            }
            _ => DraftState::Open,
        }
    }

    /// Rebases the draft on the live version: the engineer has seen the new live value and keeps the draft's.
    pub fn rebase(&mut self, live: &Setpoints) -> Result<(), ChangeError> {
        let l = live.live.get(&self.setpoint).ok_or_else(|| ChangeError::UnknownSetpoint(self.setpoint.clone()))?;
        self.based_on_version = l.version;
        self.based_on_value = l.value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::LiveSetpoint;

    fn one() -> Setpoints {
        let mut s = Setpoints::default();
        s.live.insert("P-1.speed".into(), LiveSetpoint { value: 1480.0, version: 1, changed_s: 0.0 });
        s
    }

    #[test]
    fn a_live_change_conflicts_older_drafts_and_rebase_reopens_them_without_touching_values() {
        let mut s = one();
        let mut d = Draft::against(&s, 1, "P-1.speed", 1300.0, "alice", 1.0).unwrap();
        assert!(!s.report("P-1.speed", 1480.0, 5.0), "the same value is no change");
        assert_eq!(d.state(&s), DraftState::Open);
        assert!(s.report("P-1.speed", 1400.0, 10.0));
        assert_eq!(d.state(&s), DraftState::Conflicted { live_value: 1400.0, live_version: 2 });
        assert_eq!(d.value, 1300.0, "the draft keeps its value");
        assert_eq!(s.live["P-1.speed"].value, 1400.0, "the live value is the operator's");
        d.rebase(&s).unwrap();
        assert_eq!((d.state(&s), d.based_on_version, d.based_on_value), (DraftState::Open, 2, 1400.0));
        assert!(matches!(
            Draft::against(&s, 2, "nope", 1.0, "alice", 1.0),
            Err(ChangeError::UnknownSetpoint(id)) if id == "nope"
        ));
    }
}
