//! Residual-based drift detection: is the asset (or a sensor) still behaving the way the twin says it should?
//!
//! For every measured signal the twin forms the residual `r = measured - predicted` (canonical unit) and knows
//! the sensor's noise std `σ` ([`SignalKind::noise_sigma`]). A [`ResidualMonitor`] per signal works on the
//! normalised residual `z = r / σ`; **every statistic it reports is in units of σ**:
//!
//! * `baseline` `b`: slow mean of `z` (time constant [`DriftConfig::baseline_time_constant_s`], a plain running
//!   mean during warm-up). A model bias present from the start is learned here and is *not* an alarm (it is a
//!   calibration matter); a drift alarm means the residual *changed* (defect onset, sensor drift, stuck sensor).
//!   The baseline is frozen while an alarm is active, so a real change stays in alarm until the residual returns
//!   or the caller accepts the new level with [`ResidualMonitor::rebaseline`] (e.g. after a calibration).
//! * deviation `d = z - b`;
//! * `ewma` `e ← (1-λ) e + λ d`, alarm when `|e| > L σ_e`;
//! * two-sided CUSUM in *effective-sample* units: `S± ← min(2h, max(0, S± + (±d - k) / m))`, alarm when
//!   `S± > h`.
//!
//! Real residuals are autocorrelated (model error and sensor filtering). The monitor assumes a Gauss–Markov
//! (AR(1)) residual with correlation time `τc` ([`DriftConfig::noise_corr_time_s`]), so at a sample period `Δt`
//! (estimated online from `t_s`) the lag-one correlation is `φ = exp(-Δt/τc)`:
//!
//! * `m = (1+φ)/(1-φ)` is the variance inflation of a sum (≈ `2τc/Δt` samples per independent sample); the
//!   CUSUM divides its increments by `m`, so it behaves like a classic CUSUM on batch means of `m` samples;
//! * `σ_e² = λ/(2-λ) · (1+(1-λ)φ) / (1-(1-λ)φ)` is the exact stationary EWMA variance for AR(1) input.
//!
//! With `τc = 0` both reduce to the textbook white-noise forms. Assuming correlation that is not there only
//! costs sensitivity (white noise is then far inside the limits); assuming too little costs false alarms.
//!
//! Stuck-sensor (flatline) detection runs alongside: [`DriftConfig::flatline_samples`] consecutive readings
//! identical within a band `max(rel_tol |x|, abs_tol)` while the prediction moves by more than the band, or
//! while the sensor's noise should show (`σ` larger than the band) and the reading is not sitting on the
//! (constant) prediction: a flow meter reading exactly 0 at standstill with a predicted 0 is not stuck.
//!
//! [`classify`] turns an alarm plus the status of physically coupled signals into a likely [`Cause`].

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Thresholds and time constants of a [`ResidualMonitor`]. Every field has a default, so a scenario can
/// override only what it needs (`#[serde(default)]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// EWMA smoothing weight λ per sample, in (0, 1].
    pub ewma_lambda: f64,
    /// EWMA alarm limit L, in units of the EWMA's stationary std σ_e.
    pub ewma_limit: f64,
    /// CUSUM reference value k, σ (per effective sample).
    pub cusum_k: f64,
    /// CUSUM decision interval h, σ (effective-sample units).
    pub cusum_h: f64,
    /// Correlation time τc of the healthy residual (Gauss–Markov), s; 0 = white.
    pub noise_corr_time_s: f64,
    /// Sample period assumed until two samples have been seen, s.
    pub nominal_sample_period_s: f64,
    /// Time constant of the slow baseline (the residual mean a change is measured against), s.
    pub baseline_time_constant_s: f64,
    /// Valid samples used to learn the baseline before any shift alarm can be raised.
    pub warmup_samples: u64,
    /// Consecutive identical readings that make a flatline (stuck sensor).
    pub flatline_samples: u32,
    /// Relative tolerance within which two readings count as identical.
    pub flatline_rel_tol: f64,
    /// Absolute tolerance within which two readings count as identical, canonical unit.
    pub flatline_abs_tol: f64,
    /// Consecutive samples with every statistic below half its limit before an alarm clears (hysteresis).
    pub clear_samples: u32,
}

