//! Reduced-order bearing-load and vibration map, fitted once per pump design from a small rapier sweep over
//! speed × unbalance, so that the per-second asset step never runs rigid-body physics.
//!
//! Fit (physically shaped, coefficients from rapier):
//! - static radial load `S(s) = a0 + a2 s²` (weight + affinity-scaled hydraulic thrust, `s = w/w_r`), least squares
//!   over the sweep's measured mean reaction;
//! - unbalance force `F1 = b U w²` (least squares through the origin on the measured 1x amplitude);
//! - misalignment force `F2 = c` (mean of the measured 2x amplitude).
//!
//! Evaluation:
//! - equivalent load `P = (mean_θ |S + F1 e^{iθ} + F2 e^{2iθ}|^p)^(1/p)`, approximated by the single rotating
//!   force `R = sqrt(F1² + F2²)` (exact when either is zero, second-order accurate otherwise) and read from a
//!   precomputed table `P/(S+R) = g(R/(S+R))`;
//! - housing velocity (see [`crate::rotor`]) `v(θ) = (w/k) (F1 sin θ + 2 F2 sin 2θ)`:
//!   `RMS = (w/k) sqrt(F1² + 4F2²)/sqrt 2`, `peak = (w/k)(F1 + 2F2) h(2F2/(F1 + 2F2))` with `h` tabulated.

use crate::ModelError;
use crate::params::{MotorParams, PumpParams};
use crate::rotor::{DEFAULT_DT_S, RotorParams, RotorSim};

const TABLE_N: usize = 65;
/// Speed ratios of the fitting sweep.
pub const SWEEP_SPEED_RATIOS: [f64; 4] = [0.3, 0.6, 0.9, 1.2];
/// Unbalance multiples (of the design unbalance, at least 100 g·mm) of the fitting sweep.
pub const SWEEP_UNBALANCE_FACTORS: [f64; 3] = [0.0, 2.0, 8.0];

/// Map output at one speed and unbalance.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadPoint {
    /// Static (non-rotating) radial load S, N.
    pub static_load_n: f64,
    /// ISO 281 equivalent radial load for the rotating load, N.
    pub equivalent_load_n: f64,
    /// Housing velocity RMS, mm/s.
    pub vib_rms_mm_s: f64,
    /// Housing velocity peak, mm/s.
    pub vib_peak_mm_s: f64,
}

/// The fitted map; `Clone` and immutable, so pumps of the same design share one.
#[serde_with::serde_as]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadMap {
    /// Rated speed, rad/s.
    pub rated_speed_rad_s: f64,
    /// Static load at standstill a0, N.
    pub static0_n: f64,
    /// Static load added at rated speed a2, N.
    pub static2_n: f64,
    /// Unbalance gain b (1 for a perfectly rigid bearing), dimensionless.
    pub unbalance_gain: f64,
    /// Misalignment (2x) force c, N.
    pub misalignment_n: f64,
    /// Support stiffness k, N/m.
    pub support_stiffness_n_per_m: f64,
    /// `g` table over `u = R/(S+R)` in [0, 1].
    #[serde_as(as = "[_; TABLE_N]")]
    load_table: [f64; TABLE_N],
    /// `h` table over `rho = 2F2/(F1+2F2)` in [0, 1].
    #[serde_as(as = "[_; TABLE_N]")]
    peak_table: [f64; TABLE_N],
}

#[inline]
fn lookup(table: &[f64; TABLE_N], x: f64) -> f64 {
    let f = x.clamp(0.0, 1.0) * (TABLE_N - 1) as f64;
    let i = (f as usize).min(TABLE_N - 2);
    let t = f - i as f64;
    table[i] + (table[i + 1] - table[i]) * t
}

impl LoadMap {
    /// Fits the map for a pump and its motor (builds the rotor with [`RotorParams::from_pump`]).
    pub fn fit_pump(pump: &PumpParams, motor: &MotorParams) -> Result<Self, ModelError> {
        Self::fit(&RotorParams::from_pump(pump, motor))
    }

