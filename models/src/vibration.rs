//! Vibration severity: the ISO 10816-3 zone classifier and the edge aggregator that turns 1 kHz velocity samples
//! into the 1 Hz RMS / peak / crest-factor features a condition-monitoring box reports.

use serde::{Deserialize, Serialize};

use crate::params::{Foundation, MachineGroup};

/// ISO 10816-3 evaluation zone (A: new machine, B: unrestricted long-term operation, C: restricted, D: damage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub enum Zone {
    #[default]
    A,
    B,
    C,
    D,
}

/// Zone boundaries A/B, B/C, C/D of velocity RMS, mm/s (ISO 10816-3 table A.1/A.2).
pub fn zone_limits_mm_s(group: MachineGroup, foundation: Foundation) -> [f64; 3] {
    match (group, foundation) {
        (MachineGroup::Group2, Foundation::Rigid) => [1.4, 2.8, 4.5],
        (MachineGroup::Group2, Foundation::Flexible) => [2.3, 4.5, 7.1],
        (MachineGroup::Group1, Foundation::Rigid) => [2.3, 4.5, 7.1],
        (MachineGroup::Group1, Foundation::Flexible) => [3.5, 7.1, 11.0],
    }
}

/// Zone of a velocity RMS (mm/s) against the limits: a value on a boundary belongs to the upper zone.
#[inline]
pub fn classify_with(rms_mm_s: f64, limits: &[f64; 3]) -> Zone {
    if rms_mm_s < limits[0] {
        Zone::A
    } else if rms_mm_s < limits[1] {
        Zone::B
    } else if rms_mm_s < limits[2] {
        Zone::C
    } else {
        Zone::D
    }
}

/// Zone of a velocity RMS (mm/s) for a machine group and foundation.
pub fn classify(rms_mm_s: f64, group: MachineGroup, foundation: Foundation) -> Zone {
    classify_with(rms_mm_s, &zone_limits_mm_s(group, foundation))
}

/// Crest factor `peak / RMS` (sqrt 2 for a pure sine); 0 when the RMS is 0.
pub fn crest_factor(peak: f64, rms: f64) -> f64 {
    if rms > 0.0 { peak / rms } else { 0.0 }
}

/// One aggregated window of the edge aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct VibrationFeatures {
    /// Velocity RMS over the window, mm/s.
    pub rms_mm_s: f64,
    /// Largest |velocity| in the window, mm/s.
    pub peak_mm_s: f64,
    /// Crest factor peak/RMS, dimensionless.
    pub crest: f64,
}

/// Edge aggregator: accepts velocity samples at `sample_rate_hz` (1 kHz) and emits [`VibrationFeatures`] once per
/// window of `sample_rate_hz / output_rate_hz` samples (1 Hz). No allocation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EdgeAggregator {
    /// Samples per output window, count.
    window: usize,
    /// Samples in the current window, count.
    count: usize,
    /// Sum of squared velocities in the window, (mm/s)².
    sum_sq: f64,
    /// Largest |velocity| in the window, mm/s.
    peak: f64,
}

impl EdgeAggregator {
    /// An aggregator for the given sample rate and output rate, Hz (window at least one sample).
    pub fn new(sample_rate_hz: f64, output_rate_hz: f64) -> Self {
        let window = (sample_rate_hz / output_rate_hz).round().max(1.0) as usize;
        Self { window, count: 0, sum_sq: 0.0, peak: 0.0 }
    }

    /// The 1 kHz → 1 Hz aggregator.
    pub fn one_khz_to_one_hz() -> Self {
        Self::new(1000.0, 1.0)
    }

    /// Samples per output window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Adds one velocity sample (mm/s); returns the window's features when the window completes.
    pub fn push(&mut self, v_mm_s: f64) -> Option<VibrationFeatures> {
        let v = if v_mm_s.is_finite() { v_mm_s } else { 0.0 };
        self.sum_sq += v * v;
        self.peak = self.peak.max(v.abs());
        self.count += 1;
        if self.count < self.window {
            return None;
        }
        let rms = (self.sum_sq / self.count as f64).sqrt();
        let out = VibrationFeatures { rms_mm_s: rms, peak_mm_s: self.peak, crest: crest_factor(self.peak, rms) };
        self.count = 0;
        self.sum_sq = 0.0;
        self.peak = 0.0;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_group2_rigid() {
        let l = zone_limits_mm_s(MachineGroup::Group2, Foundation::Rigid);
        assert_eq!(l, [1.4, 2.8, 4.5]);
        assert_eq!(classify(1.0, MachineGroup::Group2, Foundation::Rigid), Zone::A);
        assert_eq!(classify(2.0, MachineGroup::Group2, Foundation::Rigid), Zone::B);
        assert_eq!(classify(3.0, MachineGroup::Group2, Foundation::Rigid), Zone::C);
        assert_eq!(classify(4.5, MachineGroup::Group2, Foundation::Rigid), Zone::D);
        assert_eq!(zone_limits_mm_s(MachineGroup::Group1, Foundation::Flexible), [3.5, 7.1, 11.0]);
        assert_eq!(zone_limits_mm_s(MachineGroup::Group2, Foundation::Flexible), [2.3, 4.5, 7.1]);
        assert_eq!(zone_limits_mm_s(MachineGroup::Group1, Foundation::Rigid), [2.3, 4.5, 7.1]);
    }

    #[test]
    fn aggregator_pure_sine_crest_sqrt2() {
        // 25 Hz sine of 2 mm/s amplitude sampled at 1 kHz: RMS = 2/sqrt2, crest = sqrt2.
        let mut agg = EdgeAggregator::one_khz_to_one_hz();
        let mut out = None;
        for i in 0..1000 {
            let t = i as f64 * 1e-3;
            out = agg.push(2.0 * (std::f64::consts::TAU * 25.0 * t + 0.1).sin());
            if i < 999 {
                assert!(out.is_none());
            }
        }
        let f = out.expect("one window");
        assert!((f.rms_mm_s - 2.0 / 2f64.sqrt()).abs() < 1e-3);
        assert!((f.crest - 2f64.sqrt()).abs() < 0.01);
    }

    #[test]
    fn aggregator_impulses_raise_crest_not_rms() {
        let mut base = EdgeAggregator::one_khz_to_one_hz();
        let mut defect = EdgeAggregator::one_khz_to_one_hz();
        let (mut a, mut b) = (None, None);
        for i in 0..1000 {
            let v = (std::f64::consts::TAU * 25.0 * i as f64 * 1e-3).sin();
            a = base.push(v);
            b = defect.push(if i % 100 == 0 { v + 4.0 } else { v });
        }
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(b.crest > 2.0 * a.crest);
        assert!(b.rms_mm_s < 1.5 * a.rms_mm_s);
    }
}
