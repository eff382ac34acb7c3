//! Rolling-bearing life and damage (ISO 281): basic rating life, reliability factor a1, Weibull survival,
//! Palmgren–Miner damage accumulation and a lubricant-temperature life factor.

use crate::params::BearingKind;

/// ISO 281 load-life exponent p: 3 for ball bearings, 10/3 for roller bearings.
pub fn life_exponent(kind: BearingKind) -> f64 {
    match kind {
        BearingKind::Ball => 3.0,
        BearingKind::Roller => 10.0 / 3.0,
    }
}

/// `(C/P)^p` without a general `powf` (cube, times a cube root for rollers).
#[inline]
pub fn load_ratio_pow(ratio: f64, kind: BearingKind) -> f64 {
    let r3 = ratio * ratio * ratio;
    match kind {
        BearingKind::Ball => r3,
        BearingKind::Roller => r3 * ratio.cbrt(),
    }
}

/// ISO 281 basic rating life `L10 = (C/P)^p`, millions of revolutions (C and P in the same unit).
/// Returns `f64::INFINITY` for a zero load.
pub fn l10_mrev(c: f64, p: f64, kind: BearingKind) -> f64 {
    if p <= 0.0 {
        return f64::INFINITY;
    }
    load_ratio_pow(c / p, kind)
}

/// Basic rating life in operating hours, `L10h = L10 · 10^6 / (60 n)` (n in rpm).
pub fn l10_hours(l10_mrev: f64, speed_rpm: f64) -> f64 {
    l10_mrev * 1e6 / (60.0 * speed_rpm)
}

/// ISO 281 reliability factor a1 (table 12, 90 % .. 99 %), linear interpolation between the tabulated
/// reliabilities, clamped to the table's ends.
pub fn a1_factor(reliability: f64) -> f64 {
    const TABLE: [(f64, f64); 6] = [(0.90, 1.0), (0.95, 0.64), (0.96, 0.55), (0.97, 0.47), (0.98, 0.37), (0.99, 0.25)];
    if reliability <= TABLE[0].0 {
        return TABLE[0].1;
    }
    for w in TABLE.windows(2) {
        let ((r0, a0), (r1, a1)) = (w[0], w[1]);
        if reliability <= r1 {
            return a0 + (a1 - a0) * (reliability - r0) / (r1 - r0);
        }
    }
    TABLE[5].1
}

/// Modified rating life `Lnm = a1 · a_ISO · L10`, same unit as `l10`.
pub fn lnm(a1: f64, a_iso: f64, l10: f64) -> f64 {
    a1 * a_iso * l10
}

/// Weibull survival of a population of bearings at life `L`: `S(L) = exp(ln(0.9) (L/L10)^e)`, so that
/// `S(L10) = 0.9` by construction (e = Weibull slope, 1.1..1.5).
pub fn weibull_survival(life: f64, l10: f64, slope: f64) -> f64 {
    if life <= 0.0 {
        return 1.0;
    }
    (0.9f64.ln() * (life / l10).powf(slope)).exp()
}

/// Life at which a fraction `q` of the population has failed, in units of L10:
/// `L_q / L10 = (ln(1 - q) / ln 0.9)^(1/e)` (q = 0.5 gives the median life L50).
pub fn weibull_life_ratio(q: f64, slope: f64) -> f64 {
    let q = q.clamp(0.0, 1.0 - 1e-12);
    ((1.0 - q).ln() / 0.9f64.ln()).powf(1.0 / slope)
}

/// Conditional probability that a bearing that has survived to `life_now` fails before `life_now + horizon`:
/// `1 - S(L + h) / S(L)` (lives in units of L10).
pub fn conditional_failure_probability(life_now: f64, horizon: f64, l10: f64, slope: f64) -> f64 {
    let s0 = weibull_survival(life_now, l10, slope);
    let s1 = weibull_survival(life_now + horizon.max(0.0), l10, slope);
    if s0 <= 0.0 { 1.0 } else { (1.0 - s1 / s0).clamp(0.0, 1.0) }
}

