//! What the plots draw: every asset's indices, and each measured signal next to the model's prediction, sampled
//! in simulated time into bounded series. When a series is full, every series drops every other point and the
//! sampling interval doubles, so the whole run stays on the plot at a coarser grain and memory stays bounded.

use std::collections::BTreeMap;

use bevy::prelude::*;

use crate::scenario::Index;
use crate::sync::Assimilation;
use crate::twin::{Asset, AssetIndex, SimClock, TwinSystems, read_index};
use crate::units::Quantity;

/// Points kept per series before thinning.
pub const SERIES_CAP: usize = 2048;
/// Simulated seconds between two samples at the start.
pub const FIRST_INTERVAL_S: f64 = 30.0;
/// Set-point changes kept (the oldest go first).
pub const SETPOINT_CAP: usize = 1024;

/// A pump's speed set-point changed (a push, a rollback, a recovery from a restart).
#[derive(Debug, Clone, PartialEq)]
pub struct SetpointChange {
    /// Simulated time it was seen, s.
    pub t_s: f64,
    pub asset: String,
    /// Before, rpm.
    pub from_rpm: f64,
    /// After, rpm.
    pub to_rpm: f64,
}

/// One recorded trace of an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trace {
    /// A health or process index.
    Index(Index),
    /// A measured signal (the latest sample scored against the model).
    Measured(Quantity),
    /// The model's prediction of that sample (before the correction).
    Predicted(Quantity),
}

/// Time series per asset id and trace: points `[t_s, value]`, oldest first.
#[derive(Resource, Debug)]
pub struct History {
    /// Simulated seconds between two samples now.
    pub every_s: f64,
    /// Simulated time of the next sample, s.
    next_s: f64,
    cap: usize,
    pub series: BTreeMap<String, BTreeMap<Trace, Vec<[f64; 2]>>>,
    /// Speed set-point changes, oldest first (at most [`SETPOINT_CAP`]).
    pub setpoints: std::collections::VecDeque<SetpointChange>,
    /// Each pump's speed set-point when last looked at, rpm.
    last_setpoint: BTreeMap<String, f64>,
}

impl Default for History {
    fn default() -> Self {
        Self::new(FIRST_INTERVAL_S, SERIES_CAP)
    }
}

impl History {
    /// An empty history sampling every `every_s`, `cap` points per series.
    pub fn new(every_s: f64, cap: usize) -> Self {
        Self {
            every_s,
            next_s: 0.0,
            cap: cap.max(4),
            series: BTreeMap::new(),
            setpoints: Default::default(),
            last_setpoint: BTreeMap::new(),
        }
    }

    /// Whether a sample is due at simulated time `t_s` (and schedules the next one).
    pub fn due(&mut self, t_s: f64) -> bool {
        if t_s + 1e-9 < self.next_s {
            return false;
        }
        self.next_s = (t_s / self.every_s).floor() * self.every_s + self.every_s;
        true
    }

    /// Appends a point; a point at or before the series' last time replaces nothing and is dropped (a trace is
    /// monotone in time). Thins every series when this one is full.
    pub fn push(&mut self, asset: &str, trace: Trace, t_s: f64, v: f64) {
        if !v.is_finite() {
            return;
        }
        // The asset's id is copied once, at its first point.
        let traces = match self.series.get_mut(asset) {
            Some(t) => t,
            None => self.series.entry(asset.to_owned()).or_default(),
        };
        let s = traces.entry(trace).or_default();
        if s.last().is_some_and(|p| p[0] >= t_s) {
            return;
        }
        s.push([t_s, v]);
        if s.len() > self.cap {
            self.thin();
        }
    }

    /// Keeps every other point of every series (the newest always), doubling the sampling interval.
    fn thin(&mut self) {
        for s in self.series.values_mut().flat_map(BTreeMap::values_mut) {
            let n = s.len();
            let mut i = 0;
            s.retain(|_| {
                let keep = (n - 1 - i) % 2 == 0;
                i += 1;
                keep
            });
        }
        self.every_s *= 2.0;
    }

