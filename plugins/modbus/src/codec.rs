//! Engineering values ↔ holding-register words. A PLC publishes a temperature of 21.5 °C as the `I16` 215 with
//! scale 10, or a flow as an IEEE `F32` spread over two registers in the PLC's word order: a [`RegisterSpec`]
//! says which, so that the twin reads and writes the engineering value and never the raw words.

use std::fmt;

use crate::CodecError;

/// Smallest accepted `|scale|`: keeps decoded values finite for every register content.
const MIN_SCALE: f64 = 1e-9;
/// Largest accepted `|scale|`.
const MAX_SCALE: f64 = 1e9;

/// How a register value is laid out in holding registers (16-bit words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Unsigned 16-bit integer, one register, 0..=65535.
    U16,
    /// Two's-complement signed 16-bit integer, one register, -32768..=32767.
    I16,
    /// Unsigned 32-bit integer, two registers, 0..=4294967295.
    U32,
    /// IEEE 754 single precision, two registers; NaN and infinity are refused both ways.
    F32,
}

impl Encoding {
    /// Number of 16-bit registers the encoding occupies.
    pub fn word_count(self) -> usize {
        match self {
            Encoding::U16 | Encoding::I16 => 1,
            Encoding::U32 | Encoding::F32 => 2,
        }
    }

    /// Smallest and largest register value (after scaling) the encoding holds.
    pub fn range(self) -> (f64, f64) {
        match self {
            Encoding::U16 => (0.0, f64::from(u16::MAX)),
            Encoding::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
            Encoding::U32 => (0.0, f64::from(u32::MAX)),
            Encoding::F32 => (-f64::from(f32::MAX), f64::from(f32::MAX)),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Encoding::U16 => "U16",
            Encoding::I16 => "I16",
            Encoding::U32 => "U32",
            Encoding::F32 => "F32",
        };
        f.write_str(name)
    }
}

/// Order of the two registers of a 32-bit value (the bytes inside each register are always big-endian, as
/// Modbus defines them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WordOrder {
    /// The most significant word at the lower address ("big-endian", "ABCD"): 0x44A8C000 → `[0x44A8, 0xC000]`.
    #[default]
    HighFirst,
    /// The least significant word at the lower address ("word swap", "CDAB"): 0x44A8C000 → `[0xC000, 0x44A8]`.
    LowFirst,
}

/// Where an engineering value lives in the holding registers and how it is encoded there.
///
/// Register value = engineering value × `scale`; the integer encodings round it to the nearest integer (halves
/// away from zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegisterSpec {
    /// First holding register (0-based protocol address, as on the wire; "register 40011" is address 10).
    pub address: u16,
    pub encoding: Encoding,
    /// Register value per engineering unit (10 for "tenths of a degree"); finite, `|scale|` in 1e-9..=1e9.
    pub scale: f64,
    /// Order of the two registers of `U32` and `F32` (ignored by the 16-bit encodings).
    pub word_order: WordOrder,
}

impl RegisterSpec {
    /// A spec with scale 1 and [`WordOrder::HighFirst`].
    pub fn new(address: u16, encoding: Encoding) -> Self {
        RegisterSpec { address, encoding, scale: 1.0, word_order: WordOrder::HighFirst }
    }

    /// The same spec with another scale.
    pub fn with_scale(self, scale: f64) -> Self {
        RegisterSpec { scale, ..self }
    }

    /// The same spec with another word order.
    pub fn with_word_order(self, word_order: WordOrder) -> Self {
        RegisterSpec { word_order, ..self }
    }

    /// Number of 16-bit registers the value occupies (1 or 2).
    pub fn word_count(&self) -> usize {
        self.encoding.word_count()
    }

    /// The register words for the engineering value `value` (1 word for 16-bit encodings, 2 in `word_order`
    /// for 32-bit ones). Refuses non-finite values and values whose scaled (and, for integers, rounded)
    /// register value is outside the encoding's range.
    pub fn encode(&self, value: f64) -> Result<Vec<u16>, CodecError> {
        self.check_scale()?;
        let encoding = self.encoding;
        if !value.is_finite() {
            return Err(CodecError::NonFinite { value, encoding });
        }
        let scaled = value * self.scale;
        let (min, max) = encoding.range();
        let out_of_range =
            |scaled: f64| CodecError::OutOfRange { value, scale: self.scale, scaled, encoding, min, max };
        if encoding == Encoding::F32 {
            // Also refuses an overflow of value × scale to infinity.
            if !(min..=max).contains(&scaled) {
                return Err(out_of_range(scaled));
            }
            // Rounds to the nearest f32; finite because |scaled| <= f32::MAX.
            return Ok(self.split((scaled as f32).to_bits()));
        }
        let rounded = scaled.round();
        if !(min..=max).contains(&rounded) {
            return Err(out_of_range(rounded));
        }
        // The range check above makes these casts exact.
        Ok(match encoding {
            Encoding::U16 => vec![rounded as u16],
            Encoding::I16 => vec![rounded as i16 as u16],
            Encoding::U32 | Encoding::F32 => self.split(rounded as u32),
        })
    }

