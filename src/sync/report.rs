//! The synchronization part of a run's report.

use super::*;

/// One pump's calibration in a report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CalibrationReport {
    /// Model version (1 = nominal; each applied recalibration adds one).
    pub version: u32,
    /// Factors (true / nominal) in the model now.
    pub applied: Factors<f64>,
    /// The calibrator's present estimates, with standard deviations and samples used.
    pub estimates: Factors<Estimate>,
}

/// The synchronization part of a run's report (the assessment's report adds to it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// Samples applied, too late, unmodelled.
    pub assimilation: AssimilationCounters,
    /// Spans of simulated time whose shown values a late sample revised.
    pub revisions: Vec<Revision>,
    /// Measured minus predicted (before correction), per "asset.quantity".
    pub prediction_error: BTreeMap<String, PredictionError>,
    /// Every drift alarm, with its likely cause.
    pub alarms: Vec<DriftAlarm>,
    /// Recalibrations proposed and applied.
    pub recalibrations: Vec<Recalibration>,
    /// Calibration of every pump that received telemetry, by asset id.
    pub calibration: BTreeMap<String, CalibrationReport>,
    /// Confidence of each asset's readings at the end, 0..1 (falls as its residuals grow).
    pub confidence: BTreeMap<String, f64>,
}

impl SyncReport {
    /// The report of the twin in `world`.
    pub fn of(world: &World) -> Self {
        let Some(a) = world.get_resource::<Assimilation>() else { return Self::default() };
        let id = |e: &Entity| a.names.get(e).cloned().unwrap_or_else(|| "?".into());
        let prediction_error = a.errors.iter().map(|((e, q), err)| (format!("{}.{q:?}", id(e)), *err)).collect();
        let calibration = a
            .trains
            .keys()
            .filter_map(|e| {
                let (version, applied, estimates) = a.calibration(*e)?;
                Some((id(e), CalibrationReport { version, applied, estimates }))
            })
            .collect();
        let confidences = a.confidences();
        let confidence =
            a.names.iter().map(|(e, name)| (name.clone(), confidences.get(e).copied().unwrap_or(1.0))).collect();
        Self {
            assimilation: a.counters,
            revisions: a.revisions.clone(),
            prediction_error,
            alarms: a.alarms.clone(),
            recalibrations: a.recalibrations.clone(),
            calibration,
            confidence,
        }
    }
}
