//! Model performance over a run, for the headless report: prediction error and calibration as time series, and
//! the drift alarms scored against the ground truth the scenario injects into the virtual plant (precision,
//! recall, detection delay, whether the cause was told right). A twin is only trusted as far as these go.

use std::collections::BTreeMap;

use bevy::prelude::*;
use serde::Serialize;
use twin_models::drift::{Cause, SensorFault};

use super::{Assimilation, DriftAlarm};
use crate::scenario::{FaultSpec, Scenario};
use crate::units::Quantity;

/// A fault whose onset is closer than this to the end of the run is not scored (no time to detect it), s.
pub const DETECTION_ALLOWANCE_S: f64 = 1800.0;
/// An alarm raised up to this long after a transient fault (a cavitation episode) ended still counts as its, s.
pub const TRANSIENT_GRACE_S: f64 = 3600.0;

/// Collects the performance series at the report's record points.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct PerformanceRecorder {
    /// Per "asset.Quantity": (samples, sum of squared residuals) at the previous record point.
    last: BTreeMap<String, (u64, f64)>,
    points: usize,
    prediction_rms: BTreeMap<String, Vec<Option<f64>>>,
    calibration: BTreeMap<String, Vec<Option<f64>>>,
    confidence: BTreeMap<String, Vec<f64>>,
}

/// Pushes `v` onto the series `key`, padding a series that starts late with gaps.
fn push<T: Clone>(map: &mut BTreeMap<String, Vec<T>>, key: String, v: T, gap: T, points: usize) {
    let s = map.entry(key).or_default();
    s.resize(points, gap);
    s.push(v);
}

impl PerformanceRecorder {
    /// Records one point (call at every report record point, in order).
    pub fn record(&mut self, world: &World) {
        let Some(a) = world.get_resource::<Assimilation>() else { return };
        let id = |e: &Entity| a.names.get(e).cloned().unwrap_or_else(|| "?".into());
        let n = self.points;
        for ((e, q), err) in &a.errors {
            let key = format!("{}.{q:?}", id(e));
            let (samples, sum_sq) = (err.samples, err.sum_sq());
            let (s0, q0) = self.last.insert(key.clone(), (samples, sum_sq)).unwrap_or((0, 0.0));
            let rms = (samples > s0).then(|| ((sum_sq - q0).max(0.0) / (samples - s0) as f64).sqrt());
            push(&mut self.prediction_rms, key, rms, None, n);
        }
        for e in a.trains.keys() {
            let Some((_, _, est)) = a.calibration(*e) else { continue };
            let name = id(e);
            for (param, v) in [("head", est.head), ("unbalance", est.unbalance), ("frame_ambient", est.frame_ambient)] {
                push(&mut self.calibration, format!("{name}.{param}"), Some(v.value), None, n);
            }
        }
        let confidences = a.confidences();
        for (e, name) in &a.names {
            push(&mut self.confidence, name.clone(), confidences.get(e).copied().unwrap_or(1.0), 1.0, n);
        }
        self.points += 1;
        let points = self.points;
        for s in self.prediction_rms.values_mut().chain(self.calibration.values_mut()) {
            s.resize(points, None);
        }
        for s in self.confidence.values_mut() {
            s.resize(points, 1.0);
        }
    }

    /// The performance section: the series, and the alarms scored against the scenario's faults.
    pub fn finish(self, world: &World, scenario: &Scenario, duration_s: f64) -> Performance {
        let alarms = world.get_resource::<Assimilation>().map(|a| a.alarms.clone()).unwrap_or_default();
        Performance {
            prediction_rms: self.prediction_rms,
            calibration: self.calibration,
            confidence: self.confidence,
            alarms: score_alarms(&alarms, scenario, duration_s),
            pace_prior_error_ln: BTreeMap::new(),
        }
    }
}

/// Model performance in a report. Series are sampled at the report's `t_s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Performance {
    /// RMS of measured − predicted since the previous point, per "asset.Quantity", canonical unit (null: no
    /// sample in that interval).
    pub prediction_rms: BTreeMap<String, Vec<Option<f64>>>,
    /// Calibrator estimates (true / nominal) per "pump.parameter" (null before the pump's first sample).
    pub calibration: BTreeMap<String, Vec<Option<f64>>>,
    /// Confidence of each asset's readings, 0..1.
    pub confidence: BTreeMap<String, Vec<f64>>,
    /// Drift alarms against the injected faults.
    pub alarms: AlarmScore,
    /// The ML layer's prediction error per pump with a learnt prior: ln(prior median / posterior mean) of the
    /// defect's growth rate, the pace model's error as the pump's own readings see it (null before detection;
    /// absent without a pace model).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pace_prior_error_ln: BTreeMap<String, Vec<Option<f64>>>,
}

