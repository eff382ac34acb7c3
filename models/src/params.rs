//! Nominal parameters of each asset kind, as an engineer writes them in a scenario file (serde, units in every
//! name) and as every model reads them. One definition serves the scenario parser, the twin and the plant.

use serde::{Deserialize, Serialize};

/// Rolling-element type, which sets the ISO 281 life exponent (3 for ball, 10/3 for roller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BearingKind {
    Ball,
    Roller,
}

/// Insulation thermal class of a motor winding (IEC 60085 hot-spot limits: A 105, B 130, F 155, H 180 °C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsulationClass {
    A,
    B,
    F,
    H,
}

impl InsulationClass {
    /// Rated hot-spot temperature of the class, °C.
    pub fn rated_temp_c(self) -> f64 {
        match self {
            InsulationClass::A => 105.0,
            InsulationClass::B => 130.0,
            InsulationClass::F => 155.0,
            InsulationClass::H => 180.0,
        }
    }
}

/// ISO 10816-3 machine group (1: 300 kW to 50 MW, 2: 15 kW to 300 kW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MachineGroup {
    Group1,
    #[default]
    Group2,
}

/// ISO 10816-3 foundation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Foundation {
    #[default]
    Rigid,
    Flexible,
}

fn default_weibull_slope() -> f64 {
    1.5
}
fn default_ambient_c() -> f64 {
    20.0
}
fn default_atmospheric_kpa() -> f64 {
    101.325
}
fn default_liquid_temp_c() -> f64 {
    20.0
}

/// The pump's rolling bearing (the drive-end bearing that carries the rotor's radial load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearingParams {
    /// Basic dynamic load rating C, kN (from the bearing catalogue).
    pub c_kn: f64,
    /// Ball or roller: sets the ISO 281 life exponent.
    pub kind: BearingKind,
    /// Weibull slope `e` of the life scatter, dimensionless (1.1 to 1.5 for rolling bearings).
    #[serde(default = "default_weibull_slope")]
    pub weibull_slope: f64,
    /// Steady radial load on the bearing from rotor weight and hydraulic radial thrust at the rated point, kN.
    pub static_load_kn: f64,
}

/// System curve of the piping the pump feeds: `H = static_head_m + resistance_m_per_m3h2 * Q^2`, Q in m³/h.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemCurve {
    /// Static lift between suction and discharge levels, m.
    pub static_head_m: f64,
    /// Friction coefficient, m of head per (m³/h)².
    pub resistance_m_per_m3h2: f64,
}

/// Suction side geometry for NPSH available.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuctionParams {
    /// Height of the pump's impeller eye above the feeding tank's bottom, m (negative: below, a flooded suction).
    pub pump_elevation_m: f64,
    /// Suction line friction, m of head per (m³/h)².
    pub loss_m_per_m3h2: f64,
    /// Suction pipe inner diameter, m (for the velocity head).
    pub pipe_diameter_m: f64,
    /// Liquid temperature, °C (sets the vapour pressure).
    #[serde(default = "default_liquid_temp_c")]
    pub liquid_temp_c: f64,
    /// Absolute pressure on the tank's free surface, kPa.
    #[serde(default = "default_atmospheric_kpa")]
    pub surface_pressure_kpa: f64,
}

/// A centrifugal pump's nominal parameters at its rated (best-efficiency) point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PumpParams {
    /// Rated shaft speed, rpm.
    pub rated_speed_rpm: f64,
    /// Flow at the rated point, m³/h.
    pub rated_flow_m3h: f64,
    /// Head at the rated point, m.
    pub rated_head_m: f64,
    /// Head at zero flow and rated speed, m (must exceed `rated_head_m`).
    pub shutoff_head_m: f64,
    /// Hydraulic efficiency at the rated point, 0..1.
    pub bep_efficiency: f64,
    /// NPSH required at the rated point, m.
    pub npshr_rated_m: f64,
    /// Mass of the rotating assembly (impeller and shaft), kg.
    pub rotor_mass_kg: f64,
    /// Polar moment of inertia of impeller and shaft, kg·m².
    pub rotor_inertia_kg_m2: f64,
    /// Residual unbalance U = m·e of the rotor, g·mm.
    pub unbalance_g_mm: f64,
    /// Shaft misalignment at the coupling, mm (0 when aligned).
    #[serde(default)]
    pub misalignment_mm: f64,
    /// The drive-end rolling bearing.
    pub bearing: BearingParams,
    /// The discharge system curve.
    pub system: SystemCurve,
    /// The suction side.
    pub suction: SuctionParams,
    /// ISO 10816-3 machine group for the vibration zones.
    #[serde(default)]
    pub machine_group: MachineGroup,
    /// ISO 10816-3 foundation for the vibration zones.
    #[serde(default)]
    pub foundation: Foundation,
}

