//! Stage 2 of a pump bearing's degradation, estimated: a defect the crest factor shows is detected (the measured
//! crest above the model's, without a defect, for [`DETECT_MINUTES`] minutes running), then its growth is learnt
//! from the severity the crest factor implies once a minute (`twin_models::degradation`: a Bayesian regression of
//! the log-severity on load-weighted time, from the fleet's prior on the rate). From detection on, the pump's wear
//! index and remaining life are the defect's: the wear index runs from its value at detection to 1 at the failure
//! threshold, and the remaining life is a distribution (its median in `rul_h`, p10 and p90 in `rul_band_h`). The
//! prior on the rate is the fleet's, or the scenario's pace model's ([`super::pace`]).

use bevy::prelude::*;
use serde::Serialize;
use twin_models::degradation::{self, GrowthEstimator, RulBand};

use crate::ingest::Measurements;
use crate::twin::pump::{PumpModel, PumpReadings};
use crate::twin::{DependsOn, SimClock, TwinSystems};
use crate::units::Quantity;

/// Minutes running the crest factor must show a defect before it counts as detected.
pub const DETECT_MINUTES: u32 = 5;
/// Time between two readings of the defect's severity, s.
pub const READING_PERIOD_S: f64 = 60.0;
/// A pump runs (its pace features are taken) above this share of its rated speed.
pub const RUNNING_SPEED_RATIO: f64 = 0.1;

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
    /// The ML layer's prior on the growth rate (None: the fleet's).
    #[serde(default)]
    pub prior: Option<super::pace::PacePrior>,
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
    /// The pace features (kept until detection).
    pub features: super::pace::PaceFeatures,
}

/// Takes a severity reading once a minute and, in stage 2, makes the pump's wear index and remaining life the
/// defect's.
pub fn track_defects(
    clock: Res<SimClock>,
    mut layer: ResMut<super::pace::PaceLayer>,
    mut pumps: Query<(&PumpModel, &mut PumpReadings, &Measurements, &mut DefectTracker, Option<&DependsOn>)>,
    others: Query<&Measurements, Without<DefectTracker>>,
) {
    let now = clock.now_s;
    for (model, mut readings, measurements, mut tracker, deps) in &mut pumps {
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
                    // The pump's own signals, else those of what it depends on (its motor's winding and current).
                    let measured = |q: Quantity| {
                        std::iter::once(measurements)
                            .chain(deps.iter().flat_map(|d| d.0.iter()).filter_map(|e| others.get(*e).ok()))
                            .find_map(|m| m.0.get(&q).filter(|m| !m.stale))
                            .map_or(f64::NAN, |m| m.value)
                    };
                    let (pump, motor) = (&model.0.pump, &model.0.motor);
                    let speed_ratio = o.speed_rpm / pump.rated_speed_rpm;
                    if speed_ratio > RUNNING_SPEED_RATIO {
                        tracker.features.update(
                            [
                                speed_ratio,
                                measured(Quantity::WindingTemperature),
                                measured(Quantity::VibrationVelocityRms),
                                measured(Quantity::MotorCurrent) / motor.rated_current_a,
                            ],
                            dt_h * 3600.0,
                        );
                    }
                    tracker.above_minutes = if severity.is_some() { tracker.above_minutes + 1 } else { 0 };
                    if let Some(s) = severity.filter(|_| tracker.above_minutes >= DETECT_MINUTES) {
                        let (mut estimator, prior) = super::pace::prior(&mut layer, &tracker.features, s.ln());
                        estimator.observe(0.0, s.ln());
                        tracker.defect = Some(TrackedDefect {
                            detected_at_s: now,
                            wear_at_detection: wear,
                            tau_h: 0.0,
                            severity: estimator.ln_severity(0.0).0.exp(),
                            growth_rate_per_h: estimator.rate(),
                            rul_h: estimator.rul_h(0.0, g),
                            estimator,
                            prior,
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

/// Watches every pump for a bearing defect (after the Simulate stage, before the readings are reported), with the
/// scenario's pace model (if any) for the prior of a defect's growth rate.
pub struct DefectPlugin {
    pub scenario: std::sync::Arc<crate::scenario::Scenario>,
}

impl Plugin for DefectPlugin {
    fn build(&self, app: &mut App) {
        let world = app.world_mut();
        match super::pace::PaceLayer::load(&self.scenario) {
            Ok(layer) => {
                world.insert_resource(layer);
            }
            Err(e) => {
                world.insert_resource(super::pace::PaceLayer::default());
                world.get_resource_or_init::<crate::twin::pump::ModelBuildErrors>().0.push(format!("pace_model: {e}"));
            }
        }
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
                .before(crate::twin::motor::update_motor_readings)
                .run_if(crate::twin::clock::model_stepped),
        );
    }
}
