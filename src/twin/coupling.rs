//! The coupling of a station's pump trains and tanks over one model step, written once for the twin's branches
//! and the virtual plant: every pump train steps on the level its feed tank had at the start of the step and
//! draws its flow from that tank; then every tank integrates its inflow (nominal × the inflow factor) less what
//! its pumps drew.

use twin_models::params::TankParams;
use twin_models::tank::{self, TankInputs, TankState};

/// A station as the coupling steps it: its pump trains (each with the tank it is fed from, if any) and its tanks.
/// The twin's branches and the virtual plant implement it over their own state.
pub trait Station {
    /// Number of pump trains.
    fn pump_count(&self) -> usize;
    /// The tank pump train `pump` is fed from.
    fn feed(&self, pump: usize) -> Option<usize>;
    /// The level of tank `tank`, m.
    fn level_m(&self, tank: usize) -> f64;
    /// Steps pump train `pump` by `dt_s` on its feed tank's level (`None` without one); returns its flow, m³/h.
    fn step_pump(&mut self, pump: usize, feed_level_m: Option<f64>, dt_s: f64) -> f64;
    /// Number of tanks.
    fn tank_count(&self) -> usize;
    /// Tank `tank`'s parameters and state.
    fn tank(&mut self, tank: usize) -> (&TankParams, &mut TankState);
}

/// One step of `dt_s` of `station`: the pumps in order on the tanks' levels at the start of the step, then the
/// tanks on their nominal inflow × `inflow_factor` less the pumps' draw. `draw` is scratch space (m³/h per tank).
pub fn step_station(station: &mut impl Station, draw: &mut Vec<f64>, inflow_factor: f64, dt_s: f64) {
    draw.clear();
    draw.resize(station.tank_count(), 0.0);
    for pump in 0..station.pump_count() {
        let feed = station.feed(pump);
        let level = feed.map(|t| station.level_m(t));
        let flow = station.step_pump(pump, level, dt_s);
        if let Some(t) = feed {
            draw[t] += flow;
        }
    }
    for (t, &outflow_m3h) in draw.iter().enumerate() {
        let (params, state) = station.tank(t);
        let inputs = TankInputs { inflow_m3h: params.inflow_m3h * inflow_factor, outflow_m3h };
        tank::step(params, state, &inputs, dt_s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pumps of fixed flow (each recording the level it saw) on one tank, and a tank no pump draws on.
    struct Fixed {
        flows_m3h: [f64; 2],
        seen_m: Vec<f64>,
        tanks: [(TankParams, TankState); 2],
    }

    impl Station for Fixed {
        fn pump_count(&self) -> usize {
            2
        }
        fn feed(&self, _: usize) -> Option<usize> {
            Some(0)
        }
        fn level_m(&self, tank: usize) -> f64 {
            self.tanks[tank].1.level_m
        }
        fn step_pump(&mut self, pump: usize, level: Option<f64>, _: f64) -> f64 {
            self.seen_m.push(level.unwrap_or(f64::NAN));
            self.flows_m3h[pump]
        }
        fn tank_count(&self) -> usize {
            2
        }
        fn tank(&mut self, tank: usize) -> (&TankParams, &mut TankState) {
            let (p, s) = &mut self.tanks[tank];
            (p, s)
        }
    }

    #[test]
    fn pumps_draw_on_the_start_of_step_level_and_tanks_integrate_inflow_less_the_draw() {
        let tank = |inflow_m3h| TankParams { area_m2: 10.0, height_m: 5.0, initial_level_m: 1.0, inflow_m3h };
        let mut s = Fixed {
            flows_m3h: [100.0, 50.0],
            seen_m: Vec::new(),
            tanks: [(tank(90.0), TankState { level_m: 2.0 }), (tank(36.0), TankState { level_m: 1.0 })],
        };
        let mut draw = Vec::new();
        step_station(&mut s, &mut draw, 1.0, 60.0);
        assert_eq!(s.seen_m, [2.0, 2.0], "both pumps see the level at the start of the step");
        // Tank 0: (90 - 150) m³/h for a minute over 10 m² is -0.1 m; tank 1: 36 m³/h is +0.06 m.
        assert!((s.tanks[0].1.level_m - 1.9).abs() < 1e-12, "{}", s.tanks[0].1.level_m);
        assert!((s.tanks[1].1.level_m - 1.06).abs() < 1e-12, "{}", s.tanks[1].1.level_m);
        step_station(&mut s, &mut draw, 2.0, 60.0);
        assert!((s.tanks[1].1.level_m - 1.18).abs() < 1e-12, "the inflow factor scales the nominal inflow");
    }
}
