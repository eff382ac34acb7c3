//! Stage 2 of bearing degradation: once a fatigue defect has initiated (stage 1, ISO 281: see [`crate::bearing`]
//! and [`crate::health`]), it grows until the bearing fails. The defect's condition indicator is its severity `s`
//! (0 none .. 1 failed), the input of [`crate::PumpTrain::step`] that raises the impulsive vibration (crest factor)
//! and the damage rate. It grows exponentially, faster under load and at speed:
//!
//! `ds/dt = λ g s`, with `g = (n / n_r) (P / P_r)^p` (the shaft speed and the ISO 281 equivalent load against the
//! rated point, `p` the life exponent: 3 ball, 10/3 roller),
//!
//! from [`INITIAL_SEVERITY`] at initiation to [`FAILURE_SEVERITY`], the failure threshold. Integrated over the
//! load-weighted time `τ = ∫ g dt` (hours): `ln s(τ) = ln s_0 + λ τ`, so a defect of severity `s` fails after
//! `ln(s_f / s) / λ` load-weighted hours. This is the exponential degradation model of Gebraeel et al. (2005) for
//! rolling bearings, with a rate proportional to the rate of fatigue damage (Paris-type crack growth scales with
//! the stress cycles).
//!
//! The rate `λ` varies from bearing to bearing: across a fleet it is log-normal around [`GROWTH_RATE_MEDIAN_PER_H`]
//! (a defect at initiation takes about 20 days at the rated point to reach failure) with a log standard deviation
//! of [`GROWTH_RATE_SIGMA_LN`]. For one bearing the twin updates a Gaussian belief about `λ` (and the
//! log-severity at detection) from the severities the crest factor implies, by conjugate Bayesian linear regression
//! of `ln s` on `τ` ([`GrowthEstimator`]); its remaining useful life is a distribution ([`GrowthEstimator::rul_h`]).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Severity of a defect when it is first seen (initiation), 0..1.
pub const INITIAL_SEVERITY: f64 = 0.05;
/// Severity at which the bearing has failed.
pub const FAILURE_SEVERITY: f64 = 1.0;
/// Fleet median of the growth rate λ at the rated point, per hour: `ln(20) / 480 h` (20 days from initiation to
/// failure at the rated point).
pub const GROWTH_RATE_MEDIAN_PER_H: f64 = 2.995_732_273_553_991 / 480.0;
/// Log standard deviation of λ across a fleet.
pub const GROWTH_RATE_SIGMA_LN: f64 = 0.5;
/// Standard deviation of one log-severity reading (the crest factor's noise, seen through
/// `s = (r - 1) / (2 - 0.1 r)`, at a minute's average).
pub const LN_SEVERITY_NOISE: f64 = 0.15;
/// Readings the estimator remembers: older ones fade by `exp(-1/MEMORY_READINGS)` per new one (12 h of minute
/// readings), so that the belief follows a growth that is not exactly exponential in the readings (the crest
/// factor's relation to the severity is the model's, not the bearing's) instead of growing overconfident.
pub const MEMORY_READINGS: f64 = 720.0;
/// Samples drawn from the posterior for the remaining-life percentiles.
const RUL_SAMPLES: usize = 400;
/// Remaining life reported when the defect is not growing (or the rate is not positive), h.
pub const RUL_CAP_H: f64 = crate::health::RUL_CAP_H;

/// The growth-rate multiplier `g = (n / n_r) (P / P_r)^p` at speed ratio `n/n_r` and load ratio `P/P_r` with life
/// exponent `p` (0 when stopped).
pub fn growth_factor(speed_ratio: f64, load_ratio: f64, exponent: f64) -> f64 {
    if !(speed_ratio > 0.0 && load_ratio > 0.0) {
        return 0.0;
    }
    // A ball bearing's exponent 3 as products (this runs at every step of every what-if sample).
    let load = if exponent == 3.0 { load_ratio * load_ratio * load_ratio } else { load_ratio.powf(exponent) };
    speed_ratio * load
}

