//! Centrifugal-pump hydraulics: the pump curve scaled by the affinity laws, the system curve, their operating
//! point, hydraulic and shaft power, efficiency, and the suction-side NPSH available / required.

use crate::params::{PumpParams, SuctionParams, SystemCurve};

/// Standard gravity, m/s².
pub const G_M_S2: f64 = 9.806_65;
/// Density of water near 20 °C, kg/m³ (used for all heads and powers).
pub const RHO_WATER_KG_M3: f64 = 998.2;

/// Affinity laws for a speed ratio `r = n2/n1`: `(Q2/Q1, H2/H1, P2/P1) = (r, r², r³)`.
pub fn affinity_ratios(speed_ratio: f64) -> (f64, f64, f64) {
    let r = speed_ratio;
    (r, r * r, r * r * r)
}

/// Quadratic pump curve `H = H0 s² - k Q²` (Q in m³/h, H in m, `s = n/n_rated`). At rated speed this is
/// `H = H0 - k Q²` with `k = (H0 - H_r)/Q_r²` from the rated point; at other speeds the affinity laws
/// (`Q ∝ s`, `H ∝ s²`) map each point `(Q, H) -> (sQ, s²H)`, which leaves `k` unchanged and scales `H0` by `s²`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PumpCurve {
    /// Shutoff head at rated speed, m.
    pub shutoff_head_m: f64,
    /// Curve coefficient k, m per (m³/h)².
    pub k_m_per_m3h2: f64,
    /// Rated speed, rpm.
    pub rated_speed_rpm: f64,
}

impl PumpCurve {
    /// The curve through the pump's shutoff and rated points.
    pub fn from_params(p: &PumpParams) -> Self {
        let q = p.rated_flow_m3h.max(1e-9);
        Self {
            shutoff_head_m: p.shutoff_head_m,
            k_m_per_m3h2: ((p.shutoff_head_m - p.rated_head_m) / (q * q)).max(0.0),
            rated_speed_rpm: p.rated_speed_rpm,
        }
    }

    /// Head at flow `q` (m³/h) and speed `n` (rpm), m (may be negative beyond run-out).
    pub fn head_m(&self, q_m3h: f64, speed_rpm: f64) -> f64 {
        let s = speed_rpm / self.rated_speed_rpm;
        self.shutoff_head_m * s * s - self.k_m_per_m3h2 * q_m3h * q_m3h
    }
}

impl SystemCurve {
    /// System head at flow `q`, m: `H = Hs + R Q²`.
    pub fn head_m(&self, q_m3h: f64) -> f64 {
        self.static_head_m + self.resistance_m_per_m3h2 * q_m3h * q_m3h
    }
}

/// Operating point of a pump on a system, (flow m³/h, head m). Closed form from the two quadratics:
/// `H0 s² - k Q² = Hs + R Q²`  =>  `Q = sqrt((H0 s² - Hs)/(k + R))`; when the pump cannot lift the static head
/// (`H0 s² <= Hs`) the check valve holds and `Q = 0`, `H = H0 s²` (shutoff).
pub fn operating_point(curve: &PumpCurve, system: &SystemCurve, speed_rpm: f64) -> (f64, f64) {
    let s = (speed_rpm / curve.rated_speed_rpm).max(0.0);
    let h_shut = curve.shutoff_head_m * s * s;
    let denom = curve.k_m_per_m3h2 + system.resistance_m_per_m3h2;
    if h_shut <= system.static_head_m || denom <= 0.0 {
        return (0.0, h_shut);
    }
    let q = ((h_shut - system.static_head_m) / denom).sqrt();
    (q, system.head_m(q))
}

/// Hydraulic power `P_h = rho g Q H`, W (Q in m³/h, H in m).
pub fn hydraulic_power_w(q_m3h: f64, head_m: f64) -> f64 {
    RHO_WATER_KG_M3 * G_M_S2 * (q_m3h / 3600.0) * head_m
}

