//! The composite reduced-order model of a motor-driven centrifugal pump fed by a tank: speed, hydraulics,
//! motor losses and temperatures, bearing damage, insulation ageing, vibration and health, stepped cheaply
//! (no rapier, no allocation) from the pump's fitted [`LoadMap`].

use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::bearing::{load_ratio_pow, weibull_life_ratio};
use crate::health::{BearingLifeDistribution, HealthIndices, RUL_CAP_H, cavitation_risk};
use crate::hydraulics::{G_M_S2, PumpCurve, RHO_WATER_KG_M3, vapour_pressure_kpa};
use crate::insulation::RATED_LIFE_H;
use crate::loadmap::LoadMap;
use crate::params::{BearingKind, MotorParams, PumpParams};
use crate::rotor::RotorParams;
use crate::thermal::{BEARING_FRICTION_SHARE, COPPER_ALPHA_PER_K, MotorTemps, MotorThermal};
use crate::vibration::{Zone, classify_with, zone_limits_mm_s};

/// Highest speed the drive runs, as a fraction of the pump's rated speed (set-points are clamped to it).
pub const MAX_SPEED_RATIO: f64 = 1.2;
/// No-load (magnetising) current as a fraction of rated current: `I = I_r sqrt(i0² + (1 - i0²)(P/P_r)²)`.
pub const MAGNETISING_CURRENT_RATIO: f64 = 0.35;
/// Damage acceleration at full defect severity: the damage rate is multiplied by `1 + 9 severity²`.
pub const DEFECT_DAMAGE_GAIN: f64 = 9.0;
/// Peak (impulse) gain of a bearing defect: `peak *= 1 + 2 severity` while `rms *= 1 + 0.1 severity`
/// (rising crest factor at nearly steady RMS: the early-defect signature).
pub const DEFECT_PEAK_GAIN: f64 = 2.0;
/// RMS gain of a bearing defect, see [`DEFECT_PEAK_GAIN`].
pub const DEFECT_RMS_GAIN: f64 = 0.1;
/// Broadband vibration added by fully developed cavitation, mm/s RMS (its peak is 3x, a crest of 3).
pub const CAVITATION_VIB_MM_S: f64 = 1.5;
/// Speed below which the train counts as stopped, rpm.
const RUNNING_RPM: f64 = 1.0;

/// State of one pump train.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PumpTrainState {
    /// Shaft speed, rpm.
    pub speed_rpm: f64,
    /// Motor winding temperature, °C.
    pub winding_temp_c: f64,
    /// Motor frame temperature, °C.
    pub frame_temp_c: f64,
    /// Bearing-housing temperature, °C.
    pub bearing_temp_c: f64,
    /// Bearing Miner damage in units of the adjusted L10 life, dimensionless (see [`crate::health`]).
    pub bearing_damage_l10: f64,
    /// Consumed fraction of the insulation's rated life, dimensionless.
    pub insulation_life_used: f64,
    /// Operating (running) hours, h.
    pub operating_hours: f64,
    /// Time spent cavitating (NPSHa <= NPSHr while running), s.
    pub cavitation_s: f64,
    /// Simulated time, s.
    pub time_s: f64,
}

impl PumpTrainState {
    /// A new, stopped, cold train at ambient temperature (°C).
    pub fn initial(ambient_c: f64) -> Self {
        Self { winding_temp_c: ambient_c, frame_temp_c: ambient_c, bearing_temp_c: ambient_c, ..Self::default() }
    }
}

/// Inputs of one step.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PumpTrainInputs {
    /// Speed set-point of the drive, rpm (clamped to 0..`MAX_SPEED_RATIO` × rated).
    pub speed_setpoint_rpm: f64,
    /// Level of the feeding tank above its bottom, m (negative treated as 0).
    pub tank_level_m: f64,
    /// Ambient air temperature, °C.
    pub ambient_c: f64,
    /// Bearing defect severity, 0 (none) .. 1 (severe): accelerates damage and raises the crest factor.
    pub bearing_defect_severity: f64,
}