/// Drift alarms scored against the faults the scenario injects (the virtual plant's ground truth).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct AlarmScore {
    /// Every fault a drift monitor should see (bearing defects, cavitation episodes, stuck and drifting sensors).
    pub faults: Vec<FaultScore>,
    /// Alarms explained by a fault.
    pub true_alarms: u64,
    /// Alarms no fault explains, as "asset quantity at t s".
    pub false_alarms: Vec<String>,
    /// True alarms / all alarms (none without alarms).
    pub precision: Option<f64>,
    /// Scored faults detected / scored faults (none without scored faults).
    pub recall: Option<f64>,
}

/// How one injected fault was detected.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FaultScore {
    /// The fault, e.g. "BearingDefect P-101".
    pub fault: String,
    /// Onset, s.
    pub onset_s: f64,
    /// Whether it counts in the recall (its onset is at least [`DETECTION_ALLOWANCE_S`] before the end).
    pub scored: bool,
    /// When the first alarm it explains was raised, s.
    pub detected_s: Option<f64>,
    /// Detection delay, s.
    pub delay_s: Option<f64>,
    /// The cause the twin gave, for the first alarm.
    pub cause: Option<Cause>,
    /// Whether that cause is the right kind (model drift for a process fault, the right sensor fault for a
    /// sensor).
    pub diagnosed: bool,
}

/// A fault as the scorer sees it.
struct Truth {
    name: String,
    asset: String,
    /// The one signal at fault (sensor faults), else any signal of the asset.
    quantity: Option<Quantity>,
    onset_s: f64,
    /// Alarms raised up to this time count, s.
    until_s: f64,
    right_cause: Cause,
}

fn truths(scenario: &Scenario) -> Vec<Truth> {
    scenario.faults.iter().filter_map(|f| truth(scenario, f)).collect()
}

/// The fault as the scorer sees it; `None` for a fault no drift monitor should see.
fn truth(scenario: &Scenario, f: &FaultSpec) -> Option<Truth> {
    let signal = |id: &str| scenario.signals.iter().find(|s| s.id == id);
    match f {
        FaultSpec::BearingDefect { asset, onset, .. } => Some(Truth {
            name: format!("BearingDefect {asset}"),
            asset: asset.clone(),
            quantity: None,
            onset_s: onset.secs(),
            until_s: f64::INFINITY,
            right_cause: Cause::ModelDrift,
        }),
        FaultSpec::CavitationEpisode { asset, start, duration, .. } => Some(Truth {
            name: format!("CavitationEpisode {asset}"),
            asset: asset.clone(),
            quantity: None,
            onset_s: start.secs(),
            until_s: start.secs() + duration.secs() + TRANSIENT_GRACE_S,
            right_cause: Cause::ModelDrift,
        }),
        FaultSpec::StuckSensor { signal: id, at } | FaultSpec::DriftingSensor { signal: id, at, .. } => {
            let s = signal(id)?;
            let kind = if matches!(f, FaultSpec::StuckSensor { .. }) { SensorFault::Stuck } else { SensorFault::Drift };
            Some(Truth {
                name: format!("{kind:?}Sensor {id}"),
                asset: s.asset.clone(),
                quantity: Some(s.quantity),
                onset_s: at.secs(),
                until_s: f64::INFINITY,
                right_cause: Cause::SensorFault(kind),
            })
        }
        FaultSpec::SkewedClock { .. } | FaultSpec::BrokerOutage { .. } | FaultSpec::ConfigChange { .. } => None,
    }
}

fn explains(t: &Truth, a: &DriftAlarm) -> bool {
    a.asset == t.asset && t.quantity.is_none_or(|q| q == a.quantity) && (t.onset_s..=t.until_s).contains(&a.raised_s)
}

