//! Telemetry from elsewhere as CSV, for `twin run --replay FILE.csv`: a header row, then one row per time. Each
//! value becomes a value-level message ([`value_message`]) that goes through the same channel, checks and counters
//! as live data, received at its row's time; so an out-of-range or NaN value is counted (`out_of_range`,
//! `non_finite`) exactly as it would be live. A file that cannot be read as such a table (wrong number of fields,
//! an unreadable time or number, an unknown signal, time going back) is refused whole, every bad line named.
//!
//! Two layouts, told apart by the header; the first column is the time, either `t_s` (seconds since the
//! scenario's start) or `time` (RFC 3339, or Unix seconds; the first row is the scenario's start):
//! - long: `t_s,signal,value`, one value per row;
//! - wide: `t_s,<signal id>,<signal id>,...`, one column per signal, an empty cell for no sample.
//!
//! Values are in the signal's unit as the scenario declares it (`unit`); `NaN` and `inf` are read as numbers
//! (and then counted as `non_finite`). Fields are separated by commas and read by the `csv` crate (RFC 4180): a
//! field in double quotes may hold commas, doubled quotes and line breaks; spaces around a field are trimmed.
//! Blank lines are skipped.

use std::collections::BTreeSet;
use std::path::Path;

use super::quality::{RawMessage, value_message};
use super::recording::RecordingError;
use crate::scenario::Scenario;

/// How the rows are laid out.
enum Layout {
    /// `time,signal,value`.
    Long,
    /// `time,<id>,<id>,...`: the signal id of each value column.
    Wide(Vec<String>),
}

/// Reads a CSV file into value-level messages, in file order (see the module docs); `epoch_unix_s` is the Unix
/// time of the twin's t = 0.
pub fn read(path: &Path, scenario: &Scenario, epoch_unix_s: f64) -> Result<Vec<RawMessage>, RecordingError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
    parse(&text, path, scenario, epoch_unix_s)
}

/// One field, trimmed, and unquoted where spaces before its opening quote kept the reader from doing it.
fn field(raw: &str) -> &str {
    let f = raw.trim();
    f.strip_prefix('"').and_then(|f| f.strip_suffix('"')).map_or(f, str::trim)
}

/// A record's line and its fields, trimmed and unquoted.
type Record = (usize, Vec<String>);
/// A line and what is wrong with it.
type LineProblem = (usize, String);

/// The non-blank records of `text` with the line each starts on, or the line and reason of a record the reader
/// cannot take (such as an unclosed quote).
fn records(text: &str) -> Vec<Result<Record, LineProblem>> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    // The line a record starts on, from its byte offset (the reader's own line count skips blank lines). Records
    // come in order, so the newlines are counted from the previous record's start on: linear in the text, not
    // quadratic (a long recording has millions of rows).
    let (mut counted_to, mut newlines) = (0usize, 0usize);
    let mut line_at = |p: Option<&csv::Position>| {
        let at = p.map_or(0, |p| p.byte() as usize).min(text.len());
        let start = at + text[at..].len() - text[at..].trim_start_matches(['\n', '\r']).len();
        if start < counted_to {
            (counted_to, newlines) = (0, 0);
        }
        newlines += text.as_bytes()[counted_to..start].iter().filter(|&&b| b == b'\n').count();
        counted_to = start;
        1 + newlines
    };
    let mut out = Vec::new();
    for r in reader.records() {
        match r {
            Ok(r) => {
                let line = line_at(r.position());
                let fields: Vec<String> = r.iter().map(|f| field(f).to_owned()).collect();
                if fields.iter().any(|f| !f.is_empty()) {
                    out.push(Ok((line, fields)));
                }
            }
            Err(e) => {
                let line = line_at(e.position());
                out.push(Err((line, format!("not a CSV record: {e}"))));
            }
        }
    }
    out
}

