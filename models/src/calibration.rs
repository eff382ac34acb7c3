//! Online recalibration of the pump-train parameters most likely to drift (head curve, rotor unbalance,
//! frame-to-ambient thermal resistance) from streaming measurements, by recursive least squares.
//!
//! # Estimator
//! [`Rls`] is recursive least squares with exponential forgetting `λ` on `y_k = φ_kᵀ θ + e_k`:
//! `K = P φ / (λ + φᵀ P φ)`, `θ += K (y - φᵀ θ)`, `P = (P - K φᵀ P) / λ`. Its reported covariance is the
//! sandwich `σ̂² P S P` with `S = λ² S + φ φᵀ` (exact for white noise of variance σ² whatever λ; it equals
//! `σ̂² P` for λ = 1 and a vague prior) and `σ̂²` the forgetting-weighted mean of the normalised a-priori
//! residuals `e² λ / (λ + φᵀ P φ)`. Every channel below divides `y` and `φ` by its sensor's noise scale, so the
//! prior `P₀` is simply the prior variance of the factor and `σ̂² ≈ 1` when the noise model is right.
//!
//! # Channels (each factor is true / nominal)
//! - **Head factor** `f` (whole head curve scaled, as [`PumpParams`]' shut-off and rated head are by impeller
//!   wear, so `H0 → f H0`, `k → f k`). The closed-form operating point `Q² (f k + R) = f H0 s² - Hs` is linear
//!   in `f`: `Hs + R Q² = f (H0 s² - k Q²)`, i.e. `y = Hs + R Q_m²`, `φ = H0 s² - k Q_m²` with the measured flow
//!   `Q_m` and the calibration model's speed ratio `s` (the round trip f → Q → f is exact, see
//!   [`head_factor_from_flow`]). Samples with the check valve shut (`Q_m < 5 %` of the BEP flow at that speed) or
//!   below `min_speed_ratio` are skipped.
//! - **Unbalance factor** `u`: the load map's RMS is `RMS² = α u² + β` at a given speed (`F1 ∝ u`,
//!   `RMS = (w/k) sqrt(F1² + 4 F2²)/√2`), with `α = RMS(u=1)² - RMS(0)²`, `β = RMS(0)²`, so each reading
//!   (divided by the known defect RMS gain; skipped while the model cavitates) inverts in closed form to
//!   `u_i = sqrt(max(RMS_m² - β, 0)/α)`, averaged by the RLS (`φ = 1`).
//! - **Frame-to-ambient thermal resistance factor** `a` (fan and still resistance alike) by the recursive
//!   prediction-error method: an open-loop calibration copy of the train (current head and thermal estimates,
//!   nominal ambient: never the Kalman-corrected live state, which would hide the parameter error) predicts the
//!   winding temperature `T̂_w`; the output sensitivity `ψ = ∂T̂_w/∂a` is propagated by a perturbed shadow copy
//!   (`S' = (f(x + δS, a + δ) - f(x, a))/δ`, the 3-node network is cheap), and the RLS runs on
//!   `e = T_m - T̂_w` with regressor `ψ`.
//!
//! # What the thermal channel can identify
//! One winding sensor sees the sum of the winding-to-frame and frame-to-ambient rises (at the worked example's
//! rated point about 10.5 K and 42 K). Their time constants (≈ 150 s and ≈ 1 800 s) differ, but at a steady
//! operating point, with an ambient that fluctuates unseen (σ 0.5 K, τ 600 s, as fast as the winding node is
//! slow), the split is not identifiable. So the frame-to-ambient factor is estimated with the winding-to-frame
//! resistance held nominal: a winding-to-frame factor `b` leaks into it as
//! `â ≈ a + (ψ_wf / ψ_fa)(b - 1)` with `ψ_wf = ∂T_w/∂b` (≈ 10.5 K) and `ψ_fa` (≈ 40 K), about `0.26 (b - 1)`:
//! for `b` in 0.95..1.10, an error of -1.3 % .. +2.6 %. The reported standard deviation adds this structural
//! term, `(ψ_wf / ψ_fa) σ_b` with `σ_b` = [`CalibrationConfig::winding_frame_prior_std`], to the statistical one.
//! The statistical one accounts for the residuals' correlation (the unseen ambient fluctuation through the
//! frame's time constant): the RLS's white-noise variance is scaled by the long-run variance of the residual,
//! estimated by batch means (`LRV ≈ B · mean(batch mean²)` over batches of `B` samples, forgetting per batch
//! `λ^B`), instead of its one-sample variance.

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::hydraulics::PumpCurve;
use crate::loadmap::LoadMap;
use crate::params::{MotorParams, PumpParams};
use crate::pump_train::{DEFECT_RMS_GAIN, PumpTrain, PumpTrainInputs, PumpTrainOutputs, PumpTrainState};

