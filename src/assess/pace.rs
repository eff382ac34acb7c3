//! The ML layer in the twin: a learnt prior on a detected defect's growth rate. While a pump runs healthy the twin
//! keeps 1-hour means of its pace features (`twin_models::degradation::PACE_FEATURES`); when a defect is detected
//! the scenario's pace model (ONNX, `twin_ml`) predicts the log growth rate from them, the physics clamps it to its
//! plausible range ([`degradation::pace_bounds_per_h`], counted), and it becomes the prior that the pump's own
//! severity readings then update (`GrowthEstimator`, Bayesian). Without a model, or before the features have
//! [`degradation::PACE_FEATURE_MIN_MINUTES`] of running, the prior is the fleet's.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use twin_models::degradation::{self, GrowthEstimator};

/// The scenario's pace model and what it has done.
#[derive(Resource, Debug, Default)]
pub struct PaceLayer {
    /// The model (None: physics only).
    pub model: Option<twin_ml::PaceModel>,
    /// Priors predicted.
    pub predictions: u64,
    /// Predictions outside the physical bounds, clamped.
    pub clamped: u64,
    /// Predictions that failed (the fleet's prior was used), with the last message.
    pub failures: u64,
    /// The last inference error.
    pub last_error: Option<String>,
}

impl PaceLayer {
    /// The scenario's model, loaded (errors name the file).
    pub fn load(scenario: &crate::scenario::Scenario) -> Result<Self, String> {
        let model = scenario
            .pace_model
            .as_deref()
            .map(|m| twin_ml::PaceModel::load(std::path::Path::new(m), &degradation::PACE_FEATURES))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Self { model, ..Self::default() })
    }
}

/// A pump's pace features: exponential means over the time it ran, in `PACE_FEATURES` order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaceFeatures {
    /// The means (speed ratio, winding °C, vibration RMS mm/s, current ratio).
    pub means: [f64; 4],
    /// Running time taken, s.
    pub running_s: f64,
}

impl PaceFeatures {
    /// Takes the values of a reading `dt_s` after the previous one (a reading with a missing value is skipped).
    pub fn update(&mut self, x: [f64; 4], dt_s: f64) {
        if x.iter().any(|v| !v.is_finite()) || dt_s.is_nan() || dt_s <= 0.0 {
            return;
        }
        if self.running_s == 0.0 {
            self.means = x;
        } else {
            let alpha = 1.0 - (-dt_s / degradation::PACE_FEATURE_TAU_S).exp();
            for (m, v) in self.means.iter_mut().zip(x) {
                *m += alpha * (v - *m);
            }
        }
        self.running_s += dt_s;
    }

    /// Whether enough running has been seen for a prediction.
    pub fn ready(&self) -> bool {
        self.running_s >= 60.0 * f64::from(degradation::PACE_FEATURE_MIN_MINUTES)
    }
}

/// The learnt prior of one defect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacePrior {
    /// The features it was predicted from, in `PACE_FEATURES` order.
    pub features: [f64; 4],
    /// The model's prediction, 1/h (before the physical bounds).
    pub predicted_per_h: f64,
    /// The prior's median after the bounds, 1/h.
    pub median_per_h: f64,
    /// The prior's log standard deviation (the model's residual).
    pub sigma_ln: f64,
    /// Whether the bounds clamped it.
    pub clamped: bool,
    /// The model's version and the first digits of its digest.
    pub model: String,
}

