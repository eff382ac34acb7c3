//! Physical quantities and the units a scenario may name for them, with the conversion to each quantity's
//! canonical unit (the unit the models use). One table serves scenario validation and sample ingestion.

use serde::{Deserialize, Serialize};

/// What a signal measures, or what a set-point commands. Each has one canonical unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Quantity {
    /// Bearing-housing vibration velocity, RMS over the aggregation window. Canonical: mm/s.
    VibrationVelocityRms,
    /// Bearing-housing vibration velocity, peak over the aggregation window. Canonical: mm/s.
    VibrationVelocityPeak,
    /// Peak / RMS of the vibration velocity. Canonical: dimensionless ("1").
    VibrationCrestFactor,
    /// Motor winding temperature. Canonical: °C.
    WindingTemperature,
    /// Bearing housing temperature. Canonical: °C.
    BearingTemperature,
    /// Volumetric flow. Canonical: m³/h.
    Flow,
    /// Motor line current. Canonical: A.
    MotorCurrent,
    /// Liquid level above a tank's bottom. Canonical: m.
    TankLevel,
    /// Shaft speed. Canonical: rpm.
    Speed,
}

/// One accepted unit: `canonical = value * scale + offset`.
struct UnitDef {
    name: &'static str,
    scale: f64,
    offset: f64,
}

const fn u(name: &'static str, scale: f64, offset: f64) -> UnitDef {
    UnitDef { name, scale, offset }
}

const VELOCITY: &[UnitDef] = &[u("mm/s", 1.0, 0.0), u("m/s", 1000.0, 0.0), u("in/s", 25.4, 0.0)];
const RATIO: &[UnitDef] = &[u("1", 1.0, 0.0)];
const TEMPERATURE: &[UnitDef] =
    &[u("degC", 1.0, 0.0), u("°C", 1.0, 0.0), u("K", 1.0, -273.15), u("degF", 5.0 / 9.0, -32.0 * 5.0 / 9.0)];
const FLOW: &[UnitDef] = &[u("m3/h", 1.0, 0.0), u("l/s", 3.6, 0.0), u("m3/s", 3600.0, 0.0), u("gpm", 0.227_124_7, 0.0)];
const CURRENT: &[UnitDef] = &[u("A", 1.0, 0.0), u("mA", 0.001, 0.0)];
const LENGTH: &[UnitDef] = &[u("m", 1.0, 0.0), u("cm", 0.01, 0.0), u("mm", 0.001, 0.0), u("ft", 0.3048, 0.0)];
const SPEED: &[UnitDef] = &[u("rpm", 1.0, 0.0), u("rad/s", 60.0 / std::f64::consts::TAU, 0.0), u("Hz", 60.0, 0.0)];

impl Quantity {
    fn units(self) -> &'static [UnitDef] {
        match self {
            Quantity::VibrationVelocityRms | Quantity::VibrationVelocityPeak => VELOCITY,
            Quantity::VibrationCrestFactor => RATIO,
            Quantity::WindingTemperature | Quantity::BearingTemperature => TEMPERATURE,
            Quantity::Flow => FLOW,
            Quantity::MotorCurrent => CURRENT,
            Quantity::TankLevel => LENGTH,
            Quantity::Speed => SPEED,
        }
    }

    /// The unit the models use for this quantity.
    pub fn canonical_unit(self) -> &'static str {
        self.units()[0].name
    }

    /// The unit names accepted for this quantity, canonical first.
    pub fn unit_names(self) -> Vec<&'static str> {
        self.units().iter().map(|d| d.name).collect()
    }

    /// The conversion from `unit` to the canonical unit, or `None` when the unit does not measure this quantity.
    pub fn converter(self, unit: &str) -> Option<UnitConverter> {
        self.units().iter().find(|d| d.name == unit).map(|d| UnitConverter { scale: d.scale, offset: d.offset })
    }
}

/// A resolved affine conversion into a quantity's canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnitConverter {
    scale: f64,
    offset: f64,
}

impl UnitConverter {
    /// Value in the source unit to the canonical unit.
    pub fn to_canonical(self, value: f64) -> f64 {
        value * self.scale + self.offset
    }

    /// Value in the canonical unit back to the source unit.
    pub fn from_canonical(self, value: f64) -> f64 {
        (value - self.offset) / self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_convert_to_celsius() {
        let k = Quantity::WindingTemperature.converter("K").unwrap();
        assert!((k.to_canonical(373.15) - 100.0).abs() < 1e-9);
        let f = Quantity::WindingTemperature.converter("degF").unwrap();
        assert!((f.to_canonical(212.0) - 100.0).abs() < 1e-9);
        assert!((f.to_canonical(32.0)).abs() < 1e-9);
        assert!((f.from_canonical(100.0) - 212.0).abs() < 1e-9);
    }

    #[test]
    fn flow_and_speed_convert() {
        let ls = Quantity::Flow.converter("l/s").unwrap();
        assert!((ls.to_canonical(1.0) - 3.6).abs() < 1e-12);
        let rads = Quantity::Speed.converter("rad/s").unwrap();
        assert!((rads.to_canonical(std::f64::consts::PI) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn a_unit_of_another_quantity_is_refused() {
        assert!(Quantity::Flow.converter("mm/s").is_none());
        assert!(Quantity::VibrationVelocityRms.converter("furlong/fortnight").is_none());
        assert_eq!(Quantity::VibrationVelocityRms.canonical_unit(), "mm/s");
    }
}
