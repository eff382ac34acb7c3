//! What happened to a pump train, as markers on the plots' time axis: a detected fault, drift alarms raised and
//! cleared, recalibrations, set-point changes, planned maintenance, the recommended service window and spans
//! revised by late data, each with a line of text for the hover. Window-free: gathered from the world.

use bevy::prelude::*;
use bevy_egui::egui::Color32;

use super::history::History;
use super::widgets::format_sim_time;
use crate::assess::defect::DefectTracker;
use crate::assess::service::ServiceWatch;
use crate::scenario::Maintenance;
use crate::sync::Assimilation;
use crate::twin::{AssetIndex, LoadedScenario};

/// Kinds of event, in the order the legend lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A bearing defect was detected.
    Fault,
    /// A drift alarm was raised.
    AlarmRaised,
    /// A drift alarm cleared.
    AlarmCleared,
    /// The model was recalibrated (or a recalibration proposed).
    Recalibration,
    /// A set-point changed.
    Setpoint,
    /// Planned maintenance (the scenario's).
    Maintenance,
    /// The recommended service window closes.
    ServiceWindow,
    /// A span revised by late data (its start).
    Revised,
}

impl EventKind {
    /// The marker's colour on the plots.
    pub fn color(self) -> Color32 {
        match self {
            EventKind::Fault => Color32::from_rgb(255, 0, 255),
            EventKind::AlarmRaised => Color32::from_rgb(255, 60, 60),
            EventKind::AlarmCleared => Color32::from_rgb(90, 220, 120),
            EventKind::Recalibration => Color32::from_rgb(80, 200, 255),
            EventKind::Setpoint => Color32::from_rgb(255, 255, 255),
            EventKind::Maintenance => Color32::from_rgb(160, 120, 255),
            EventKind::ServiceWindow => Color32::from_rgb(240, 160, 40),
            EventKind::Revised => Color32::from_rgb(255, 200, 80),
        }
    }

    /// Its name in the hover text and the CSV export.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Fault => "fault",
            EventKind::AlarmRaised => "alarm raised",
            EventKind::AlarmCleared => "alarm cleared",
            EventKind::Recalibration => "recalibration",
            EventKind::Setpoint => "set-point change",
            EventKind::Maintenance => "maintenance",
            EventKind::ServiceWindow => "service window",
            EventKind::Revised => "revised span",
        }
    }
}

/// One event on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotEvent {
    /// Simulated time, s.
    pub t_s: f64,
    pub kind: EventKind,
    /// The asset it concerns.
    pub asset: String,
    /// What happened, for a person.
    pub text: String,
}

/// Every event of `assets` between `x0` and `x1` (simulated s), oldest first.
pub fn plot_events(world: &World, assets: &[&str], x0: f64, x1: f64) -> Vec<PlotEvent> {
    let mut out = Vec::new();
    let mut add = |t_s: f64, kind: EventKind, asset: &str, text: String| {
        if t_s >= x0 && t_s <= x1 && assets.contains(&asset) {
            out.push(PlotEvent { t_s, kind, asset: asset.to_owned(), text });
        }
    };
    let index = world.resource::<AssetIndex>();
    for &id in assets {
        let Some(&e) = index.0.get(id) else { continue };
        if let Some(d) = world.get::<DefectTracker>(e).and_then(|t| t.defect.as_ref()) {
            add(
                d.detected_at_s,
                EventKind::Fault,
                id,
                format!(
                    "bearing defect detected on {id} (wear then {:.2}); remaining life now p50 {:.0} h",
                    d.wear_at_detection, d.rul_h.p50
                ),
            );
        }
        if let Some(w) = world.get::<ServiceWatch>(e).and_then(|w| w.window.as_ref()) {
            add(
                w.window_latest_s,
                EventKind::ServiceWindow,
                id,
                format!(
                    "service {id} before {} (P(failure before then) {:.0} %); recommended at {} when {} crossed {}",
                    format_sim_time(w.window_latest_s),
                    w.max_failure_probability * 100.0,
                    format_sim_time(w.raised_at_s),
                    w.index,
                    w.alert
                ),
            );
        }
    }
    if let Some(a) = world.get_resource::<Assimilation>() {
        for alarm in &a.alarms {
            let what = format!("{:?} {:?} on {}", alarm.quantity, alarm.kind, alarm.asset);
            add(
                alarm.raised_s,
                EventKind::AlarmRaised,
                &alarm.asset,
                format!("drift alarm raised: {what} ({:?}): {}", alarm.cause, alarm.reason),
            );
            if let Some(c) = alarm.cleared_s {
                add(c, EventKind::AlarmCleared, &alarm.asset, format!("drift alarm cleared: {what}"));
            }
        }
        for r in &a.recalibrations {
            let changes: Vec<String> =
                r.changes.iter().map(|(name, before, after, ..)| format!("{name} {before:.3} to {after:.3}")).collect();
            add(
                r.t_s,
                EventKind::Recalibration,
                &r.asset,
                format!(
                    "recalibration of {} to model v{} ({}): {}",
                    r.asset,
                    r.version,
                    if r.applied { "applied" } else { "proposed" },
                    changes.join(", ")
                ),
            );
        }
        // A revised span concerns the whole twin: listed once, under the train's first asset.
        for r in a.revisions.iter().filter(|_| !assets.is_empty()) {
            add(
                r.from_s,
                EventKind::Revised,
                assets[0],
                format!(
                    "late data revised {} to {} (the shaded span)",
                    format_sim_time(r.from_s),
                    format_sim_time(r.to_s)
                ),
            );
        }
    }
    for m in &world.resource::<LoadedScenario>().0.maintenance {
        match m {
            Maintenance::BearingReplacement { asset, at } => {
                add(at.secs(), EventKind::Maintenance, asset, format!("planned bearing replacement on {asset}"));
            }
        }
    }
    if let Some(h) = world.get_resource::<History>() {
        for c in &h.setpoints {
            add(
                c.t_s,
                EventKind::Setpoint,
                &c.asset,
                format!("{} speed set-point {:.0} to {:.0} rpm", c.asset, c.from_rpm, c.to_rpm),
            );
        }
    }
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s).then(a.kind.cmp(&b.kind)));
    out
}

/// The event nearest `t_s` within `tol_s`, if any.
pub fn nearest(events: &[PlotEvent], t_s: f64, tol_s: f64) -> Option<&PlotEvent> {
    events
        .iter()
        .filter(|e| (e.t_s - t_s).abs() <= tol_s)
        .min_by(|a, b| (a.t_s - t_s).abs().total_cmp(&(b.t_s - t_s).abs()))
}
