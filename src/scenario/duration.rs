//! Durations as engineers write them in scenario files and on the command line ("500ms", "1s", "30m", "36h", "7d").

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of simulated time, stored in seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Dur(f64);

const UNITS: [(&str, f64); 5] = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0)];

impl Dur {
    /// A duration of `s` seconds.
    pub const fn from_secs(s: f64) -> Self {
        Dur(s)
    }

    /// Seconds.
    pub fn secs(self) -> f64 {
        self.0
    }

    /// Parses "36h", "1.5d", "500ms"; a number followed by ms, s, m, h or d.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let err =
            || format!("invalid duration \"{text}\": expected a number followed by ms, s, m, h or d (e.g. \"36h\")");
        let value: f64 = num.parse().map_err(|_| err())?;
        let factor = UNITS.iter().find(|(u, _)| *u == unit.trim()).map(|(_, f)| *f).ok_or_else(err)?;
        let secs = value * factor;
        if !secs.is_finite() {
            return Err(err());
        }
        Ok(Dur(secs))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, factor) in UNITS.iter().rev() {
            let n = self.0 / factor;
            if self.0 >= *factor && (n - n.round()).abs() < 1e-9 {
                return write!(f, "{}{unit}", n.round());
            }
        }
        write!(f, "{}s", self.0)
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dur::parse(s)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(Dur::parse("500ms").unwrap().secs(), 0.5);
        assert_eq!(Dur::parse("1s").unwrap().secs(), 1.0);
        assert_eq!(Dur::parse("30m").unwrap().secs(), 1800.0);
        assert_eq!(Dur::parse("36h").unwrap().secs(), 129_600.0);
        assert_eq!(Dur::parse("1.5d").unwrap().secs(), 129_600.0);
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["", "h", "12", "3 weeks", "-1h", "1e400s"] {
            let e = Dur::parse(bad).unwrap_err();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Dur::from_secs(604_800.0).to_string(), "7d");
        assert_eq!(Dur::from_secs(129_600.0).to_string(), "36h");
        assert_eq!(Dur::from_secs(0.5).to_string(), "500ms");
        assert_eq!(Dur::from_secs(1.25).to_string(), "1250ms");
        assert_eq!(Dur::from_secs(0.0004).to_string(), "0.0004s");
    }
}