/// Recursive least squares with exponential forgetting over `N` parameters (see the module doc).
#[serde_with::serde_as]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rls<const N: usize> {
    /// Estimate θ.
    #[serde_as(as = "[_; N]")]
    theta: [f64; N],
    /// Gain matrix P (covariance per unit noise variance, prior included).
    #[serde_as(as = "[[_; N]; N]")]
    p: [[f64; N]; N],
    /// `S = Σ λ^(2(k-j)) φ_j φ_jᵀ`, for the sandwich covariance.
    #[serde_as(as = "[[_; N]; N]")]
    s: [[f64; N]; N],
    /// Forgetting factor λ in (0, 1].
    lambda: f64,
    /// Forgetting-weighted mean of the normalised squared a-priori residuals (noise variance estimate).
    noise_var: f64,
    /// Forgetting-weighted sample count for `noise_var`.
    w_sum: f64,
    /// Samples used.
    n: u64,
}

impl<const N: usize> Rls<N> {
    /// Starts at `theta0` with a diagonal initial `P₀ = diag(p0)` (the prior variance of θ in units of the noise
    /// variance) and forgetting factor `lambda` (clamped to [0.5, 1]; 1 = no forgetting).
    pub fn new(theta0: [f64; N], p0: [f64; N], lambda: f64) -> Self {
        let mut p = [[0.0; N]; N];
        for i in 0..N {
            p[i][i] = p0[i].max(0.0);
        }
        let lambda = if lambda.is_finite() { lambda.clamp(0.5, 1.0) } else { 1.0 };
        Self { theta: theta0, p, s: [[0.0; N]; N], lambda, noise_var: 1.0, w_sum: 0.0, n: 0 }
    }

    /// Takes one sample `y = φᵀ θ + e` and returns the a-priori residual `y - φᵀ θ`. Non-finite samples are
    /// ignored (residual 0).
    pub fn update(&mut self, phi: [f64; N], y: f64) -> f64 {
        if !y.is_finite() || phi.iter().any(|v| !v.is_finite()) {
            return 0.0;
        }
        let lam = self.lambda;
        let mut pphi = [0.0; N];
        for i in 0..N {
            for j in 0..N {
                pphi[i] += self.p[i][j] * phi[j];
            }
        }
        let mut phipphi = 0.0;
        for i in 0..N {
            phipphi += phi[i] * pphi[i];
        }
        let den = lam + phipphi;
        let mut e = y;
        for i in 0..N {
            e -= phi[i] * self.theta[i];
        }
        for i in 0..N {
            self.theta[i] += pphi[i] / den * e;
        }
        for i in 0..N {
            for j in 0..N {
                let v = (self.p[i][j] - pphi[i] * pphi[j] / den) / lam;
                self.p[i][j] = v;
                self.s[i][j] = lam * lam * self.s[i][j] + phi[i] * phi[j];
            }
        }
        // Keep P symmetric against round-off.
        for i in 0..N {
            for j in 0..i {
                let m = 0.5 * (self.p[i][j] + self.p[j][i]);
                self.p[i][j] = m;
                self.p[j][i] = m;
            }
        }
        // Normalised a-priori residual: E[e²] = σ² (1 + φᵀPφ/λ).
        let en2 = e * e * lam / den;
        self.w_sum = lam * self.w_sum + 1.0;
        self.noise_var += (en2 - self.noise_var) / self.w_sum;
        self.n += 1;
        e
    }