/// Lumped thermal network of a motor: winding and frame nodes, cooled to ambient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotorThermalParams {
    /// Heat capacity of the winding node, J/K.
    pub winding_capacity_j_per_k: f64,
    /// Heat capacity of the frame node, J/K.
    pub frame_capacity_j_per_k: f64,
    /// Thermal resistance winding to frame, K/W.
    pub r_winding_frame_k_per_w: f64,
    /// Thermal resistance frame to ambient at rated speed (shaft fan), K/W.
    pub r_frame_ambient_k_per_w: f64,
    /// Thermal resistance frame to ambient at standstill (no fan), K/W.
    pub r_frame_ambient_still_k_per_w: f64,
}

/// An induction motor's nameplate and loss parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotorParams {
    /// Rated shaft power, kW.
    pub rated_power_kw: f64,
    /// Rated line voltage, V.
    pub rated_voltage_v: f64,
    /// Rated line current, A.
    pub rated_current_a: f64,
    /// Rated speed, rpm.
    pub rated_speed_rpm: f64,
    /// Power factor at the rated point, 0..1.
    pub power_factor: f64,
    /// Stator resistance per phase at 20 °C, Ω.
    pub phase_resistance_ohm_20c: f64,
    /// Iron losses at rated voltage and frequency, W.
    pub iron_loss_w: f64,
    /// Friction and windage losses at rated speed, W.
    pub friction_loss_w: f64,
    /// Rotor polar moment of inertia, kg·m².
    pub rotor_inertia_kg_m2: f64,
    /// Insulation thermal class.
    pub insulation_class: InsulationClass,
    /// Thermal network.
    pub thermal: MotorThermalParams,
}

/// An open storage tank feeding pumps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TankParams {
    /// Free-surface area, m².
    pub area_m2: f64,
    /// Height of the overflow, m.
    pub height_m: f64,
    /// Level at the start of a run, m above the bottom.
    pub initial_level_m: f64,
    /// Inflow to the tank, m³/h.
    pub inflow_m3h: f64,
}

/// Ambient conditions shared by all assets of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmbientParams {
    /// Mean ambient air temperature, °C.
    #[serde(default = "default_ambient_c")]
    pub mean_c: f64,
    /// Half the daily peak-to-peak swing of the ambient temperature, K.
    #[serde(default)]
    pub daily_swing_k: f64,
}

impl Default for AmbientParams {
    fn default() -> Self {
        Self { mean_c: default_ambient_c(), daily_swing_k: 0.0 }
    }
}

impl PumpParams {
    /// The worked example: a 55 kW-class end-suction pump at a water-treatment plant.
    pub fn example() -> Self {
        Self {
            rated_speed_rpm: 1480.0,
            rated_flow_m3h: 250.0,
            rated_head_m: 45.0,
            shutoff_head_m: 58.0,
            bep_efficiency: 0.80,
            npshr_rated_m: 4.0,
            rotor_mass_kg: 42.0,
            rotor_inertia_kg_m2: 0.35,
            unbalance_g_mm: 400.0,
            misalignment_mm: 0.0,
            bearing: BearingParams { c_kn: 30.7, kind: BearingKind::Ball, weibull_slope: 1.5, static_load_kn: 2.2 },
            system: SystemCurve { static_head_m: 20.0, resistance_m_per_m3h2: 0.0004 },
            suction: SuctionParams {
                pump_elevation_m: -1.0,
                loss_m_per_m3h2: 0.000_02,
                pipe_diameter_m: 0.2,
                liquid_temp_c: 20.0,
                surface_pressure_kpa: 101.325,
            },
            machine_group: MachineGroup::Group2,
            foundation: Foundation::Rigid,
        }
    }
}

