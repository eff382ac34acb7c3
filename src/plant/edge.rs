//! The vibration edge box of each pump: the bearing-housing velocity synthesised at 1 kHz from the true model
//! and reduced to 1 Hz RMS / peak / crest factor with the models' own edge aggregator, as a condition-monitoring
//! box on site would.
//!
//! The velocity signal, mm/s, is the sum of
//! - a 1× running-speed sinusoid;
//! - bearing outer-race impacts at [`BPFO_ORDER`] × running speed, each a ringing transient
//!   `a e^{-k/τ} cos(π k / 2)` (a housing resonance at fs/4, τ = [`IMPULSE_DECAY_SAMPLES`] samples) with
//!   `a = DEFECT_PEAK_GAIN · severity · √2 · RMS_healthy`, so that the window's peak, and with it the crest factor,
//!   rises with the defect as in the model;
//! - broadband noise: [`BROADBAND_NOISE_FRACTION`] of the healthy RMS, plus the model's cavitation noise
//!   (`CAVITATION_VIB_MM_S × cavitation risk`).
//!
//! The sinusoid carries whatever mean square the impacts and the noise leave, so the window RMS equals the
//! true model's `vib_rms_mm_s`. Each 1 Hz window is then scaled by a sensor gain error `1 + N(0, 3 %)`
//! ([`VIBRATION_GAIN_NOISE`]), which moves RMS and peak together and leaves the crest factor to the synthesis.
//! The synthesis allocates nothing per sample: a rotating phasor for the sinusoid and a seeded table of
//! Gaussian noise read from a random offset each window.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use twin_models::PumpTrainOutputs;
use twin_models::pump_train::{CAVITATION_VIB_MM_S, DEFECT_PEAK_GAIN, DEFECT_RMS_GAIN};
use twin_models::vibration::{EdgeAggregator, VibrationFeatures};

/// Sample rate of the synthesised velocity, Hz.
pub const SAMPLE_RATE_HZ: f64 = 1000.0;
/// Ball-pass frequency of the outer race in orders of the running speed (a 9-ball deep-groove bearing).
pub const BPFO_ORDER: f64 = 3.585;
/// Decay constant of one impact's ringing, samples.
pub const IMPULSE_DECAY_SAMPLES: f64 = 2.0;
/// Broadband noise RMS as a fraction of the healthy vibration RMS.
pub const BROADBAND_NOISE_FRACTION: f64 = 0.02;
/// Relative standard deviation of the sensor's gain error per 1 Hz window.
pub const VIBRATION_GAIN_NOISE: f64 = 0.03;

const IMPULSE_LEN: usize = 8;
const NOISE_LEN: usize = 4096;
const NOISE_MASK: usize = NOISE_LEN - 1;

/// What all edge boxes share: the noise table and the impulse template.
#[derive(Debug, Clone)]
pub(crate) struct EdgeTables {
    noise: Box<[f64]>,
    template: [f64; IMPULSE_LEN],
    /// Sum of the template's squares, dimensionless.
    template_energy: f64,
}

impl EdgeTables {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Self {
        let noise: Box<[f64]> = (0..NOISE_LEN).map(|_| StandardNormal.sample(rng)).collect();
        let mut template = [0.0; IMPULSE_LEN];
        for (k, t) in template.iter_mut().enumerate() {
            let k = k as f64;
            *t = (-k / IMPULSE_DECAY_SAMPLES).exp() * (std::f64::consts::FRAC_PI_2 * k).cos();
        }
        let template_energy = template.iter().map(|t| t * t).sum();
        Self { noise, template, template_energy }
    }
}

/// One pump's edge box.
#[derive(Debug, Clone)]
pub(crate) struct VibrationEdge {
    agg: EdgeAggregator,
    rng: ChaCha8Rng,
    /// Rotating phasor of the 1× component (cos, sin).
    phasor: (f64, f64),
    /// Fraction of the way to the next impact, 0..1.
    impulse_phase: f64,
    /// Samples since the last impact (IMPULSE_LEN: rung out).
    impulse_k: usize,
    noise_idx: usize,
    latest: Option<VibrationFeatures>,
}