/// Severity after `dt_h` hours at growth factor `g` and rate `rate_per_h`: `s exp(λ g dt)`, capped at failure.
pub fn grow(severity: f64, rate_per_h: f64, g: f64, dt_h: f64) -> f64 {
    (severity * (rate_per_h * g * dt_h).exp()).min(FAILURE_SEVERITY)
}

/// Hours at growth factor `g` until a defect of `severity` reaches the failure threshold at rate `rate_per_h`.
pub fn hours_to_failure(severity: f64, rate_per_h: f64, g: f64) -> f64 {
    if severity >= FAILURE_SEVERITY {
        return 0.0;
    }
    let per_h = rate_per_h * g;
    if per_h > 0.0 && severity > 0.0 { ((FAILURE_SEVERITY / severity).ln() / per_h).min(RUL_CAP_H) } else { RUL_CAP_H }
}

/// The wear index in stage 2: from `wear_at_initiation` (the stage-1 index when the defect appeared) to 1 at the
/// failure threshold, in proportion to the defect's log-severity between [`INITIAL_SEVERITY`] and
/// [`FAILURE_SEVERITY`].
pub fn stage2_wear(wear_at_initiation: f64, severity: f64) -> f64 {
    let w0 = wear_at_initiation.clamp(0.0, 1.0);
    let progress = ((severity / INITIAL_SEVERITY).ln() / (FAILURE_SEVERITY / INITIAL_SEVERITY).ln()).clamp(0.0, 1.0);
    w0 + (1.0 - w0) * if progress.is_finite() { progress } else { 0.0 }
}

/// Crest-factor ratio (measured / model without a defect) under which no defect is inferred (the ratio's noise).
pub const CREST_THRESHOLD: f64 = 1.05;

/// The defect severity a measured crest factor implies against the model's crest without a defect: the pump
/// model raises the peak by `1 + 2s` and the RMS by `1 + 0.1s` (see [`crate::pump_train::DEFECT_PEAK_GAIN`]), so a
/// crest ratio `r` gives `s = (r - 1) / (2 - 0.1 r)`. None at or below [`CREST_THRESHOLD`].
pub fn severity_from_crest(measured: f64, model: f64) -> Option<f64> {
    use crate::pump_train::{DEFECT_PEAK_GAIN, DEFECT_RMS_GAIN};
    let r = measured / model;
    (r.is_finite() && r > CREST_THRESHOLD)
        .then(|| ((r - 1.0) / (DEFECT_PEAK_GAIN - DEFECT_RMS_GAIN * r)).clamp(0.0, 1.0))
}

/// A fleet's growth rate for one bearing, drawn with a standard normal `z`: `λ_med exp(σ z)`.
pub fn fleet_rate(z: f64) -> f64 {
    GROWTH_RATE_MEDIAN_PER_H * (GROWTH_RATE_SIGMA_LN * z).exp()
}

/// The pace features a learnt prior on a pump's growth rate takes (name, unit), in order: 1-hour exponential means,
/// over the minutes the pump ran before its defect was detected, of its speed ratio `n/n_r`, winding temperature,
/// vibration RMS and current ratio `I/I_r`. The training script (`scripts/train_pace.py`) computes the same from a
/// fleet's histories.
pub const PACE_FEATURES: [(&str, &str); 4] =
    [("speed_ratio", "1"), ("winding_temp_c", "degC"), ("vib_rms_mm_s", "mm/s"), ("current_ratio", "1")];
/// Time constant of the pace features' exponential means, s.
pub const PACE_FEATURE_TAU_S: f64 = 3600.0;
/// Minutes a pump must have run before its pace features count.
pub const PACE_FEATURE_MIN_MINUTES: u32 = 30;
/// A learnt median growth rate is clamped to the fleet's median times `exp(±PACE_BOUND_SIGMAS σ)`: beyond, the
/// physics does not believe it (a defect at initiation failing within a few days or lasting for months at the
/// rated point).
pub const PACE_BOUND_SIGMAS: f64 = 3.0;

/// The physically plausible range of a bearing's growth rate at the rated point, 1/h (see [`PACE_BOUND_SIGMAS`]).
pub fn pace_bounds_per_h() -> (f64, f64) {
    let k = (PACE_BOUND_SIGMAS * GROWTH_RATE_SIGMA_LN).exp();
    (GROWTH_RATE_MEDIAN_PER_H / k, GROWTH_RATE_MEDIAN_PER_H * k)
}