impl MotorParams {
    /// The worked example's drive: a 55 kW, 400 V, 4-pole induction motor, class F insulation.
    pub fn example() -> Self {
        Self {
            rated_power_kw: 55.0,
            rated_voltage_v: 400.0,
            rated_current_a: 98.0,
            rated_speed_rpm: 1480.0,
            power_factor: 0.86,
            phase_resistance_ohm_20c: 0.045,
            iron_loss_w: 900.0,
            friction_loss_w: 350.0,
            rotor_inertia_kg_m2: 0.45,
            insulation_class: InsulationClass::F,
            thermal: MotorThermalParams {
                winding_capacity_j_per_k: 12_000.0,
                frame_capacity_j_per_k: 90_000.0,
                r_winding_frame_k_per_w: 0.012,
                r_frame_ambient_k_per_w: 0.020,
                r_frame_ambient_still_k_per_w: 0.060,
            },
        }
    }
}

impl TankParams {
    /// The worked example's clear-water tank.
    pub fn example() -> Self {
        Self { area_m2: 50.0, height_m: 5.0, initial_level_m: 3.5, inflow_m3h: 250.0 }
    }
}

/// Collects `(field, message)` when `ok` is false or `value` is not finite.
fn check(out: &mut Vec<(String, String)>, field: &str, value: f64, ok: bool, msg: &str) {
    if !value.is_finite() {
        out.push((field.to_string(), "must be a finite number".to_string()));
    } else if !ok {
        out.push((field.to_string(), format!("{msg} (got {value})")));
    }
}

impl PumpParams {
    /// Physically invalid values, as `(serde field path, message)`; empty when the pump can be simulated.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let o = &mut v;
        check(o, "rated_speed_rpm", self.rated_speed_rpm, self.rated_speed_rpm > 0.0, "must be > 0");
        check(o, "rated_flow_m3h", self.rated_flow_m3h, self.rated_flow_m3h > 0.0, "must be > 0");
        check(o, "rated_head_m", self.rated_head_m, self.rated_head_m > 0.0, "must be > 0");
        check(
            o,
            "shutoff_head_m",
            self.shutoff_head_m,
            self.shutoff_head_m > self.rated_head_m,
            "must exceed rated_head_m",
        );
        check(
            o,
            "bep_efficiency",
            self.bep_efficiency,
            self.bep_efficiency > 0.0 && self.bep_efficiency <= 1.0,
            "must be in (0, 1]",
        );
        check(o, "npshr_rated_m", self.npshr_rated_m, self.npshr_rated_m > 0.0, "must be > 0");
        check(o, "rotor_mass_kg", self.rotor_mass_kg, self.rotor_mass_kg > 0.0, "must be > 0");
        check(o, "rotor_inertia_kg_m2", self.rotor_inertia_kg_m2, self.rotor_inertia_kg_m2 > 0.0, "must be > 0");
        check(o, "unbalance_g_mm", self.unbalance_g_mm, self.unbalance_g_mm >= 0.0, "must be >= 0");
        check(o, "misalignment_mm", self.misalignment_mm, self.misalignment_mm >= 0.0, "must be >= 0");
        let b = &self.bearing;
        check(o, "bearing.c_kn", b.c_kn, b.c_kn > 0.0, "must be > 0");
        check(o, "bearing.weibull_slope", b.weibull_slope, b.weibull_slope > 0.0, "must be > 0 (1.1 to 1.5 typical)");
        check(o, "bearing.static_load_kn", b.static_load_kn, b.static_load_kn >= 0.0, "must be >= 0");
        let s = &self.system;
        check(o, "system.static_head_m", s.static_head_m, true, "");
        check(
            o,
            "system.resistance_m_per_m3h2",
            s.resistance_m_per_m3h2,
            s.resistance_m_per_m3h2 >= 0.0,
            "must be >= 0",
        );
        let u = &self.suction;
        check(o, "suction.pump_elevation_m", u.pump_elevation_m, true, "");
        check(o, "suction.loss_m_per_m3h2", u.loss_m_per_m3h2, u.loss_m_per_m3h2 >= 0.0, "must be >= 0");
        check(o, "suction.pipe_diameter_m", u.pipe_diameter_m, u.pipe_diameter_m > 0.0, "must be > 0");
        check(
            o,
            "suction.liquid_temp_c",
            u.liquid_temp_c,
            (0.0..150.0).contains(&u.liquid_temp_c),
            "must be in [0, 150) °C (liquid water)",
        );
        check(
            o,
            "suction.surface_pressure_kpa",
            u.surface_pressure_kpa,
            u.surface_pressure_kpa > 0.0,
            "must be > 0 (absolute)",
        );
        v
    }
}

