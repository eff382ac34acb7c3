//! JSON payloads from devices: parse once, then pick numbers, strings and timestamps with small `$.a.b[0]`
//! paths, each compiled once. Every failure is a [`CodecError`] (never a panic), so one bad message costs one sample, not the twin.

use serde_json::Value;

use crate::CodecError;

/// Largest JSON payload [`parse`] accepts, in bytes (16 MiB). MQTT payloads are capped by `max_packet_bytes`
/// anyway; this guards direct callers.
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// Numeric timestamps above this are taken as milliseconds since the Unix epoch (1e11 s is year 5138).
pub const MS_THRESHOLD: f64 = 1e11;

/// Parses a JSON payload. A number outside the f64 range (e.g. `1e400`) makes the document unrepresentable and
/// is reported as [`CodecError::NonFinite`] with path `"$"`; serde_json's own depth limit (128) guards against
/// deeply nested input.
pub fn parse(payload: &[u8]) -> Result<Value, CodecError> {
    if payload.len() > MAX_JSON_BYTES {
        return Err(CodecError::PayloadTooLarge { bytes: payload.len(), max_bytes: MAX_JSON_BYTES });
    }
    serde_json::from_slice(payload).map_err(|e| {
        let msg = e.to_string();
        if msg.starts_with("number out of range") {
            CodecError::NonFinite { path: "$".into() }
        } else {
            CodecError::InvalidJson(msg)
        }
    })
}

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A JSON path, compiled once and walked on every message: `$`, then `.key`, `['key.with.dots']`, `["key"]` or
/// `[0]` steps (one value, no wildcards or filters).
///
/// The twin reads one value per signal per message at a fixed path, so the path is compiled when the twin is
/// built and each message costs a walk of its steps. A general JSONPath engine (`serde_json_path`, RFC 9535) was
/// tried here: its query builds a node list per step, and the 24 h pump-station run was 6 to 7 % slower.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
    text: String,
}