/// Pump efficiency, 0..1: the parabola `eta = eta_bep x (2 - x)` in `x = Q/Q_bep(n)` (zero at shutoff, the
/// maximum `eta_bep` at the BEP, `Q_bep(n) = Q_r n/n_r` by affinity), floored at 0.
pub fn efficiency(eta_bep: f64, flow_ratio: f64) -> f64 {
    (eta_bep * flow_ratio * (2.0 - flow_ratio)).max(0.0)
}

/// Shaft power `P = P_h / eta`, W. With the efficiency parabola this is
/// `P = rho g Q_bep(n) H / (eta_bep (2 - x))`, finite at shutoff (x = 0), which is how it is computed here;
/// `x` is limited to 1.9 so that the run-out end stays bounded.
pub fn shaft_power_w(q_bep_m3h: f64, head_m: f64, eta_bep: f64, flow_ratio: f64) -> f64 {
    let x = flow_ratio.clamp(0.0, 1.9);
    hydraulic_power_w(q_bep_m3h, head_m.max(0.0)) / (eta_bep.max(1e-3) * (2.0 - x))
}

/// Vapour pressure of water, kPa, from the Antoine equation (1–100 °C):
/// `log10(p / mmHg) = 8.07131 - 1730.63 / (233.426 + T)`; 2.34 kPa at 20 °C, 7.38 kPa at 40 °C.
pub fn vapour_pressure_kpa(temp_c: f64) -> f64 {
    let t = temp_c.clamp(-20.0, 200.0);
    let mmhg = 10f64.powf(8.07131 - 1730.63 / (233.426 + t));
    mmhg * 0.133_322_4
}

/// NPSH available, m (textbook form at the suction flange):
/// `NPSHa = p_s/(rho g) + v²/(2g) - p_v/(rho g)` with the static suction head
/// `p_s/(rho g) = p_surface/(rho g) + (level - elevation) - h_loss - v²/(2g)`, `h_loss = K Q²`; the velocity
/// heads cancel, so `NPSHa = (p_surface - p_v)/(rho g) + (level - elevation) - K Q²`.
pub fn npsh_available_m(s: &SuctionParams, tank_level_m: f64, q_m3h: f64) -> f64 {
    let p_head = (s.surface_pressure_kpa - vapour_pressure_kpa(s.liquid_temp_c)) * 1e3 / (RHO_WATER_KG_M3 * G_M_S2);
    p_head + (tank_level_m - s.pump_elevation_m) - s.loss_m_per_m3h2 * q_m3h * q_m3h
}

/// Velocity head in the suction pipe `v²/(2g)`, m, with `v = Q/A`, `A = pi d²/4` (the term that cancels in
/// [`npsh_available_m`]; reported so the suction static pressure can be shown).
pub fn suction_velocity_head_m(s: &SuctionParams, q_m3h: f64) -> f64 {
    let a = std::f64::consts::FRAC_PI_4 * s.pipe_diameter_m * s.pipe_diameter_m;
    let v = if a > 0.0 { q_m3h / 3600.0 / a } else { 0.0 };
    v * v / (2.0 * G_M_S2)
}