/// Remaining-life percentiles, h.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RulBand {
    /// 10th percentile, h.
    pub p10: f64,
    /// Median, h.
    pub p50: f64,
    /// 90th percentile, h.
    pub p90: f64,
}

/// The twin's belief about one growing defect: a bivariate Gaussian over `θ = (ln s at detection, λ)` updated by
/// each reading `ln s` at load-weighted time `τ` (h since detection): `ln s = θ₀ + θ₁ τ + ε`, `ε ~ N(0, σ²)`.
/// The prior on λ is the fleet's (mean and standard deviation of the log-normal), on `θ₀` the first reading with
/// a standard deviation of 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GrowthEstimator {
    /// Prior precision matrix (symmetric: [a, b; b, d]).
    prior_precision: [f64; 3],
    /// Prior precision-weighted mean, `Λ₀ μ₀`.
    prior_eta: [f64; 2],
    /// The readings' precision, faded (see [`MEMORY_READINGS`]).
    precision: [f64; 3],
    /// The readings' precision-weighted sum, faded.
    eta: [f64; 2],
    /// Readings taken.
    pub readings: u64,
}

impl GrowthEstimator {
    /// The belief at detection, with a first reading of log-severity `ln_s0`, and a prior on λ of the given mean
    /// and standard deviation (per hour).
    pub fn new(ln_s0: f64, rate_mean_per_h: f64, rate_std_per_h: f64) -> Self {
        let (pa, pd) = (1.0, 1.0 / rate_std_per_h.max(1e-9).powi(2));
        Self {
            prior_precision: [pa, 0.0, pd],
            prior_eta: [pa * ln_s0, pd * rate_mean_per_h],
            precision: [0.0; 3],
            eta: [0.0; 2],
            readings: 0,
        }
    }

    /// The fleet's prior (the log-normal's mean and standard deviation), detected at log-severity `ln_s0`.
    pub fn fleet(ln_s0: f64) -> Self {
        Self::lognormal(ln_s0, GROWTH_RATE_MEDIAN_PER_H, GROWTH_RATE_SIGMA_LN)
    }

    /// A log-normal prior on the rate (median per hour, log standard deviation), by its mean and standard
    /// deviation, detected at log-severity `ln_s0`.
    pub fn lognormal(ln_s0: f64, median_per_h: f64, sigma_ln: f64) -> Self {
        let s2 = sigma_ln * sigma_ln;
        let mean = median_per_h * (0.5 * s2).exp();
        let std = mean * (s2.exp() - 1.0).sqrt();
        Self::new(ln_s0, mean, std)
    }

    /// Takes one reading of log-severity `ln_s` at load-weighted time `tau_h` after detection.
    pub fn observe(&mut self, tau_h: f64, ln_s: f64) {
        if !(tau_h.is_finite() && ln_s.is_finite()) {
            return;
        }
        let w = 1.0 / (LN_SEVERITY_NOISE * LN_SEVERITY_NOISE);
        let fade = (-1.0 / MEMORY_READINGS).exp();
        for p in &mut self.precision {
            *p *= fade;
        }
        for e in &mut self.eta {
            *e *= fade;
        }
        self.precision[0] += w;
        self.precision[1] += w * tau_h;
        self.precision[2] += w * tau_h * tau_h;
        self.eta[0] += w * ln_s;
        self.eta[1] += w * tau_h * ln_s;
        self.readings += 1;
    }

    /// Posterior mean and covariance `([θ₀, λ], [var θ₀, cov, var λ])`.
    pub fn posterior(&self) -> ([f64; 2], [f64; 3]) {
        let [a, b, d] = [0, 1, 2].map(|i| self.prior_precision[i] + self.precision[i]);
        let eta = [self.prior_eta[0] + self.eta[0], self.prior_eta[1] + self.eta[1]];
        let det = (a * d - b * b).max(1e-300);
        let cov = [d / det, -b / det, a / det];
        let mean = [cov[0] * eta[0] + cov[1] * eta[1], cov[1] * eta[0] + cov[2] * eta[1]];
        (mean, cov)
    }