/// Lubricant-temperature life factor (a simple, documented stand-in for the viscosity part of a_ISO):
/// 1 up to 70 °C; above, the grease life rule of thumb applies — life halves for every 15 K,
/// `a_T = 2^(-(T - 70)/15)` — floored at 0.01.
pub fn temperature_life_factor(bearing_temp_c: f64) -> f64 {
    if bearing_temp_c <= 70.0 { 1.0 } else { (-(bearing_temp_c - 70.0) / 15.0).exp2().max(0.01) }
}

/// Palmgren–Miner accumulator, `D = sum(n_i / N_i)` with N_i the life (revolutions) at load i.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct MinerDamage {
    /// Accumulated damage, dimensionless (1 = the reference life consumed).
    pub damage: f64,
}

impl MinerDamage {
    /// Adds `revs_mrev` millions of revolutions at a load whose life is `life_mrev` millions of revolutions.
    pub fn add(&mut self, revs_mrev: f64, life_mrev: f64) {
        if life_mrev.is_finite() && life_mrev > 0.0 {
            self.damage += revs_mrev / life_mrev;
        }
    }

    /// Adds revolutions at load `p` for a bearing of rating `c` (same unit), with the life exponent of `kind`
    /// and life-adjustment factor `a` (`N = a (C/P)^p`).
    pub fn add_at_load(&mut self, revs_mrev: f64, c: f64, p: f64, kind: BearingKind, a: f64) {
        self.add(revs_mrev, a * l10_mrev(c, p, kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l10_ball_worked_example() {
        // C = 30 kN, P = 3 kN, ball: (10)^3 = 1000 Mrev; at 1500 rpm 1e9 / 90 000 = 11 111 h.
        let l = l10_mrev(30.0, 3.0, BearingKind::Ball);
        assert!((l - 1000.0).abs() < 1e-9);
        assert!((l10_hours(l, 1500.0) - 11_111.111).abs() < 0.01);
    }

    #[test]
    fn l10_roller_exponent() {
        let l = l10_mrev(30.0, 3.0, BearingKind::Roller);
        assert!((l - 10f64.powf(10.0 / 3.0)).abs() < 1e-9);
        assert!((l - 2154.43).abs() < 0.01);
    }

    #[test]
    fn a1_table() {
        for (r, a) in [(0.90, 1.0), (0.95, 0.64), (0.96, 0.55), (0.97, 0.47), (0.98, 0.37), (0.99, 0.25)] {
            assert!((a1_factor(r) - a).abs() < 1e-12, "{r}");
        }
        assert!((a1_factor(0.955) - 0.595).abs() < 1e-12);
        assert_eq!(a1_factor(0.5), 1.0);
        assert!((lnm(0.25, 1.0, 1000.0) - 250.0).abs() < 1e-12);
    }

    #[test]
    fn weibull_at_l10_is_90_percent() {
        for e in [1.1, 1.3, 1.5] {
            assert!((weibull_survival(1000.0, 1000.0, e) - 0.9).abs() < 1e-12);
            assert!((weibull_life_ratio(0.1, e) - 1.0).abs() < 1e-12);
            // Median life: S(L50) = 0.5.
            let l50 = weibull_life_ratio(0.5, e);
            assert!((weibull_survival(l50, 1.0, e) - 0.5).abs() < 1e-12);
        }
        // From new, the conditional probability is the plain CDF.
        assert!((conditional_failure_probability(0.0, 1.0, 1.0, 1.5) - 0.1).abs() < 1e-12);
        // Wear-out (e > 1): the same horizon is riskier for an older bearing.
        assert!(
            conditional_failure_probability(1.0, 0.2, 1.0, 1.5) > conditional_failure_probability(0.2, 0.2, 1.0, 1.5)
        );
    }

    #[test]
    fn miner_sum() {
        let mut d = MinerDamage::default();
        d.add_at_load(500.0, 30.0, 3.0, BearingKind::Ball, 1.0); // half of 1000 Mrev
        d.add_at_load(62.5, 30.0, 6.0, BearingKind::Ball, 1.0); // half of 125 Mrev
        assert!((d.damage - 1.0).abs() < 1e-12);
    }

    #[test]
    fn temperature_factor() {
        assert_eq!(temperature_life_factor(60.0), 1.0);
        assert!((temperature_life_factor(85.0) - 0.5).abs() < 1e-12);
        assert!((temperature_life_factor(100.0) - 0.25).abs() < 1e-12);
    }
}
