//! Dependency risk: what happens upstream reaches the assets that depend on it. A pump's cavitation risk is
//! looked at ahead through its feed tank: a falling level, or a level the twin can no longer trust (its signal
//! stale or in drift alarm), raises the risk before the pump itself shows anything, and every upstream problem
//! (stale signals, drift alarms of the motor or tank) is listed on the dependent pump, named as such.

use bevy::prelude::*;
use twin_models::health::{CAVITATION_SAFE_RATIO, cavitation_risk};

use crate::ingest::Measurements;
use crate::sync::{Assimilation, quantity_name as quantity_words};
pub use crate::twin::pump::UpstreamRisk;
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
#[derive(Component, Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
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
        app.add_systems(
            Update,
            assess_upstream
                .in_set(TwinSystems::Assess)
                .after(crate::sync::apply_model_updates)
                .run_if(crate::twin::clock::model_stepped),
        );
    }
}

/// Minutes or hours, for a person.
fn duration_words(s: f64) -> String {
    if s < 5400.0 { format!("{:.0} min", s / 60.0) } else { format!("{:.1} h", s / 3600.0) }
}

/// Updates every tank's level trend, then every pump's upstream risk.
pub fn assess_upstream(
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
    use crate::ingest::Measured;
    use twin_models::PumpTrainOutputs;
    use twin_models::tank::TankState;

    /// A bare app with the upstream-risk system alone: a pump fed by a tank and driven by a motor.
    fn station(pump_npsha_m: f64) -> (App, Entity, Entity, Entity) {
        let mut app = App::new();
        app.insert_resource(SimClock::new(1.0)).insert_resource(Assimilation::new(5.0, 0.0));
        app.add_systems(Update, assess_upstream);
        let asset = |id: &str| Asset { id: id.into(), kind: "test" };
        let tank = app
            .world_mut()
            .spawn((
                asset("T-1"),
                TankLevel(TankState { level_m: 4.0 }),
                LevelTrend::default(),
                Measurements::default(),
            ))
            .id();
        let motor = app.world_mut().spawn((asset("M-1"), Measurements::default())).id();
        let mut o = PumpTrainOutputs { npsha_m: pump_npsha_m, npshr_m: 4.0, speed_rpm: 1480.0, ..Default::default() };
        o.health.cavitation_risk = cavitation_risk(o.npsha_m / o.npshr_m);
        let pump = app
            .world_mut()
            .spawn((
                asset("P-1"),
                PumpReadings(o),
                Feed(Some(tank)),
                DependsOn(vec![motor, tank]),
                UpstreamRisk::default(),
            ))
            .id();
        (app, pump, tank, motor)
    }

    /// Runs a minute per tick for `minutes`, the tank's level falling `rate_m_per_h`.
    fn run(app: &mut App, tank: Entity, minutes: u32, rate_m_per_h: f64) {
        for _ in 0..minutes {
            app.world_mut().resource_mut::<SimClock>().now_s += 60.0;
            app.world_mut().get_mut::<TankLevel>(tank).unwrap().0.level_m -= rate_m_per_h / 60.0;
            app.update();
        }
    }

    #[test]
    fn a_falling_feed_level_raises_the_pumps_cavitation_risk_ahead_and_names_the_tank() {
        let (mut app, pump, tank, _) = station(8.0);
        run(&mut app, tank, 30, 0.0);
        let steady = app.world().get::<UpstreamRisk>(pump).unwrap().clone();
        assert_eq!(steady.cavitation_risk, cavitation_risk(2.0), "a steady level adds nothing: {steady:?}");
        assert!(steady.causes.is_empty(), "{steady:?}");
        run(&mut app, tank, 60, 3.0);
        let r = app.world().get::<UpstreamRisk>(pump).unwrap().clone();
        let rate = r.level_rate_m_per_h.unwrap();
        assert!((rate + 3.0).abs() < 0.3, "the trend follows the fall: {rate} m/h");
        // NPSHa falls one for one with the level: an hour ahead it is 8 m less the projected fall.
        let ahead = cavitation_risk((8.0 + rate * LOOKAHEAD_S / 3600.0) / 4.0);
        assert!((r.cavitation_risk - ahead).abs() < 1e-12 && r.cavitation_risk > cavitation_risk(2.0), "{r:?}");
        let to_safe_s = (8.0 - CAVITATION_SAFE_RATIO * 4.0) / (-rate / 3600.0);
        assert!((r.cavitation_in_s.unwrap() - to_safe_s).abs() < 1e-6, "{r:?}");
        assert!(r.causes.iter().any(|c| c.starts_with("T-1: level falling ")), "{:?}", r.causes);
    }

    #[test]
    fn an_upstream_assets_stale_signal_is_listed_on_the_dependent_pump() {
        let (mut app, pump, tank, motor) = station(8.0);
        let stale = Measured {
            value: 60.0,
            event_s: 0.0,
            received_s: 0.0,
            received_from_s: 0.0,
            skewed_clock: false,
            reordered: false,
            stale: true,
            uncertain: false,
        };
        app.world_mut().get_mut::<Measurements>(motor).unwrap().0.insert(Quantity::WindingTemperature, stale);
        run(&mut app, tank, 20, 0.0);
        let r = app.world().get::<UpstreamRisk>(pump).unwrap();
        assert_eq!(r.causes, ["M-1: winding temperature stale (last sample 20 min ago)"]);
        assert_eq!(r.cavitation_risk, cavitation_risk(2.0), "a stale motor signal is no cavitation risk");
    }

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