    /// The engineering value held by `words` (exactly [`word_count`](Self::word_count) registers, as read from
    /// `address` on). An F32 that is NaN or infinite is an error, not a value.
    pub fn decode(&self, words: &[u16]) -> Result<f64, CodecError> {
        self.check_scale()?;
        let encoding = self.encoding;
        let expected = encoding.word_count();
        if words.len() != expected {
            return Err(CodecError::WrongWordCount { encoding, expected, got: words.len() });
        }
        let raw = match (encoding, words) {
            (Encoding::U16, &[w]) => f64::from(w),
            (Encoding::I16, &[w]) => f64::from(w as i16),
            (Encoding::U32, &[a, b]) => f64::from(self.join(a, b)),
            (Encoding::F32, &[a, b]) => {
                let f = f32::from_bits(self.join(a, b));
                if !f.is_finite() {
                    return Err(CodecError::NonFiniteRegister { address: self.address, words: words.to_vec() });
                }
                f64::from(f)
            }
            _ => return Err(CodecError::WrongWordCount { encoding, expected, got: words.len() }),
        };
        Ok(raw / self.scale)
    }

    fn check_scale(&self) -> Result<(), CodecError> {
        let magnitude = self.scale.abs();
        if (MIN_SCALE..=MAX_SCALE).contains(&magnitude) {
            Ok(())
        } else {
            Err(CodecError::InvalidScale { scale: self.scale })
        }
    }

    /// The two registers of a 32-bit value, in `word_order`.
    fn split(&self, bits: u32) -> Vec<u16> {
        let high = (bits >> 16) as u16;
        let low = (bits & 0xFFFF) as u16;
        match self.word_order {
            WordOrder::HighFirst => vec![high, low],
            WordOrder::LowFirst => vec![low, high],
        }
    }