/// Outputs of one step (all finite for finite inputs).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PumpTrainOutputs {
    /// Shaft speed after the step, rpm.
    pub speed_rpm: f64,
    /// Delivered flow, m³/h.
    pub flow_m3h: f64,
    /// Pump head, m.
    pub head_m: f64,
    /// Shaft power, kW.
    pub shaft_power_kw: f64,
    /// Pump efficiency, 0..1.
    pub efficiency: f64,
    /// Motor line current, A.
    pub motor_current_a: f64,
    /// NPSH available, m.
    pub npsha_m: f64,
    /// NPSH required, m.
    pub npshr_m: f64,
    /// ISO 281 equivalent radial load on the bearing, kN.
    pub bearing_load_kn: f64,
    /// Housing vibration velocity RMS, mm/s.
    pub vib_rms_mm_s: f64,
    /// Housing vibration velocity peak, mm/s.
    pub vib_peak_mm_s: f64,
    /// Crest factor peak/RMS (0 at standstill).
    pub crest_factor: f64,
    /// ISO 10816-3 zone of the RMS.
    pub zone: Zone,
    /// Health indices.
    pub health: HealthIndices,
}

/// A motor-driven pump with its fitted load map and the constants its step needs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PumpTrain {
    /// Pump parameters.
    pub pump: PumpParams,
    /// Motor parameters.
    pub motor: MotorParams,
    /// Fitted bearing-load / vibration map (shareable between pumps of one design).
    pub map: LoadMap,
    /// Constants precomputed for `step`.
    k: Consts,
}

/// Everything `step` needs, precomputed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Consts {
    /// Pump rated speed, rpm.
    rated_rpm: f64,
    /// 1 / rated speed, 1/rpm.
    inv_rated_rpm: f64,
    /// Highest allowed speed, rpm.
    max_rpm: f64,
    /// rpm to rad/s factor, (rad/s)/rpm.
    rpm_to_rad_s: f64,
    /// Torque-limited acceleration of the train at zero load, rpm/s per N·m.
    rpm_per_s_per_nm: f64,
    /// Drive torque limit, N·m.
    motor_max_torque_nm: f64,
    /// Hydraulic load torque at rated speed, N·m.
    load_torque_rated_nm: f64,
    /// Shutoff head at rated speed, m.
    h0: f64,
    /// System static head, m.
    hs: f64,
    /// System resistance, m/(m³/h)².
    r_sys: f64,
    /// 1/(k + R), (m³/h)²/m.
    inv_k_plus_r: f64,
    /// Rated (BEP) flow, m³/h.
    q_r: f64,
    /// BEP efficiency, 0..1.
    eta_bep: f64,
    /// rho g / (3600 eta_bep): P = this × Q_bep H / (2 - x), W.
    power_coeff: f64,
    /// 1 / motor rated power, 1/W.
    inv_p_motor_w: f64,
    /// Motor rated current, A.
    i_r: f64,
    /// Squared magnetising-current ratio, dimensionless.
    i0_sq: f64,
    /// Phase resistance at 20 °C, Ω.
    r20: f64,
    /// Iron loss at rated speed, W.
    iron_w: f64,
    /// Friction and windage loss at rated speed, W.
    friction_w: f64,
    /// Motor thermal network.
    thermal: MotorThermal,
    /// Rotor unbalance, kg·m.
    unbalance_kg_m: f64,
    /// 1 / dynamic load rating, 1/N.
    inv_c_n: f64,
    /// Bearing kind (life exponent).
    kind: BearingKind,
    /// ISO 281 equivalent bearing load at the rated speed, N.
    rated_load_n: f64,
    /// Weibull slope, dimensionless.
    weibull_slope: f64,
    /// L50/L10, dimensionless.
    l50_ratio: f64,
    /// L10/L50, dimensionless.
    inv_l50_ratio: f64,
    /// (p_surface - p_vapour)/(rho g), m.
    p_head_m: f64,
    /// Pump elevation above the tank bottom, m.
    elevation_m: f64,
    /// Suction loss coefficient, m/(m³/h)².
    suction_loss: f64,
    /// NPSHr at the rated point, m.
    npshr_r: f64,
    /// ISO 10816-3 zone limits, mm/s.
    zone_limits: [f64; 3],
    /// Insulation class temperature, °C.
    class_temp_c: f64,
}

