//! The tanks' level filter: a Kalman filter of each level, a random walk driven by the inflow's fluctuation,
//! corrected by the level sensor.

use super::*;

/// Kalman filter of one tank's level: a random walk driven by the inflow's fluctuation, corrected by the level
/// sensor.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct LevelFilter {
    /// Variance of the level estimate, m².
    pub(super) var_m2: f64,
}

/// Level sensor noise (the virtual plant's, and a typical radar gauge's), m.
pub(super) const LEVEL_SENSOR_STD_M: f64 = 0.005;

impl Assimilation {
    /// Variance growth of a tank's level estimate, m²/s: the inflow's relative fluctuation σ (correlated over
    /// 600 s) makes the level drift at σ Q_in / A; treated as a random walk of that rate over the correlation time.
    pub(super) fn level_q(&self, inflow_m3h: f64, area_m2: f64) -> f64 {
        let rate = self.inflow_noise * inflow_m3h / 3600.0 / area_m2.max(1e-9);
        rate * rate * crate::twin::CORRELATION_S
    }

    /// Applies a sample of tank `i`: its level filter's correction.
    pub(super) fn apply_level(&mut self, b: &mut Branch, i: usize, s: Queued, t_s: f64) {
        if s.quantity != Quantity::TankLevel {
            self.counters.unmodelled += 1;
            return;
        }
        let level = &mut b.tanks[i].level_m;
        let predicted = *level;
        self.score(s, predicted, t_s, s.asset);
        let f = self.levels.entry(s.asset).or_default();
        let r = LEVEL_SENSOR_STD_M * LEVEL_SENSOR_STD_M;
        let k = f.var_m2 / (f.var_m2 + r);
        *level += k * (s.value - *level);
        f.var_m2 *= 1.0 - k;
        self.counters.applied += 1;
    }

    /// Standard deviation of a tank's level estimate at the horizon, m (`None` before its first step).
    pub fn level_std_m(&self, tank: Entity) -> Option<f64> {
        self.levels.get(&tank).map(|f| f.var_m2.sqrt())
    }
}
