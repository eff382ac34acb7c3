//! Health at a glance: every asset's health metrics graded against alert thresholds (defined once, here, for the
//! 3D tint, the asset tree's badges and the plots' threshold lines), and the green–amber–red colour of a score.

use crate::scenario::{Index, MaintenancePolicy};
use bevy::prelude::*;

use crate::assess::dependency::UpstreamRisk;
use crate::ingest::Measurements;
use crate::twin::motor::{MotorNameplate, MotorReadings};
use crate::twin::pump::PumpReadings;
use crate::twin::tank::{TankLevel, TankModel};
use twin_models::vibration::Zone;

/// How an asset (or one of its metrics) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grade {
    /// Under the alert threshold.
    Good,
    /// Past the alert threshold, short of the alarm.
    Watch,
    /// Past the alarm threshold.
    Alarm,
}

impl Grade {
    /// The grade of a badness score (0 good … 0.5 alert … 1 alarm).
    pub fn of_score(s: f64) -> Self {
        if s >= 1.0 {
            Grade::Alarm
        } else if s >= 0.5 {
            Grade::Watch
        } else {
            Grade::Good
        }
    }

    /// A short word for the badge.
    pub fn word(self) -> &'static str {
        match self {
            Grade::Good => "OK",
            Grade::Watch => "WATCH",
            Grade::Alarm => "ALARM",
        }
    }
}

/// Alert and alarm thresholds of one metric, in its unit; `higher_is_worse` says which way is bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub alert: f64,
    pub alarm: f64,
    pub higher_is_worse: bool,
}

/// Bearing wear index (1 = median life used): alert at half, alarm at 0.8.
pub const BEARING_WEAR: Thresholds = Thresholds { alert: 0.5, alarm: 0.8, higher_is_worse: true };
/// Remaining useful life, h: alert under 30 days, alarm under 7 days.
pub const RUL_H: Thresholds = Thresholds { alert: 720.0, alarm: 168.0, higher_is_worse: false };
/// Cavitation risk 0..1 (now or an hour ahead).
pub const CAVITATION: Thresholds = Thresholds { alert: 0.2, alarm: 0.6, higher_is_worse: true };
/// Motor insulation health 0..1.
pub const INSULATION: Thresholds = Thresholds { alert: 0.5, alarm: 0.2, higher_is_worse: false };
/// Winding temperature below the insulation class limit, K: alert within 15 K of it, alarm at it.
pub const WINDING_MARGIN_K: f64 = 15.0;
/// Tank level as a fraction of its height: alert under 20 %, alarm under 10 %.
pub const TANK_LEVEL_FRACTION: Thresholds = Thresholds { alert: 0.2, alarm: 0.1, higher_is_worse: false };

impl Thresholds {
    /// Badness of `v`: 0 at the good end, 0.5 at the alert threshold, 1 at the alarm threshold and beyond,
    /// linear in between (NaN counts as an alarm: a value that cannot be computed is not healthy).
    pub fn score(&self, v: f64) -> f64 {
        if v.is_nan() {
            return 1.0;
        }
        let (v, a, r) = if self.higher_is_worse { (v, self.alert, self.alarm) } else { (-v, -self.alert, -self.alarm) };
        if v >= r {
            1.0
        } else if v >= a {
            0.5 + 0.5 * (v - a) / (r - a)
        } else if a > 0.0 && v >= 0.0 {
            0.5 * v / a
        } else if a <= 0.0 {
            // Lower-is-worse metrics: score from how far above the alert threshold, relative to the threshold.
            let margin = (a - v) / a.abs().max(1e-9);
            (0.5 - 0.5 * margin).clamp(0.0, 0.5)
        } else {
            0.0
        }
    }
}

/// One graded metric of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    /// Badness 0..1.
    pub score: f64,
}

/// The thresholds of `index` under the scenario's maintenance policy (its own, or the built-in ones), or
/// `fallback` for an index the policy has none for.
pub fn policy_thresholds(policy: &MaintenancePolicy, index: Index, fallback: Thresholds) -> Thresholds {
    policy.thresholds(index).map_or(fallback, |t| Thresholds {
        alert: t.alert,
        alarm: t.alarm,
        higher_is_worse: t.higher_is_worse(),
    })
}