impl PumpTrain {
    /// Validates the parameters and fits the load map from a rapier sweep.
    pub fn new(pump: PumpParams, motor: MotorParams) -> Result<Self, ModelError> {
        let map = {
            let mut issues = pump.validate();
            issues.extend(motor.validate().into_iter().map(|(f, m)| (format!("motor.{f}"), m)));
            if !issues.is_empty() {
                return Err(ModelError::InvalidParams(issues));
            }
            LoadMap::fit_pump(&pump, &motor)?
        };
        Ok(Self::with_map(pump, motor, map))
    }

    /// Builds a train around an already-fitted map (many pumps of one design share one fit). The parameters
    /// are assumed valid (see [`PumpParams::validate`], [`MotorParams::validate`]).
    pub fn with_map(pump: PumpParams, motor: MotorParams, map: LoadMap) -> Self {
        let rotor = RotorParams::from_pump(&pump, &motor);
        let curve = PumpCurve::from_params(&pump);
        let rpm_to_rad_s = std::f64::consts::TAU / 60.0;
        let l50_ratio = weibull_life_ratio(0.5, pump.bearing.weibull_slope);
        let s = &pump.suction;
        let k = Consts {
            rated_rpm: pump.rated_speed_rpm,
            inv_rated_rpm: 1.0 / pump.rated_speed_rpm,
            max_rpm: MAX_SPEED_RATIO * pump.rated_speed_rpm,
            rpm_to_rad_s,
            rpm_per_s_per_nm: 1.0 / (rotor.polar_inertia_kg_m2 * rpm_to_rad_s),
            motor_max_torque_nm: rotor.motor_max_torque_nm,
            load_torque_rated_nm: rotor.hydraulic_torque_rated_nm,
            h0: curve.shutoff_head_m,
            hs: pump.system.static_head_m,
            r_sys: pump.system.resistance_m_per_m3h2,
            inv_k_plus_r: 1.0 / (curve.k_m_per_m3h2 + pump.system.resistance_m_per_m3h2).max(1e-12),
            q_r: pump.rated_flow_m3h,
            eta_bep: pump.bep_efficiency,
            power_coeff: RHO_WATER_KG_M3 * G_M_S2 / (3600.0 * pump.bep_efficiency),
            inv_p_motor_w: 1.0 / (motor.rated_power_kw * 1e3),
            i_r: motor.rated_current_a,
            i0_sq: MAGNETISING_CURRENT_RATIO * MAGNETISING_CURRENT_RATIO,
            r20: motor.phase_resistance_ohm_20c,
            iron_w: motor.iron_loss_w,
            friction_w: motor.friction_loss_w,
            thermal: MotorThermal::from_params(&motor.thermal),
            unbalance_kg_m: rotor.unbalance_kg_m,
            inv_c_n: 1.0 / (pump.bearing.c_kn * 1e3),
            kind: pump.bearing.kind,
            rated_load_n: map.eval(pump.rated_speed_rpm * rpm_to_rad_s, rotor.unbalance_kg_m).equivalent_load_n,
            weibull_slope: pump.bearing.weibull_slope,
            l50_ratio,
            inv_l50_ratio: 1.0 / l50_ratio,
            p_head_m: (s.surface_pressure_kpa - vapour_pressure_kpa(s.liquid_temp_c)) * 1e3
                / (RHO_WATER_KG_M3 * G_M_S2),
            elevation_m: s.pump_elevation_m,
            suction_loss: s.loss_m_per_m3h2,
            npshr_r: pump.npshr_rated_m,
            zone_limits: zone_limits_mm_s(pump.machine_group, pump.foundation),
            class_temp_c: motor.insulation_class.rated_temp_c(),
        };
        Self { pump, motor, map, k }
    }

