//! What-if questions asked of the live twin: a pump train's present estimate (its calibrated model, state,
//! calibration uncertainty, a defect severity inferred from the crest factor, its feed level, the site's
//! ambient and the planned maintenance) is forked into a [`twin_models::whatif::Study`] and simulated forward
//! under a change set, next to the unchanged baseline.

use bevy::prelude::*;
use serde::Serialize;
use twin_models::whatif::{self, Advice, AdviceRequest, Ambient, Answer, Plan, Study, Uncertainty};

use super::ChangeError;
use crate::ingest::Measurements;
use crate::scenario::{Maintenance, SetpointTarget};
use crate::sync::{Assimilation, Setpoints};
use crate::twin::pump::{Feed, PumpModel, PumpReadings, PumpState};
use crate::twin::tank::TankLevel;
use crate::twin::{AssetIndex, LoadedScenario, SimClock};
use crate::units::Quantity;

/// Standard deviation given to an inferred defect severity.
pub const DEFECT_SEVERITY_STD: f64 = 0.1;

/// A change set for a what-if: set-point values (in each set-point's unit) and a maintenance shift.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChangeSet {
    /// (set-point id, value in its unit).
    pub setpoints: Vec<(String, f64)>,
    /// Moves the pump's planned bearing replacement by this much, s (positive: later).
    pub defer_maintenance_s: f64,
}

/// The defect severity the measured crest factor implies (see [`twin_models::degradation::severity_from_crest`]).
pub use twin_models::degradation::severity_from_crest as defect_from_crest;

/// Forks the present estimate of pump `pump` into a study whose baseline and change plans both keep the present
/// set-point and planned maintenance; `horizon_s`, `samples` and `seed` as given.
pub fn fork(world: &World, pump: &str, horizon_s: f64, samples: usize, seed: u64) -> Result<Study, ChangeError> {
    let scenario = &world.resource::<LoadedScenario>().0;
    let e = *world.resource::<AssetIndex>().0.get(pump).ok_or_else(|| ChangeError::UnknownAsset(pump.into()))?;
    let (Some(model), Some(state), Some(readings)) =
        (world.get::<PumpModel>(e), world.get::<PumpState>(e), world.get::<PumpReadings>(e))
    else {
        return Err(ChangeError::NotAPump(pump.into()));
    };
    let now = world.resource::<SimClock>().now_s;
    let level =
        world.get::<Feed>(e).and_then(|f| f.0).and_then(|t| world.get::<TankLevel>(t)).map_or(0.0, |l| l.0.level_m);
    let sim = &scenario.simulation;
    let ambient = Ambient {
        mean_c: sim.ambient.mean_c,
        daily_swing_k: sim.ambient.daily_swing_k,
        start_time_of_day_s: now.rem_euclid(86_400.0),
    };
    let mut uncertainty = world
        .get_resource::<Assimilation>()
        .and_then(|a| a.calibration(e))
        .map_or_else(Uncertainty::default, |(_, _, est)| Uncertainty::from_estimates(&est));
    uncertainty.ambient_std_k = sim.ambient_noise_k;
    let crest =
        world.get::<Measurements>(e).and_then(|m| m.0.get(&Quantity::VibrationCrestFactor)).filter(|m| !m.stale);
    if let Some(s) = crest.and_then(|m| defect_from_crest(m.value, readings.0.crest_factor)) {
        uncertainty.defect_severity_mean = s;
        uncertainty.defect_severity_std = DEFECT_SEVERITY_STD;
    }
    // A defect the twin has been following: its severity and growth rate as learnt (the fleet's rate otherwise).
    if let Some(d) = world.get::<crate::assess::defect::DefectTracker>(e).and_then(|t| t.defect.as_ref()) {
        let (ln_s, sd) = d.estimator.ln_severity(d.tau_h);
        uncertainty.defect_severity_mean = ln_s.exp().clamp(0.0, 1.0);
        uncertainty.defect_severity_std = (ln_s.exp() * sd).min(DEFECT_SEVERITY_STD);
        (uncertainty.defect_growth_rate_per_h, uncertainty.defect_growth_sigma_ln) = d.estimator.rate_lognormal();
    }
    let speed = state.0.speed_rpm.max(readings.0.speed_rpm);
    let live = world
        .get_resource::<Setpoints>()
        .and_then(|s| {
            let sp = scenario.setpoints.iter().find(|sp| sp.asset == pump && sp.target == SetpointTarget::Speed)?;
            s.live.get(&sp.id).map(|l| l.value)
        })
        .unwrap_or(speed);
    let mut plan = Plan::constant(live, level, ambient);
    let planned = scenario.maintenance.iter().find_map(|m| match m {
        Maintenance::BearingReplacement { asset, at } if asset == pump && at.secs() > now => Some(at.secs() - now),
        _ => None,
    });
    if let Some(at) = planned {
        plan = plan.with_maintenance_at(at);
    }
    let mut study = Study::new(model.0.as_ref().clone(), state.0, plan.clone(), plan);
    study.horizon_s = horizon_s;
    study.samples = samples;
    study.seed = seed;
    study.uncertainty = uncertainty;
    Ok(study)
}