/// NPSH required, m: `NPSHr = NPSHr_rated (n/n_r)² (0.4 + 0.6 x²)`, `x = Q/Q_bep(n)`. The speed square is
/// the affinity (suction-specific-speed) law; the flow term is a documented fit that is 1 at the BEP, 40 % of
/// it at shutoff, and rises with the square of the flow ratio towards run-out.
pub fn npsh_required_m(npshr_rated_m: f64, speed_ratio: f64, flow_ratio: f64) -> f64 {
    npshr_rated_m * speed_ratio * speed_ratio * (0.4 + 0.6 * flow_ratio * flow_ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_laws() {
        let (q, h, p) = affinity_ratios(0.5);
        assert_eq!((q, h, p), (0.5, 0.25, 0.125));
        // A point of the rated curve maps by affinity onto the scaled curve.
        let pump = PumpParams::example();
        let c = PumpCurve::from_params(&pump);
        let r = 0.8;
        let h1 = c.head_m(200.0, pump.rated_speed_rpm);
        let h2 = c.head_m(200.0 * r, pump.rated_speed_rpm * r);
        assert!((h2 / h1 - r * r).abs() < 1e-12);
        // The curve passes through the rated and shutoff points.
        assert!((c.head_m(pump.rated_flow_m3h, pump.rated_speed_rpm) - pump.rated_head_m).abs() < 1e-9);
        assert!((c.head_m(0.0, pump.rated_speed_rpm) - pump.shutoff_head_m).abs() < 1e-12);
    }

    #[test]
    fn operating_point_on_both_curves() {
        let pump = PumpParams::example();
        let c = PumpCurve::from_params(&pump);
        for n in [900.0, 1200.0, 1480.0, 1700.0] {
            let (q, h) = operating_point(&c, &pump.system, n);
            assert!(q > 0.0);
            assert!((c.head_m(q, n) - h).abs() < 1e-9, "pump curve at {n}");
            assert!((pump.system.head_m(q) - h).abs() < 1e-9, "system curve at {n}");
        }
        // Below the speed that lifts the static head: no flow.
        let (q, h) = operating_point(&c, &pump.system, 500.0);
        assert_eq!(q, 0.0);
        assert!((h - 58.0 * (500.0f64 / 1480.0).powi(2)).abs() < 1e-9);
    }

    #[test]
    fn vapour_pressure_of_water() {
        // Tabulated: 2.339 kPa at 20 °C, 7.384 kPa at 40 °C, 101.325 kPa at 100 °C.
        assert!((vapour_pressure_kpa(20.0) / 2.339 - 1.0).abs() < 0.02);
        assert!((vapour_pressure_kpa(40.0) / 7.384 - 1.0).abs() < 0.02);
        assert!((vapour_pressure_kpa(100.0) / 101.325 - 1.0).abs() < 0.02);
    }

    #[test]
    fn npsh_available_and_required() {
        let pump = PumpParams::example();
        let s = &pump.suction;
        // (101.325 - 2.339) kPa / (rho g) = 10.11 m; level 3.5 m above a pump 1 m below the tank bottom.
        let expect = (101.325 - 2.339) * 1e3 / (RHO_WATER_KG_M3 * G_M_S2) + 4.5 - 0.000_02 * 250.0 * 250.0;
        assert!((npsh_available_m(s, 3.5, 250.0) - expect).abs() < 0.03);
        assert!((npsh_required_m(4.0, 1.0, 1.0) - 4.0).abs() < 1e-12);
        assert!((npsh_required_m(4.0, 0.5, 1.0) - 1.0).abs() < 1e-12);
        assert!(npsh_required_m(4.0, 1.0, 1.2) > 4.0);
        assert!(suction_velocity_head_m(s, 250.0) > 0.0);
    }

    #[test]
    fn power_and_efficiency() {
        assert!((efficiency(0.8, 1.0) - 0.8).abs() < 1e-12);
        assert_eq!(efficiency(0.8, 0.0), 0.0);
        // P = rho g Q H / eta at the BEP.
        let p = shaft_power_w(250.0, 45.0, 0.8, 1.0);
        assert!((p - RHO_WATER_KG_M3 * G_M_S2 * 250.0 / 3600.0 * 45.0 / 0.8).abs() < 1e-6);
        // Off the BEP the same identity holds with the parabola.
        let x = 0.6;
        let p = shaft_power_w(250.0, 50.0, 0.8, x);
        assert!((p - hydraulic_power_w(250.0 * x, 50.0) / efficiency(0.8, x)).abs() < 1e-6);
        assert!(shaft_power_w(250.0, 58.0, 0.8, 0.0).is_finite());
    }
}