    /// Advances the train by `dt_s` (any dt >= 0; 1 s typical) and returns the outputs at the new state.
    ///
    /// Order of the step: speed (torque-limited ramp to the set-point: `J dw/dt = T_max - T_load`, with the
    /// load torque `T_r (n/n_r)²` by affinity; braking at the same torque), hydraulics at the new speed
    /// (closed-form operating point), motor current and losses (copper `3 I² R(T)`, iron `P_fe n/n_r`,
    /// friction and windage `P_fw (n/n_r)²` split [`BEARING_FRICTION_SHARE`] to the bearing housing), the
    /// thermal network (backward Euler), bearing load and vibration from the map, Miner damage
    /// (`dD10 = revs / (a_T L10)` × defect factor), Montsinger insulation ageing, NPSH and health.
    pub fn step(&self, state: &mut PumpTrainState, inputs: &PumpTrainInputs, dt_s: f64) -> PumpTrainOutputs {
        let k = &self.k;
        let dt = if dt_s.is_finite() { dt_s.max(0.0) } else { 0.0 };
        let dt_h = dt * (1.0 / 3600.0);
        let sp =
            if inputs.speed_setpoint_rpm.is_finite() { inputs.speed_setpoint_rpm.clamp(0.0, k.max_rpm) } else { 0.0 };
        let ambient = if inputs.ambient_c.is_finite() { inputs.ambient_c.clamp(-60.0, 80.0) } else { 20.0 };
        let level = if inputs.tank_level_m.is_finite() { inputs.tank_level_m.clamp(0.0, 1.0e3) } else { 0.0 };
        let sev = if inputs.bearing_defect_severity.is_finite() {
            inputs.bearing_defect_severity.clamp(0.0, 1.0)
        } else {
            0.0
        };

        // Speed: torque-limited ramp.
        let n0 = state.speed_rpm.clamp(0.0, k.max_rpm);
        let s0 = n0 * k.inv_rated_rpm;
        let t_load = k.load_torque_rated_nm * s0 * s0;
        let n = if sp >= n0 {
            let acc = (k.motor_max_torque_nm - t_load).max(0.0) * k.rpm_per_s_per_nm;
            (n0 + acc * dt).min(sp)
        } else {
            let dec = (k.motor_max_torque_nm + t_load) * k.rpm_per_s_per_nm;
            (n0 - dec * dt).max(sp)
        };
        let running = n > RUNNING_RPM;
        let s = n * k.inv_rated_rpm;

        // Hydraulics (closed-form operating point) and power.
        let h_shut = k.h0 * s * s;
        let (q, h) = if h_shut > k.hs {
            let q = ((h_shut - k.hs) * k.inv_k_plus_r).sqrt();
            (q, k.hs + k.r_sys * q * q)
        } else {
            (0.0, h_shut)
        };
        let q_bep = k.q_r * s;
        let x = if q_bep > 1e-9 { q / q_bep } else { 0.0 };
        let eff = (k.eta_bep * x * (2.0 - x)).max(0.0);
        let p_shaft = k.power_coeff * q_bep * h.max(0.0) / (2.0 - x.min(1.9));

        // Motor current and losses.
        let lam = p_shaft * k.inv_p_motor_w;
        let current = if running { k.i_r * (k.i0_sq + (1.0 - k.i0_sq) * lam * lam).sqrt() } else { 0.0 };
        let r_w = k.r20 * (1.0 + COPPER_ALPHA_PER_K * (state.winding_temp_c - 20.0)).max(0.1);
        let p_cu = 3.0 * current * current * r_w;
        let p_fe = if running { k.iron_w * s } else { 0.0 };
        let p_fw = k.friction_w * s * s;
        let mut temps = MotorTemps {
            winding_c: state.winding_temp_c,
            frame_c: state.frame_temp_c,
            bearing_c: state.bearing_temp_c,
        };
        if dt > 0.0 {
            let heat = [p_cu, p_fe + (1.0 - BEARING_FRICTION_SHARE) * p_fw, BEARING_FRICTION_SHARE * p_fw];
            k.thermal.step(&mut temps, heat, s, ambient, dt);
        }

        // Bearing load and vibration from the map.
        let w = n * k.rpm_to_rad_s;
        let lp = self.map.eval(w, k.unbalance_kg_m);
        let ratio = lp.equivalent_load_n * k.inv_c_n;
        let a_t =
            if temps.bearing_c > 70.0 { (-(temps.bearing_c - 70.0) * (1.0 / 15.0)).exp2().max(0.01) } else { 1.0 };
        // L10 per operating hour at this point: revs/h / (a_T (C/P)^p Mrev).
        let mut rate_l10_per_h = n * 60.0e-6 * load_ratio_pow(ratio, k.kind) * (1.0 + DEFECT_DAMAGE_GAIN * sev * sev);
        if a_t < 1.0 {
            rate_l10_per_h /= a_t;
        }

        // NPSH.
        let npsha = k.p_head_m + (level - k.elevation_m) - k.suction_loss * q * q;
        let npshr = k.npshr_r * s * s * (0.4 + 0.6 * x * x);
        let margin = if npshr > 1e-9 { (npsha / npshr).clamp(-10.0, 10.0) } else { 10.0 };
        let cav = if running { cavitation_risk(margin) } else { 0.0 };

        let rms = lp.vib_rms_mm_s * (1.0 + DEFECT_RMS_GAIN * sev) + CAVITATION_VIB_MM_S * cav;
        let peak = lp.vib_peak_mm_s * (1.0 + DEFECT_PEAK_GAIN * sev) + 3.0 * CAVITATION_VIB_MM_S * cav;
        let crest = if rms > 1e-12 { peak / rms } else { 0.0 };

        // State update.
        state.speed_rpm = n;
        state.winding_temp_c = temps.winding_c;
        state.frame_temp_c = temps.frame_c;
        state.bearing_temp_c = temps.bearing_c;
        if running {
            state.bearing_damage_l10 += rate_l10_per_h * dt_h;
            state.operating_hours += dt_h;
            if npsha <= npshr {
                state.cavitation_s += dt;
            }
        }
        state.insulation_life_used += dt_h * ((temps.winding_c - k.class_temp_c) * 0.1).exp2() * (1.0 / RATED_LIFE_H);
        state.time_s += dt;

        let d = state.bearing_damage_l10;
        let rul =
            if rate_l10_per_h > 0.0 { ((k.l50_ratio - d) / rate_l10_per_h).clamp(0.0, RUL_CAP_H) } else { RUL_CAP_H };
        let zone = classify_with(rms, &k.zone_limits);
        PumpTrainOutputs {
            speed_rpm: n,
            flow_m3h: q,
            head_m: h,
            shaft_power_kw: p_shaft * 1e-3,
            efficiency: eff,
            motor_current_a: current,
            npsha_m: npsha,
            npshr_m: npshr,
            bearing_load_kn: lp.equivalent_load_n * 1e-3,
            vib_rms_mm_s: rms,
            vib_peak_mm_s: peak,
            crest_factor: crest,
            zone,
            health: HealthIndices {
                bearing_wear: (d * k.inv_l50_ratio).clamp(0.0, 1.0),
                rul_h: rul,
                bearing_life: BearingLifeDistribution { damage_l10: d, rate_l10_per_h, slope: k.weibull_slope },
                rul_band_h: None,
                npsh_margin_ratio: margin,
                cavitation_risk: cav,
                insulation_health: (1.0 - state.insulation_life_used).clamp(0.0, 1.0),
                vibration_zone: zone,
            },
        }
    }

