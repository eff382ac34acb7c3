//! Winding-insulation thermal ageing (Montsinger's rule): how much of the insulation's rated life each hour at
//! a given hot-spot temperature consumes, and the resulting health.

use crate::params::InsulationClass;

/// Rated insulation life at the class temperature, h (IEC 60085 / IEEE 117 convention: 20 000 h of continuous
/// operation at the class hot-spot temperature).
pub const RATED_LIFE_H: f64 = 20_000.0;

/// Relative ageing rate at winding temperature `t_c` for an insulation class, by Montsinger's rule:
/// `V = 2^((T - T_class)/10)` (the life halves for every +10 K).
pub fn ageing_rate(winding_c: f64, class: InsulationClass) -> f64 {
    ((winding_c - class.rated_temp_c()) * 0.1).exp2()
}

/// Insulation life at a constant winding temperature, h: `L = L_rated / V`.
pub fn life_hours(winding_c: f64, class: InsulationClass) -> f64 {
    RATED_LIFE_H / ageing_rate(winding_c, class)
}

/// Fraction of the rated life consumed by `dt_h` hours at `winding_c`: `dt V / L_rated`.
pub fn life_used(dt_h: f64, winding_c: f64, class: InsulationClass) -> f64 {
    dt_h * ageing_rate(winding_c, class) / RATED_LIFE_H
}

/// Insulation health 0..1: `1 - consumed fraction of the rated life`, clamped.
pub fn health(life_used_fraction: f64) -> f64 {
    (1.0 - life_used_fraction).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_halves_per_10_k() {
        for class in [InsulationClass::A, InsulationClass::B, InsulationClass::F, InsulationClass::H] {
            let t = class.rated_temp_c();
            assert!((life_hours(t, class) - RATED_LIFE_H).abs() < 1e-9);
            assert!((life_hours(t + 10.0, class) - RATED_LIFE_H / 2.0).abs() < 1e-9);
            assert!((life_hours(t - 20.0, class) - RATED_LIFE_H * 4.0).abs() < 1e-9);
        }
        assert!((life_used(1000.0, 155.0, InsulationClass::F) - 0.05).abs() < 1e-12);
        assert!((health(0.05) - 0.95).abs() < 1e-12);
        assert_eq!(health(2.0), 0.0);
    }
}
