//! Drift: each signal's residual monitor, the scoring of predictions against measurements, and the alarms with
//! their likely cause (model drift, a sensor fault, or a coupled neighbour's).

use super::*;

/// How the model's predictions compare with the measurements, per signal (asset, quantity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PredictionError {
    /// Samples scored.
    pub samples: u64,
    /// Mean of measured - predicted, in the quantity's canonical unit.
    pub mean: f64,
    /// Root mean square of measured - predicted, canonical unit.
    pub rms: f64,
    #[serde(skip)]
    pub(super) sum_sq: f64,
}

impl PredictionError {
    /// Sum of the squared residuals so far, canonical unit squared.
    pub fn sum_sq(&self) -> f64 {
        self.sum_sq
    }

    pub(super) fn add(&mut self, residual: f64) {
        self.samples += 1;
        let n = self.samples as f64;
        self.mean += (residual - self.mean) / n;
        self.sum_sq += residual * residual;
        self.rms = (self.sum_sq / n).sqrt();
    }
}

/// One sample next to the model's prediction for it (before the correction), canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Scored {
    /// Event time the sample was applied at, s.
    pub t_s: f64,
    /// The measured value.
    pub measured: f64,
    /// The model's prediction of it.
    pub predicted: f64,
}

/// The residual monitor of one signal (asset, quantity).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Monitor {
    pub(super) monitor: ResidualMonitor,
    /// "asset quantity", for alarms.
    pub(super) name: String,
    pub(super) kind: SignalKind,
    /// The pump train (pump entity) or tank the signal belongs to, to find its coupled neighbours.
    pub(super) group: Entity,
    pub(super) status: MonitorStatus,
}

impl Monitor {
    /// What the monitor says of its signal's confidence, 0..1 (1 until it has warmed up, unless in alarm).
    fn confidence(&self) -> f64 {
        if self.status.warmed_up || self.status.alarm.is_some() { self.status.confidence } else { 1.0 }
    }
}

/// A drift alarm: a signal's residual changed (or its sensor is stuck), with the likely cause.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DriftAlarm {
    /// The asset the signal belongs to.
    pub asset: String,
    /// What the signal measures.
    pub quantity: Quantity,
    /// Shift up or down, or flatline.
    pub kind: AlarmKind,
    /// Simulated time the alarm was raised, s.
    pub raised_s: f64,
    /// When it cleared, if it did, s.
    pub cleared_s: Option<f64>,
    /// Likely cause (re-judged while the alarm is active, as coupled signals react).
    pub cause: Cause,
    /// Why, for an operator.
    pub reason: String,
}

/// The drift detector's kind for a quantity.
pub(super) fn signal_kind(q: Quantity) -> SignalKind {
    match q {
        Quantity::Flow => SignalKind::Flow,
        Quantity::MotorCurrent => SignalKind::MotorCurrent,
        Quantity::TankLevel => SignalKind::TankLevel,
        Quantity::WindingTemperature => SignalKind::WindingTemperature,
        Quantity::VibrationVelocityRms => SignalKind::VibrationRms,
        Quantity::VibrationVelocityPeak => SignalKind::VibrationPeak,
        Quantity::VibrationCrestFactor => SignalKind::CrestFactor,
        Quantity::BearingTemperature | Quantity::Speed => SignalKind::Other,
    }
}

/// A quantity in words.
pub(crate) fn quantity_name(q: Quantity) -> &'static str {
    match q {
        Quantity::Flow => "flow",
        Quantity::MotorCurrent => "motor current",
        Quantity::TankLevel => "tank level",
        Quantity::WindingTemperature => "winding temperature",
        Quantity::BearingTemperature => "bearing temperature",
        Quantity::VibrationVelocityRms => "vibration RMS",
        Quantity::VibrationVelocityPeak => "vibration peak",
        Quantity::VibrationCrestFactor => "crest factor",
        Quantity::Speed => "speed",
    }
}