    /// Rated speed of the pump, rpm.
    pub fn rated_speed_rpm(&self) -> f64 {
        self.k.rated_rpm
    }

    /// Bearing damage rate at the rated speed with the bearing below 70 °C (no temperature derating), in L10 lives
    /// per operating hour: `60 n_r / (10⁶ (C/P)^p)`, with `P` the equivalent load the map gives at rated speed.
    pub fn rated_damage_rate_l10_per_h(&self) -> f64 {
        let k = &self.k;
        let lp = self.map.eval(k.rated_rpm * k.rpm_to_rad_s, k.unbalance_kg_m);
        k.rated_rpm * 60.0e-6 * load_ratio_pow(lp.equivalent_load_n * k.inv_c_n, k.kind)
    }

    /// A stopped train at ambient (°C) whose bearing has run `bearing_h` operating hours at the rated point since it
    /// was replaced (Miner damage `bearing_h × rated rate`, see [`Self::rated_damage_rate_l10_per_h`]) and whose
    /// insulation has aged `insulation_age_h` hours at its class temperature (life used `age / rated life`).
    /// Negative or non-finite ages count as new.
    pub fn aged_state(&self, ambient_c: f64, bearing_h: f64, insulation_age_h: f64) -> PumpTrainState {
        let age = |h: f64| if h.is_finite() { h.max(0.0) } else { 0.0 };
        let bearing_h = age(bearing_h);
        PumpTrainState {
            bearing_damage_l10: bearing_h * self.rated_damage_rate_l10_per_h(),
            operating_hours: bearing_h,
            insulation_life_used: age(insulation_age_h) / RATED_LIFE_H,
            ..PumpTrainState::initial(ambient_c)
        }
    }