    /// The estimate θ.
    pub fn theta(&self) -> [f64; N] {
        self.theta
    }

    /// Overwrites the estimate (e.g. clamped to bounds), keeping P.
    pub fn set_theta(&mut self, theta: [f64; N]) {
        self.theta = theta;
    }

    /// Samples used.
    pub fn samples(&self) -> u64 {
        self.n
    }

    /// Estimated noise variance σ̂² of the (normalised) measurement, in y² units (1 before any sample).
    pub fn noise_var(&self) -> f64 {
        self.noise_var
    }

    /// Covariance of θ per unit white-noise variance: `P S P` (the prior alone, `P₀`, before any sample).
    pub fn unit_cov(&self) -> [[f64; N]; N] {
        if self.n == 0 {
            return self.p;
        }
        let mut ps = [[0.0; N]; N];
        for i in 0..N {
            for j in 0..N {
                for k in 0..N {
                    ps[i][j] += self.p[i][k] * self.s[k][j];
                }
            }
        }
        let mut out = [[0.0; N]; N];
        for i in 0..N {
            for j in 0..N {
                for k in 0..N {
                    out[i][j] += ps[i][k] * self.p[k][j];
                }
            }
        }
        out
    }

    /// Covariance of θ assuming white noise: `σ̂² P S P`.
    pub fn cov(&self) -> [[f64; N]; N] {
        let mut c = self.unit_cov();
        let v = if self.n == 0 { 1.0 } else { self.noise_var };
        for row in c.iter_mut() {
            for x in row.iter_mut() {
                *x *= v;
            }
        }
        c
    }

    /// Standard deviation of each θ component assuming white noise.
    pub fn std(&self) -> [f64; N] {
        let c = self.cov();
        let mut s = [0.0; N];
        for i in 0..N {
            s[i] = c[i][i].max(0.0).sqrt();
        }
        s
    }
}

/// The calibrated parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Param {
    /// Head-curve factor (shut-off and rated head alike).
    Head,
    /// Rotor unbalance factor.
    Unbalance,
    /// Frame-to-ambient thermal resistance factor (fan and still alike).
    FrameAmbient,
}

/// One value per calibrated parameter.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Factors<T> {
    /// Head-curve factor, true / nominal.
    pub head: T,
    /// Rotor unbalance factor, true / nominal.
    pub unbalance: T,
    /// Frame-to-ambient thermal resistance factor, true / nominal (winding-to-frame held nominal).
    pub frame_ambient: T,
}

impl<T> Factors<T> {
    /// The value for one parameter.
    pub fn get(&self, p: Param) -> &T {
        match p {
            Param::Head => &self.head,
            Param::Unbalance => &self.unbalance,
            Param::FrameAmbient => &self.frame_ambient,
        }
    }
}

/// One parameter's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Estimate {
    /// Factor (true / nominal), dimensionless.
    pub value: f64,
    /// Its standard deviation, dimensionless (statistical, plus the structural term for the thermal factor).
    pub std: f64,
    /// Measurements used.
    pub samples: u64,
    /// Whether the last update hit a bound (the value sits on it).
    pub clamped: bool,
}

/// A measurement for the calibrator, taken at the end of the latest [`Calibrator::step`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Observation {
    /// Delivered flow, m³/h.
    Flow {
        /// m³/h.
        m3h: f64,
    },
    /// Housing vibration velocity RMS, mm/s.
    VibrationRms {
        /// mm/s.
        mm_s: f64,
    },
    /// Motor winding temperature, °C.
    WindingTemp {
        /// °C.
        c: f64,
    },
}