impl Assimilation {
    /// Scores a sample against the prediction and runs its residual monitor; `group` is its pump train or tank.
    pub(super) fn score(&mut self, s: Queued, predicted: f64, t_s: f64, group: Entity) {
        self.errors.entry((s.asset, s.quantity)).or_default().add(s.value - predicted);
        self.last_scored.insert((s.asset, s.quantity), Scored { t_s, measured: s.value, predicted });
        let kind = signal_kind(s.quantity);
        let sigma = kind.noise_sigma(s.value);
        if !sigma.is_finite() {
            return;
        }
        let key = (s.asset, s.quantity);
        if !self.monitors.contains_key(&key) {
            let Ok(monitor) = ResidualMonitor::new(self.drift) else { return };
            let name =
                format!("{} {}", self.names.get(&s.asset).map_or("?", String::as_str), quantity_name(s.quantity));
            self.monitors.insert(key, Monitor { monitor, name, kind, group, status: MonitorStatus::default() });
        }
        let Some(m) = self.monitors.get_mut(&key) else { return };
        let before = m.status.alarm;
        m.status = m.monitor.update(t_s, s.value, predicted, sigma);
        let after = m.status.alarm;
        if before == after {
            return;
        }
        let asset = self.names.get(&s.asset).cloned().unwrap_or_default();
        if before.is_some()
            && let Some(a) = self.alarms.iter_mut().rev().find(|a| a.asset == asset && a.quantity == s.quantity)
        {
            a.cleared_s = Some(t_s);
        }
        if let Some(kind) = after {
            self.alarms.push(DriftAlarm {
                asset,
                quantity: s.quantity,
                kind,
                raised_s: t_s,
                cleared_s: None,
                cause: Cause::Unknown,
                reason: String::new(),
            });
        }
        self.freeze_calibration(s.asset, s.quantity, after.is_some());
        self.classify_active(group);
    }

    /// Stops (or resumes) estimating the parameter a signal informs while it is in alarm: a defect must not be
    /// absorbed into the calibration.
    pub(super) fn freeze_calibration(&mut self, asset: Entity, q: Quantity, frozen: bool) {
        let param = match q {
            Quantity::Flow => Param::Head,
            Quantity::VibrationVelocityRms | Quantity::VibrationVelocityPeak | Quantity::VibrationCrestFactor => {
                Param::Unbalance
            }
            Quantity::WindingTemperature => Param::FrameAmbient,
            _ => return,
        };
        if let Some(ts) = self.monitors.get(&(asset, q)).and_then(|m| self.trains.get_mut(&m.group)) {
            ts.calibrator.freeze(param, frozen);
        }
    }

    /// Re-judges the cause of every active alarm of one pump train or tank from its coupled signals.
    pub(super) fn classify_active(&mut self, group: Entity) {
        let views: Vec<(Entity, Quantity, String, SignalKind, MonitorStatus)> = self
            .monitors
            .iter()
            .filter(|(_, m)| m.group == group)
            .map(|(&(e, q), m)| (e, q, m.name.clone(), m.kind, m.status))
            .collect();
        for (e, q, name, kind, status) in &views {
            if status.alarm.is_none() {
                continue;
            }
            let me = SignalView { name, kind: *kind, status: *status };
            let others: Vec<SignalView<'_>> = views
                .iter()
                .filter(|(e2, q2, ..)| (e2, q2) != (e, q))
                .map(|(_, _, n, k, st)| SignalView { name: n, kind: *k, status: *st })
                .collect();
            let d = classify(&me, &others);
            let asset = self.names.get(e).cloned().unwrap_or_default();
            if let Some(a) =
                self.alarms.iter_mut().rev().find(|a| a.asset == asset && a.quantity == *q && a.cleared_s.is_none())
            {
                a.cause = d.cause;
                a.reason = d.reason;
            }
        }
    }

    /// Confidence of an asset's readings, 0..1: the lowest of its signals' monitors (1 without monitors).
    pub fn confidence(&self, asset: Entity) -> f64 {
        self.monitors
            .iter()
            .filter(|((e, _), m)| *e == asset || m.group == asset)
            .fold(1.0, |c, (_, m)| c.min(m.confidence()))
    }

    /// The confidence of every asset with a name, as [`Self::confidence`] gives it, in one pass over the monitors
    /// (asking asset by asset is quadratic in a site's size).
    pub fn confidences(&self) -> std::collections::HashMap<Entity, f64> {
        let mut out: std::collections::HashMap<Entity, f64> = self.names.keys().map(|e| (*e, 1.0)).collect();
        for (&(e, _), m) in &self.monitors {
            for asset in [e, m.group] {
                if let Some(c) = out.get_mut(&asset) {
                    *c = c.min(m.confidence());
                }
                if m.group == e {
                    break;
                }
            }
        }
        out
    }
}
