//! The plant's sensors: each samples a true value, adds its documented measurement noise, converts to the unit
//! the scenario names, and carries the sensor faults injected into it (stuck, drifting).

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::units::{Quantity, UnitConverter};

/// Standard deviation of winding and bearing temperature readings, K.
pub const TEMPERATURE_NOISE_K: f64 = 0.2;
/// Relative standard deviation of flow readings.
pub const FLOW_NOISE: f64 = 0.005;
/// Relative standard deviation of motor current readings.
pub const CURRENT_NOISE: f64 = 0.005;
/// Standard deviation of tank level readings, m.
pub const LEVEL_NOISE_M: f64 = 0.005;
/// Standard deviation of speed readings, rpm.
pub const SPEED_NOISE_RPM: f64 = 2.0;

/// How a quantity's reading scatters around the truth, in the canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// None added at the sensor (vibration: the edge box's gain error and synthesis carry it).
    None,
    /// Additive, standard deviation in the canonical unit.
    Absolute(f64),
    /// Multiplicative, relative standard deviation.
    Relative(f64),
}

impl Noise {
    /// The documented noise of a quantity's sensor.
    pub fn of(q: Quantity) -> Self {
        match q {
            Quantity::VibrationVelocityRms | Quantity::VibrationVelocityPeak | Quantity::VibrationCrestFactor => {
                Noise::None
            }
            Quantity::WindingTemperature | Quantity::BearingTemperature => Noise::Absolute(TEMPERATURE_NOISE_K),
            Quantity::Flow => Noise::Relative(FLOW_NOISE),
            Quantity::MotorCurrent => Noise::Relative(CURRENT_NOISE),
            Quantity::TankLevel => Noise::Absolute(LEVEL_NOISE_M),
            Quantity::Speed => Noise::Absolute(SPEED_NOISE_RPM),
        }
    }
}

/// Where a sensor's true value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Source {
    /// The pump train with this index (a motor's signals read the train it drives).
    Pump(usize),
    /// The tank with this index.
    Tank(usize),
    /// A motor that drives no pump: standing still at ambient temperature.
    Undriven,
}

/// One signal's sensor.
#[derive(Debug, Clone)]
pub(crate) struct Sensor {
    pub(crate) quantity: Quantity,
    pub(crate) source: Source,
    converter: UnitConverter,
    /// Samples every this many model steps.
    pub(crate) period_steps: u64,
    rng: ChaCha8Rng,
    /// Time from which the reading is frozen, s.
    stuck_at_s: Option<f64>,
    frozen: Option<f64>,
    last: Option<f64>,
    /// (start s, rate in signal unit per hour).
    drifts: Vec<(f64, f64)>,
}

impl Sensor {
    pub(crate) fn new(
        quantity: Quantity,
        source: Source,
        converter: UnitConverter,
        period_steps: u64,
        rng: ChaCha8Rng,
    ) -> Self {
        Self {
            quantity,
            source,
            converter,
            period_steps,
            rng,
            stuck_at_s: None,
            frozen: None,
            last: None,
            drifts: vec![],
        }
    }

    /// Freezes the reading from `at_s` on (the earliest of several such faults counts).
    pub(crate) fn stick_at(&mut self, at_s: f64) {
        self.stuck_at_s = Some(self.stuck_at_s.map_or(at_s, |t| t.min(at_s)));
    }

    /// Adds a drift of `rate_per_h` (signal unit per hour) from `at_s` on.
    pub(crate) fn drift_from(&mut self, at_s: f64, rate_per_h: f64) {
        self.drifts.push((at_s, rate_per_h));
    }

    /// The reading at time `t_s`, in the signal's unit, of the true value `truth` (canonical unit): noise, unit
    /// conversion, drift, then a freeze. `None` when there is nothing to read yet.
    pub(crate) fn read(&mut self, truth: Option<f64>, t_s: f64) -> Option<f64> {
        let stuck = self.stuck_at_s.is_some_and(|at| t_s >= at - 1e-9);
        if stuck && let Some(f) = self.frozen {
            return Some(f);
        }
        let truth = truth?;
        let canonical = match Noise::of(self.quantity) {
            Noise::None => truth,
            Noise::Absolute(sd) => truth + sd * self.normal(),
            Noise::Relative(sd) => truth * (1.0 + sd * self.normal()),
        };
        let canonical = match self.quantity {
            // Magnitudes cannot read below zero (a transmitter clamps at its range's bottom).
            Quantity::WindingTemperature | Quantity::BearingTemperature => canonical,
            _ => canonical.max(0.0),
        };
        let mut value = self.converter.from_canonical(canonical);
        for &(at, rate) in &self.drifts {
            if t_s >= at - 1e-9 {
                value += rate * (t_s - at) / 3600.0;
            }
        }
        if stuck {
            let f = *self.frozen.get_or_insert(self.last.unwrap_or(value));
            return Some(f);
        }
        self.last = Some(value);
        Some(value)
    }

    fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }
}