    /// The 32-bit value of the registers `first` (lower address) and `second`, in `word_order`.
    fn join(&self, first: u16, second: u16) -> u32 {
        let (high, low) = match self.word_order {
            WordOrder::HighFirst => (first, second),
            WordOrder::LowFirst => (second, first),
        };
        (u32::from(high) << 16) | u32::from(low)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spec(encoding: Encoding) -> RegisterSpec {
        RegisterSpec::new(100, encoding)
    }

    #[test]
    fn u16_encodes_one_word_and_refuses_values_outside_0_to_65535() {
        let s = spec(Encoding::U16);
        assert_eq!(s.word_count(), 1);
        assert_eq!(s.encode(0.0).unwrap(), [0]);
        assert_eq!(s.encode(1234.0).unwrap(), [1234]);
        assert_eq!(s.encode(65535.0).unwrap(), [0xFFFF]);
        assert_eq!(s.encode(65535.4).unwrap(), [0xFFFF], "rounds into range");
        assert_eq!(s.encode(-0.4).unwrap(), [0], "rounds into range");
        assert!(matches!(s.encode(65536.0), Err(CodecError::OutOfRange { .. })));
        assert!(matches!(s.encode(-1.0), Err(CodecError::OutOfRange { .. })));
        assert_eq!(s.decode(&[0xFFFF]).unwrap(), 65535.0);
        assert_eq!(s.decode(&[7]).unwrap(), 7.0);
    }

    #[test]
    fn i16_is_twos_complement_including_the_extremes() {
        let s = spec(Encoding::I16);
        assert_eq!(s.encode(-1.0).unwrap(), [0xFFFF]);
        assert_eq!(s.encode(-32768.0).unwrap(), [0x8000]);
        assert_eq!(s.encode(32767.0).unwrap(), [0x7FFF]);
        assert_eq!(s.encode(-215.0).unwrap(), [0xFF29]);
        assert_eq!(s.decode(&[0xFFFF]).unwrap(), -1.0);
        assert_eq!(s.decode(&[0x8000]).unwrap(), -32768.0);
        assert_eq!(s.decode(&[0xFF29]).unwrap(), -215.0);
        assert!(matches!(s.encode(32768.0), Err(CodecError::OutOfRange { .. })));
        assert!(matches!(s.encode(-32769.0), Err(CodecError::OutOfRange { .. })));
    }

    #[test]
    fn u32_splits_into_two_words_in_either_word_order() {
        let hi = spec(Encoding::U32);
        let lo = hi.with_word_order(WordOrder::LowFirst);
        assert_eq!(hi.word_count(), 2);
        assert_eq!(hi.encode(305_419_896.0).unwrap(), [0x1234, 0x5678], "0x12345678");
        assert_eq!(lo.encode(305_419_896.0).unwrap(), [0x5678, 0x1234]);
        assert_eq!(hi.decode(&[0x1234, 0x5678]).unwrap(), 305_419_896.0);
        assert_eq!(lo.decode(&[0x5678, 0x1234]).unwrap(), 305_419_896.0);
        assert_eq!(hi.encode(4_294_967_295.0).unwrap(), [0xFFFF, 0xFFFF]);
        assert_eq!(hi.encode(65536.0).unwrap(), [0x0001, 0x0000]);
        assert_eq!(lo.encode(65536.0).unwrap(), [0x0000, 0x0001]);
        assert!(matches!(hi.encode(4_294_967_296.0), Err(CodecError::OutOfRange { .. })));
        assert!(matches!(hi.encode(-1.0), Err(CodecError::OutOfRange { .. })));
    }

    #[test]
    fn f32_matches_known_ieee_bit_patterns_in_either_word_order() {
        let hi = spec(Encoding::F32);
        let lo = hi.with_word_order(WordOrder::LowFirst);
        // 1350.0 = 0x44A8C000
        assert_eq!(hi.encode(1350.0).unwrap(), [0x44A8, 0xC000]);
        assert_eq!(lo.encode(1350.0).unwrap(), [0xC000, 0x44A8]);
        assert_eq!(hi.decode(&[0x44A8, 0xC000]).unwrap(), 1350.0);
        assert_eq!(lo.decode(&[0xC000, 0x44A8]).unwrap(), 1350.0);
        // -2.5 = 0xC0200000, 1.0 = 0x3F800000
        assert_eq!(hi.encode(-2.5).unwrap(), [0xC020, 0x0000]);
        assert_eq!(hi.encode(1.0).unwrap(), [0x3F80, 0x0000]);
        assert_eq!(lo.encode(1.0).unwrap(), [0x0000, 0x3F80]);
        assert_eq!(hi.decode(&[0x3F80, 0x0000]).unwrap(), 1.0);
        // The nearest f32: 0.1 is 0x3DCCCCCD.
        assert_eq!(hi.encode(0.1).unwrap(), [0x3DCC, 0xCCCD]);
        assert!(matches!(hi.encode(1e39), Err(CodecError::OutOfRange { .. })));
        assert!(matches!(hi.encode(f64::MAX), Err(CodecError::OutOfRange { .. })));
    }

    #[test]
    fn f32_registers_holding_nan_or_infinity_are_an_error() {
        let s = spec(Encoding::F32);
        for words in [[0x7FC0, 0x0000], [0x7F80, 0x0000], [0xFF80, 0x0000], [0xFFFF, 0xFFFF]] {
            let err = s.decode(&words).unwrap_err();
            assert!(matches!(err, CodecError::NonFiniteRegister { address: 100, .. }), "{words:04X?}: {err}");
            assert!(err.to_string().contains("address 100"), "{err}");
        }
    }

    #[test]
    fn scale_10_rounds_to_the_nearest_tenth() {
        let s = spec(Encoding::I16).with_scale(10.0);
        assert_eq!(s.encode(21.5).unwrap(), [215]);
        assert_eq!(s.encode(21.54).unwrap(), [215]);
        assert_eq!(s.encode(21.56).unwrap(), [216]);
        assert_eq!(s.encode(2.25).unwrap(), [23], "22.5 rounds half away from zero");
        assert_eq!(s.encode(-2.25).unwrap(), [(-23i16) as u16]);
        assert_eq!(s.encode(-12.3).unwrap(), [(-123i16) as u16]);
        assert_eq!(s.decode(&[215]).unwrap(), 21.5);
        assert_eq!(s.decode(&[(-123i16) as u16]).unwrap(), -12.3);
        let u = spec(Encoding::U16).with_scale(10.0);
        assert_eq!(u.encode(6553.5).unwrap(), [65535]);
        assert!(matches!(u.encode(6553.6), Err(CodecError::OutOfRange { .. })));
        let f = spec(Encoding::F32).with_scale(0.001);
        assert_eq!(f.encode(1_350_000.0).unwrap(), [0x44A8, 0xC000], "1350000 × 0.001 = 1350.0");
    }

    #[test]
    fn out_of_range_message_names_value_encoding_and_range() {
        let err = spec(Encoding::U16).with_scale(10.0).encode(7000.0).unwrap_err();
        let msg = err.to_string();
        for part in ["7000", "scale 10", "70000", "U16", "0..=65535"] {
            assert!(msg.contains(part), "{part:?} missing in {msg:?}");
        }
        let msg = spec(Encoding::I16).encode(-40000.0).unwrap_err().to_string();
        for part in ["-40000", "I16", "-32768..=32767"] {
            assert!(msg.contains(part), "{part:?} missing in {msg:?}");
        }
    }

    #[test]
    fn non_finite_values_are_refused_by_every_encoding() {
        for encoding in [Encoding::U16, Encoding::I16, Encoding::U32, Encoding::F32] {
            for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let err = spec(encoding).encode(value).unwrap_err();
                assert!(matches!(err, CodecError::NonFinite { .. }), "{encoding} {value}: {err}");
                let msg = err.to_string();
                assert!(msg.contains(&encoding.to_string()) && msg.contains(&value.to_string()), "{msg}");
            }
        }
    }

