//! State estimation for the twin's live model: a Kalman filter on the motor's thermal states corrected by the
//! winding-temperature measurement, so the unmeasured frame and bearing-housing temperatures come with a
//! standard deviation; and the first-order uncertainty of the bearing wear index.
//!
//! # Thermal Kalman filter
//! State `x = [T_w, T_f, T_b, d]`: the three nodes of [`MotorThermal`] and `d`, the deviation of the true ambient
//! from the ambient the model is given (unknown to the twin), modelled as a first-order Gauss–Markov process
//! `d' = φ d + w`, `φ = exp(-dt/τ_a)`, `Var w = σ_a² (1 - φ²)`. The mean of the temperatures is propagated by
//! [`PumpTrain::step`] itself (pass it `ambient + ambient_offset_c()`); [`ThermalObserver::predict`] propagates
//! the covariance `P' = F P Fᵀ + Q` with the Jacobian of that backward-Euler step
//! (`∂T'/∂T = A⁻¹ C/dt + A⁻¹ e_w ∂P_cu/∂T_w`, `∂P_cu/∂T_w = 3 I² R20 α`, `∂T'/∂d = A⁻¹ g`, see
//! [`MotorThermal::step_jacobians`]) and `Q = diag(q_w dt, q_f dt, q_b dt, σ_a² (1 - φ²))`, where the `q` are
//! random-walk intensities (K²/s) for the model's own parameter errors. [`ThermalObserver::correct`] applies
//! the measurement `y = T_w + v`, `Var v = σ_m²`: `K = P Hᵀ / (P_ww + σ_m²)`, `x += K (y - T_w)`,
//! `P = (I - K H) P`.
//!
//! # Bearing wear uncertainty
//! The wear index is the Miner damage `D = ∫ n (P/C)^p / a_T dt` over L50 (see [`crate::pump_train`]), with the
//! ISO 281 equivalent load `P(U)` from the load map, `p = 3` (ball) or `10/3` (roller), and the temperature life
//! factor `a_T = 2^(-(T_b - 70)/15)` above 70 °C. To first order, with errors that persist over the history
//! (fully correlated in time, so relative errors carry to the integral) and the present operating point taken as
//! representative:
//! `σ_W / W = sqrt( (p ε σ_u/u)² + ((ln 2 / 15) Φ((T_b - 70)/σ_T) σ_T)² )`,
//! `ε = ∂ln P/∂ln U` (by central difference on the map at the model's unbalance), `σ_u/u` the unbalance
//! factor's relative std, and `Φ` the standard normal CDF (the expected slope of `ln a_T`, which is 0 below and
//! `ln 2/15` per K above 70 °C).

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

use crate::params::BearingKind;
use crate::pump_train::{PumpTrain, PumpTrainOutputs, PumpTrainState};
use crate::thermal::{COPPER_ALPHA_PER_K, MotorThermal};

/// Tuning of the [`ThermalObserver`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObserverConfig {
    /// Winding temperature sensor noise standard deviation, K.
    pub meas_noise_k: f64,
    /// Standard deviation of the unknown ambient fluctuation, K.
    pub ambient_std_k: f64,
    /// Correlation time of the unknown ambient fluctuation, s.
    pub ambient_tau_s: f64,
    /// Random-walk intensity of model error on [winding, frame, bearing housing], K²/s.
    pub model_noise_k2_per_s: [f64; 3],
    /// Initial standard deviation of each temperature, K.
    pub initial_std_k: f64,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        Self {
            meas_noise_k: 0.2,
            ambient_std_k: 0.5,
            ambient_tau_s: 600.0,
            model_noise_k2_per_s: [1e-3, 2e-3, 1e-4],
            initial_std_k: 1.0,
        }
    }
}

/// Standard deviations of the estimated thermal states.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ThermalStd {
    /// Winding temperature, K.
    pub winding_k: f64,
    /// Frame temperature, K.
    pub frame_k: f64,
    /// Bearing-housing temperature, K.
    pub bearing_k: f64,
    /// Ambient deviation, K.
    pub ambient_k: f64,
}