/// The prior of a defect detected at log-severity `ln_s0` on a pump with these features: the model's (clamped)
/// when it can predict, else the fleet's.
pub fn prior(layer: &mut PaceLayer, features: &PaceFeatures, ln_s0: f64) -> (GrowthEstimator, Option<PacePrior>) {
    let Some(model) = layer.model.as_ref().filter(|_| features.ready()) else {
        return (GrowthEstimator::fleet(ln_s0), None);
    };
    let ln_pace = match model.predict(&features.means) {
        Ok(y) => y,
        Err(e) => {
            layer.failures += 1;
            layer.last_error = Some(e.to_string());
            return (GrowthEstimator::fleet(ln_s0), None);
        }
    };
    let predicted = ln_pace.exp();
    let (lo, hi) = degradation::pace_bounds_per_h();
    let median = predicted.clamp(lo, hi);
    let clamped = median != predicted;
    layer.predictions += 1;
    layer.clamped += u64::from(clamped);
    // A residual no wider than the fleet's spread, and never zero (the readings must still move it).
    let sigma = model.info.residual_sd_ln.clamp(0.05, degradation::GROWTH_RATE_SIGMA_LN);
    let p = PacePrior {
        features: features.means,
        predicted_per_h: predicted,
        median_per_h: median,
        sigma_ln: sigma,
        clamped,
        model: format!("{} ({})", model.info.version, model.short_digest()),
    };
    (GrowthEstimator::lognormal(ln_s0, median, sigma), Some(p))
}

/// The pace model in a report: its version and what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaceModelReport {
    /// Its identity: file, digest, version, features, residual, held-out error, training fleet.
    pub info: twin_ml::ModelInfo,
    /// Priors predicted.
    pub predictions: u64,
    /// Predictions the physical bounds clamped.
    pub clamped: u64,
    /// Predictions that failed (the fleet's prior was used).
    pub failures: u64,
}

impl PaceModelReport {
    /// The pace model of the twin in `world` (None without one).
    pub fn of(world: &World) -> Option<Self> {
        let layer = world.get_resource::<PaceLayer>()?;
        Some(Self {
            info: layer.model.as_ref()?.info.clone(),
            predictions: layer.predictions,
            clamped: layer.clamped,
            failures: layer.failures,
        })
    }
}

/// Collects the pace model's prediction error at the report's record points.
#[derive(Default)]
pub struct PaceErrorRecorder {
    points: usize,
    series: std::collections::BTreeMap<String, Vec<Option<f64>>>,
}

impl PaceErrorRecorder {
    /// Records one point: per pump with a learnt prior, ln(prior median / posterior mean rate).
    pub fn record(&mut self, world: &World) {
        for (pump, d) in super::defect::report(world) {
            let Some(p) = &d.prior else { continue };
            let e = (p.median_per_h / d.growth_rate_per_h.0).ln();
            let s = self.series.entry(pump).or_default();
            s.resize(self.points, None);
            s.push(e.is_finite().then_some(e));
        }
        self.points += 1;
        for s in self.series.values_mut() {
            s.resize(self.points, None);
        }
    }

    /// The series, by pump.
    pub fn finish(self) -> std::collections::BTreeMap<String, Vec<Option<f64>>> {
        self.series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_features_are_hour_means_that_start_at_the_first_minute() {
        let mut f = PaceFeatures::default();
        f.update([1.0, 60.0, 2.0, 0.9], 60.0);
        assert_eq!(f.means, [1.0, 60.0, 2.0, 0.9]);
        // After an hour of a step to 70 °C (in readings of any spacing), the mean has covered 1 - 1/e of it.
        for dt in [60.0, 69.0, 60.0, 611.0].iter().cycle().take(8) {
            f.update([1.0, 70.0, 2.0, 0.9], *dt);
        }
        assert!((f.running_s - 60.0 - 1600.0).abs() < 1e-9);
        let covered = 1.0 - (-1600.0f64 / 3600.0).exp();
        assert!((f.means[1] - (60.0 + 10.0 * covered)).abs() < 1e-9, "{}", f.means[1]);
        assert!(!f.ready(), "27 minutes");
        f.update([1.0, 70.0, 2.0, 0.9], 300.0);
        assert!(f.ready());
        f.update([1.0, f64::NAN, 2.0, 0.9], 60.0);
        assert_eq!(f.running_s, 1960.0, "a reading with a missing value is not taken");
    }

    #[test]
    fn without_a_model_the_prior_is_the_fleets() {
        let mut layer = PaceLayer::default();
        let f = PaceFeatures { means: [1.0, 60.0, 2.0, 0.9], running_s: 6000.0 };
        let (e, p) = prior(&mut layer, &f, 0.05f64.ln());
        assert_eq!(e, GrowthEstimator::fleet(0.05f64.ln()));
        assert!(p.is_none());
    }
}
