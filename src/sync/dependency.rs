//! Dependency risk: what happens upstream reaches the assets that depend on it. A pump's cavitation risk is
//! looked at ahead through its feed tank: a falling level, or a level the twin can no longer trust (its signal
//! stale or in drift alarm), raises the risk before the pump itself shows anything, and every upstream problem
//! (stale signals, drift alarms of the motor or tank) is listed on the dependent pump, named as such.

use bevy::prelude::*;
use serde::Serialize;
use twin_models::health::{CAVITATION_SAFE_RATIO, cavitation_risk};

use super::{Assimilation, quantity_name as quantity_words};
use crate::ingest::Measurements;
use crate::twin::pump::{Feed, PumpReadings};
use crate::twin::tank::TankLevel;
use crate::twin::{Asset, DependsOn, SimClock, TwinSystems};
use crate::units::Quantity;

/// How far ahead the feed level is projected, s.
pub const LOOKAHEAD_S: f64 = 3600.0;
/// Time constant of the level-trend filter, s.
pub const TREND_TAU_S: f64 = 600.0;
/// Standard deviations of the level estimate taken off the level when the level cannot be trusted.
pub const DISTRUST_SIGMAS: f64 = 2.0;
/// Least level uncertainty assumed while the level signal is in drift alarm, m.
pub const DRIFTING_LEVEL_STD_M: f64 = 0.1;

/// The smoothed rate of change of a tank's level, as the twin knows it: an exponentially weighted mean of the
/// level's rate over [`TREND_TAU_S`], normalised by its weight so that it is unbiased from the first tick.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct LevelTrend {
    /// Last (time s, level m) seen.
    last: Option<(f64, f64)>,
    /// Weighted sum of the rates seen, m/s.
    sum: f64,
    /// Sum of the weights, 0..1.
    weight: f64,
    /// Smoothed rate of change, m/s.
    pub rate_m_per_s: f64,
}

impl LevelTrend {
    /// Feeds the level at `t_s`; returns the smoothed rate, m/s.
    fn update(&mut self, t_s: f64, level_m: f64) -> f64 {
        if let Some((t0, l0)) = self.last
            && t_s > t0
        {
            let dt = t_s - t0;
            let alpha = dt / (TREND_TAU_S + dt);
            self.sum += alpha * ((level_m - l0) / dt - self.sum);
            self.weight += alpha * (1.0 - self.weight);
            self.rate_m_per_s = self.sum / self.weight;
        }
        self.last = Some((t_s, level_m));
        self.rate_m_per_s
    }
}

/// The risk a pump's upstream assets put on it.
#[derive(Component, Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpstreamRisk {
    /// Cavitation risk over the look-ahead, 0..1: the present risk, or the risk at the feed level projected
    /// [`LOOKAHEAD_S`] ahead at its trend (less [`DISTRUST_SIGMAS`] σ when the level cannot be trusted),
    /// whichever is higher.
    pub cavitation_risk: f64,
    /// Feed level trend, m/h (none without a feed tank).
    pub level_rate_m_per_h: Option<f64>,
    /// Time until the NPSH margin falls to the cavitation threshold at the present trend, s (none when it does
    /// not fall, or the margin is already below).
    pub cavitation_in_s: Option<f64>,
    /// Every upstream problem, naming the upstream asset, e.g. `T-1: level falling 2.0 m/h, cavitation risk in
    /// 25 min`.
    pub causes: Vec<String>,
}

/// Installs the level trends and the upstream-risk assessment (after the Simulate stage).
pub struct DependencyPlugin;

impl Plugin for DependencyPlugin {
    fn build(&self, app: &mut App) {
        let world = app.world_mut();
        let tanks: Vec<Entity> = world.query_filtered::<Entity, With<TankLevel>>().iter(world).collect();
        let pumps: Vec<Entity> = world.query_filtered::<Entity, With<PumpReadings>>().iter(world).collect();
        for e in tanks {
            world.entity_mut(e).insert(LevelTrend::default());
        }
        for e in pumps {
            world.entity_mut(e).insert(UpstreamRisk::default());
        }
        // After the calibrator's model updates: both use `Assimilation`, so without an order they are ambiguous.
        app.add_systems(Update, assess_upstream.in_set(TwinSystems::Assess).after(super::apply_model_updates));
    }
}