    /// Runs the rapier sweep `SWEEP_SPEED_RATIOS × SWEEP_UNBALANCE_FACTORS` and fits the coefficients.
    pub fn fit(rotor: &RotorParams) -> Result<Self, ModelError> {
        let w_r = rotor.rated_speed_rad_s;
        let u_ref = rotor.unbalance_kg_m.max(100.0e-6);
        let mut sim = RotorSim::new(rotor.clone(), DEFAULT_DT_S);
        // Normal equations for S = a0 + a2 s²; sums for b and c.
        let (mut n, mut sx, mut sxx, mut sy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut b_num, mut b_den, mut c_sum) = (0.0, 0.0, 0.0);
        for &sr in &SWEEP_SPEED_RATIOS {
            for &uf in &SWEEP_UNBALANCE_FACTORS {
                let w = sr * w_r;
                let u = uf * u_ref;
                let h = sim.measure_harmonics(w, u, 5, 60);
                let x = (h.speed_rad_s / w_r).powi(2);
                n += 1.0;
                sx += x;
                sxx += x * x;
                sy += h.static_n;
                sxy += x * h.static_n;
                let f = u * h.speed_rad_s * h.speed_rad_s;
                b_num += f * h.first_n;
                b_den += f * f;
                c_sum += h.second_n;
            }
        }
        let det = n * sxx - sx * sx;
        let a2 = (n * sxy - sx * sy) / det;
        let a0 = (sy - a2 * sx) / n;
        let b = b_num / b_den;
        let c = c_sum / n;
        if ![a0, a2, b, c].iter().all(|v| v.is_finite()) || det.abs() < 1e-12 {
            return Err(ModelError::Fit(format!("non-finite coefficients a0 {a0} a2 {a2} b {b} c {c}")));
        }
        let p = rotor.life_exponent;
        let mut load_table = [0.0; TABLE_N];
        let mut peak_table = [0.0; TABLE_N];
        const M: usize = 720;
        for (i, (g, h)) in load_table.iter_mut().zip(peak_table.iter_mut()).enumerate() {
            let x = i as f64 / (TABLE_N - 1) as f64;
            // g: S = 1 - x, R = x.
            let (s, r) = (1.0 - x, x);
            let (mut acc, mut pk) = (0.0, 0.0f64);
            for k in 0..M {
                let th = std::f64::consts::TAU * k as f64 / M as f64;
                let (sn, cs) = th.sin_cos();
                acc += (s + r * cs).hypot(r * sn).powf(p);
                // h: F1 = 1 - x, 2F2 = x.
                pk = pk.max(((1.0 - x) * sn + x * (2.0 * th).sin()).abs());
            }
            *g = (acc / M as f64).powf(1.0 / p);
            *h = pk;
        }
        Ok(Self {
            rated_speed_rad_s: w_r,
            static0_n: a0,
            static2_n: a2,
            unbalance_gain: b,
            misalignment_n: c.max(0.0),
            support_stiffness_n_per_m: rotor.support_stiffness_n_per_m,
            load_table,
            peak_table,
        })
    }

    /// Loads and vibration at speed `w` (rad/s, sign ignored) and unbalance `u` (kg·m); finite for finite input.
    #[inline]
    pub fn eval(&self, speed_rad_s: f64, unbalance_kg_m: f64) -> LoadPoint {
        let w = speed_rad_s.abs();
        let s = w / self.rated_speed_rad_s;
        let st = (self.static0_n + self.static2_n * s * s).max(0.0);
        let f1 = self.unbalance_gain * unbalance_kg_m.abs() * w * w;
        let f2 = self.misalignment_n;
        let r = (f1 * f1 + f2 * f2).sqrt();
        let sr = st + r;
        let p = if sr > 0.0 { sr * lookup(&self.load_table, r / sr) } else { 0.0 };
        let k = w / self.support_stiffness_n_per_m * 1e3;
        let a = f1 + 2.0 * f2;
        let rms = k * (f1 * f1 + 4.0 * f2 * f2).sqrt() * std::f64::consts::FRAC_1_SQRT_2;
        let peak = if f2 == 0.0 {
            k * a * self.peak_table[0]
        } else if a > 0.0 {
            k * a * lookup(&self.peak_table, 2.0 * f2 / a)
        } else {
            0.0
        };
        LoadPoint { static_load_n: st, equivalent_load_n: p, vib_rms_mm_s: rms, vib_peak_mm_s: peak }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pump: PumpParams) {
        let motor = MotorParams::example();
        let rotor = RotorParams::from_pump(&pump, &motor);
        let map = LoadMap::fit(&rotor).unwrap();
        let u0 = rotor.unbalance_kg_m.max(100e-6);
        let mut sim = RotorSim::new(rotor.clone(), DEFAULT_DT_S);
        // Points off the sweep grid in both speed and unbalance.
        for (sr, uf) in [(0.45, 1.0), (0.8, 3.0), (1.05, 5.0), (1.15, 0.7), (0.7, 12.0)] {
            let w = sr * rotor.rated_speed_rad_s;
            let u = uf * u0;
            let direct = sim.measure_steady(w, u, 10, 600);
            let m = map.eval(w, u);
            let rel = |a: f64, b: f64| (a / b - 1.0).abs();
            assert!(rel(m.equivalent_load_n, direct.equivalent_load_n) < 0.02, "P at {sr},{uf}: {m:?} vs {direct:?}");
            assert!(rel(m.vib_rms_mm_s, direct.vib_rms_mm_s) < 0.02, "rms at {sr},{uf}: {m:?} vs {direct:?}");
            assert!(rel(m.vib_peak_mm_s, direct.vib_peak_mm_s) < 0.02, "peak at {sr},{uf}: {m:?} vs {direct:?}");
        }
    }

    #[test]
    fn map_matches_rapier_off_grid() {
        check(PumpParams::example());
    }

    #[test]
    fn map_matches_rapier_off_grid_with_misalignment() {
        let mut pump = PumpParams::example();
        pump.misalignment_mm = 0.05;
        check(pump);
    }

    #[test]
    fn map_is_finite_at_standstill_and_is_cloneable() {
        let map = LoadMap::fit_pump(&PumpParams::example(), &MotorParams::example()).unwrap();
        let shared = map.clone();
        let p = shared.eval(0.0, 0.0);
        assert!(p.equivalent_load_n > 0.0 && p.vib_rms_mm_s == 0.0 && p.vib_peak_mm_s == 0.0);
        let q = map.eval(1e6, 1.0);
        assert!(q.equivalent_load_n.is_finite() && q.vib_peak_mm_s.is_finite());
        // Pure unbalance: peak = sqrt2 RMS.
        let r = map.eval(150.0, 1e-3);
        assert!((r.vib_peak_mm_s / r.vib_rms_mm_s - 2f64.sqrt()).abs() < 1e-3);
    }
}
