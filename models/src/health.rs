//! Health indices reported with every pump-train step, with their definitions in one place: bearing wear and
//! remaining useful life (deterministic and as a Weibull distribution), cavitation risk, insulation health and
//! the vibration zone.

use serde::{Deserialize, Serialize};

use crate::bearing::weibull_life_ratio;
use crate::vibration::Zone;

/// Cap on every reported remaining life, h (≈ 1141 years): "no measurable wear at this operating point".
pub const RUL_CAP_H: f64 = 1.0e7;
/// NPSH margin ratio NPSHa/NPSHr at and above which the cavitation risk is 0.
pub const CAVITATION_SAFE_RATIO: f64 = 1.3;
/// NPSH margin ratio at and below which the cavitation risk is 1 (NPSHr is defined at a 3 % head drop, so the
/// pump already cavitates there).
pub const CAVITATION_ONSET_RATIO: f64 = 1.0;

/// Remaining bearing life as a Weibull distribution, conditional on survival so far.
///
/// Damage is kept in units of the (temperature- and defect-adjusted) basic rating life L10:
/// `D10 = sum(n_i / L10_i)` (Palmgren–Miner). The population survival at damage `D10` is
/// `S = exp(ln(0.9) D10^e)` (ISO 281 Weibull, `S(1) = 0.9`). Future damage accrues at the present rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BearingLifeDistribution {
    /// Miner damage consumed so far, in units of L10, dimensionless.
    pub damage_l10: f64,
    /// Damage rate at the present operating point, L10 per operating hour.
    pub rate_l10_per_h: f64,
    /// Weibull slope e, dimensionless.
    pub slope: f64,
}

impl BearingLifeDistribution {
    /// Survival probability of a bearing with this damage, `exp(ln 0.9 · D10^e)`.
    pub fn survival(&self) -> f64 {
        (0.9f64.ln() * self.damage_l10.max(0.0).powf(self.slope)).exp()
    }

    /// Conditional probability of failing within the next `hours` at the present rate:
    /// `1 - S(D10 + rate h) / S(D10)` = `1 - exp(ln 0.9 ((D10 + rate h)^e - D10^e))`.
    pub fn prob_failure_within(&self, hours: f64) -> f64 {
        let d0 = self.damage_l10.max(0.0);
        let d1 = d0 + self.rate_l10_per_h.max(0.0) * hours.max(0.0);
        let x = 0.9f64.ln() * (d1.powf(self.slope) - d0.powf(self.slope));
        (1.0 - x.exp()).clamp(0.0, 1.0)
    }

    /// Remaining life (operating hours at the present rate) by which a fraction `q` of bearings in this
    /// condition will have failed: solves `prob_failure_within(h) = q`:
    /// `D_q = (D10^e + ln(1 - q)/ln 0.9)^(1/e)`, `h = (D_q - D10)/rate`, capped at [`RUL_CAP_H`].
    pub fn rul_percentile_hours(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0 - 1e-12);
        let d0 = self.damage_l10.max(0.0);
        let dq = (d0.powf(self.slope) + (1.0 - q).ln() / 0.9f64.ln()).powf(1.0 / self.slope);
        if self.rate_l10_per_h <= 0.0 {
            return RUL_CAP_H;
        }
        ((dq - d0) / self.rate_l10_per_h).clamp(0.0, RUL_CAP_H)
    }
}

/// The indices attached to each [`crate::pump_train::PumpTrainOutputs`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthIndices {
    /// Bearing wear index 0..1: Miner damage normalised to the **median** life L50 (the life by which half of
    /// identical bearings have failed, `L50 = L10 (ln 0.5/ln 0.9)^(1/e)`, 3.5 L10 for e = 1.5);
    /// `wear = D10 / (L50/L10)`, clamped. 1 = the expected (median) failure point reached.
    pub bearing_wear: f64,
    /// Deterministic remaining useful life, operating hours at the present operating point: the time until the
    /// wear index reaches 1, `(L50/L10 - D10) / rate`, in [0, `RUL_CAP_H`].
    pub rul_h: f64,
    /// The same remaining life as a conditional Weibull distribution (percentiles, failure probability).
    pub bearing_life: BearingLifeDistribution,
    /// The remaining life's 10th and 90th percentiles, h, when a growing defect sets it (stage 2, estimated by the
    /// twin; `rul_h` is then its median); none: the fatigue life's, from [`Self::bearing_life`].
    pub rul_band_h: Option<(f64, f64)>,
    /// NPSH margin ratio NPSHa/NPSHr, dimensionless (capped at 10; 10 when NPSHr is 0, i.e. at standstill).
    pub npsh_margin_ratio: f64,
    /// Cavitation risk 0..1 from the margin ratio, see [`cavitation_risk`].
    pub cavitation_risk: f64,
    /// Insulation health 0..1: 1 - consumed fraction of the 20 000 h rated life at class temperature
    /// (Montsinger ageing, see [`crate::insulation`]).
    pub insulation_health: f64,
    /// ISO 10816-3 zone of the vibration velocity RMS.
    pub vibration_zone: Zone,
}