/// Minutes or hours, for a person.
fn duration_words(s: f64) -> String {
    if s < 5400.0 { format!("{:.0} min", s / 60.0) } else { format!("{:.1} h", s / 3600.0) }
}

/// Updates every tank's level trend, then every pump's upstream risk.
fn assess_upstream(
    clock: Res<SimClock>,
    a: Res<Assimilation>,
    mut tanks: Query<(&TankLevel, &mut LevelTrend)>,
    assets: Query<(&Asset, Option<&Measurements>)>,
    mut pumps: Query<(&PumpReadings, &Feed, &DependsOn, &mut UpstreamRisk)>,
) {
    let now = clock.now_s;
    for (level, mut trend) in &mut tanks {
        trend.update(now, level.0.level_m);
    }
    for (readings, feed, deps, mut risk) in &mut pumps {
        let o = &readings.0;
        let mut causes = Vec::new();
        // Every upstream asset's stale signals and active drift alarms.
        for &d in &deps.0 {
            let Ok((asset, measurements)) = assets.get(d) else { continue };
            for (q, m) in measurements.iter().flat_map(|m| m.0.iter()) {
                if m.stale {
                    let age = duration_words((now - m.event_s).max(0.0));
                    causes.push(format!("{}: {} stale (last sample {age} ago)", asset.id, quantity_words(*q)));
                }
            }
            for al in a.alarms.iter().filter(|al| al.asset == asset.id && al.cleared_s.is_none()) {
                causes.push(format!("{}: {} in drift alarm ({:?})", asset.id, quantity_words(al.quantity), al.cause));
            }
        }
        let present = o.health.cavitation_risk;
        let mut new = UpstreamRisk { cavitation_risk: present, causes, ..Default::default() };
        if let Some(tank) = feed.0
            && let Ok((_, trend)) = tanks.get(tank)
            && let Ok((tank_asset, measurements)) = assets.get(tank)
            && o.npshr_m > 1e-9
            && o.speed_rpm > 1.0
        {
            let rate = trend.rate_m_per_s;
            new.level_rate_m_per_h = Some(rate * 3600.0);
            let level_signal = measurements.and_then(|m| m.0.get(&Quantity::TankLevel));
            let stale = level_signal.is_some_and(|m| m.stale);
            let drifting = a
                .alarms
                .iter()
                .any(|al| al.asset == tank_asset.id && al.quantity == Quantity::TankLevel && al.cleared_s.is_none());
            let std = a.level_std_m(tank).unwrap_or(0.0);
            let distrust = match (stale, drifting) {
                (_, true) => DISTRUST_SIGMAS * std.max(DRIFTING_LEVEL_STD_M),
                (true, false) => DISTRUST_SIGMAS * std,
                (false, false) => 0.0,
            };
            // NPSHa moves one for one with the level (the suction loss depends on the flow, not the level).
            let drop = -rate.min(0.0) * LOOKAHEAD_S + distrust;
            let ahead = cavitation_risk((o.npsha_m - drop) / o.npshr_m);
            new.cavitation_risk = present.max(ahead);
            let headroom = o.npsha_m - CAVITATION_SAFE_RATIO * o.npshr_m;
            if rate < 0.0 && headroom > 0.0 {
                new.cavitation_in_s = Some(headroom / -rate);
            }
            if rate < 0.0 && new.cavitation_risk > present {
                let when = new
                    .cavitation_in_s
                    .map_or(String::new(), |s| format!(", cavitation risk in {}", duration_words(s)));
                new.causes.push(format!("{}: level falling {:.2} m/h{when}", tank_asset.id, -rate * 3600.0));
            }
            if distrust > 0.0 {
                new.causes
                    .push(format!("{}: level uncertain by ±{distrust:.2} m; risk taken at the low end", tank_asset.id));
            }
        }
        if *risk != new {
            *risk = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_trend_follows_a_steady_fall() {
        let mut t = LevelTrend::default();
        let rate = -2.0 / 3600.0; // 2 m/h
        for k in 0..=5 {
            let ts = k as f64 * 60.0;
            let r = t.update(ts, 4.0 + rate * ts);
            if k > 0 {
                assert!((r - rate).abs() < 1e-12, "unbiased from the first tick: rate {r} vs {rate}");
            }
        }
    }
}