    /// The growth rate's posterior mean and standard deviation, per hour.
    pub fn rate(&self) -> (f64, f64) {
        let (m, c) = self.posterior();
        (m[1], c[2].max(0.0).sqrt())
    }

    /// The log-severity now, at load-weighted time `tau_h` after detection: posterior mean and standard deviation.
    pub fn ln_severity(&self, tau_h: f64) -> (f64, f64) {
        let (m, c) = self.posterior();
        (m[0] + m[1] * tau_h, (c[0] + 2.0 * tau_h * c[1] + tau_h * tau_h * c[2]).max(0.0).sqrt())
    }

    /// The growth rate's belief as a log-normal (median per hour, log standard deviation), by moments; the fleet's
    /// when the posterior mean is not positive.
    pub fn rate_lognormal(&self) -> (f64, f64) {
        let (m, sd) = self.rate();
        if m <= 0.0 {
            return (GROWTH_RATE_MEDIAN_PER_H, GROWTH_RATE_SIGMA_LN);
        }
        let v = (1.0 + (sd / m).powi(2)).ln();
        (m / (1.0 + (sd / m).powi(2)).sqrt(), v.sqrt())
    }

    /// Remaining useful life at load-weighted time `tau_h`, running on at growth factor `g`: percentiles over the
    /// posterior (drawn with a fixed seed, so equal beliefs give equal bands). A drawn rate at or below zero
    /// counts as a defect that does not grow (the cap).
    pub fn rul_h(&self, tau_h: f64, g: f64) -> RulBand {
        let v = self.rul_samples(tau_h, g);
        let q = |p: f64| quantile(&v, p);
        RulBand { p10: q(0.1), p50: q(0.5), p90: q(0.9) }
    }

    /// The remaining life's `q`-quantile at load-weighted time `tau_h` and growth factor `g` (see [`Self::rul_h`]):
    /// the time by which the bearing has failed with probability `q`, h.
    pub fn rul_quantile_h(&self, tau_h: f64, g: f64, q: f64) -> f64 {
        quantile(&self.rul_samples(tau_h, g), q)
    }

    /// Remaining lives drawn from the posterior, sorted, h.
    fn rul_samples(&self, tau_h: f64, g: f64) -> Vec<f64> {
        let (m, c) = self.posterior();
        // Cholesky of the 2x2 covariance.
        let l00 = c[0].max(0.0).sqrt();
        let l10 = if l00 > 0.0 { c[1] / l00 } else { 0.0 };
        let l11 = (c[2] - l10 * l10).max(0.0).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_b0a7);
        let ln_fail = FAILURE_SEVERITY.ln();
        let mut v: Vec<f64> = (0..RUL_SAMPLES)
            .map(|_| {
                let (z0, z1): (f64, f64) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
                let theta0 = m[0] + l00 * z0;
                let rate = m[1] + l10 * z0 + l11 * z1;
                let ln_now = theta0 + rate * tau_h;
                if ln_now >= ln_fail {
                    0.0
                } else if rate * g > 0.0 {
                    ((ln_fail - ln_now) / (rate * g)).min(RUL_CAP_H)
                } else {
                    RUL_CAP_H
                }
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// The `p`-quantile of sorted samples (nearest rank).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    sorted[((p.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize).min(n - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_exponential_in_load_weighted_time_and_fails_at_the_threshold() {
        // Closed form: s(t) = s0 exp(λ g t); stepping in pieces gives the same.
        let (rate, g) = (GROWTH_RATE_MEDIAN_PER_H, 1.3);
        let mut s = INITIAL_SEVERITY;
        for _ in 0..100 {
            s = grow(s, rate, g, 0.5);
        }
        let exact = INITIAL_SEVERITY * (rate * g * 50.0).exp();
        assert!((s / exact - 1.0).abs() < 1e-12);
        // At the rated point a defect at initiation takes 20 days to fail.
        let h = hours_to_failure(INITIAL_SEVERITY, GROWTH_RATE_MEDIAN_PER_H, 1.0);
        assert!((h - 480.0).abs() < 1e-9, "{h}");
        assert_eq!(grow(0.9, rate, g, 1e6), FAILURE_SEVERITY);
        assert_eq!(hours_to_failure(1.0, rate, g), 0.0);
        assert_eq!(hours_to_failure(0.5, rate, 0.0), RUL_CAP_H, "a stopped pump's defect does not grow");
        // Faster under load and at speed: the load with the life exponent, the speed linearly.
        assert!((growth_factor(1.0, 1.1, 3.0) - 1.331).abs() < 1e-12);
        assert!((growth_factor(0.8, 1.0, 3.0) - 0.8).abs() < 1e-12);
        assert_eq!(growth_factor(0.0, 1.0, 3.0), 0.0);
    }

    #[test]
    fn the_stage_2_wear_index_runs_from_its_value_at_initiation_to_1_at_failure() {
        assert_eq!(stage2_wear(0.6, INITIAL_SEVERITY), 0.6);
        assert!((stage2_wear(0.6, FAILURE_SEVERITY) - 1.0).abs() < 1e-12);
        let mid = (INITIAL_SEVERITY * FAILURE_SEVERITY).sqrt(); // halfway in log-severity
        assert!((stage2_wear(0.6, mid) - 0.8).abs() < 1e-12);
        assert_eq!(stage2_wear(0.6, 0.01), 0.6, "below the initial severity: still at initiation");
    }

    /// Noisy readings of a defect growing at `rate`, once a minute for `hours`, at g = 1.
    fn readings(rate: f64, hours: f64, seed: u64) -> Vec<(f64, f64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..(hours * 60.0) as usize)
            .map(|k| {
                let tau = k as f64 / 60.0;
                let noise: f64 = StandardNormal.sample(&mut rng);
                (tau, INITIAL_SEVERITY.ln() + rate * tau + LN_SEVERITY_NOISE * noise)
            })
            .collect()
    }