fn fault_score(alarms: &[DriftAlarm], t: &Truth, duration_s: f64) -> FaultScore {
    let first = alarms.iter().filter(|a| explains(t, a)).min_by(|x, y| x.raised_s.total_cmp(&y.raised_s));
    FaultScore {
        fault: t.name.clone(),
        onset_s: t.onset_s,
        scored: t.onset_s + DETECTION_ALLOWANCE_S <= duration_s,
        detected_s: first.map(|a| a.raised_s),
        delay_s: first.map(|a| a.raised_s - t.onset_s),
        cause: first.map(|a| a.cause),
        diagnosed: first.is_some_and(|a| a.cause == t.right_cause),
    }
}

/// How `scenario.faults[fault]` was detected by `alarms` over a run of `duration_s`, scored as in
/// [`score_alarms`]; `None` when there is no such fault or no drift monitor should see it.
pub fn score_fault(alarms: &[DriftAlarm], scenario: &Scenario, fault: usize, duration_s: f64) -> Option<FaultScore> {
    let t = truth(scenario, scenario.faults.get(fault)?)?;
    Some(fault_score(alarms, &t, duration_s))
}

/// Scores `alarms` against the scenario's faults over a run of `duration_s`.
pub fn score_alarms(alarms: &[DriftAlarm], scenario: &Scenario, duration_s: f64) -> AlarmScore {
    let truths = truths(scenario);
    let mut score = AlarmScore::default();
    for a in alarms {
        if truths.iter().any(|t| explains(t, a)) {
            score.true_alarms += 1;
        } else {
            score.false_alarms.push(format!("{} {:?} at {:.0} s", a.asset, a.quantity, a.raised_s));
        }
    }
    for t in &truths {
        score.faults.push(fault_score(alarms, t, duration_s));
    }
    let all = score.true_alarms + score.false_alarms.len() as u64;
    score.precision = (all > 0).then(|| score.true_alarms as f64 / all as f64);
    let scored: Vec<&FaultScore> = score.faults.iter().filter(|f| f.scored).collect();
    score.recall = (!scored.is_empty())
        .then(|| scored.iter().filter(|f| f.detected_s.is_some()).count() as f64 / scored.len() as f64);
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_models::drift::AlarmKind;

    fn alarm(asset: &str, q: Quantity, t: f64, cause: Cause) -> DriftAlarm {
        DriftAlarm {
            asset: asset.into(),
            quantity: q,
            kind: AlarmKind::Flatline,
            raised_s: t,
            cleared_s: None,
            cause,
            reason: String::new(),
        }
    }

    #[test]
    fn alarms_are_scored_against_the_injected_faults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let mut s = crate::scenario::load(&path).expect("bundled scenario");
        // A bearing defect at 36 h, plus a stuck winding sensor at 10 h that is never detected.
        s.faults =
            vec![FaultSpec::BearingDefect { asset: "P-101".into(), onset: "36h".parse().unwrap(), severity: 0.4 }];
        s.faults.push(FaultSpec::StuckSensor { signal: "M-101.winding_temp".into(), at: "10h".parse().unwrap() });
        let alarms = vec![
            // Before the defect's onset: nothing explains it.
            alarm("P-101", Quantity::VibrationVelocityPeak, 3600.0, Cause::ModelDrift),
            // The defect, 72 s after onset, called model drift.
            alarm("P-101", Quantity::VibrationVelocityPeak, 36.0 * 3600.0 + 72.0, Cause::ModelDrift),
            // On the motor after the stuck onset but another quantity: not the stuck sensor's.
            alarm("M-101", Quantity::MotorCurrent, 11.0 * 3600.0, Cause::Unknown),
        ];
        let score = score_alarms(&alarms, &s, 48.0 * 3600.0);
        assert_eq!(score.true_alarms, 1);
        assert_eq!(score.false_alarms.len(), 2, "{:?}", score.false_alarms);
        assert_eq!(score.precision, Some(1.0 / 3.0));
        assert_eq!(score.recall, Some(0.5));
        let defect = score.faults.iter().find(|f| f.fault == "BearingDefect P-101").expect("defect scored");
        assert_eq!(defect.delay_s, Some(72.0));
        assert!(defect.diagnosed);
        let stuck = score.faults.iter().find(|f| f.fault.starts_with("StuckSensor")).expect("stuck scored");
        assert_eq!(stuck.detected_s, None);
        // A run that ends 10 min after the defect's onset does not score it.
        let short = score_alarms(&alarms, &s, 36.0 * 3600.0 + 600.0);
        assert!(!short.faults.iter().find(|f| f.fault == "BearingDefect P-101").unwrap().scored);
        assert_eq!(short.recall, Some(0.0), "only the stuck sensor is scored, and it was missed");
    }
}