impl JsonPath {
    /// Compiles `text`, or says why it is no path of this form (`BadPath`).
    pub fn parse(text: &str) -> Result<Self, CodecError> {
        let bad = |reason: &str| CodecError::BadPath { path: text.to_string(), reason: reason.to_string() };
        let mut rest = text.strip_prefix('$').ok_or_else(|| bad("must start with '$'"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() {
                    return Err(bad("empty key after '.'"));
                }
                steps.push(Step::Key(key.to_string()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                if let Some(q) = r.strip_prefix('\'').or_else(|| r.strip_prefix('"')) {
                    let quote = if r.starts_with('\'') { "']" } else { "\"]" };
                    let end = q.find(quote).ok_or_else(|| bad("unterminated quoted key"))?;
                    steps.push(Step::Key(q[..end].to_string()));
                    rest = &q[end + 2..];
                } else {
                    let end = r.find(']').ok_or_else(|| bad("missing ']'"))?;
                    let idx = r[..end].trim().parse::<usize>().map_err(|_| bad("array index must be a number >= 0"))?;
                    steps.push(Step::Index(idx));
                    rest = &r[end + 1..];
                }
            } else {
                return Err(bad("expected '.' or '[' "));
            }
        }
        Ok(Self { steps, text: text.to_string() })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The value at `path`, or `MissingPath`.
pub fn value_at<'v>(v: &'v Value, path: &JsonPath) -> Result<&'v Value, CodecError> {
    let mut cur = v;
    for step in &path.steps {
        let next = match step {
            Step::Key(k) => cur.as_object().and_then(|o| o.get(k)),
            Step::Index(i) => cur.as_array().and_then(|a| a.get(*i)),
        };
        cur = next.ok_or_else(|| CodecError::MissingPath { path: path.text.clone() })?;
    }
    Ok(cur)
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.len() > 40 => format!("string {:?}...", s.chars().take(40).collect::<String>()),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Number at `path`. Strings holding a number (`"12.5"`, `" 3 "`) are accepted; `"NaN"`, `"inf"` and
/// out-of-range strings (`"1e400"`) give `NonFinite`; anything else (bool, null, text, arrays) `NotANumber`.
pub fn number_at(v: &Value, path: &JsonPath) -> Result<f64, CodecError> {
    number(value_at(v, path)?, path.as_str())
}

/// A selected value (found at `path`, named in errors) as a number, as [`number_at`] reads it.
pub fn number(x: &Value, path: &str) -> Result<f64, CodecError> {
    let f = match x {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| CodecError::NotANumber { path: path.to_string(), found: kind(x) })?;
    if f.is_finite() { Ok(f) } else { Err(CodecError::NonFinite { path: path.to_string() }) }
}

/// String at `path` (no conversion from other types).
pub fn string_at(v: &Value, path: &JsonPath) -> Result<String, CodecError> {
    match value_at(v, path)? {
        Value::String(s) => Ok(s.clone()),
        other => Err(CodecError::NotAString { path: path.to_string(), found: kind(other) }),
    }
}

/// Timestamp at `path` as Unix seconds (f64). A number is Unix seconds, or milliseconds when > 1e11; a string
/// is RFC 3339 (`2024-05-01T12:00:00.250Z`, `+02:00` offsets) or a number in a string.
pub fn timestamp_at(v: &Value, path: &JsonPath) -> Result<f64, CodecError> {
    timestamp(value_at(v, path)?, path.as_str())
}

/// A selected value (found at `path`, named in errors) as a timestamp, as [`timestamp_at`] reads it.
pub fn timestamp(x: &Value, path: &str) -> Result<f64, CodecError> {
    let bad = |reason: String| CodecError::BadTimestamp { path: path.to_string(), reason };
    let raw = match x {
        Value::Number(n) => n.as_f64().ok_or_else(|| bad("number not representable".into()))?,
        Value::String(s) => {
            let s = s.trim();
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => return Ok(t.unix_timestamp_nanos() as f64 / 1e9),
                Err(e) => s.parse::<f64>().map_err(|_| bad(format!("not RFC 3339 ({e}) nor a number")))?,
            }
        }
        other => return Err(bad(format!("expected a number or an RFC 3339 string, found {}", kind(other)))),
    };
    if !raw.is_finite() {
        return Err(CodecError::NonFinite { path: path.to_string() });
    }
    Ok(if raw.abs() > MS_THRESHOLD { raw / 1000.0 } else { raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    fn doc() -> Value {
        parse(
            br#"{"a":{"b":2.5,"c":[10,20,{"d":-3}],"s":"12.75","t":"text","nan":"NaN","inf":"-inf",
            "big":"1e400","bool":true,"null":null,"dotted.key":7},"ts_s":1700000000,"ts_ms":1700000000123,
            "ts_rfc":"2023-11-14T22:13:20.5Z","ts_off":"2023-11-15T00:13:20+02:00","ts_bad":"yesterday"}"#,
        )
        .unwrap()
    }

    #[test]
    fn nested_and_array_paths() {
        let v = doc();
        assert_eq!(number_at(&v, &p("$.a.b")).unwrap(), 2.5);
        assert_eq!(number_at(&v, &p("$.a.c[1]")).unwrap(), 20.0);
        assert_eq!(number_at(&v, &p("$.a.c[2].d")).unwrap(), -3.0);
        assert_eq!(number_at(&v, &p("$.a['dotted.key']")).unwrap(), 7.0);
        assert_eq!(string_at(&v, &p("$.a.t")).unwrap(), "text");
        let arr = parse(b"[1,[2,3]]").unwrap();
        assert_eq!(number_at(&arr, &p("$[1][0]")).unwrap(), 2.0);
        assert_eq!(number_at(&parse(b"42").unwrap(), &p("$")).unwrap(), 42.0);
    }

    #[test]
    fn missing_paths_and_bad_paths() {
        let v = doc();
        for text in ["$.x", "$.a.b.c", "$.a.c[3]", "$.a.c[0].d", "$[0]"] {
            assert!(matches!(number_at(&v, &p(text)), Err(CodecError::MissingPath { .. })), "{text}");
        }
        for text in ["a.b", "$.", "$.a[", "$.a[-1]", "$.a[x]", "$a", "$.a['b", "$.a.c[*]"] {
            assert!(matches!(JsonPath::parse(text), Err(CodecError::BadPath { .. })), "{text}");
        }
        assert_eq!(number_at(&v, &p("$.a[\"dotted.key\"]")).unwrap(), 7.0);
    }

    #[test]
    fn wrong_types_and_numeric_strings() {
        let v = doc();
        assert_eq!(number_at(&v, &p("$.a.s")).unwrap(), 12.75, "string holding a number is accepted");
        for text in ["$.a.t", "$.a.bool", "$.a.null", "$.a.c", "$.a"] {
            assert!(matches!(number_at(&v, &p(text)), Err(CodecError::NotANumber { .. })), "{text}");
        }
        assert!(matches!(string_at(&v, &p("$.a.b")), Err(CodecError::NotAString { .. })));
    }

    #[test]
    fn nan_infinity_and_out_of_range_are_non_finite() {
        let v = doc();
        for text in ["$.a.nan", "$.a.inf", "$.a.big"] {
            assert!(matches!(number_at(&v, &p(text)), Err(CodecError::NonFinite { .. })), "{text}");
        }
        assert!(matches!(parse(br#"{"x":1e400}"#), Err(CodecError::NonFinite { .. })));
        assert!(matches!(parse(br#"{"x":-1e400}"#), Err(CodecError::NonFinite { .. })));
        // JSON has no NaN literal: it is a syntax error, not a panic.
        assert!(matches!(parse(br#"{"x":NaN}"#), Err(CodecError::InvalidJson(_))));
    }

    #[test]
    fn malformed_and_huge_payloads() {
        for p in [&b""[..], b"{", b"{\"a\":}", b"\xff\xfe", b"[1,2", b"nul"] {
            assert!(matches!(parse(p), Err(CodecError::InvalidJson(_))), "{p:?}");
        }
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err(), "deep nesting is an error, not a stack overflow");
        let mut big = String::from("{\"values\":[");
        for i in 0..500_000 {
            big.push_str(&format!("{i},"));
        }
        big.push_str("-1],\"x\":1}");
        assert!(big.len() > 3_000_000);
        let v = parse(big.as_bytes()).unwrap();
        assert_eq!(number_at(&v, &p("$.values[499999]")).unwrap(), 499_999.0);
        let too_big = vec![b' '; MAX_JSON_BYTES + 1];
        assert!(matches!(parse(&too_big), Err(CodecError::PayloadTooLarge { .. })));
        let long_digits = format!("{{\"x\":{}}}", "9".repeat(1000));
        assert!(matches!(parse(long_digits.as_bytes()), Err(CodecError::NonFinite { .. })));
    }

    #[test]
    fn timestamps_seconds_ms_and_rfc3339() {
        let v = doc();
        assert_eq!(timestamp_at(&v, &p("$.ts_s")).unwrap(), 1_700_000_000.0);
        assert!((timestamp_at(&v, &p("$.ts_ms")).unwrap() - 1_700_000_000.123).abs() < 1e-6);
        assert_eq!(timestamp_at(&v, &p("$.ts_rfc")).unwrap(), 1_700_000_000.5);
        assert_eq!(timestamp_at(&v, &p("$.ts_off")).unwrap(), 1_700_000_000.0);
        assert!(matches!(timestamp_at(&v, &p("$.ts_bad")), Err(CodecError::BadTimestamp { .. })));
        assert!(matches!(timestamp_at(&v, &p("$.a.bool")), Err(CodecError::BadTimestamp { .. })));
        assert!(matches!(timestamp_at(&v, &p("$.nope")), Err(CodecError::MissingPath { .. })));
        assert!(matches!(timestamp_at(&v, &p("$.a.nan")), Err(CodecError::NonFinite { .. })));
    }
}