    #[test]
    fn the_posterior_rate_converges_on_the_true_rate_and_its_interval_is_at_least_nominal_over_seeds() {
        // A bearing twice as fast as the fleet's median: after 48 h of readings the posterior has moved to it.
        let truth = 2.0 * GROWTH_RATE_MEDIAN_PER_H;
        let mut inside = 0;
        let seeds = 200;
        for seed in 0..seeds {
            let r = readings(truth, 48.0, seed);
            let mut e = GrowthEstimator::fleet(r[0].1);
            for &(tau, y) in &r {
                e.observe(tau, y);
            }
            let (m, sd) = e.rate();
            assert!((m / truth - 1.0).abs() < 0.15, "seed {seed}: {m} vs {truth}");
            inside += u32::from((m - truth).abs() <= 1.2816 * sd);
        }
        // An 80 % interval holds the truth in at least about 80 % of the seeds: more, since the readings fade
        // (MEMORY_READINGS) as if the growth might not be exactly exponential, and here it is.
        let share = f64::from(inside) / f64::from(seeds as u32);
        assert!((0.75..=1.0).contains(&share), "{share}");
    }

    #[test]
    fn the_rul_band_holds_the_true_failure_time_in_about_80_percent_of_seeds() {
        // Bearings drawn from the fleet, watched for 12 h after detection: the p10-p90 band at 12 h against the
        // true remaining time to the threshold.
        let seeds = 300;
        let mut inside = 0;
        for seed in 0..seeds {
            let z: f64 = StandardNormal.sample(&mut ChaCha8Rng::seed_from_u64(10_000 + seed));
            let truth = fleet_rate(z);
            let r = readings(truth, 12.0, seed);
            let mut e = GrowthEstimator::fleet(r[0].1);
            for &(tau, y) in &r {
                e.observe(tau, y);
            }
            let tau = 12.0;
            let true_rul = hours_to_failure(INITIAL_SEVERITY * (truth * tau).exp(), truth, 1.0);
            let band = e.rul_h(tau, 1.0);
            assert!(band.p10 <= band.p50 && band.p50 <= band.p90);
            inside += u32::from(band.p10 <= true_rul && true_rul <= band.p90);
        }
        let share = f64::from(inside) / f64::from(seeds as u32);
        assert!((0.7..=0.92).contains(&share), "{share}");
    }
}