impl HealthIndices {
    /// The remaining life's 10th and 90th percentiles, h.
    pub fn rul_p10_p90(&self) -> (f64, f64) {
        self.rul_band_h.unwrap_or_else(|| {
            (self.bearing_life.rul_percentile_hours(0.1), self.bearing_life.rul_percentile_hours(0.9))
        })
    }
}

/// Bearing wear index for damage `d10` (in L10 units) and slope `e`: `d10 / (L50/L10)`, clamped to 0..1.
pub fn bearing_wear_index(damage_l10: f64, slope: f64) -> f64 {
    (damage_l10 / weibull_life_ratio(0.5, slope)).clamp(0.0, 1.0)
}

/// Cavitation risk 0..1 from the NPSH margin ratio `m = NPSHa/NPSHr`: 0 for `m >= 1.3`, 1 for `m <= 1.0`, and
/// the smoothstep `t²(3 - 2t)` of `t = (1.3 - m)/0.3` between (continuous with zero slope at both ends).
#[inline]
pub fn cavitation_risk(margin_ratio: f64) -> f64 {
    let t = ((CAVITATION_SAFE_RATIO - margin_ratio) / (CAVITATION_SAFE_RATIO - CAVITATION_ONSET_RATIO)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cavitation_risk_shape() {
        assert_eq!(cavitation_risk(1.3), 0.0);
        assert_eq!(cavitation_risk(2.0), 0.0);
        assert_eq!(cavitation_risk(1.0), 1.0);
        assert_eq!(cavitation_risk(0.2), 1.0);
        assert!((cavitation_risk(1.15) - 0.5).abs() < 1e-12);
        assert!(cavitation_risk(1.1) > cavitation_risk(1.2));
    }

    #[test]
    fn new_bearing_distribution() {
        // From new at 1 L10 per 10 000 h: 10 % fail within 10 000 h, the median is L50.
        let d = BearingLifeDistribution { damage_l10: 0.0, rate_l10_per_h: 1e-4, slope: 1.5 };
        assert!((d.prob_failure_within(10_000.0) - 0.1).abs() < 1e-12);
        assert!((d.rul_percentile_hours(0.1) - 10_000.0).abs() < 1e-6);
        let l50 = weibull_life_ratio(0.5, 1.5) * 10_000.0;
        assert!((d.rul_percentile_hours(0.5) - l50).abs() < 1e-6);
        assert!((d.prob_failure_within(d.rul_percentile_hours(0.3)) - 0.3).abs() < 1e-9);
        assert_eq!(d.survival(), 1.0);
        // Wear index 1 exactly at the median life.
        assert!((bearing_wear_index(weibull_life_ratio(0.5, 1.5), 1.5) - 1.0).abs() < 1e-12);
        assert!((bearing_wear_index(1.0, 1.5) - 1.0 / weibull_life_ratio(0.5, 1.5)).abs() < 1e-12);
        // A worn bearing (D10 = 1, S = 0.9) is riskier over the same horizon.
        let worn = BearingLifeDistribution { damage_l10: 1.0, ..d };
        assert!((worn.survival() - 0.9).abs() < 1e-12);
        assert!(worn.prob_failure_within(5_000.0) > d.prob_failure_within(5_000.0));
        // No wear: capped.
        let idle = BearingLifeDistribution { rate_l10_per_h: 0.0, ..d };
        assert_eq!(idle.rul_percentile_hours(0.5), RUL_CAP_H);
        assert_eq!(idle.prob_failure_within(1e6), 0.0);
    }
}