/// Defaults for 1 Hz telemetry, sized by simulation (see `models/tests/drift.rs`) so that a healthy week with
/// white or Gauss–Markov (τc = 60 s) residual noise stays below ~75 % of every limit while a 3σ step is caught
/// within ~9 min (white) / ~12 min (τc = 60 s) and a 2σ/h ramp within ~1.1 h:
/// λ = 0.005 (EWMA memory ≈ 200 s, several correlation times), L = 6, k = 0.75 σ, h = 10 σ (effective-sample
/// units), τc = 60 s, baseline 4 h, warm-up 3600 samples (1 h: ~30 independent samples, so the learned bias is
/// good to ~0.2σ), flatline 30 samples within 1e-9 relative, clear after 300 quiet samples.
impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            ewma_lambda: 0.005,
            ewma_limit: 6.0,
            cusum_k: 0.75,
            cusum_h: 10.0,
            noise_corr_time_s: 60.0,
            nominal_sample_period_s: 1.0,
            baseline_time_constant_s: 4.0 * 3600.0,
            warmup_samples: 3600,
            flatline_samples: 30,
            flatline_rel_tol: 1e-9,
            flatline_abs_tol: 0.0,
            clear_samples: 300,
        }
    }
}

impl DriftConfig {
    /// Physically or statistically invalid fields as `(field, message)` pairs; empty when valid.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let mut check = |field: &str, ok: bool, msg: &str| {
            if !ok {
                v.push((field.to_string(), msg.to_string()));
            }
        };
        let pos = |x: f64| x.is_finite() && x > 0.0;
        let nonneg = |x: f64| x.is_finite() && x >= 0.0;
        check("ewma_lambda", pos(self.ewma_lambda) && self.ewma_lambda <= 1.0, "must be in (0, 1]");
        check("ewma_limit", pos(self.ewma_limit), "must be > 0");
        check("cusum_k", nonneg(self.cusum_k), "must be >= 0");
        check("cusum_h", pos(self.cusum_h), "must be > 0");
        check("noise_corr_time_s", nonneg(self.noise_corr_time_s), "must be >= 0");
        check("nominal_sample_period_s", pos(self.nominal_sample_period_s), "must be > 0");
        check("baseline_time_constant_s", pos(self.baseline_time_constant_s), "must be > 0");
        check("flatline_samples", self.flatline_samples >= 2, "must be >= 2");
        check("flatline_rel_tol", nonneg(self.flatline_rel_tol), "must be >= 0");
        check("flatline_abs_tol", nonneg(self.flatline_abs_tol), "must be >= 0");
        check("clear_samples", self.clear_samples >= 1, "must be >= 1");
        v
    }
}

/// What a monitor is alarming about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmKind {
    /// The residual mean rose relative to its baseline.
    ShiftUp,
    /// The residual mean fell relative to its baseline.
    ShiftDown,
    /// The reading is stuck (identical values while noise or the prediction should move it).
    Flatline,
}

