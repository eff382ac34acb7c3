//! One pump train's estimators: the thermal Kalman filter that corrects the assimilated state with the winding
//! temperature, and the calibrator that estimates the parameters most likely to drift (head curve, unbalance,
//! frame-to-ambient thermal resistance) from the flow, vibration and winding readings.

use serde::Serialize;
use twin_models::calibration::{CalibrationConfig, Calibrator, Estimate, Factors, Observation, Param};
use twin_models::observer::{ObserverConfig, ThermalObserver};
use twin_models::params::{MotorParams, PumpParams};
use twin_models::{PumpTrain, PumpTrainInputs, PumpTrainOutputs, PumpTrainState};

/// A recalibration the twin proposes (or applied), with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Recalibration {
    /// The pump's asset id.
    pub asset: String,
    /// Model version it produced (applied) or would produce (proposed).
    pub version: u32,
    /// Simulated time of the proposal, s.
    pub t_s: f64,
    /// Changed parameters: (name, factor before, factor after, standard deviation, samples used). Factors are
    /// true / nominal.
    pub changes: Vec<(String, f64, f64, f64, u64)>,
    /// Whether it was applied to the model.
    pub applied: bool,
}

/// Parameter names as reports show them.
pub fn param_name(p: Param) -> &'static str {
    match p {
        Param::Head => "head_curve",
        Param::Unbalance => "unbalance",
        Param::FrameAmbient => "frame_ambient_thermal_resistance",
    }
}

/// Samples an estimate needs before it may be proposed.
const MIN_SAMPLES: u64 = 1800;
/// Smallest change worth a new model version, relative.
const MIN_CHANGE: f64 = 0.01;

/// Estimators of one pump train.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainSync {
    /// The thermal Kalman filter on the assimilated state.
    pub observer: ThermalObserver,
    /// Online parameter estimation.
    pub calibrator: Calibrator,
    nominal: (PumpParams, MotorParams),
    /// The design's bearing-load map: fitted once, it takes the unbalance as an argument, so recalibration keeps it.
    map: twin_models::LoadMap,
    /// Factors in the twin's model now (true / nominal), and its version (1 = nominal).
    pub applied: Factors<f64>,
    /// Model version, bumped by each applied recalibration.
    pub version: u32,
}

impl TrainSync {
    /// Estimators for a train whose nominal model is `train`, starting from its current assimilated `state`.
    pub fn new(train: &PumpTrain, state: &PumpTrainState) -> Option<Self> {
        let mut calibrator =
            Calibrator::new(&train.pump, &train.motor, train.map.clone(), CalibrationConfig::default()).ok()?;
        calibrator.set_state(*state);
        Some(Self {
            observer: ThermalObserver::new(ObserverConfig::default()),
            calibrator,
            nominal: (train.pump.clone(), train.motor.clone()),
            map: train.map.clone(),
            applied: Factors { head: 1.0, unbalance: 1.0, frame_ambient: 1.0 },
            version: 1,
        })
    }

    /// After the assimilated model `train` took a step to `outputs`: propagate the filter's covariance and step
    /// the calibrator's open-loop copy on the same inputs (with the ambient's daily cycle only: the copy must
    /// not see the filter's corrections).
    pub fn after_step(
        &mut self,
        train: &PumpTrain,
        outputs: &PumpTrainOutputs,
        inputs: &PumpTrainInputs,
        cycle_ambient_c: f64,
        dt_s: f64,
    ) {
        self.observer.predict(train, outputs, dt_s);
        self.calibrator.step(&PumpTrainInputs { ambient_c: cycle_ambient_c, ..*inputs }, dt_s);
    }

    /// Takes one measurement; the winding temperature also corrects `state`.
    pub fn observe(&mut self, state: &mut PumpTrainState, o: Observation) {
        self.calibrator.observe(o);
        if let Observation::WindingTemp { c } = o {
            self.observer.correct(state, c);
        }
    }

    /// Proposes a recalibration when an estimate is settled and differs from the model's by more than its
    /// uncertainty and [`MIN_CHANGE`].
    pub fn proposal(&self, asset: &str, t_s: f64) -> Option<Recalibration> {
        let e = self.calibrator.estimates();
        let mut changes = Vec::new();
        for p in [Param::Head, Param::Unbalance, Param::FrameAmbient] {
            let est: &Estimate = e.get(p);
            let now = *self.applied.get(p);
            let settled = est.samples >= MIN_SAMPLES && !est.clamped && !self.calibrator.is_frozen(p);
            if settled && (est.value - now).abs() > (3.0 * est.std).max(MIN_CHANGE * now) {
                changes.push((param_name(p).to_string(), now, est.value, est.std, est.samples));
            }
        }
        (!changes.is_empty()).then(|| Recalibration {
            asset: asset.to_string(),
            version: self.version + 1,
            t_s,
            changes,
            applied: false,
        })
    }

    /// The nominal model scaled by the calibrator's present estimates, as the next model version.
    pub fn recalibrated(&mut self) -> PumpTrain {
        let (p, m) = self.calibrator.apply_to(&self.nominal.0, &self.nominal.1);
        let e = self.calibrator.estimates();
        self.applied =
            Factors { head: e.head.value, unbalance: e.unbalance.value, frame_ambient: e.frame_ambient.value };
        self.version += 1;
        PumpTrain::with_map(p, m, self.map.clone())
    }
}