/// Tuning of the [`Calibrator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationConfig {
    /// Per-sample forgetting factor λ of each estimator, (0.5, 1]: the memory is about `1/(1 - λ)` samples.
    pub forgetting: Factors<f64>,
    /// Prior standard deviation of each factor around 1, dimensionless.
    pub prior_std: Factors<f64>,
    /// Physical bounds (lo, hi) of each factor, dimensionless.
    pub bounds: Factors<(f64, f64)>,
    /// Flow sensor noise, relative standard deviation, dimensionless.
    pub flow_noise_rel: f64,
    /// Vibration RMS noise, relative standard deviation, dimensionless.
    pub vib_noise_rel: f64,
    /// Winding temperature sensor noise standard deviation, K.
    pub winding_noise_k: f64,
    /// Prior standard deviation of the (unestimated) winding-to-frame resistance factor, dimensionless: sets the
    /// structural part of the thermal factor's standard deviation.
    pub winding_frame_prior_std: f64,
    /// Batch length for the thermal residual's long-run variance, samples.
    pub batch_samples: u32,
    /// Lowest speed ratio (n / n_rated) at which flow and vibration are used, dimensionless.
    pub min_speed_ratio: f64,
    /// Lowest winding-temperature sensitivity `∂T_w/∂a` at which a winding reading is used, K.
    pub min_thermal_sensitivity_k: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        Self {
            forgetting: Factors { head: 0.9999, unbalance: 0.9999, frame_ambient: 0.99998 },
            prior_std: Factors { head: 0.1, unbalance: 1.0, frame_ambient: 0.2 },
            bounds: Factors { head: (0.7, 1.1), unbalance: (0.5, 4.0), frame_ambient: (0.7, 1.5) },
            flow_noise_rel: 0.005,
            vib_noise_rel: 0.03,
            winding_noise_k: 0.2,
            winding_frame_prior_std: 0.05,
            batch_samples: 1800,
            min_speed_ratio: 0.3,
            min_thermal_sensitivity_k: 2.0,
        }
    }
}

/// Relative perturbation of the shadow copies for the thermal sensitivities, dimensionless.
const SENS_DELTA: f64 = 1e-3;
/// Change of an applied factor that triggers rebuilding the calibration copies, dimensionless.
const REBUILD_TOL: f64 = 1e-4;

/// The head factor that makes the closed-form operating point deliver `flow_m3h` at `speed_rpm`:
/// `f = (Hs + R Q²) / (H0 s² - k Q²)` (nominal `H0`, `k`, `Hs`, `R`); `None` when the denominator is not positive.
pub fn head_factor_from_flow(pump: &PumpParams, speed_rpm: f64, flow_m3h: f64) -> Option<f64> {
    let c = PumpCurve::from_params(pump);
    let s = speed_rpm / pump.rated_speed_rpm;
    let q2 = flow_m3h * flow_m3h;
    let den = c.shutoff_head_m * s * s - c.k_m_per_m3h2 * q2;
    (den > 0.0).then(|| (pump.system.static_head_m + pump.system.resistance_m_per_m3h2 * q2) / den)
}

/// Online calibrator of one pump train (see the module doc).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Calibrator {
    cfg: CalibrationConfig,
    pump: PumpParams,
    motor: MotorParams,
    map: LoadMap,
    /// Nominal unbalance, kg·m.
    u0_kg_m: f64,
    /// Nominal curve, for the head channel.
    curve: PumpCurve,
    /// Calibration copies: [main, frame-ambient shadow, winding-frame shadow].
    trains: [PumpTrain; 3],
    /// (head, frame-ambient) factors the copies were built with.
    applied: (f64, f64),
    state: PumpTrainState,
    started: bool,
    /// `∂T/∂a` of [winding, frame, bearing], K.
    sens_fa: [f64; 3],
    /// `∂T/∂b` (winding-to-frame factor) of [winding, frame, bearing], K.
    sens_wf: [f64; 3],
    out: PumpTrainOutputs,
    defect_severity: f64,
    rls: [Rls<1>; 3],
    frozen: [bool; 3],
    clamped: [bool; 3],
    batch_sum: f64,
    batch_n: u32,
    lrv: f64,
    lrv_w: f64,
}

fn idx(p: Param) -> usize {
    match p {
        Param::Head => 0,
        Param::Unbalance => 1,
        Param::FrameAmbient => 2,
    }
}