/// Statistics of one monitor after an update. All statistics are in units of σ (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MonitorStatus {
    /// EWMA of the deviation from the baseline, σ.
    pub ewma: f64,
    /// Upper CUSUM, σ (alarm above `cusum_h`).
    pub cusum_pos: f64,
    /// Lower CUSUM, σ (alarm above `cusum_h`).
    pub cusum_neg: f64,
    /// Slow mean of the normalised residual, σ (multiply by σ for the residual's unit).
    pub baseline: f64,
    /// Active alarm, if any.
    pub alarm: Option<AlarmKind>,
    /// Time the active alarm was raised, s (same clock as `t_s`).
    pub since_s: Option<f64>,
    /// Largest statistic as a fraction of its alarm limit, `q = max(|e|/(L σ_e), S+/h, S-/h, run/N)`, where the
    /// flatline term `run/N` counts only while the stuck condition holds; 0 = nothing, 1 = at the limit.
    pub level: f64,
    /// `confidence = clamp(2 (1 - q), 0, 1)`: 1 while every statistic is below half its limit (noise level and
    /// the clear level of the hysteresis), falling linearly to 0 at the alarm limit and 0 beyond; 0 whenever an
    /// alarm is active.
    pub confidence: f64,
    /// Whether the baseline has been learned (warm-up over); statistics before that are provisional.
    pub warmed_up: bool,
}

/// Drift / stuck-sensor monitor for one signal's residual. Serializable, so the twin can persist it across
/// restarts instead of warming up again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualMonitor {
    config: DriftConfig,
    samples: u64,
    ignored: u64,
    last_t_s: Option<f64>,
    dt_est_s: f64,
    dt_seen: bool,
    baseline: f64,
    ewma: f64,
    cusum_pos: f64,
    cusum_neg: f64,
    flat_ref: f64,
    flat_run: u32,
    flat_pred_min: f64,
    flat_pred_max: f64,
    flat_sigma_min: f64,
    alarm: Option<AlarmKind>,
    since_s: Option<f64>,
    quiet_run: u32,
    status: MonitorStatus,
}