/// Every graded metric of an asset, from its components, graded by the scenario's maintenance policy.
pub fn metrics(e: &EntityRef<'_>, policy: &MaintenancePolicy) -> Vec<Metric> {
    let mut m = Vec::new();
    let mut push = |name, value: f64, unit, score| m.push(Metric { name, value, unit, score });
    let t = |index, fallback| policy_thresholds(policy, index, fallback);
    if let Some(r) = e.get::<PumpReadings>() {
        let h = &r.0.health;
        push("bearing wear", h.bearing_wear, "", t(Index::BearingWear, BEARING_WEAR).score(h.bearing_wear));
        push("remaining life", h.rul_h, "h", t(Index::RemainingLifeHours, RUL_H).score(h.rul_h));
        let cavitation = t(Index::CavitationRisk, CAVITATION);
        push("cavitation risk", h.cavitation_risk, "", cavitation.score(h.cavitation_risk));
        if let Some(u) = e.get::<UpstreamRisk>() {
            let ahead = t(Index::CavitationRiskAhead, CAVITATION);
            push("cavitation risk ahead", u.cavitation_risk, "", ahead.score(u.cavitation_risk));
        }
        let zone = match r.0.zone {
            Zone::A => 0.0,
            Zone::B => 0.25,
            Zone::C => 0.6,
            Zone::D => 1.0,
        };
        push("vibration (ISO 10816 zone)", r.0.vib_rms_mm_s, "mm/s", zone);
    }
    if let Some(r) = e.get::<MotorReadings>() {
        let insulation = t(Index::InsulationHealth, INSULATION);
        push("insulation health", r.insulation_health, "", insulation.score(r.insulation_health));
        if let Some(limit) = e.get::<MotorNameplate>().map(|n| n.0.insulation_class.rated_temp_c()) {
            let t = Thresholds { alert: limit - WINDING_MARGIN_K, alarm: limit, higher_is_worse: true };
            push("winding temperature", r.winding_temp_c, "°C", t.score(r.winding_temp_c));
        }
    }
    if let (Some(TankModel(p)), Some(s)) = (e.get::<TankModel>(), e.get::<TankLevel>()) {
        let frac = s.0.level_m / p.height_m.max(1e-9);
        push("tank level", s.0.level_m, "m", TANK_LEVEL_FRACTION.score(frac));
    }
    m
}

/// The worst badness of an asset's metrics (0 without any).
pub fn worst_score(metrics: &[Metric]) -> f64 {
    metrics.iter().map(|m| m.score).fold(0.0, f64::max)
}

/// Whether any of an asset's signals is stale (no sample for several periods).
pub fn any_stale(e: &EntityRef<'_>) -> bool {
    e.get::<Measurements>().is_some_and(|m| m.0.values().any(|v| v.stale))
}

/// Green (0) through amber (0.5) to red (1).
pub fn score_color(s: f64) -> Color {
    let s = s.clamp(0.0, 1.0) as f32;
    let green = Vec3::new(0.20, 0.70, 0.30);
    let amber = Vec3::new(0.95, 0.65, 0.10);
    let red = Vec3::new(0.85, 0.15, 0.12);
    let c = if s < 0.5 { green.lerp(amber, s * 2.0) } else { amber.lerp(red, (s - 0.5) * 2.0) };
    Color::srgb(c.x, c.y, c.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_is_worse_scores_pass_the_thresholds_in_order() {
        assert_eq!(BEARING_WEAR.score(0.0), 0.0);
        assert!((BEARING_WEAR.score(0.25) - 0.25).abs() < 1e-12);
        assert_eq!(BEARING_WEAR.score(0.5), 0.5);
        assert!((BEARING_WEAR.score(0.65) - 0.75).abs() < 1e-12);
        assert_eq!(BEARING_WEAR.score(0.8), 1.0);
        assert_eq!(BEARING_WEAR.score(3.0), 1.0);
        assert_eq!(Grade::of_score(BEARING_WEAR.score(0.49)), Grade::Good);
        assert_eq!(Grade::of_score(BEARING_WEAR.score(0.5)), Grade::Watch);
        assert_eq!(Grade::of_score(BEARING_WEAR.score(0.8)), Grade::Alarm);
    }

    #[test]
    fn lower_is_worse_scores_pass_the_thresholds_in_order() {
        assert_eq!(RUL_H.score(1.0e7), 0.0);
        assert_eq!(RUL_H.score(720.0), 0.5);
        assert!((RUL_H.score(444.0) - 0.75).abs() < 1e-12);
        assert_eq!(RUL_H.score(168.0), 1.0);
        assert_eq!(RUL_H.score(0.0), 1.0);
        assert_eq!(Grade::of_score(INSULATION.score(0.9)), Grade::Good);
        assert_eq!(Grade::of_score(INSULATION.score(0.4)), Grade::Watch);
        assert_eq!(Grade::of_score(INSULATION.score(0.1)), Grade::Alarm);
        // Monotone: less health, more badness.
        let mut last = -1.0;
        for i in (0..=100).rev() {
            let s = INSULATION.score(i as f64 / 100.0);
            assert!(s >= last, "{i}: {s} < {last}");
            last = s;
        }
        assert_eq!(INSULATION.score(f64::NAN), 1.0);
    }

    #[test]
    fn colours_run_green_amber_red() {
        let g = score_color(0.0).to_srgba();
        let a = score_color(0.5).to_srgba();
        let r = score_color(1.0).to_srgba();
        assert!(g.green > g.red && g.green > g.blue);
        assert!(a.red > 0.9 && a.green > 0.6 && a.blue < 0.2);
        assert!(r.red > r.green * 4.0);
    }
}