/// Applies a change set to the study's change plan (set-points must act on the study's pump).
pub fn apply(world: &World, study: &mut Study, pump: &str, changes: &ChangeSet) -> Result<(), ChangeError> {
    let scenario = &world.resource::<LoadedScenario>().0;
    for (id, value) in &changes.setpoints {
        let sp =
            scenario.setpoints.iter().find(|s| &s.id == id).ok_or_else(|| ChangeError::UnknownSetpoint(id.clone()))?;
        if sp.asset != pump {
            return Err(ChangeError::Invalid(format!("set-point \"{id}\" acts on {}, not on {pump}", sp.asset)));
        }
        let c = sp.target.quantity().converter(&sp.unit).ok_or_else(|| ChangeError::UnknownSetpoint(id.clone()))?;
        let rpm = match sp.target {
            SetpointTarget::Speed => c.to_canonical(*value),
        };
        study.change = study.change.clone().with_speed_from(0.0, rpm);
    }
    if changes.defer_maintenance_s != 0.0 {
        let at = study.change.maintenance_at_s.ok_or_else(|| {
            ChangeError::Invalid(format!(
                "{pump} has no planned bearing replacement ahead to defer (scenario maintenance)"
            ))
        })?;
        study.change.maintenance_at_s = Some((at + changes.defer_maintenance_s).max(0.0));
    }
    Ok(())
}

/// A what-if answer with what it was asked.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    /// The pump.
    pub pump: String,
    /// Simulated time of the fork, s.
    pub forked_at_s: f64,
    /// The change set.
    pub changes: ChangeSet,
    /// Planned bearing replacement in the baseline and in the change, s after the fork.
    pub maintenance_at_s: (Option<f64>, Option<f64>),
    /// The uncertainty sampled.
    pub uncertainty: Uncertainty,
    /// The answer.
    pub answer: Answer,
    /// Speed advice, when asked.
    pub advice: Option<Advice>,
}

/// Forks `pump`, applies `changes`, runs the Monte Carlo, and (with `advice`) finds the smallest speed reduction.
pub fn ask(
    world: &World,
    pump: &str,
    changes: &ChangeSet,
    horizon_s: f64,
    samples: usize,
    seed: u64,
    advice: Option<AdviceRequest>,
) -> Result<WhatIf, ChangeError> {
    let mut study = fork(world, pump, horizon_s, samples, seed)?;
    apply(world, &mut study, pump, changes)?;
    let answer = whatif::run(&study)?;
    let advice = match advice {
        Some(mut req) => {
            req.current_rpm = study.baseline.speed_schedule.first().map_or(req.current_rpm, |s| s.1);
            Some(whatif::advise(&study, &req)?)
        }
        None => None,
    };
    Ok(WhatIf {
        pump: pump.into(),
        forked_at_s: world.resource::<SimClock>().now_s,
        changes: changes.clone(),
        maintenance_at_s: (study.baseline.maintenance_at_s, study.change.maintenance_at_s),
        uncertainty: study.uncertainty,
        answer,
        advice,
    })
}