impl VibrationEdge {
    pub(crate) fn new(mut rng: ChaCha8Rng) -> Self {
        let noise_idx = rng.random_range(0..NOISE_LEN);
        Self {
            agg: EdgeAggregator::new(SAMPLE_RATE_HZ, 1.0),
            rng,
            phasor: (1.0, 0.0),
            impulse_phase: 0.0,
            impulse_k: IMPULSE_LEN,
            noise_idx,
            latest: None,
        }
    }

    /// The features of the last complete window (after the sensor's gain error), if one has completed.
    pub(crate) fn latest(&self) -> Option<VibrationFeatures> {
        self.latest
    }

    /// Synthesises `n` samples at the operating point `out` with a bearing defect of `severity`, feeding the
    /// aggregator.
    pub(crate) fn run(&mut self, tables: &EdgeTables, out: &PumpTrainOutputs, severity: f64, n: u64) {
        let f_run = (out.speed_rpm / 60.0).max(0.0);
        let rms = if out.vib_rms_mm_s.is_finite() { out.vib_rms_mm_s.max(0.0) } else { 0.0 };
        let cav = out.health.cavitation_risk.clamp(0.0, 1.0);
        let sev = severity.clamp(0.0, 1.0);
        let healthy = ((rms - CAVITATION_VIB_MM_S * cav) / (1.0 + DEFECT_RMS_GAIN * sev)).max(0.0);
        let sigma = (BROADBAND_NOISE_FRACTION * healthy + CAVITATION_VIB_MM_S * cav).min(rms);
        let rate = BPFO_ORDER * f_run / SAMPLE_RATE_HZ;
        let mut a = DEFECT_PEAK_GAIN * sev * std::f64::consts::SQRT_2 * healthy;
        let room = (rms * rms - sigma * sigma).max(0.0);
        let mut ms_impacts = a * a * tables.template_energy * rate;
        if ms_impacts > room {
            a *= (room / ms_impacts).sqrt();
            ms_impacts = room;
        }
        let amp = std::f64::consts::SQRT_2 * (room - ms_impacts).max(0.0).sqrt();
        let (sd, cd) = (std::f64::consts::TAU * f_run / SAMPLE_RATE_HZ).sin_cos();

        let noise = &tables.noise[..];
        let template = &tables.template;
        let (mut c, mut s) = self.phasor;
        let mut ip = self.impulse_phase;
        let mut k = self.impulse_k;
        let mut idx = self.noise_idx;
        for _ in 0..n {
            let mut v = amp * s;
            let c2 = c * cd - s * sd;
            s = s * cd + c * sd;
            c = c2;
            ip += rate;
            if ip >= 1.0 {
                ip -= 1.0;
                k = 0;
            }
            if k < IMPULSE_LEN {
                v += a * template[k];
                k += 1;
            }
            v += sigma * noise[idx];
            idx = (idx + 1) & NOISE_MASK;
            if let Some(f) = self.agg.push(v) {
                idx = self.window_done(f);
            }
        }
        // Keep the phasor on the unit circle against rounding drift.
        let norm = c.hypot(s);
        self.phasor = if norm > 0.0 && norm.is_finite() { (c / norm, s / norm) } else { (1.0, 0.0) };
        self.impulse_phase = ip.clamp(0.0, 1.0);
        self.impulse_k = k;
        self.noise_idx = idx;
    }

