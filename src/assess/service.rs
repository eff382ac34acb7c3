//! The maintenance loop: when a pump's bearing wear index or remaining life crosses its alert threshold (the
//! scenario's `maintenance_policy`, or the built-in ones), the twin recommends a service window: it closes at the
//! latest time by which the bearing fails with at most the policy's `max_failure_probability` (that quantile of
//! the remaining life: the growing defect's when one is tracked, the fatigue life's otherwise), and names the
//! earliest planned shutdown (the policy's, and the scenario's bearing replacements) before it. Each crossing
//! raises one maintenance notification, kept for the report and the workbench, appended to the policy's JSON
//! Lines file and published on its MQTT topic when a broker is connected.

use std::collections::BTreeMap;
use std::io::Write;

use bevy::prelude::*;
use serde::Serialize;

use super::defect::DefectTracker;
use crate::ingest::Telemetry;
use crate::scenario::{Index, Maintenance};
use crate::sync::Assimilation;
use crate::twin::pump::{PumpModel, PumpReadings, output_index};
use crate::twin::{Asset, LoadedScenario, SimClock, TwinSystems};

/// The indices whose alert raises a service recommendation (they measure the bearing's life).
const SERVICE_INDICES: [Index; 2] = [Index::BearingWear, Index::RemainingLifeHours];

/// A recommended service window, as notified.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceNotification {
    /// The pump.
    pub asset: String,
    /// The index that crossed its alert (its report key).
    pub index: String,
    /// Its value then.
    pub value: f64,
    /// Its alert threshold.
    pub alert: f64,
    /// Simulated time of the crossing, s.
    pub raised_at_s: f64,
    /// The same as Unix time, s.
    pub raised_at_unix_s: f64,
    /// The window closes here: the bearing fails before it with the policy's probability, simulated s.
    pub window_latest_s: f64,
    /// The probability of failing before `window_latest_s` the window is drawn for.
    pub max_failure_probability: f64,
    /// The earliest planned shutdown in the window, simulated s (none: service needs a shutdown of its own).
    pub planned_shutdown_s: Option<f64>,
    /// Remaining useful life then: p10, p50, p90, h.
    pub rul_h: (f64, f64, f64),
    /// Whether a growing defect sets the remaining life (stage 2) rather than the fatigue life.
    pub defect: bool,
    /// The pump model's calibration version.
    pub model_version: u32,
}

/// Every maintenance notification so far, in order, and why any could not be delivered.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ServiceLog {
    pub notifications: Vec<ServiceNotification>,
    /// Notifications that could not be written to the file or published (the first reason is logged).
    pub undelivered: u64,
}

/// A pump's alert states and its latest recommendation.
#[derive(Component, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ServiceWatch {
    alerted: BTreeMap<Index, bool>,
    /// The latest recommended window.
    pub window: Option<ServiceNotification>,
}