/// Kalman filter on the motor's thermal states (see the module doc).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThermalObserver {
    cfg: ObserverConfig,
    /// Covariance of [T_w, T_f, T_b, d], K².
    p: [[f64; 4]; 4],
    /// Estimated ambient deviation, K.
    d: f64,
}

impl ThermalObserver {
    /// A filter with the initial covariance `diag(σ0², σ0², σ0², σ_a²)` and no ambient deviation.
    pub fn new(cfg: ObserverConfig) -> Self {
        let s0 = cfg.initial_std_k * cfg.initial_std_k;
        let mut p = [[0.0; 4]; 4];
        p[0][0] = s0;
        p[1][1] = s0;
        p[2][2] = s0;
        p[3][3] = cfg.ambient_std_k * cfg.ambient_std_k;
        Self { cfg, p, d: 0.0 }
    }

    /// Estimated deviation of the true ambient from the model's, K: add it to the ambient given to
    /// [`PumpTrain::step`].
    pub fn ambient_offset_c(&self) -> f64 {
        self.d
    }

    /// Propagates the covariance over the [`PumpTrain::step`] that just produced `outputs` (same `dt_s`), and
    /// the ambient deviation's mean.
    pub fn predict(&mut self, train: &PumpTrain, outputs: &PumpTrainOutputs, dt_s: f64) {
        if !(dt_s.is_finite() && dt_s > 0.0) {
            return;
        }
        let s = outputs.speed_rpm / train.rated_speed_rpm();
        let j = MotorThermal::from_params(&train.motor.thermal).step_jacobians(s, dt_s);
        let i = outputs.motor_current_a;
        let dpcu = 3.0 * i * i * train.motor.phase_resistance_ohm_20c * COPPER_ALPHA_PER_K;
        let phi = (-dt_s / self.cfg.ambient_tau_s.max(1e-9)).exp();
        let mut f = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..3 {
                f[r][c] = j.state[r][c];
            }
            f[r][0] += j.heat[r][0] * dpcu;
            f[r][3] = j.ambient[r];
        }
        f[3][3] = phi;
        // P = F P Fᵀ + Q.
        let mut fp = [[0.0; 4]; 4];
        for r in 0..4 {
            for c in 0..4 {
                for k in 0..4 {
                    fp[r][c] += f[r][k] * self.p[k][c];
                }
            }
        }
        let mut np = [[0.0; 4]; 4];
        for r in 0..4 {
            for c in 0..4 {
                for k in 0..4 {
                    np[r][c] += fp[r][k] * f[c][k];
                }
            }
        }
        let q = &self.cfg.model_noise_k2_per_s;
        for k in 0..3 {
            np[k][k] += q[k].max(0.0) * dt_s;
        }
        np[3][3] += self.cfg.ambient_std_k.powi(2) * (1.0 - phi * phi);
        self.p = symmetrise(np);
        self.d *= phi;
    }

    /// Corrects `state`'s winding, frame and bearing-housing temperatures (and the ambient deviation) with a
    /// winding-temperature reading, °C; returns the innovation (reading minus prediction), K. A non-finite
    /// reading is ignored.
    pub fn correct(&mut self, state: &mut PumpTrainState, measured_winding_c: f64) -> f64 {
        if !measured_winding_c.is_finite() {
            return 0.0;
        }
        let innov = measured_winding_c - state.winding_temp_c;
        let s = self.p[0][0] + self.cfg.meas_noise_k * self.cfg.meas_noise_k;
        let mut k = [0.0; 4];
        for r in 0..4 {
            k[r] = self.p[r][0] / s;
        }
        state.winding_temp_c += k[0] * innov;
        state.frame_temp_c += k[1] * innov;
        state.bearing_temp_c += k[2] * innov;
        self.d += k[3] * innov;
        let row0 = self.p[0];
        for r in 0..4 {
            for c in 0..4 {
                self.p[r][c] -= k[r] * row0[c];
            }
        }
        self.p = symmetrise(self.p);
        innov
    }

    /// Standard deviations of the estimates.
    pub fn std(&self) -> ThermalStd {
        let sd = |i: usize| self.p[i][i].max(0.0).sqrt();
        ThermalStd { winding_k: sd(0), frame_k: sd(1), bearing_k: sd(2), ambient_k: sd(3) }
    }
}

