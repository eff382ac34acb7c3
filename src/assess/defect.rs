//! Stage 2 of a pump bearing's degradation, estimated: a defect the crest factor shows is detected (the measured
//! crest above the model's, without a defect, for [`DETECT_MINUTES`] minutes running), then its growth is learnt
//! from the severity the crest factor implies once a minute (`twin_models::degradation`: a Bayesian regression of
//! the log-severity on load-weighted time, from the fleet's prior on the rate). From detection on, the pump's wear
//! index and remaining life are the defect's: the wear index runs from its value at detection to 1 at the failure
//! threshold, and the remaining life is a distribution (its median in `rul_h`, p10 and p90 in `rul_band_h`).

use bevy::prelude::*;
use serde::Serialize;
use twin_models::degradation::{self, GrowthEstimator, RulBand};

use crate::ingest::Measurements;
use crate::twin::pump::{PumpModel, PumpReadings};
use crate::twin::{SimClock, TwinSystems};
use crate::units::Quantity;

/// Minutes running the crest factor must show a defect before it counts as detected.
pub const DETECT_MINUTES: u32 = 5;
/// Time between two readings of the defect's severity, s.
pub const READING_PERIOD_S: f64 = 60.0;

/// A detected defect and what the twin believes about it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TrackedDefect {
    /// Simulated time of detection, s.
    pub detected_at_s: f64,
    /// The fatigue wear index when it was detected (stage 2 starts from it).
    pub wear_at_detection: f64,
    /// Load-weighted operating hours since detection, `∫ g dt`, h.
    pub tau_h: f64,
    /// The belief about its log-severity and growth rate.
    pub estimator: GrowthEstimator,
    /// Its severity now (posterior mean), 0..1.
    pub severity: f64,
    /// The growth rate's posterior mean and standard deviation at the rated point, 1/h.
    pub growth_rate_per_h: (f64, f64),
    /// Remaining useful life at the present operating point, h.
    pub rul_h: RulBand,
}

/// A pump's defect watch.
#[derive(Component, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct DefectTracker {
    /// Minutes running the crest factor has shown a defect (before detection).
    above_minutes: u32,
    /// Simulated time of the last reading, s.
    last_reading_s: f64,
    /// The defect, once detected.
    pub defect: Option<TrackedDefect>,
}

/// Takes a severity reading once a minute and, in stage 2, makes the pump's wear index and remaining life the
/// defect's.
pub fn track_defects(
    clock: Res<SimClock>,
    mut pumps: Query<(&PumpModel, &mut PumpReadings, &Measurements, &mut DefectTracker)>,
) {
    let now = clock.now_s;
    for (model, mut readings, measurements, mut tracker) in &mut pumps {
        let o = &readings.0;
        if now - tracker.last_reading_s >= READING_PERIOD_S {
            let dt_h = (now - tracker.last_reading_s) / 3600.0;
            tracker.last_reading_s = now;
            let g = model.0.defect_growth_factor(o);
            let severity = measurements
                .0
                .get(&Quantity::VibrationCrestFactor)
                .filter(|m| !m.stale)
                .and_then(|m| degradation::severity_from_crest(m.value, o.crest_factor))
                .filter(|s| *s > 0.0);
            let wear = o.health.bearing_wear;
            match &mut tracker.defect {
                Some(d) => {
                    d.tau_h += g * dt_h;
                    if let Some(s) = severity {
                        d.estimator.observe(d.tau_h, s.ln());
                    }
                    d.severity = d.estimator.ln_severity(d.tau_h).0.exp().min(degradation::FAILURE_SEVERITY);
                    d.growth_rate_per_h = d.estimator.rate();
                    d.rul_h = d.estimator.rul_h(d.tau_h, g);
                }
                None => {
                    tracker.above_minutes = if severity.is_some() { tracker.above_minutes + 1 } else { 0 };
                    if let Some(s) = severity.filter(|_| tracker.above_minutes >= DETECT_MINUTES) {
                        let mut estimator = GrowthEstimator::fleet(s.ln());
                        estimator.observe(0.0, s.ln());
                        tracker.defect = Some(TrackedDefect {
                            detected_at_s: now,
                            wear_at_detection: wear,
                            tau_h: 0.0,
                            severity: estimator.ln_severity(0.0).0.exp(),
                            growth_rate_per_h: estimator.rate(),
                            rul_h: estimator.rul_h(0.0, g),
                            estimator,
                        });
                    }
                }
            }
        }
        if let Some(d) = &tracker.defect {
            let h = &mut readings.0.health;
            h.bearing_wear = h.bearing_wear.max(degradation::stage2_wear(d.wear_at_detection, d.severity));
            h.rul_h = h.rul_h.min(d.rul_h.p50);
            h.rul_band_h = Some((d.rul_h.p10.min(h.rul_h), d.rul_h.p90.max(h.rul_h)));
        }
    }
}

/// The detected defects of the twin in `world`, by pump id.
pub fn report(world: &World) -> std::collections::BTreeMap<String, TrackedDefect> {
    let index = world.resource::<crate::twin::AssetIndex>();
    index.0.iter().filter_map(|(id, e)| Some((id.clone(), world.get::<DefectTracker>(*e)?.defect.clone()?))).collect()
}

/// Watches every pump for a bearing defect (after the Simulate stage, before the readings are reported).
pub struct DefectPlugin;

impl Plugin for DefectPlugin {
    fn build(&self, app: &mut App) {
        let world = app.world_mut();
        let pumps: Vec<Entity> = world.query_filtered::<Entity, With<PumpReadings>>().iter(world).collect();
        for e in pumps {
            world.entity_mut(e).insert(DefectTracker::default());
        }
        app.add_systems(
            Update,
            track_defects
                .in_set(TwinSystems::Assess)
                .after(crate::sync::apply_model_updates)
                .before(super::dependency::assess_upstream)
                .before(crate::twin::motor::update_motor_readings),
        );
    }
}