    /// Notes pump `asset`'s speed set-point `rpm` at `t_s`: a change from the last one noted is kept.
    pub fn note_setpoint(&mut self, asset: &str, t_s: f64, rpm: f64) {
        match self.last_setpoint.get_mut(asset) {
            Some(last) if *last != rpm => {
                if self.setpoints.len() >= SETPOINT_CAP {
                    self.setpoints.pop_front();
                }
                self.setpoints.push_back(SetpointChange { t_s, asset: asset.to_owned(), from_rpm: *last, to_rpm: rpm });
                *last = rpm;
            }
            Some(_) => {}
            None => {
                self.last_setpoint.insert(asset.to_owned(), rpm);
            }
        }
    }

    /// The points of one trace (empty when none were recorded).
    pub fn get(&self, asset: &str, trace: Trace) -> &[[f64; 2]] {
        self.series.get(asset).and_then(|t| t.get(&trace)).map_or(&[], Vec::as_slice)
    }
}

/// Records the history each frame once the twin has stepped.
pub(super) struct HistoryPlugin;

impl Plugin for HistoryPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<History>().add_systems(Update, record_history.after(TwinSystems::Dispatch));
    }
}

/// Samples every asset's indices and the scored measurements when a sample is due.
fn record_history(world: &mut World, pumps: &mut QueryState<(&Asset, &crate::twin::pump::SpeedSetpoint)>) {
    let now = world.resource::<SimClock>().now_s;
    world.resource_scope(|world, mut h: Mut<History>| {
        for (asset, sp) in pumps.iter(world) {
            h.note_setpoint(&asset.id, now, sp.rpm);
        }
        if !h.due(now) {
            return;
        }
        for (id, &e) in &world.resource::<AssetIndex>().0 {
            let Some(kind) = world.get::<Asset>(e).map(|a| a.kind) else { continue };
            for i in Index::of_kind(kind) {
                if let Some(v) = read_index(world, id, i) {
                    h.push(id, Trace::Index(i), now, v);
                }
            }
        }
        if let Some(a) = world.get_resource::<Assimilation>() {
            for ((e, q), s) in &a.last_scored {
                if let Some(asset) = world.get::<Asset>(*e) {
                    h.push(&asset.id, Trace::Measured(*q), s.t_s, s.measured);
                    h.push(&asset.id, Trace::Predicted(*q), s.t_s, s.predicted);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_due_once_per_interval() {
        let mut h = History::new(30.0, 100);
        assert!(h.due(0.0));
        assert!(!h.due(10.0));
        assert!(!h.due(29.0));
        assert!(h.due(30.0));
        assert!(h.due(95.0));
        assert!(!h.due(100.0));
        assert!(h.due(120.0));
    }

    #[test]
    fn a_full_series_is_thinned_keeping_its_span_and_the_interval_doubles() {
        let mut h = History::new(1.0, 8);
        for t in 0..=8 {
            h.push("P-1", Trace::Index(Index::Flow), t as f64, t as f64 * 2.0);
            h.push("M-1", Trace::Index(Index::WindingTemperature), t as f64, 40.0);
        }
        let s = h.get("P-1", Trace::Index(Index::Flow));
        assert_eq!(s, &[[0.0, 0.0], [2.0, 4.0], [4.0, 8.0], [6.0, 12.0], [8.0, 16.0]]);
        assert_eq!(h.every_s, 2.0);
        // The other series was thinned with it (it had one point fewer at the time).
        assert!(h.get("M-1", Trace::Index(Index::WindingTemperature)).len() <= 5);
        // Out-of-order and non-finite points are not recorded.
        h.push("P-1", Trace::Index(Index::Flow), 3.0, 1.0);
        h.push("P-1", Trace::Index(Index::Flow), 9.0, f64::NAN);
        assert_eq!(h.get("P-1", Trace::Index(Index::Flow)).len(), 5);
        assert!(h.get("X", Trace::Index(Index::Flow)).is_empty());
    }

    #[test]
    fn a_set_point_change_is_noted_once_with_its_old_and_new_values() {
        let mut h = History::new(30.0, 100);
        h.note_setpoint("P-1", 0.0, 1450.0);
        h.note_setpoint("P-1", 10.0, 1450.0);
        assert!(h.setpoints.is_empty(), "the first value is no change");
        h.note_setpoint("P-1", 20.0, 1400.0);
        h.note_setpoint("P-1", 30.0, 1400.0);
        assert_eq!(
            h.setpoints.iter().collect::<Vec<_>>(),
            [&SetpointChange { t_s: 20.0, asset: "P-1".into(), from_rpm: 1450.0, to_rpm: 1400.0 }]
        );
    }
}