    /// The growth-rate multiplier of a bearing defect at the operating point `o` (see [`crate::degradation`]):
    /// `(n / n_r) (P / P_r)^p` against the rated point.
    pub fn defect_growth_factor(&self, o: &PumpTrainOutputs) -> f64 {
        let k = &self.k;
        let load_ratio = o.bearing_load_kn * 1e3 / k.rated_load_n.max(1e-9);
        crate::degradation::growth_factor(
            o.speed_rpm * k.inv_rated_rpm,
            load_ratio,
            crate::bearing::life_exponent(k.kind),
        )
    }

    /// The bearing operating hours at the rated point that make the wear index `wear` (the share of the median
    /// (L50) fatigue life consumed).
    pub fn bearing_hours_for_wear(&self, wear: f64) -> f64 {
        wear * self.k.l50_ratio / self.rated_damage_rate_l10_per_h()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bearing::{l10_hours, l10_mrev};
    use std::sync::OnceLock;

    fn train() -> &'static PumpTrain {
        static T: OnceLock<PumpTrain> = OnceLock::new();
        T.get_or_init(|| PumpTrain::new(PumpParams::example(), MotorParams::example()).unwrap())
    }

    fn run_days(
        t: &PumpTrain,
        days: f64,
        inputs: &PumpTrainInputs,
        mut check: impl FnMut(&PumpTrainOutputs),
    ) -> PumpTrainState {
        let mut st = PumpTrainState::initial(inputs.ambient_c);
        for _ in 0..(days * 86_400.0) as usize {
            let o = t.step(&mut st, inputs, 1.0);
            check(&o);
        }
        st
    }

    fn rated_inputs() -> PumpTrainInputs {
        PumpTrainInputs { speed_setpoint_rpm: 1480.0, tank_level_m: 3.5, ambient_c: 20.0, bearing_defect_severity: 0.0 }
    }

    #[test]
    fn thirty_days_wear_rises_monotonically_and_matches_iso281() {
        let t = train();
        let mut last = -1.0;
        let mut last_out = PumpTrainOutputs::default();
        let st = run_days(t, 30.0, &rated_inputs(), |o| {
            assert!(o.health.bearing_wear >= last);
            last = o.health.bearing_wear;
            last_out = *o;
        });
        assert!(last > 0.0 && last < 1.0);
        assert!((st.operating_hours - 720.0).abs() < 0.01);
        // Below 70 °C the adjusted life is the plain L10: damage = hours / L10h at the equivalent load.
        assert!(st.bearing_temp_c < 70.0, "bearing {}", st.bearing_temp_c);
        let l10h = l10_hours(l10_mrev(30.7, last_out.bearing_load_kn, BearingKind::Ball), 1480.0);
        assert!((st.bearing_damage_l10 / (720.0 / l10h) - 1.0).abs() < 0.01);
        // Steady rated point: flow, head and power from the hydraulics.
        assert!(last_out.flow_m3h > 200.0 && last_out.head_m > 20.0);
        assert!(last_out.shaft_power_kw > 20.0 && last_out.shaft_power_kw < 60.0);
        assert!(last_out.motor_current_a > 30.0 && last_out.motor_current_a < 98.0);
        assert!(st.winding_temp_c > st.frame_temp_c && st.frame_temp_c > 20.0);
        assert!(last_out.health.insulation_health > 0.99);
        assert_eq!(last_out.health.cavitation_risk, 0.0);
        assert!(last_out.health.rul_h > 10_000.0);
    }