    #[test]
    fn wrong_word_count_and_invalid_scale_are_errors() {
        assert_eq!(
            spec(Encoding::F32).decode(&[1]),
            Err(CodecError::WrongWordCount { encoding: Encoding::F32, expected: 2, got: 1 })
        );
        assert!(matches!(spec(Encoding::U16).decode(&[]), Err(CodecError::WrongWordCount { .. })));
        assert!(matches!(spec(Encoding::U16).decode(&[1, 2]), Err(CodecError::WrongWordCount { .. })));
        assert!(matches!(spec(Encoding::U32).decode(&[1, 2, 3]), Err(CodecError::WrongWordCount { .. })));
        for scale in [0.0, f64::NAN, f64::INFINITY, 1e-12, 1e12] {
            let s = spec(Encoding::U16).with_scale(scale);
            assert!(matches!(s.encode(1.0), Err(CodecError::InvalidScale { .. })), "{scale}");
            assert!(matches!(s.decode(&[1]), Err(CodecError::InvalidScale { .. })), "{scale}");
        }
        assert_eq!(spec(Encoding::I16).with_scale(-1.0).encode(5.0).unwrap(), [(-5i16) as u16], "negative scale");
    }

    fn any_encoding() -> impl Strategy<Value = Encoding> {
        prop_oneof![Just(Encoding::U16), Just(Encoding::I16), Just(Encoding::U32), Just(Encoding::F32)]
    }

    fn any_word_order() -> impl Strategy<Value = WordOrder> {
        prop_oneof![Just(WordOrder::HighFirst), Just(WordOrder::LowFirst)]
    }

    proptest! {
        /// decode(encode(v)) == v within the quantisation step, for every value whose register value is in range.
        #[test]
        fn decode_inverts_encode_within_the_quantisation_step(
            encoding in any_encoding(),
            word_order in any_word_order(),
            scale in prop_oneof![Just(1.0), Just(10.0), Just(100.0), Just(0.1), Just(0.001), Just(-10.0)],
            unit in 0.0f64..=1.0,
        ) {
            let s = RegisterSpec { address: 7, encoding, scale, word_order };
            let (min, max) = encoding.range();
            let (lo, hi) = if encoding == Encoding::F32 {
                (-1e30, 1e30)
            } else {
                // Keep the rounded register value inside the range.
                (min - 0.49, max + 0.49)
            };
            let scaled = lo + (hi - lo) * unit;
            let value = scaled / scale;
            let words = s.encode(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(words.len(), s.word_count());
            let back = s.decode(&words).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let step = if encoding == Encoding::F32 {
                value.abs() * (f64::from(f32::EPSILON) / 2.0 + 1e-15) + 1e-44 / scale.abs()
            } else {
                0.5 / scale.abs() + value.abs() * 1e-15
            };
            prop_assert!((back - value).abs() <= step, "{value} -> {words:04X?} -> {back} (step {step})");
        }

        /// Arbitrary register contents never panic the decoder, and what decodes re-encodes to the same words.
        #[test]
        fn decode_of_any_words_is_an_error_or_re_encodes_exactly(
            encoding in any_encoding(),
            word_order in any_word_order(),
            words in proptest::collection::vec(any::<u16>(), 0..4),
        ) {
            let s = RegisterSpec { address: 0, encoding, scale: 1.0, word_order };
            if let Ok(v) = s.decode(&words) {
                prop_assert_eq!(s.encode(v).map_err(|e| TestCaseError::fail(e.to_string()))?, words);
            }
        }
    }
}