/// The answer as a table for people.
pub fn table(w: &WhatIf) -> String {
    let (b, c) = (&w.answer.baseline, &w.answer.change);
    let days = |s: Option<f64>| s.map_or("none".to_string(), |s| format!("in {:.1} d", s / 86_400.0));
    let mut t = format!(
        "what-if for {} forked at {:.1} h, horizon {:.1} d, {} samples\nbearing replacement: baseline {}, change {}\n",
        w.pump,
        w.forked_at_s / 3600.0,
        w.answer.horizon_s / 86_400.0,
        w.answer.samples,
        days(w.maintenance_at_s.0),
        days(w.maintenance_at_s.1),
    );
    if w.uncertainty.defect_severity_mean > 0.0 {
        t += &format!(
            "bearing defect inferred from the crest factor: severity {:.2} ± {:.2}\n",
            w.uncertainty.defect_severity_mean, w.uncertainty.defect_severity_std
        );
        let (median, sigma) = match w.uncertainty.defect_growth_rate_per_h {
            r if r > 0.0 => (r, w.uncertainty.defect_growth_sigma_ln),
            _ => (twin_models::degradation::GROWTH_RATE_MEDIAN_PER_H, twin_models::degradation::GROWTH_RATE_SIGMA_LN),
        };
        let days = twin_models::degradation::hours_to_failure(w.uncertainty.defect_severity_mean, median, 1.0) / 24.0;
        t += &format!(
            "its growth rate at the rated point: median {median:.4} /h (×/÷ {:.2}): at that rate it fails in {days:.1} d \
             at the rated point\n",
            sigma.exp(),
        );
    }
    t += &format!("{:<38} {:>12} {:>12}\n", "", "baseline", "change");
    let mut row = |name: &str, x: String, y: String| t += &format!("{name:<38} {x:>12} {y:>12}\n");
    let pct = |p: f64| format!("{:.2} %", 100.0 * p);
    row("P(bearing failure within horizon)", pct(b.p_failure), pct(c.p_failure));
    row("RUL p10 / h", format!("{:.0}", b.rul_h.p10), format!("{:.0}", c.rul_h.p10));
    row("RUL p50 / h", format!("{:.0}", b.rul_h.p50), format!("{:.0}", c.rul_h.p50));
    row("RUL p90 / h", format!("{:.0}", b.rul_h.p90), format!("{:.0}", c.rul_h.p90));
    row(
        "peak winding temperature p95 / °C",
        format!("{:.1}", b.peak_winding_c_p95),
        format!("{:.1}", c.peak_winding_c_p95),
    );
    row("time in cavitation (mean) / h", format!("{:.2}", b.cavitation_h_mean), format!("{:.2}", c.cavitation_h_mean));
    row("P(leaving an operating limit)", pct(b.p_leave_limits), pct(c.p_leave_limits));
    row("throughput (mean) / m³", format!("{:.0}", b.throughput_m3), format!("{:.0}", c.throughput_m3));
    row("throughput lost vs baseline / m³", "-".into(), format!("{:.0}", c.throughput_lost_m3));
    t += &format!(
        "change in failure probability: {:+.2} % ± {:.2} % (paired samples)\n",
        100.0 * w.answer.p_failure_delta,
        100.0 * w.answer.p_failure_delta_std
    );
    if let Some(a) = &w.advice {
        // A negative cost is a gain: at the present speed the bearing fails in enough samples to lose more.
        let cost = if a.throughput_cost_m3 >= 0.0 {
            format!("throughput cost {:.0} m³", a.throughput_cost_m3)
        } else {
            format!("throughput {:.0} m³ more (the present speed's failures stop the pump)", -a.throughput_cost_m3)
        };
        t += &format!(
            "advice: {:?}: run at {:.0} rpm, P(failure) {} (at the present speed {}), {cost}\n",
            a.verdict,
            a.speed_rpm,
            pct(a.p_failure),
            pct(a.p_failure_current),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defect_severity_is_recovered_from_the_crest_ratio_the_model_produces() {
        // The pump train's defect gains: peak × (1 + 2s), RMS × (1 + 0.1s).
        for s in [0.2, 0.6, 1.0] {
            let r = (1.0 + 2.0 * s) / (1.0 + 0.1 * s);
            let got = defect_from_crest(3.0 * r, 3.0).unwrap();
            assert!((got - s).abs() < 1e-12, "{got} vs {s}");
        }
        assert_eq!(defect_from_crest(3.1, 3.0), None, "within the crest factor's noise");
    }
}