impl ResidualMonitor {
    /// A fresh monitor (in warm-up). Fails when the configuration is invalid.
    pub fn new(config: DriftConfig) -> Result<Self, ModelError> {
        let issues = config.validate();
        if !issues.is_empty() {
            return Err(ModelError::InvalidParams(issues));
        }
        Ok(Self {
            config,
            samples: 0,
            ignored: 0,
            last_t_s: None,
            dt_est_s: config.nominal_sample_period_s,
            dt_seen: false,
            baseline: 0.0,
            ewma: 0.0,
            cusum_pos: 0.0,
            cusum_neg: 0.0,
            flat_ref: f64::NAN,
            flat_run: 0,
            flat_pred_min: f64::INFINITY,
            flat_pred_max: f64::NEG_INFINITY,
            flat_sigma_min: f64::INFINITY,
            alarm: None,
            since_s: None,
            quiet_run: 0,
            status: MonitorStatus { confidence: 1.0, ..MonitorStatus::default() },
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &DriftConfig {
        &self.config
    }

    /// Valid samples processed.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples ignored: a non-finite input, `sigma <= 0`, or a time not after the previous valid sample.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Status after the last valid sample.
    pub fn status(&self) -> MonitorStatus {
        self.status
    }

    /// Sample period the correlation model uses, s (smoothed from the observed sample times).
    pub fn sample_period_s(&self) -> f64 {
        self.dt_est_s
    }

    /// Accept the present residual as normal (after a calibration or maintenance): clears the alarm and the
    /// statistics and learns the baseline again (a new warm-up). The sample-period estimate is kept.
    pub fn rebaseline(&mut self) {
        let (last_t_s, dt_est_s, dt_seen, ignored) = (self.last_t_s, self.dt_est_s, self.dt_seen, self.ignored);
        *self = Self::new(self.config).expect("config was validated");
        (self.last_t_s, self.dt_est_s, self.dt_seen, self.ignored) = (last_t_s, dt_est_s, dt_seen, ignored);
    }

    /// Lag-one correlation of the assumed Gauss–Markov residual at the estimated sample period.
    fn phi(&self) -> f64 {
        if self.config.noise_corr_time_s > 0.0 { (-self.dt_est_s / self.config.noise_corr_time_s).exp() } else { 0.0 }
    }

    /// Stationary std of the EWMA for AR(1) input of unit variance, σ.
    pub fn ewma_sigma(&self) -> f64 {
        let l = self.config.ewma_lambda;
        let a = (1.0 - l) * self.phi();
        (l / (2.0 - l) * (1.0 + a) / (1.0 - a)).sqrt()
    }

    /// Variance inflation `m = (1+φ)/(1-φ)`: samples per effective independent sample.
    pub fn variance_inflation(&self) -> f64 {
        let phi = self.phi();
        (1.0 + phi) / (1.0 - phi)
    }

    /// Feed one sample: time `t_s` (s, increasing), measured and predicted value (same canonical unit) and the
    /// sensor noise std `sigma` (> 0, same unit). Invalid samples are ignored, counted ([`Self::ignored`]) and
    /// answered with the previous status.
    pub fn update(&mut self, t_s: f64, measured: f64, predicted: f64, sigma: f64) -> MonitorStatus {
        let finite = t_s.is_finite() && measured.is_finite() && predicted.is_finite() && sigma.is_finite();
        let z = (measured - predicted) / sigma;
        if !finite || sigma <= 0.0 || !z.is_finite() || self.last_t_s.is_some_and(|last| t_s <= last) {
            self.ignored += 1;
            return self.status;
        }
        let cfg = self.config;

        // Sample period estimate (robust to gaps: one observation moves it by at most a factor 1.1 per 100).
        let dt = match self.last_t_s {
            Some(last) => {
                let dt = t_s - last;
                if self.dt_seen {
                    let clamped = dt.clamp(0.1 * self.dt_est_s, 10.0 * self.dt_est_s);
                    self.dt_est_s += 0.01 * (clamped - self.dt_est_s);
                } else {
                    self.dt_est_s = dt;
                    self.dt_seen = true;
                }
                dt
            }
            None => self.dt_est_s,
        };
        self.last_t_s = Some(t_s);

        // Flatline run.
        let band = |x: f64| (cfg.flatline_rel_tol * x.abs()).max(cfg.flatline_abs_tol);
        if self.flat_run > 0 && (measured - self.flat_ref).abs() <= band(self.flat_ref).max(band(measured)) {
            self.flat_run = self.flat_run.saturating_add(1);
        } else {
            self.flat_ref = measured;
            self.flat_run = 1;
            self.flat_pred_min = f64::INFINITY;
            self.flat_pred_max = f64::NEG_INFINITY;
            self.flat_sigma_min = f64::INFINITY;
        }
        self.flat_pred_min = self.flat_pred_min.min(predicted);
        self.flat_pred_max = self.flat_pred_max.max(predicted);
        self.flat_sigma_min = self.flat_sigma_min.min(sigma);
        let flat_band = band(self.flat_ref);
        let should_move = self.flat_pred_max - self.flat_pred_min > flat_band
            || (self.flat_sigma_min > flat_band && (self.flat_ref - predicted).abs() > flat_band);
        let flat_level =
            if should_move && self.flat_run > 1 { self.flat_run as f64 / cfg.flatline_samples as f64 } else { 0.0 };
        let stuck = flat_level >= 1.0;

        // Statistics (not fed with a stuck sensor's readings).
        self.samples += 1;
        let warmed_up = self.samples > cfg.warmup_samples;
        if !stuck && self.alarm != Some(AlarmKind::Flatline) {
            if self.alarm.is_none() {
                let slow = -(-dt.max(0.0) / cfg.baseline_time_constant_s).exp_m1();
                let w = if warmed_up { slow } else { slow.max(1.0 / self.samples as f64) };
                self.baseline += w * (z - self.baseline);
            }
            let d = z - self.baseline;
            self.ewma += cfg.ewma_lambda * (d - self.ewma);
            if warmed_up {
                let m = self.variance_inflation();
                let cap = 2.0 * cfg.cusum_h;
                self.cusum_pos = (self.cusum_pos + (d - cfg.cusum_k) / m).clamp(0.0, cap);
                self.cusum_neg = (self.cusum_neg + (-d - cfg.cusum_k) / m).clamp(0.0, cap);
            }
        }

        // Alarm state machine.
        let ewma_limit = cfg.ewma_limit * self.ewma_sigma();
        let (q_up, q_down) = if warmed_up {
            (
                (self.ewma / ewma_limit).max(self.cusum_pos / cfg.cusum_h),
                (-self.ewma / ewma_limit).max(self.cusum_neg / cfg.cusum_h),
            )
        } else {
            (0.0, 0.0)
        };
        let level = q_up.max(q_down).max(flat_level).max(0.0);
        let raised = if stuck {
            Some(AlarmKind::Flatline)
        } else if self.alarm == Some(AlarmKind::Flatline) {
            None
        } else if q_up >= 1.0 && q_up >= q_down {
            Some(AlarmKind::ShiftUp)
        } else if q_down >= 1.0 {
            Some(AlarmKind::ShiftDown)
        } else {
            None
        };
        match raised {
            Some(kind) => {
                if self.alarm != Some(kind) {
                    self.alarm = Some(kind);
                    self.since_s = Some(t_s);
                }
                self.quiet_run = 0;
            }
            None if self.alarm.is_some() => {
                self.quiet_run = if level < 0.5 { self.quiet_run + 1 } else { 0 };
                if self.quiet_run >= cfg.clear_samples {
                    self.alarm = None;
                    self.since_s = None;
                    self.quiet_run = 0;
                }
            }
            None => {}
        }
        let confidence = if self.alarm.is_some() { 0.0 } else { (2.0 * (1.0 - level)).clamp(0.0, 1.0) };
        self.status = MonitorStatus {
            ewma: self.ewma,
            cusum_pos: self.cusum_pos,
            cusum_neg: self.cusum_neg,
            baseline: self.baseline,
            alarm: self.alarm,
            since_s: self.since_s,
            level,
            confidence,
            warmed_up,
        };
        self.status
    }
}

/// The measured quantities of a pump train, for noise scales and physical coupling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignalKind {
    /// Volumetric flow.
    Flow,
    /// Motor current.
    MotorCurrent,
    /// Tank level, m.
    TankLevel,
    /// Motor winding temperature.
    WindingTemperature,
    /// Vibration velocity RMS.
    VibrationRms,
    /// Vibration peak.
    VibrationPeak,
    /// Vibration crest factor (peak / RMS).
    CrestFactor,
    /// Anything else; coupled with whatever the caller passes as neighbours.
    Other,
}

impl SignalKind {
    /// Sensor noise std σ for a reading in the canonical unit: vibration RMS 3 % of reading, vibration peak 5 %
    /// (assumed: a window peak is noisier than the RMS), crest factor 5 %, temperatures 0.2 K, flow and current
    /// 0.5 % of reading, level 5 mm (0.005 m). `Other` has no known noise and returns NaN (the sample is then
    /// ignored by a monitor).
    pub fn noise_sigma(self, reading: f64) -> f64 {
        let r = reading.abs();
        match self {
            SignalKind::VibrationRms => 0.03 * r,
            SignalKind::VibrationPeak | SignalKind::CrestFactor => 0.05 * r,
            SignalKind::WindingTemperature => 0.2,
            SignalKind::Flow | SignalKind::MotorCurrent => 0.005 * r,
            SignalKind::TankLevel => 0.005,
            SignalKind::Other => f64::NAN,
        }
    }

    /// Vibration RMS, peak or crest factor.
    pub fn is_vibration(self) -> bool {
        matches!(self, SignalKind::VibrationRms | SignalKind::VibrationPeak | SignalKind::CrestFactor)
    }

    /// Whether two signals of one pump train are physically coupled: flow ↔ motor current ↔ tank level; winding
    /// temperature ↔ motor current; vibration RMS ↔ peak ↔ crest factor. `Other` couples with everything.
    pub fn coupled_with(self, other: SignalKind) -> bool {
        use SignalKind::*;
        let hydraulic = |k| matches!(k, Flow | MotorCurrent | TankLevel);
        match (self, other) {
            (Other, _) | (_, Other) => true,
            (a, b) if a.is_vibration() && b.is_vibration() => true,
            (a, b) if hydraulic(a) && hydraulic(b) => true,
            (WindingTemperature, MotorCurrent) | (MotorCurrent, WindingTemperature) => true,
            _ => false,
        }
    }
}

/// One signal's monitor status, named, for [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignalView<'a> {
    /// Display name, e.g. `"P-101 winding temperature"`.
    pub name: &'a str,
    /// What the signal measures.
    pub kind: SignalKind,
    /// Its monitor's latest status.
    pub status: MonitorStatus,
}

/// Which kind of sensor fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SensorFault {
    /// Identical readings (frozen transmitter, lost update, saturated input).
    Stuck,
    /// The sensor alone disagrees with the model while the coupled signals do not.
    Drift,
}