/// Watches the pumps' bearing indices for alert crossings and recommends a window on each.
#[allow(clippy::type_complexity)]
fn watch_service(
    clock: Res<SimClock>,
    scenario: Res<LoadedScenario>,
    assimilation: Option<Res<Assimilation>>,
    telemetry: Option<Res<Telemetry>>,
    mut log: ResMut<ServiceLog>,
    mut pumps: Query<(Entity, &Asset, &PumpModel, &PumpReadings, &DefectTracker, &mut ServiceWatch)>,
) {
    let now = clock.now_s;
    let policy = &scenario.0.maintenance_policy;
    let p = policy.max_failure_probability;
    for (e, asset, model, readings, tracker, mut watch) in &mut pumps {
        // The indices that crossed their alert now; several crossing together are one event, one notification.
        let mut crossed = Vec::new();
        for index in SERVICE_INDICES {
            let (Some(t), Some(v)) = (policy.thresholds(index), output_index(&readings.0, index)) else { continue };
            let alerted = t.alerted(v);
            if alerted && !watch.alerted.insert(index, alerted).unwrap_or(false) {
                crossed.push((index, t, v));
            } else {
                watch.alerted.insert(index, alerted);
            }
        }
        if let Some(&(index, t, v)) = crossed.first() {
            let o = &readings.0;
            let (q_h, defect) = match &tracker.defect {
                Some(d) => (d.estimator.rul_quantile_h(d.tau_h, model.0.defect_growth_factor(o), p), true),
                None => (o.health.bearing_life.rul_percentile_hours(p), false),
            };
            let latest = now + q_h.min(twin_models::health::RUL_CAP_H) * 3600.0;
            let replacements = scenario.0.maintenance.iter().map(|m| match m {
                Maintenance::BearingReplacement { asset: a, at } if *a == asset.id => Some(at.secs()),
                Maintenance::BearingReplacement { .. } => None,
            });
            let planned = policy
                .planned_shutdowns
                .iter()
                .map(|d| Some(d.secs()))
                .chain(replacements)
                .flatten()
                .filter(|&s| s >= now && s <= latest)
                .min_by(f64::total_cmp);
            let (p10, p90) = o.health.rul_p10_p90();
            let n = ServiceNotification {
                asset: asset.id.clone(),
                index: index.key().to_owned(),
                value: v,
                alert: t.alert,
                raised_at_s: now,
                raised_at_unix_s: telemetry.as_ref().map_or(0.0, |t| t.epoch_unix_s) + now,
                window_latest_s: latest,
                max_failure_probability: p,
                planned_shutdown_s: planned,
                rul_h: (p10, o.health.rul_h, p90),
                defect,
                model_version: assimilation.as_ref().and_then(|a| a.calibration(e)).map_or(0, |c| c.0),
            };
            info!(
                "{}: {} {:.3} crossed its alert {}: service before {:.1} h{}",
                n.asset,
                n.index,
                v,
                t.alert,
                latest / 3600.0,
                planned.map_or(String::new(), |s| format!(", at the planned shutdown at {:.1} h", s / 3600.0))
            );
            if let Err(why) = deliver(&n, policy, telemetry.as_deref()) {
                if log.undelivered == 0 {
                    warn!("maintenance notification not delivered: {why}");
                }
                log.undelivered += 1;
            }
            watch.window = Some(n.clone());
            log.notifications.push(n);
        }
    }
}

/// Appends the notification to the policy's file and publishes it on its topic (when a broker is connected).
fn deliver(
    n: &ServiceNotification,
    policy: &crate::scenario::MaintenancePolicy,
    telemetry: Option<&Telemetry>,
) -> Result<(), String> {
    let json = serde_json::to_string(n).map_err(|e| e.to_string())?;
    if let Some(path) = &policy.notify_file {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        writeln!(f, "{json}").map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    if let (Some(topic), Some(client)) = (&policy.notify_topic, telemetry.and_then(|t| t.mqtt.as_ref())) {
        client
            .publish(topic, json.into_bytes(), twin_mqtt::Qos::AtLeastOnce, false)
            .map_err(|e| format!("cannot publish on {topic}: {e}"))?;
    }
    Ok(())
}

/// Recommends service windows and notifies them (after the defect watch, in the Assess stage).
pub struct ServicePlugin;

impl Plugin for ServicePlugin {
    fn build(&self, app: &mut App) {
        let world = app.world_mut();
        let pumps: Vec<Entity> = world.query_filtered::<Entity, With<PumpReadings>>().iter(world).collect();
        for e in pumps {
            world.entity_mut(e).insert(ServiceWatch::default());
        }
        app.init_resource::<ServiceLog>().add_systems(
            Update,
            watch_service
                .in_set(TwinSystems::Assess)
                .after(super::defect::track_defects)
                .after(super::dependency::assess_upstream)
                .after(super::config::apply_identities)
                .run_if(crate::twin::clock::model_stepped),
        );
    }
}