fn symmetrise(mut p: [[f64; 4]; 4]) -> [[f64; 4]; 4] {
    for r in 0..4 {
        for c in 0..r {
            let m = 0.5 * (p[r][c] + p[c][r]);
            p[r][c] = m;
            p[c][r] = m;
        }
    }
    p
}

/// Standard normal CDF, from the complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z * std::f64::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// First-order standard deviation of the bearing wear index `wear` (see the module doc):
/// `σ_W = W sqrt((p ε σ_u/u)² + ((ln 2/15) Φ((T_b - 70)/σ_T) σ_T)²)`.
///
/// `train` is the model that computed the wear (its unbalance is the estimated one), `speed_rpm` a
/// representative speed, `unbalance_factor` / `unbalance_factor_std` the unbalance estimate and its std
/// (only their ratio matters), `bearing_temp_c` / `bearing_temp_std_k` the bearing-housing estimate and its std.
pub fn wear_std(
    train: &PumpTrain,
    speed_rpm: f64,
    wear: f64,
    unbalance_factor: f64,
    unbalance_factor_std: f64,
    bearing_temp_c: f64,
    bearing_temp_std_k: f64,
) -> f64 {
    let w = speed_rpm.abs() * std::f64::consts::TAU / 60.0;
    let u = train.pump.unbalance_g_mm * 1e-6;
    let h = 0.01;
    let lo = train.map.eval(w, u * (1.0 - h)).equivalent_load_n;
    let hi = train.map.eval(w, u * (1.0 + h)).equivalent_load_n;
    let eps = if lo > 0.0 && hi > 0.0 { (hi / lo).ln() / (2.0 * h) } else { 0.0 };
    let p = match train.pump.bearing.kind {
        BearingKind::Ball => 3.0,
        BearingKind::Roller => 10.0 / 3.0,
    };
    let rel_u = if unbalance_factor.abs() > 1e-12 { unbalance_factor_std / unbalance_factor } else { 0.0 };
    let sig_t = bearing_temp_std_k.max(0.0);
    let slope = std::f64::consts::LN_2 / 15.0
        * if sig_t > 0.0 {
            normal_cdf((bearing_temp_c - 70.0) / sig_t)
        } else if bearing_temp_c > 70.0 {
            1.0
        } else {
            0.0
        };
    let rel = ((p * eps * rel_u).powi(2) + (slope * sig_t).powi(2)).sqrt();
    wear.abs() * rel
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::MotorTemps;

    #[test]
    fn normal_cdf_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_746).abs() < 1e-6);
        assert!((normal_cdf(-1.959_964) - 0.025).abs() < 1e-6);
        assert!(normal_cdf(40.0) <= 1.0 && normal_cdf(-40.0) >= 0.0);
    }

    #[test]
    fn jacobians_match_finite_differences() {
        let m = MotorThermal::from_params(&crate::params::MotorParams::example().thermal);
        let (s, dt, amb) = (0.8, 5.0, 20.0);
        let heat = [900.0, 1_100.0, 100.0];
        let base = MotorTemps { winding_c: 70.0, frame_c: 55.0, bearing_c: 50.0 };
        let j = m.step_jacobians(s, dt);
        let run = |t: MotorTemps, h: [f64; 3], a: f64| {
            let mut t = t;
            m.step(&mut t, h, s, a, dt);
            [t.winding_c, t.frame_c, t.bearing_c]
        };
        let y0 = run(base, heat, amb);
        for c in 0..3 {
            let mut t = base;
            match c {
                0 => t.winding_c += 1.0,
                1 => t.frame_c += 1.0,
                _ => t.bearing_c += 1.0,
            }
            let y = run(t, heat, amb);
            let mut h = heat;
            h[c] += 1.0;
            let yh = run(base, h, amb);
            for r in 0..3 {
                assert!((y[r] - y0[r] - j.state[r][c]).abs() < 1e-9);
                assert!((yh[r] - y0[r] - j.heat[r][c]).abs() < 1e-9);
            }
        }
        let ya = run(base, heat, amb + 1.0);
        for r in 0..3 {
            assert!((ya[r] - y0[r] - j.ambient[r]).abs() < 1e-9);
        }
    }
}