impl Calibrator {
    /// A calibrator for a train of nominal `pump` and `motor` with its fitted `map`, all factors starting at 1.
    pub fn new(
        nominal_pump: &PumpParams,
        nominal_motor: &MotorParams,
        map: LoadMap,
        cfg: CalibrationConfig,
    ) -> Result<Self, ModelError> {
        let mut issues = nominal_pump.validate();
        issues.extend(nominal_motor.validate().into_iter().map(|(f, m)| (format!("motor.{f}"), m)));
        for (name, (lo, hi)) in [
            ("bounds.head", cfg.bounds.head),
            ("bounds.unbalance", cfg.bounds.unbalance),
            ("bounds.frame_ambient", cfg.bounds.frame_ambient),
        ] {
            if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= 1.0 && 1.0 <= hi) {
                issues.push((name.to_string(), format!("must satisfy 0 < lo <= 1 <= hi (got {lo}..{hi})")));
            }
        }
        if !issues.is_empty() {
            return Err(ModelError::InvalidParams(issues));
        }
        let l = &cfg.forgetting;
        let p = &cfg.prior_std;
        let rls = [
            Rls::new([1.0], [p.head * p.head], l.head),
            Rls::new([1.0], [p.unbalance * p.unbalance], l.unbalance),
            Rls::new([1.0], [p.frame_ambient * p.frame_ambient], l.frame_ambient),
        ];
        let build = |a: f64, b: f64| Self::build_train(nominal_pump, nominal_motor, &map, 1.0, a, b);
        let trains = [build(1.0, 1.0), build(1.0 + SENS_DELTA, 1.0), build(1.0, 1.0 + SENS_DELTA)];
        Ok(Self {
            u0_kg_m: nominal_pump.unbalance_g_mm * 1e-6,
            curve: PumpCurve::from_params(nominal_pump),
            pump: nominal_pump.clone(),
            motor: nominal_motor.clone(),
            map,
            cfg,
            trains,
            applied: (1.0, 1.0),
            state: PumpTrainState::default(),
            started: false,
            sens_fa: [0.0; 3],
            sens_wf: [0.0; 3],
            out: PumpTrainOutputs::default(),
            defect_severity: 0.0,
            rls,
            frozen: [false; 3],
            clamped: [false; 3],
            batch_sum: 0.0,
            batch_n: 0,
            lrv: 0.0,
            lrv_w: 0.0,
        })
    }

    fn build_train(pump: &PumpParams, motor: &MotorParams, map: &LoadMap, head: f64, fa: f64, wf: f64) -> PumpTrain {
        let (p, mut m) = scale(pump, motor, head, 1.0, fa);
        m.thermal.r_winding_frame_k_per_w *= wf;
        PumpTrain::with_map(p, m, map.clone())
    }

    /// Starts the open-loop calibration copy from `state` (by default it starts cold at the first step's ambient).
    pub fn set_state(&mut self, state: PumpTrainState) {
        self.state = state;
        self.started = true;
    }

    /// The open-loop calibration copy's state (current head and thermal estimates, nominal ambient).
    pub fn model_state(&self) -> &PumpTrainState {
        &self.state
    }

    /// Advances the open-loop calibration copy (and its thermal sensitivities) by `dt_s` with the twin's inputs
    /// (nominal ambient). Call once per model step, before that step's [`observe`](Self::observe) calls.
    pub fn step(&mut self, inputs: &PumpTrainInputs, dt_s: f64) {
        if !self.started {
            self.state = PumpTrainState::initial(inputs.ambient_c);
            self.started = true;
        }
        let head = self.rls[0].theta()[0];
        let fa = self.rls[2].theta()[0];
        if (head - self.applied.0).abs() > REBUILD_TOL || (fa - self.applied.1).abs() > REBUILD_TOL {
            let b = |a: f64, w: f64| Self::build_train(&self.pump, &self.motor, &self.map, head, a, w);
            self.trains = [b(fa, 1.0), b(fa + SENS_DELTA, 1.0), b(fa, 1.0 + SENS_DELTA)];
            self.applied = (head, fa);
        }
        let prev = self.state;
        self.out = self.trains[0].step(&mut self.state, inputs, dt_s);
        self.defect_severity = if inputs.bearing_defect_severity.is_finite() {
            inputs.bearing_defect_severity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        for (train, sens) in [(&self.trains[1], &mut self.sens_fa), (&self.trains[2], &mut self.sens_wf)] {
            let mut s = prev;
            s.winding_temp_c += SENS_DELTA * sens[0];
            s.frame_temp_c += SENS_DELTA * sens[1];
            s.bearing_temp_c += SENS_DELTA * sens[2];
            train.step(&mut s, inputs, dt_s);
            *sens = [
                (s.winding_temp_c - self.state.winding_temp_c) / SENS_DELTA,
                (s.frame_temp_c - self.state.frame_temp_c) / SENS_DELTA,
                (s.bearing_temp_c - self.state.bearing_temp_c) / SENS_DELTA,
            ];
        }
    }

    /// Takes one measurement made at the end of the latest step (cheap: a few dozen flops). Readings that carry
    /// no information (standstill, shut check valve, cavitation, cold motor) or whose parameter is frozen are
    /// ignored.
    pub fn observe(&mut self, m: Observation) {
        let s = self.out.speed_rpm / self.pump.rated_speed_rpm;
        match m {
            Observation::Flow { m3h } => {
                let shut = m3h.is_nan() || m3h <= 0.05 * self.pump.rated_flow_m3h * s;
                if self.frozen[0] || s < self.cfg.min_speed_ratio || shut {
                    return;
                }
                let c = &self.curve;
                let (hs, r) = (self.pump.system.static_head_m, self.pump.system.resistance_m_per_m3h2);
                let q2 = m3h * m3h;
                let phi = c.shutoff_head_m * s * s - c.k_m_per_m3h2 * q2;
                if phi <= 0.0 {
                    return;
                }
                // Noise scale of y - f φ = (R + f k)(Q_m² - Q²), from the model's flow (weights computed from
                // the reading itself would correlate with its noise and bias the estimate).
                let f = self.rls[0].theta()[0];
                let qp = if self.out.flow_m3h > 0.0 { self.out.flow_m3h } else { m3h };
                let sigma = (2.0 * (r + f * c.k_m_per_m3h2) * qp * qp * self.cfg.flow_noise_rel).max(1e-9);
                self.rls[0].update([phi / sigma], (hs + r * q2) / sigma);
                self.clamp(0);
            }
            Observation::VibrationRms { mm_s } => {
                if self.frozen[1] || s < self.cfg.min_speed_ratio || !mm_s.is_finite() {
                    return;
                }
                if self.out.health.cavitation_risk > 0.0 {
                    return;
                }
                let w = self.out.speed_rpm * std::f64::consts::TAU / 60.0;
                let r1 = self.map.eval(w, self.u0_kg_m).vib_rms_mm_s;
                let r0 = self.map.eval(w, 0.0).vib_rms_mm_s;
                let alpha = r1 * r1 - r0 * r0;
                if alpha <= 0.0 {
                    return;
                }
                let y = mm_s.max(0.0) / (1.0 + DEFECT_RMS_GAIN * self.defect_severity);
                let u = ((y * y - r0 * r0).max(0.0) / alpha).sqrt();
                let sigma = self.cfg.vib_noise_rel * self.rls[1].theta()[0].max(0.1);
                self.rls[1].update([1.0 / sigma], u / sigma);
                self.clamp(1);
            }
            Observation::WindingTemp { c } => {
                let psi = self.sens_fa[0];
                if self.frozen[2] || !c.is_finite() || psi.abs() < self.cfg.min_thermal_sensitivity_k {
                    return;
                }
                let sigma = self.cfg.winding_noise_k.max(1e-6);
                let e = (c - self.state.winding_temp_c) / sigma;
                let theta = self.rls[2].theta()[0];
                self.rls[2].update([psi / sigma], e + psi / sigma * theta);
                self.clamp(2);
                // Batch means of the normalised residual for its long-run variance.
                self.batch_sum += e;
                self.batch_n += 1;
                let b = self.cfg.batch_samples.max(1);
                if self.batch_n >= b {
                    let mean = self.batch_sum / b as f64;
                    self.lrv_w = self.cfg.forgetting.frame_ambient.powi(b as i32) * self.lrv_w + 1.0;
                    self.lrv += (b as f64 * mean * mean - self.lrv) / self.lrv_w;
                    self.batch_sum = 0.0;
                    self.batch_n = 0;
                }
            }
        }
    }

    fn clamp(&mut self, i: usize) {
        let (lo, hi) = match i {
            0 => self.cfg.bounds.head,
            1 => self.cfg.bounds.unbalance,
            _ => self.cfg.bounds.frame_ambient,
        };
        let v = self.rls[i].theta()[0];
        let c = v.clamp(lo, hi);
        self.clamped[i] = c != v;
        if c != v {
            self.rls[i].set_theta([c]);
        }
    }

    /// Freezes (or releases) one parameter: its observations are ignored while frozen (e.g. while a drift alarm
    /// is active on its sensor). The estimate and its covariance are kept.
    pub fn freeze(&mut self, which: Param, frozen: bool) {
        self.frozen[idx(which)] = frozen;
    }

    /// Whether a parameter is frozen.
    pub fn is_frozen(&self, which: Param) -> bool {
        self.frozen[idx(which)]
    }

    /// Present estimates with their standard deviations (see the module doc for the thermal one's terms).
    pub fn estimates(&self) -> Factors<Estimate> {
        let est = |i: usize, std: f64| Estimate {
            value: self.rls[i].theta()[0],
            std,
            samples: self.rls[i].samples(),
            clamped: self.clamped[i],
        };
        let r = &self.rls[2];
        let unit = r.unit_cov()[0][0];
        let stat_var = if r.samples() == 0 {
            unit
        } else if self.lrv_w > 0.0 {
            unit * self.lrv.max(r.noise_var())
        } else {
            // No full batch yet: assume the residual fully correlated over a batch (conservative).
            unit * r.noise_var() * self.cfg.batch_samples.max(1) as f64
        };
        let ratio = if self.sens_fa[0].abs() > 1e-9 { self.sens_wf[0] / self.sens_fa[0] } else { 0.0 };
        let struct_var = (ratio * self.cfg.winding_frame_prior_std).powi(2);
        Factors {
            head: est(0, self.rls[0].std()[0]),
            unbalance: est(1, self.rls[1].std()[0]),
            frame_ambient: est(2, (stat_var + struct_var).sqrt()),
        }
    }

    /// Output sensitivities of the calibration copy's winding temperature to the frame-to-ambient factor and to
    /// the (unestimated) winding-to-frame factor, K per unit factor.
    pub fn winding_sensitivities_k(&self) -> (f64, f64) {
        (self.sens_fa[0], self.sens_wf[0])
    }

    /// `pump` and `motor` scaled by the present estimates (head curve, unbalance, frame-to-ambient resistance
    /// fan and still; winding-to-frame unchanged).
    pub fn apply_to(&self, pump: &PumpParams, motor: &MotorParams) -> (PumpParams, MotorParams) {
        let e = self.estimates();
        scale(pump, motor, e.head.value, e.unbalance.value, e.frame_ambient.value)
    }
}