/// Parses CSV text; `path` names it in errors.
pub fn parse(
    text: &str,
    path: &Path,
    scenario: &Scenario,
    epoch_unix_s: f64,
) -> Result<Vec<RawMessage>, RecordingError> {
    let mut problems: Vec<(usize, String)> = Vec::new();
    let fail = |problems: Vec<(usize, String)>| RecordingError::Rows { path: path.to_owned(), problems };
    let known: BTreeSet<&str> = scenario.signals.iter().map(|s| s.id.as_str()).collect();
    let known_list = || known.iter().copied().collect::<Vec<_>>().join(", ");
    let mut lines = records(text.trim_start_matches('\u{feff}')).into_iter();

    let (header_line, names) = match lines.next() {
        None => return Err(fail(vec![(1, "empty file: expected a header row such as t_s,signal,value".into())])),
        Some(Err(problem)) => return Err(fail(vec![problem])),
        Some(Ok(header)) => header,
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let absolute = match names[0] {
        "t_s" => false,
        "time" => true,
        other => {
            let message = format!(
                "the first column must be t_s (seconds since the scenario's start) or time (RFC 3339), found \
                 \"{other}\"; headers: t_s,signal,value or t_s,<signal id>,..."
            );
            return Err(fail(vec![(header_line, message)]));
        }
    };
    let layout = if names[1..] == ["signal", "value"] {
        Layout::Long
    } else {
        let mut seen = BTreeSet::new();
        for (col, name) in names.iter().enumerate().skip(1) {
            if !known.contains(name) {
                let what = if name.is_empty() { "empty column name".to_owned() } else { format!("\"{name}\"") };
                problems.push((
                    header_line,
                    format!(
                        "column {}: {what} is not a signal of the scenario; known signals: {}",
                        col + 1,
                        known_list()
                    ),
                ));
            } else if !seen.insert(*name) {
                problems.push((header_line, format!("column {}: signal \"{name}\" appears twice", col + 1)));
            }
        }
        if names.len() < 2 {
            problems.push((header_line, "no value columns: expected t_s,signal,value or t_s,<signal id>,...".into()));
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        Layout::Wide(names[1..].iter().map(|s| (*s).to_owned()).collect())
    };

    let mut out = Vec::new();
    let mut first_unix: Option<f64> = None;
    let mut last_t = f64::NEG_INFINITY;
    for record in lines {
        let (line, fields) = match record {
            Ok(r) => r,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        if fields.len() != names.len() {
            problems.push((line, format!("expected {} fields as in the header, found {}", names.len(), fields.len())));
            continue;
        }
        let t = if absolute {
            let v = serde_json::Value::String(fields[0].to_owned());
            match twin_mqtt::json::timestamp(&v, "time") {
                Ok(unix) => unix - *first_unix.get_or_insert(unix),
                Err(_) => {
                    problems.push((line, format!("time \"{}\" is neither RFC 3339 nor Unix seconds", fields[0])));
                    continue;
                }
            }
        } else {
            match fields[0].parse::<f64>() {
                Ok(t) if t.is_finite() => t,
                _ => {
                    problems.push((line, format!("t_s \"{}\" is not a finite number of seconds", fields[0])));
                    continue;
                }
            }
        };
        if t < last_t {
            problems.push((line, format!("time goes back to {t} s after {last_t} s: rows must be in time order")));
            continue;
        }
        last_t = t;
        let at = epoch_unix_s + t;
        let number = |cell: &str| cell.parse::<f64>().ok();
        match &layout {
            Layout::Long => {
                let (signal, cell) = (fields[1], fields[2]);
                if !known.contains(signal) {
                    problems.push((line, format!("unknown signal \"{signal}\"; known signals: {}", known_list())));
                } else if let Some(v) = number(cell) {
                    out.push(value_message(signal, v, at, at));
                } else {
                    problems.push((line, format!("value \"{cell}\" of {signal} is not a number")));
                }
            }
            Layout::Wide(ids) => {
                for (id, cell) in ids.iter().zip(&fields[1..]) {
                    if cell.is_empty() {
                        continue;
                    }
                    match number(cell) {
                        Some(v) => out.push(value_message(id, v, at, at)),
                        None => problems.push((line, format!("value \"{cell}\" of {id} is not a number"))),
                    }
                }
            }
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(fail(problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestSettings, Ingestor, Outcome};

    const SCENE: &str = r#"Scenario(version: 1, name: "t",
        assets: [(id: "T-1", kind: Tank(area_m2: 10.0, height_m: 4.0, initial_level_m: 2.0, inflow_m3h: 0.0))],
        signals: [
            (id: "T-1.level", asset: "T-1", quantity: TankLevel, unit: "cm",
             source: Mqtt(topic: "site/t1/level", value: "$.v", timestamp: "$.ts"), valid: (0.0, 400.0),
             period: "1s"),
        ])"#;

    fn scenario() -> Scenario {
        crate::scenario::parse(SCENE, Path::new("t.ron")).expect("valid")
    }

    fn parse_str(text: &str) -> Result<Vec<RawMessage>, String> {
        parse(text, Path::new("d.csv"), &scenario(), 1000.0).map_err(|e| e.to_string())
    }

    #[test]
    fn long_and_wide_layouts_give_the_same_messages() {
        let long = parse_str("t_s,signal,value\n0,T-1.level,250\n1.5, \"T-1.level\" ,251\n").unwrap();
        let wide = parse_str("t_s,T-1.level\n0,250\n\n1.5,251\n2,\n").unwrap();
        assert_eq!(long, wide);
        assert_eq!(long.len(), 2);
        assert_eq!(long[1].topic, "$twin/value/T-1.level");
        assert_eq!(long[1].received_s, 1001.5);
    }

    #[test]
    fn rfc3339_times_count_from_the_first_row() {
        let m = parse_str("time,T-1.level\n2024-05-01T08:00:00Z,250\n2024-05-01T08:00:02.5Z,251\n").unwrap();
        assert_eq!((m[0].received_s, m[1].received_s), (1000.0, 1002.5));
    }

    #[test]
    fn values_go_through_the_ingestors_checks_in_the_signals_unit() {
        let msgs = parse_str("t_s,signal,value\n0,T-1.level,250\n1,T-1.level,900\n2,T-1.level,NaN\n3,T-1.level,inf\n")
            .unwrap();
        let mut i = Ingestor::new(&scenario(), IngestSettings::default());
        for m in &msgs {
            i.ingest(m);
        }
        i.ingest(&msgs[0]); // a redelivery
        let out = i.release(f64::INFINITY);
        assert_eq!(out.len(), 1);
        assert!((out[0].value - 2.5).abs() < 1e-12, "250 cm is 2.5 m");
        assert_eq!(out[0].event_s, 1000.0);
        let c = i.counts();
        assert_eq!(c.get(&Outcome::OutOfRange), Some(&1));
        assert_eq!(c.get(&Outcome::NonFinite), Some(&2));
        assert_eq!(c.get(&Outcome::Duplicate), Some(&1));
    }

    #[test]
    fn every_bad_row_is_named_with_its_line() {
        let e = parse_str("t_s,signal,value\n0,T-1.level,1\n1,T-1.level\nx,T-1.level,2\n3,P-9.flow,1\n4,T-1.level,high\n2,T-1.level,1\n")
            .unwrap_err();
        for want in [
            "d.csv:3: expected 3 fields as in the header, found 2",
            "d.csv:4: t_s \"x\" is not a finite number of seconds",
            "d.csv:5: unknown signal \"P-9.flow\"; known signals: T-1.level",
            "d.csv:6: value \"high\" of T-1.level is not a number",
            "d.csv:7: time goes back to 2 s after 4 s",
        ] {
            assert!(e.contains(want), "{want}\nnot in\n{e}");
        }
        assert!(!e.contains("d.csv:2:"), "{e}");
    }

    #[test]
    fn a_quoted_field_may_hold_commas_quotes_and_line_breaks() {
        // A wide log whose header names the columns as a spreadsheet exports them, with a quoted note column
        // that is not a signal: refused, naming it whole (commas and all) rather than splitting it.
        let e = parse_str("t_s,T-1.level,\"operator note, free text\"\n0,250,x\n").unwrap_err();
        assert!(e.contains("column 3: \"operator note, free text\" is not a signal"), "{e}");
        // A long log with a quoted value holding a comma: one field, read as the value it is (not a number).
        let e = parse_str("t_s,signal,value\n0,T-1.level,\"2,5\"\n").unwrap_err();
        assert!(e.contains("d.csv:2: value \"2,5\" of T-1.level is not a number"), "{e}");
        // Quoted times, signals and values with commas elsewhere on the row parse as the fields they are.
        let m = parse_str("\"t_s\",\"signal\",\"value\"\n\"0\",\"T-1.level\",\"250\"\n").unwrap();
        assert_eq!(m.len(), 1);
        // A quoted field over two lines counts as one record; the next record's line is still right.
        let e = parse_str("t_s,signal,value\n0,\"T-1.\nlevel\",250\n1,T-1.level,x\n").unwrap_err();
        assert!(e.contains("d.csv:2: unknown signal \"T-1.\nlevel\"") && e.contains("d.csv:4: value \"x\""), "{e}");
    }

    #[test]
    fn lines_are_counted_across_blank_lines_and_crlf() {
        let e = parse_str("t_s,signal,value\r\n\r\n0,T-1.level,1\r\n\n\n1,T-1.level,x\r\n2,T-1.level\n\n").unwrap_err();
        assert!(e.contains("d.csv:6: value \"x\"") && e.contains("d.csv:7: expected 3 fields"), "{e}");
    }

    #[test]
    fn a_bad_header_is_named() {
        let e = parse_str("seconds,T-1.level\n0,1\n").unwrap_err();
        assert!(e.contains("d.csv:1: the first column must be t_s"), "{e}");
        let e = parse_str("\n\nt_s,T-1.level,T-1.lvl\n0,1,2\n").unwrap_err();
        assert!(e.contains("d.csv:3: column 3: \"T-1.lvl\" is not a signal of the scenario"), "{e}");
        assert!(parse_str("").unwrap_err().contains("d.csv:1: empty file"));
    }
}
