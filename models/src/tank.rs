//! Open storage tank: a mass balance `A dL/dt = Q_in - Q_out`, the level that sets the pumps' suction head.

use crate::params::TankParams;

/// A tank's dynamic state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TankState {
    /// Liquid level above the bottom, m.
    pub level_m: f64,
}

impl TankState {
    /// The state at the start of a run.
    pub fn initial(p: &TankParams) -> Self {
        Self { level_m: p.initial_level_m.clamp(0.0, p.height_m) }
    }
}

/// Flows across the tank's boundary during a step.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TankInputs {
    /// Inflow, m³/h.
    pub inflow_m3h: f64,
    /// Total outflow drawn by the pumps, m³/h.
    pub outflow_m3h: f64,
}

/// Advances the level by `dt_s` seconds; the level stays between empty and the overflow.
pub fn step(p: &TankParams, s: &mut TankState, i: &TankInputs, dt_s: f64) {
    let net_m3 = (i.inflow_m3h - i.outflow_m3h) / 3600.0 * dt_s;
    let next = s.level_m + net_m3 / p.area_m2;
    s.level_m = if next.is_finite() { next.clamp(0.0, p.height_m) } else { s.level_m };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_follows_the_mass_balance_and_stays_in_bounds() {
        let p = TankParams { area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0 };
        let mut s = TankState::initial(&p);
        // 36 m³/h net outflow for 1000 s removes 10 m³: 1 m of level.
        step(&p, &mut s, &TankInputs { inflow_m3h: 0.0, outflow_m3h: 36.0 }, 1000.0);
        assert!((s.level_m - 1.0).abs() < 1e-12);
        step(&p, &mut s, &TankInputs { inflow_m3h: 0.0, outflow_m3h: 36.0 }, 10_000.0);
        assert_eq!(s.level_m, 0.0);
        step(&p, &mut s, &TankInputs { inflow_m3h: 1e6, outflow_m3h: 0.0 }, 3600.0);
        assert_eq!(s.level_m, 4.0);
    }
}
