//! The plant's hidden "true" parameters: each pump train differs from the scenario's nominal (nameplate)
//! parameters by seeded factors, so that the twin, which only knows the nameplate, has something to estimate.

use rand::Rng;
use serde::{Deserialize, Serialize};
use twin_models::params::{MotorParams, PumpParams};
use twin_models::{PumpTrainOutputs, PumpTrainState};

/// Frame-to-ambient thermal resistance (fan and still), true / nominal: fouled cooling fins, `[lo, hi]`.
pub const FRAME_AMBIENT_RESISTANCE_FACTOR: (f64, f64) = (1.05, 1.15);
/// Rotor residual unbalance, true / nominal: wear and deposits on the impeller since balancing, `[lo, hi]`.
pub const UNBALANCE_FACTOR: (f64, f64) = (1.2, 1.8);
/// Head curve (shut-off head and rated head alike), true / nominal: impeller wear, `[lo, hi]`.
pub const HEAD_FACTOR: (f64, f64) = (0.95, 0.99);
/// Winding-to-frame thermal resistance, true / nominal: manufacturing scatter of the stator, `[lo, hi]`.
pub const WINDING_FRAME_RESISTANCE_FACTOR: (f64, f64) = (0.95, 1.10);

/// Bearing temperature at which the lubricant's hidden pace factor is 1 (the bundled stations' bearings run near
/// it), °C.
pub const LUBRICANT_REFERENCE_C: f64 = 55.0;
/// Bearing-temperature rise that multiplies a defect's growth rate by e: the oil film thins as it warms, and the
/// spall's edges see more metal contact, K. The twin's physics does not know this law; a fleet shows it.
pub const LUBRICANT_PACE_K: f64 = 30.0;
/// Log standard deviation of a bearing's own growth rate around the lubricant-adjusted fleet median (what no
/// operating condition explains: material, fit, the defect's shape).
pub const RESIDUAL_GROWTH_SIGMA_LN: f64 = 0.25;

/// The hidden pace factor of a defect's growth at this bearing temperature: `exp((T - T_ref) / ΔT)`.
pub fn lubricant_pace(bearing_temp_c: f64) -> f64 {
    if bearing_temp_c.is_finite() { ((bearing_temp_c - LUBRICANT_REFERENCE_C) / LUBRICANT_PACE_K).exp() } else { 1.0 }
}

/// A bearing's own hidden growth rate at the rated point and the reference temperature, drawn with a standard
/// normal `z`, 1/h.
pub fn own_growth_rate(z: f64) -> f64 {
    twin_models::degradation::GROWTH_RATE_MEDIAN_PER_H * (RESIDUAL_GROWTH_SIGMA_LN * z).exp()
}

/// How one pump train's true parameters differ from its nominal ones (each factor is true / nominal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrueFactors {
    /// Frame-to-ambient thermal resistance factor, in [`FRAME_AMBIENT_RESISTANCE_FACTOR`].
    pub frame_ambient_resistance: f64,
    /// Unbalance factor, in [`UNBALANCE_FACTOR`].
    pub unbalance: f64,
    /// Head-curve factor, in [`HEAD_FACTOR`].
    pub head: f64,
    /// Winding-to-frame thermal resistance factor, in [`WINDING_FRAME_RESISTANCE_FACTOR`].
    pub winding_frame_resistance: f64,
}

fn uniform(rng: &mut impl Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

impl TrueFactors {
    /// Draws the factors, uniformly within their ranges, in a fixed order.
    pub fn draw(rng: &mut impl Rng) -> Self {
        Self {
            frame_ambient_resistance: uniform(rng, FRAME_AMBIENT_RESISTANCE_FACTOR),
            unbalance: uniform(rng, UNBALANCE_FACTOR),
            head: uniform(rng, HEAD_FACTOR),
            winding_frame_resistance: uniform(rng, WINDING_FRAME_RESISTANCE_FACTOR),
        }
    }

    /// The true parameters from the nominal ones. Scaling the whole head curve (shut-off and rated head by one
    /// factor, as a worn impeller does) keeps the curve valid (shut-off head above rated head).
    pub fn apply(&self, pump: &PumpParams, motor: &MotorParams) -> (PumpParams, MotorParams) {
        let mut p = pump.clone();
        p.shutoff_head_m *= self.head;
        p.rated_head_m *= self.head;
        p.unbalance_g_mm *= self.unbalance;
        let mut m = motor.clone();
        m.thermal.r_frame_ambient_k_per_w *= self.frame_ambient_resistance;
        m.thermal.r_frame_ambient_still_k_per_w *= self.frame_ambient_resistance;
        m.thermal.r_winding_frame_k_per_w *= self.winding_frame_resistance;
        (p, m)
    }
}

/// The hidden truth of the whole plant at the present instant.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantTruth {
    /// Every pump train, in scenario order.
    pub pumps: Vec<PumpTruth>,
    /// Every tank as (id, level m above its bottom), in scenario order.
    pub tanks: Vec<(String, f64)>,
    /// What each asset with an identity topic runs now.
    pub identities: Vec<super::PlantIdentity>,
}

impl PlantTruth {
    /// The pump train with this pump id.
    pub fn pump(&self, id: &str) -> Option<&PumpTruth> {
        self.pumps.iter().find(|p| p.id == id)
    }

    /// The level of the tank with this id, m.
    pub fn tank_level_m(&self, id: &str) -> Option<f64> {
        self.tanks.iter().find(|(t, _)| t == id).map(|(_, l)| *l)
    }
}

/// One pump train's true parameters, state and latest outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpTruth {
    /// Pump id.
    pub id: String,
    /// Id of the motor driving it.
    pub motor_id: String,
    /// True pump parameters.
    pub pump: PumpParams,
    /// True motor parameters.
    pub motor: MotorParams,
    /// How the true parameters differ from the nominal ones.
    pub factors: TrueFactors,
    /// Model state after the last step.
    pub state: PumpTrainState,
    /// Model outputs of the last step.
    pub outputs: PumpTrainOutputs,
    /// Bearing defect severity in effect, 0..1.
    pub defect_severity: f64,
    /// The hidden growth rate of a defect in this pump's bearing at the rated point, at the bearing's temperature
    /// now (its own rate times [`lubricant_pace`]), 1/h.
    pub defect_growth_rate_per_h: f64,
    /// The bearing's own hidden growth rate at the rated point and [`LUBRICANT_REFERENCE_C`], 1/h.
    pub defect_own_growth_rate_per_h: f64,
    /// The physics' growth factor `g = (n/n_r)(P/P_r)^p` at the true operating point now.
    pub growth_factor: f64,
    /// When the bearing failed (its defect reached the failure threshold and the pump tripped), s.
    pub failed_at_s: Option<f64>,
    /// Speed the drive is commanded to now (after the drive's ramp), rpm.
    pub speed_command_rpm: f64,
}