    /// Once a second: the window's features with the sensor's gain noise become the latest reading; returns where
    /// the next window starts in the noise table. Out of line, so that the per-sample loop around it keeps its
    /// running values in registers.
    #[cold]
    #[inline(never)]
    fn window_done(&mut self, f: VibrationFeatures) -> usize {
        let n: f64 = StandardNormal.sample(&mut self.rng);
        let g = (1.0 + VIBRATION_GAIN_NOISE * n).max(0.0);
        self.latest = Some(VibrationFeatures { rms_mm_s: f.rms_mm_s * g, peak_mm_s: f.peak_mm_s * g, crest: f.crest });
        self.rng.random_range(0..NOISE_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn outputs(rpm: f64, rms: f64, peak: f64) -> PumpTrainOutputs {
        PumpTrainOutputs {
            speed_rpm: rpm,
            vib_rms_mm_s: rms,
            vib_peak_mm_s: peak,
            crest_factor: peak / rms,
            ..Default::default()
        }
    }

    fn windows(sev: f64, out: &PumpTrainOutputs, n: usize) -> Vec<VibrationFeatures> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let tables = EdgeTables::new(&mut rng);
        let mut edge = VibrationEdge::new(ChaCha8Rng::seed_from_u64(4));
        (0..n)
            .map(|_| {
                edge.run(&tables, out, sev, 1000);
                edge.latest().unwrap()
            })
            .collect()
    }

    fn mean(v: impl Iterator<Item = f64>) -> f64 {
        let (s, n) = v.fold((0.0, 0.0), |(s, n), x| (s + x, n + 1.0));
        s / n
    }

    #[test]
    fn healthy_window_is_a_sine_of_the_model_rms() {
        let out = outputs(1480.0, 2.0, 2.0 * 2f64.sqrt());
        let w = windows(0.0, &out, 400);
        let rms = mean(w.iter().map(|f| f.rms_mm_s));
        let crest = mean(w.iter().map(|f| f.crest));
        assert!((rms / 2.0 - 1.0).abs() < 0.01, "rms {rms}");
        assert!(crest > 1.40 && crest < 1.55, "crest {crest}");
    }

    #[test]
    fn a_defect_raises_the_crest_factor_at_the_model_rms() {
        let sev = 0.6;
        let healthy = 2.0;
        let rms = healthy * (1.0 + DEFECT_RMS_GAIN * sev);
        let peak = healthy * 2f64.sqrt() * (1.0 + DEFECT_PEAK_GAIN * sev);
        let w = windows(sev, &outputs(1480.0, rms, peak), 400);
        let m_rms = mean(w.iter().map(|f| f.rms_mm_s));
        let m_crest = mean(w.iter().map(|f| f.crest));
        assert!((m_rms / rms - 1.0).abs() < 0.01, "rms {m_rms} vs {rms}");
        // Within 15 % of the model's crest factor, well above a sine's.
        assert!((m_crest / (peak / rms) - 1.0).abs() < 0.15, "crest {m_crest} vs {}", peak / rms);
        assert!(m_crest > 2.3);
    }

    #[test]
    fn the_severity_read_from_the_crest_factor_is_true_to_half_way_and_low_but_rising_beyond() {
        // What the twin infers (the model's relation inverted) from the synthesised windows. The sinusoid gives up
        // the mean square the impacts take, so the window's peak falls behind the model's as the defect grows:
        // true within 10 % up to severity 0.5, then low (0.80 at 1.0) but still rising, so growth stays visible.
        // This is the bias `benches/rul.rs` measures half-way to failure (the ML layer's to learn).
        let healthy = 2.0;
        let mut last = 0.0;
        for sev in [0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
            let rms = healthy * (1.0 + DEFECT_RMS_GAIN * sev);
            let peak = healthy * 2f64.sqrt() * (1.0 + DEFECT_PEAK_GAIN * sev);
            let w = windows(sev, &outputs(1480.0, rms, peak), 300);
            let crest = mean(w.iter().map(|f| f.crest));
            let read = twin_models::degradation::severity_from_crest(crest, 2f64.sqrt()).unwrap_or(0.0);
            if sev <= 0.5 {
                assert!((read / sev - 1.0).abs() < 0.1, "severity {sev}: crest {crest:.3} reads as {read:.3}");
            } else {
                assert!(read < sev && read > last, "severity {sev}: crest {crest:.3} reads as {read:.3}");
            }
            last = read;
        }
    }

    #[test]
    fn standstill_is_silent() {
        let w = windows(0.5, &outputs(0.0, 0.0, 0.0), 3);
        assert!(w.iter().all(|f| f.rms_mm_s == 0.0 && f.peak_mm_s == 0.0 && f.crest == 0.0));
    }
}