/// Likely cause of a drift alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cause {
    /// The signal is not in alarm.
    NoAlarm,
    /// The measurement is wrong, not the asset.
    SensorFault(SensorFault),
    /// The asset or process changed: coupled signals moved together, the model no longer describes the asset.
    ModelDrift,
    /// Not enough evidence (no usable coupled signal, or coupled signals undecided).
    Unknown,
}

/// A cause with a human-readable reason naming the signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The likely cause.
    pub cause: Cause,
    /// Why, for an operator.
    pub reason: String,
}

fn direction(status: &MonitorStatus) -> &'static str {
    match status.alarm {
        Some(AlarmKind::ShiftUp) => "rose",
        Some(AlarmKind::ShiftDown) => "fell",
        Some(AlarmKind::Flatline) => "is stuck",
        None if status.ewma >= 0.0 => "is slightly high",
        None => "is slightly low",
    }
}

fn is_shift(status: &MonitorStatus) -> bool {
    matches!(status.alarm, Some(AlarmKind::ShiftUp | AlarmKind::ShiftDown))
}

/// Classify an alarm from the status of physically coupled signals (same pump train).
///
/// Rules, in order:
/// 1. not in alarm → [`Cause::NoAlarm`];
/// 2. a flatline → `SensorFault(Stuck)` (needs no neighbours);
/// 3. neighbours are considered only if coupled ([`SignalKind::coupled_with`]; for a vibration signal only the
///    other vibration signals), warmed up and not stuck themselves; none left → [`Cause::Unknown`] ("nothing
///    to compare with");
/// 4. a usable neighbour *corroborates* when it is in a shift alarm too (for vibration: a rise, like the
///    alarmed signal's, since a bearing defect raises RMS, peak and crest factor together); it is *normal* when
///    it is not in alarm and every statistic is below half its limit (`level < 0.5`); otherwise *undecided*;
/// 5. at least one corroborating neighbour → [`Cause::ModelDrift`] (the asset changed), with the likely
///    mechanism named where the pattern is characteristic (vibration: peak and crest factor rising → bearing
///    defect; RMS and peak rising with a steady crest factor → unbalance, misalignment or looseness; flow with
///    current or level → pump/system curve or leak);
/// 6. no corroboration and at least one normal neighbour → `SensorFault(Drift)`: the signal disagrees alone;
/// 7. otherwise (neighbours undecided) → [`Cause::Unknown`].
pub fn classify(alarmed: &SignalView<'_>, neighbours: &[SignalView<'_>]) -> Diagnosis {
    let name = alarmed.name;
    let st = &alarmed.status;
    let Some(alarm) = st.alarm else {
        return Diagnosis { cause: Cause::NoAlarm, reason: format!("{name}: no drift alarm") };
    };
    if alarm == AlarmKind::Flatline {
        return Diagnosis {
            cause: Cause::SensorFault(SensorFault::Stuck),
            reason: format!("{name}: reading is stuck (identical values while noise or the model say it should move)"),
        };
    }
    let vib = alarmed.kind.is_vibration();
    let usable: Vec<&SignalView<'_>> = neighbours
        .iter()
        .filter(|n| {
            let coupled = if vib { n.kind.is_vibration() } else { alarmed.kind.coupled_with(n.kind) };
            coupled && n.status.warmed_up && n.status.alarm != Some(AlarmKind::Flatline)
        })
        .collect();
    if usable.is_empty() {
        return Diagnosis {
            cause: Cause::Unknown,
            reason: format!(
                "{name} {} relative to the model, but no coupled signal is available to compare with",
                direction(st)
            ),
        };
    }
    let corroborates = |n: &SignalView<'_>| {
        if vib {
            alarm == AlarmKind::ShiftUp && n.status.alarm == Some(AlarmKind::ShiftUp)
        } else {
            is_shift(&n.status)
        }
    };
    let agree: Vec<&SignalView<'_>> = usable.iter().copied().filter(|n| corroborates(n)).collect();
    let normal: Vec<&SignalView<'_>> =
        usable.iter().copied().filter(|n| n.status.alarm.is_none() && n.status.level < 0.5).collect();
    let list = |v: &[&SignalView<'_>]| {
        v.iter().map(|n| format!("{} ({})", n.name, direction(&n.status))).collect::<Vec<_>>().join(", ")
    };

    if !agree.is_empty() {
        let rising = |k: SignalKind| {
            (alarmed.kind == k && alarm == AlarmKind::ShiftUp)
                || agree.iter().any(|n| n.kind == k && n.status.alarm == Some(AlarmKind::ShiftUp))
        };
        let involved = |k: SignalKind| alarmed.kind == k || agree.iter().any(|n| n.kind == k);
        let mechanism = if vib {
            if rising(SignalKind::VibrationPeak) && rising(SignalKind::CrestFactor) {
                "likely a bearing defect (impulsive vibration: peak and crest factor rising)"
            } else if rising(SignalKind::VibrationRms) && rising(SignalKind::VibrationPeak) {
                "likely unbalance, misalignment or looseness (broadband rise with a steady crest factor)"
            } else {
                "the machine's vibration signature changed"
            }
        } else if involved(SignalKind::TankLevel) && (involved(SignalKind::Flow) || involved(SignalKind::MotorCurrent))
        {
            "likely a leak or an unmodelled inflow/outflow (level and pump disagree with the model together)"
        } else if involved(SignalKind::Flow) && involved(SignalKind::MotorCurrent) {
            "likely a change of the pump or system curve (impeller wear, clogging, valve position)"
        } else if involved(SignalKind::WindingTemperature) && involved(SignalKind::MotorCurrent) {
            "likely a load change heating the winding (check the mechanical load)"
        } else {
            "the asset no longer behaves as modelled"
        };
        return Diagnosis {
            cause: Cause::ModelDrift,
            reason: format!(
                "{name} {} together with coupled {}: model drift, {mechanism}",
                direction(st),
                list(&agree)
            ),
        };
    }
    if !normal.is_empty() {
        let hint = if alarmed.kind == SignalKind::WindingTemperature && alarm == AlarmKind::ShiftUp {
            " (or a cooling fault: check fan and ambient)"
        } else {
            ""
        };
        return Diagnosis {
            cause: Cause::SensorFault(SensorFault::Drift),
            reason: format!(
                "{name} {} while coupled {} agree with the model: sensor drift{hint}",
                direction(st),
                list(&normal)
            ),
        };
    }
    Diagnosis {
        cause: Cause::Unknown,
        reason: format!("{name} {}; coupled {} are elevated but not in alarm: undecided", direction(st), list(&usable)),
    }
}