/// Nominal parameters × factors, as the plant's true factors modify them.
fn scale(pump: &PumpParams, motor: &MotorParams, head: f64, unbalance: f64, fa: f64) -> (PumpParams, MotorParams) {
    let mut p = pump.clone();
    p.shutoff_head_m *= head;
    p.rated_head_m *= head;
    p.unbalance_g_mm *= unbalance;
    let mut m = motor.clone();
    m.thermal.r_frame_ambient_k_per_w *= fa;
    m.thermal.r_frame_ambient_still_k_per_w *= fa;
    (p, m)
}

/// Vibration the calibration copy's map predicts for unbalance factor `u` at `speed_rpm`, mm/s RMS (no defect,
/// no cavitation): handy for checks and displays.
pub fn predicted_vib_rms_mm_s(map: &LoadMap, nominal_pump: &PumpParams, speed_rpm: f64, u: f64) -> f64 {
    let w = speed_rpm * std::f64::consts::TAU / 60.0;
    map.eval(w, nominal_pump.unbalance_g_mm * 1e-6 * u).vib_rms_mm_s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    /// y = 2 + 0.5 x + noise (σ 0.3), x uniform-ish in [-3, 3].
    fn fit(n: usize, rng: &mut ChaCha8Rng) -> Rls<2> {
        let noise = Normal::new(0.0, 0.3).unwrap();
        let mut r = Rls::new([0.0, 0.0], [1e6, 1e6], 1.0);
        for k in 0..n {
            let x = -3.0 + 6.0 * ((k as f64 * 0.618_033_988_7) % 1.0);
            r.update([1.0, x], 2.0 + 0.5 * x + noise.sample(rng));
        }
        r
    }

    #[test]
    fn rls_recovers_linear_model_within_reported_std() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Many independent runs: the reported std must match the actual scatter (about 68 % within 1 std,
        // all within 4 std), and the noise variance must be recovered.
        let runs = 400;
        let (mut in1, mut in3) = (0, 0);
        let mut nv = Vec::new();
        for _ in 0..runs {
            let r = fit(200, &mut rng);
            let (t, s) = (r.theta(), r.std());
            for (i, truth) in [2.0, 0.5].into_iter().enumerate() {
                let z = (t[i] - truth).abs() / s[i];
                in1 += usize::from(z < 1.0);
                in3 += usize::from(z < 3.0);
                assert!(z < 4.5, "param {i}: {} vs {truth}, std {}", t[i], s[i]);
            }
            nv.push(r.noise_var());
        }
        nv.sort_by(f64::total_cmp);
        // The recursive residuals recover σ² = 0.09: the median within 5 %, every run within 50 %.
        assert!((nv[runs / 2] / 0.09 - 1.0).abs() < 0.05, "median noise var {}", nv[runs / 2]);
        assert!(nv[0] > 0.045 && nv[runs - 1] < 0.135, "noise var {}..{}", nv[0], nv[runs - 1]);
        let frac1 = in1 as f64 / (2 * runs) as f64;
        let frac3 = in3 as f64 / (2 * runs) as f64;
        assert!((0.62..0.74).contains(&frac1), "within 1 std: {frac1}");
        assert!(frac3 > 0.99, "within 3 std: {frac3}");
    }

    #[test]
    fn rls_std_shrinks_as_inverse_sqrt_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let s1 = fit(2_000, &mut rng).std();
        let s4 = fit(8_000, &mut rng).std();
        for i in 0..2 {
            assert!((s4[i] / s1[i] - 0.5).abs() < 0.03, "{i}: {} / {}", s4[i], s1[i]);
        }
        // With forgetting the std levels off at the exponentially weighted mean's sqrt((1-λ)/(1+λ)) σ.
        let noise = Normal::new(0.0, 1.0).unwrap();
        let mut r = Rls::new([0.0], [1e6], 0.999);
        for _ in 0..20_000 {
            r.update([1.0], 3.0 + noise.sample(&mut rng));
        }
        let expect = ((1.0 - 0.999) / (1.0 + 0.999f64)).sqrt();
        assert!((r.std()[0] / expect - 1.0).abs() < 0.1, "{} vs {expect}", r.std()[0]);
        assert!((r.theta()[0] - 3.0).abs() < 4.0 * expect);
    }

    #[test]
    fn head_factor_inverse_is_exact() {
        let nominal = PumpParams::example();
        for f in [0.75, 0.9, 0.95, 0.99, 1.05] {
            let (p, _) = scale(&nominal, &MotorParams::example(), f, 1.0, 1.0);
            let c = PumpCurve::from_params(&p);
            for n in [1100.0, 1300.0, 1480.0, 1600.0] {
                let (q, _) = crate::hydraulics::operating_point(&c, &p.system, n);
                if q <= 0.0 {
                    continue;
                }
                let back = head_factor_from_flow(&nominal, n, q).unwrap();
                assert!((back - f).abs() < 1e-12, "f {f} n {n}: {back}");
            }
        }
    }
}