    #[test]
    fn an_aged_state_holds_the_damage_of_its_hours_at_the_rated_point_and_its_insulation_age() {
        let t = train();
        // Two days stepped at the rated point from new (the bearing stays below 70 °C: no derating) ...
        let inputs = rated_inputs();
        let mut st = PumpTrainState::initial(20.0);
        st.speed_rpm = 1480.0;
        for _ in 0..2 * 86_400 {
            t.step(&mut st, &inputs, 1.0);
        }
        // ... hold the damage an aged state of 48 h holds.
        let aged = t.aged_state(20.0, 48.0, 0.0);
        let rel = (aged.bearing_damage_l10 / st.bearing_damage_l10 - 1.0).abs();
        assert!(rel < 1e-3, "{} vs {}", aged.bearing_damage_l10, st.bearing_damage_l10);
        // ISO 281: the rate is 1 / L10h at the rated point.
        let o = t.step(&mut st.clone(), &inputs, 0.0);
        let l10h = l10_hours(l10_mrev(t.pump.bearing.c_kn, o.bearing_load_kn, t.pump.bearing.kind), 1480.0);
        assert!((t.rated_damage_rate_l10_per_h() * l10h - 1.0).abs() < 1e-6);
        // The wear index of an aged state is the share of L50 consumed.
        let h = t.bearing_hours_for_wear(0.6);
        let mut aged = t.aged_state(20.0, h, 10_000.0);
        aged.speed_rpm = 1480.0;
        let o = t.step(&mut aged, &inputs, 0.0);
        assert!((o.health.bearing_wear - 0.6).abs() < 1e-9, "{}", o.health.bearing_wear);
        assert!((o.health.insulation_health - (1.0 - 10_000.0 / RATED_LIFE_H)).abs() < 1e-12);
        assert_eq!(t.aged_state(20.0, -5.0, f64::NAN), PumpTrainState::initial(20.0), "bad ages count as new");
    }

    #[test]
    fn wear_faster_at_higher_speed_and_with_more_unbalance() {
        let t = train();
        let slow = run_days(t, 30.0, &PumpTrainInputs { speed_setpoint_rpm: 1100.0, ..rated_inputs() }, |_| {});
        let fast = run_days(t, 30.0, &rated_inputs(), |_| {});
        assert!(fast.bearing_damage_l10 > 1.5 * slow.bearing_damage_l10);
        let mut pump = PumpParams::example();
        pump.unbalance_g_mm = 40_000.0;
        let heavy = PumpTrain::new(pump, MotorParams::example()).unwrap();
        let unbal = run_days(&heavy, 30.0, &rated_inputs(), |_| {});
        assert!(unbal.bearing_damage_l10 > 1.05 * fast.bearing_damage_l10);
    }

    #[test]
    fn defect_raises_crest_and_damage_rate() {
        let t = train();
        let mut a = PumpTrainState::initial(20.0);
        let mut b = a;
        let mut oa = PumpTrainOutputs::default();
        let mut ob = oa;
        let bad = PumpTrainInputs { bearing_defect_severity: 0.5, ..rated_inputs() };
        for _ in 0..3600 {
            oa = t.step(&mut a, &rated_inputs(), 1.0);
            ob = t.step(&mut b, &bad, 1.0);
        }
        assert!((oa.crest_factor - 2f64.sqrt()).abs() < 0.01);
        assert!(ob.crest_factor > 1.5 * oa.crest_factor);
        assert!(ob.vib_rms_mm_s < 1.1 * oa.vib_rms_mm_s);
        assert!(b.bearing_damage_l10 > 3.0 * a.bearing_damage_l10);
    }