impl MotorParams {
    /// Physically invalid values, as `(serde field path, message)`; empty when the motor can be simulated.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let o = &mut v;
        check(o, "rated_power_kw", self.rated_power_kw, self.rated_power_kw > 0.0, "must be > 0");
        check(o, "rated_voltage_v", self.rated_voltage_v, self.rated_voltage_v > 0.0, "must be > 0");
        check(o, "rated_current_a", self.rated_current_a, self.rated_current_a > 0.0, "must be > 0");
        check(o, "rated_speed_rpm", self.rated_speed_rpm, self.rated_speed_rpm > 0.0, "must be > 0");
        check(
            o,
            "power_factor",
            self.power_factor,
            self.power_factor > 0.0 && self.power_factor <= 1.0,
            "must be in (0, 1]",
        );
        check(
            o,
            "phase_resistance_ohm_20c",
            self.phase_resistance_ohm_20c,
            self.phase_resistance_ohm_20c > 0.0,
            "must be > 0",
        );
        check(o, "iron_loss_w", self.iron_loss_w, self.iron_loss_w >= 0.0, "must be >= 0");
        check(o, "friction_loss_w", self.friction_loss_w, self.friction_loss_w >= 0.0, "must be >= 0");
        check(o, "rotor_inertia_kg_m2", self.rotor_inertia_kg_m2, self.rotor_inertia_kg_m2 >= 0.0, "must be >= 0");
        let t = &self.thermal;
        check(
            o,
            "thermal.winding_capacity_j_per_k",
            t.winding_capacity_j_per_k,
            t.winding_capacity_j_per_k > 0.0,
            "must be > 0",
        );
        check(
            o,
            "thermal.frame_capacity_j_per_k",
            t.frame_capacity_j_per_k,
            t.frame_capacity_j_per_k > 0.0,
            "must be > 0",
        );
        check(
            o,
            "thermal.r_winding_frame_k_per_w",
            t.r_winding_frame_k_per_w,
            t.r_winding_frame_k_per_w > 0.0,
            "must be > 0",
        );
        check(
            o,
            "thermal.r_frame_ambient_k_per_w",
            t.r_frame_ambient_k_per_w,
            t.r_frame_ambient_k_per_w > 0.0,
            "must be > 0",
        );
        check(
            o,
            "thermal.r_frame_ambient_still_k_per_w",
            t.r_frame_ambient_still_k_per_w,
            t.r_frame_ambient_still_k_per_w >= t.r_frame_ambient_k_per_w && t.r_frame_ambient_still_k_per_w > 0.0,
            "must be > 0 and >= r_frame_ambient_k_per_w (the fan only helps cooling)",
        );
        v
    }
}

impl TankParams {
    /// Physically invalid values, as `(serde field path, message)`; empty when the tank can be simulated.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let o = &mut v;
        check(o, "area_m2", self.area_m2, self.area_m2 > 0.0, "must be > 0");
        check(o, "height_m", self.height_m, self.height_m > 0.0, "must be > 0");
        check(
            o,
            "initial_level_m",
            self.initial_level_m,
            self.initial_level_m >= 0.0 && self.initial_level_m <= self.height_m,
            "must be within [0, height_m]",
        );
        check(o, "inflow_m3h", self.inflow_m3h, self.inflow_m3h >= 0.0, "must be >= 0");
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_valid() {
        assert!(PumpParams::example().validate().is_empty());
        assert!(MotorParams::example().validate().is_empty());
        assert!(TankParams::example().validate().is_empty());
    }

    #[test]
    fn invalid_values_name_their_fields() {
        let mut p = PumpParams::example();
        p.shutoff_head_m = p.rated_head_m;
        p.bep_efficiency = 1.2;
        p.bearing.c_kn = -1.0;
        p.rated_flow_m3h = f64::NAN;
        let f: Vec<String> = p.validate().into_iter().map(|(f, _)| f).collect();
        for want in ["shutoff_head_m", "bep_efficiency", "bearing.c_kn", "rated_flow_m3h"] {
            assert!(f.iter().any(|x| x == want), "{want} in {f:?}");
        }
        let mut m = MotorParams::example();
        m.rated_power_kw = 0.0;
        m.power_factor = 0.0;
        m.thermal.r_frame_ambient_still_k_per_w = 0.01;
        let f: Vec<String> = m.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(f, ["rated_power_kw", "power_factor", "thermal.r_frame_ambient_still_k_per_w"]);
        let mut t = TankParams::example();
        t.initial_level_m = 9.0;
        t.area_m2 = 0.0;
        assert_eq!(t.validate().len(), 2);
    }
}