    #[test]
    fn low_tank_cavitates() {
        let t = train();
        let mut st = PumpTrainState::initial(20.0);
        // An empty tank with the pump 6 m above its bottom: NPSHa = 10.1 - 6 - 1.25 m, below NPSHr = 4 m.
        let mut pump = PumpParams::example();
        pump.suction.pump_elevation_m = 6.0;
        let hot = PumpTrain::with_map(pump, MotorParams::example(), t.map.clone());
        let mut o = PumpTrainOutputs::default();
        for _ in 0..10 {
            o = hot.step(&mut st, &PumpTrainInputs { tank_level_m: 0.0, ..rated_inputs() }, 1.0);
        }
        assert!(o.npsha_m < o.npshr_m);
        assert_eq!(o.health.cavitation_risk, 1.0);
        assert!(st.cavitation_s >= 9.0);
    }

    #[test]
    fn finite_for_extreme_inputs_and_standstill() {
        let t = train();
        let mut st = PumpTrainState::initial(20.0);
        let cases = [
            PumpTrainInputs::default(),
            PumpTrainInputs {
                speed_setpoint_rpm: 1e12,
                tank_level_m: -5.0,
                ambient_c: 500.0,
                bearing_defect_severity: 7.0,
            },
            PumpTrainInputs {
                speed_setpoint_rpm: -3.0,
                tank_level_m: 1e9,
                ambient_c: -300.0,
                bearing_defect_severity: -1.0,
            },
            rated_inputs(),
        ];
        for inp in &cases {
            for dt in [0.0, 1e-3, 1.0, 3600.0, 1e7] {
                let o = t.step(&mut st, inp, dt);
                let vals = [
                    o.speed_rpm,
                    o.flow_m3h,
                    o.head_m,
                    o.shaft_power_kw,
                    o.efficiency,
                    o.motor_current_a,
                    o.npsha_m,
                    o.npshr_m,
                    o.bearing_load_kn,
                    o.vib_rms_mm_s,
                    o.vib_peak_mm_s,
                    o.crest_factor,
                    o.health.bearing_wear,
                    o.health.rul_h,
                    o.health.npsh_margin_ratio,
                    o.health.cavitation_risk,
                    o.health.insulation_health,
                    st.winding_temp_c,
                    st.bearing_temp_c,
                    o.health.bearing_life.prob_failure_within(1000.0),
                    o.health.bearing_life.rul_percentile_hours(0.5),
                ];
                assert!(vals.iter().all(|v| v.is_finite()), "{inp:?} dt {dt}: {o:?}");
            }
        }
        // Standstill: no flow, no current, no wear.
        let mut st = PumpTrainState::initial(20.0);
        let o = t.step(&mut st, &PumpTrainInputs { tank_level_m: 3.0, ambient_c: 20.0, ..Default::default() }, 1.0);
        assert_eq!((o.flow_m3h, o.motor_current_a, st.bearing_damage_l10), (0.0, 0.0, 0.0));
        assert_eq!(o.health.rul_h, RUL_CAP_H);
    }

    #[test]
    fn invalid_params_are_reported() {
        let mut pump = PumpParams::example();
        pump.shutoff_head_m = 40.0;
        pump.bearing.c_kn = 0.0;
        let mut motor = MotorParams::example();
        motor.power_factor = 1.5;
        match PumpTrain::new(pump, motor) {
            Err(ModelError::InvalidParams(v)) => {
                let fields: Vec<_> = v.iter().map(|(f, _)| f.as_str()).collect();
                assert!(fields.contains(&"shutoff_head_m"));
                assert!(fields.contains(&"bearing.c_kn"));
                assert!(fields.contains(&"motor.power_factor"));
            }
            other => panic!("{other:?}"),
        }
    }
}
