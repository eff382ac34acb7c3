//! Recordings of received telemetry: `--record FILE` writes every message the twin takes in, with its receive
//! time (the source time is in the payload), as JSON Lines; `--replay FILE` feeds such a file back through the
//! same ingestion path, each message when the twin's clock reaches its receive time. A CSV file of data from
//! elsewhere replays the same way (see [`super::csv`] and [`read_any`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::{RawMessage, Telemetry, TelemetrySender};
use crate::scenario::Scenario;
use crate::twin::{SimClock, TwinSystems};

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Receive time, Unix s.
    pub received_unix_s: f64,
    /// The payload as text (JSON payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The payload as hex, when it is not UTF-8 (protobuf).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
}

impl Record {
    /// The record of a received message.
    pub fn of(msg: &RawMessage) -> Self {
        match std::str::from_utf8(&msg.payload) {
            Ok(text) => Record {
                topic: msg.topic.clone(),
                received_unix_s: msg.received_s,
                payload: Some(text.to_owned()),
                payload_hex: None,
            },
            Err(_) => Record {
                topic: msg.topic.clone(),
                received_unix_s: msg.received_s,
                payload: None,
                payload_hex: Some(hex::encode(&msg.payload)),
            },
        }
    }

    fn into_message(self) -> Result<RawMessage, String> {
        let payload = match (self.payload, self.payload_hex) {
            (Some(t), None) => t.into_bytes(),
            (None, Some(h)) => hex::decode(&h).map_err(|e| format!("payload_hex: {e}"))?,
            _ => return Err("a record needs exactly one of payload and payload_hex".into()),
        };
        if !self.received_unix_s.is_finite() {
            return Err("received_unix_s is not a finite number".into());
        }
        Ok(RawMessage { topic: self.topic, payload, received_s: self.received_unix_s })
    }
}

/// Why a recording could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line { path: PathBuf, line: usize, message: String },
    /// Several bad lines (a CSV file), each with its 1-based line number.
    #[error("{}", Rows(path, problems))]
    Rows { path: PathBuf, problems: Vec<(usize, String)> },
}

/// Bad lines listed at most, one per line of the message.
const MAX_LISTED_ROWS: usize = 20;

struct Rows<'a>(&'a Path, &'a [(usize, String)]);

impl std::fmt::Display for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (line, message)) in self.1.iter().take(MAX_LISTED_ROWS).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{line}: {message}", self.0.display())?;
        }
        if self.1.len() > MAX_LISTED_ROWS {
            write!(f, "\n{}: ... and {} more bad lines", self.0.display(), self.1.len() - MAX_LISTED_ROWS)?;
        }
        Ok(())
    }
}

/// Reads a replay file of either format: CSV (see [`super::csv`]) when its name ends in `.csv` or its first
/// non-blank character is not `{`, else a JSON Lines recording (see [`read`]).
pub fn read_any(path: &Path, scenario: &Scenario, epoch_unix_s: f64) -> Result<Vec<RawMessage>, RecordingError> {
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) || {
        let text = std::fs::read(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
        text.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b != b'{')
    };
    if is_csv { super::csv::read(path, scenario, epoch_unix_s) } else { read(path) }
}

/// Reads a whole recording, in file order; every bad line is an error naming its line number.
pub fn read(path: &Path) -> Result<Vec<RawMessage>, RecordingError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
    parse(&text, path)
}

/// Parses the text of a recording; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<RawMessage>, RecordingError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| RecordingError::Line { path: path.to_owned(), line: i + 1, message };
        let record: Record = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        out.push(record.into_message().map_err(bad)?);
    }
    Ok(out)
}

/// The open recording file of a run.
#[derive(Resource)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    /// The first write error, if any; later messages are not recorded.
    pub error: Option<String>,
}

impl Recorder {
    /// Creates (or truncates) the recording file.
    pub fn create(path: &Path) -> Result<Self, RecordingError> {
        let file = File::create(path).map_err(|source| RecordingError::Io { path: path.to_owned(), source })?;
        Ok(Self { path: path.to_owned(), out: BufWriter::new(file), error: None })
    }

    /// Appends one message.
    pub fn write(&mut self, msg: &RawMessage) {
        if self.error.is_some() {
            return;
        }
        let line = serde_json::to_string(&Record::of(msg)).unwrap_or_default();
        if let Err(e) = writeln!(self.out, "{line}") {
            self.error = Some(format!("{}: {e}", self.path.display()));
        }
    }

    /// Flushes to disk; the first error of the whole recording, if any.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Err(e) = self.out.flush() {
            self.error.get_or_insert(format!("{}: {e}", self.path.display()));
        }
        self.error.clone().map_or(Ok(()), Err)
    }
}

/// A recording being played back into the twin.
#[derive(Resource)]
pub struct Replay {
    messages: std::vec::IntoIter<RawMessage>,
    next: Option<RawMessage>,
    sender: TelemetrySender,
}

/// Offers every recorded message received by the time the twin's clock reaches at the end of this tick.
fn feed_replay(mut replay: ResMut<Replay>, clock: Res<SimClock>, telemetry: Res<Telemetry>) {
    let now_unix = telemetry.epoch_unix_s + clock.now_s + f64::from(clock.pending_steps) * clock.step_s;
    while let Some(m) = replay.next.take() {
        if m.received_s > now_unix {
            replay.next = Some(m);
            break;
        }
        replay.sender.offer(m);
        replay.next = replay.messages.next();
    }
}

/// Replays `messages` into the twin of `app` (in place of any live source).
pub fn add_replay(app: &mut App, messages: Vec<RawMessage>) {
    let sender = app.world().resource::<Telemetry>().sender();
    let mut it = messages.into_iter();
    let next = it.next();
    app.insert_resource(super::TelemetryOrigin::Replay)
        .insert_resource(Replay { messages: it, next, sender })
        .add_systems(Update, feed_replay.in_set(TwinSystems::Sources));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `jsonl_replay` fuzz target: hex digits were cut by byte index, and a multi-byte character
    /// among them panicked on a char boundary.
    #[test]
    fn bad_hex_payloads_are_line_errors_not_panics() {
        let line = |hex: &str| format!(r#"{{"topic": "t", "received_unix_s": 1.0, "payload_hex": "{hex}"}}"#);
        for (hex, what) in
            [("08e8d̛fb4", "Invalid character"), ("0", "Odd number of digits"), ("0g", "Invalid character")]
        {
            let e = parse(&format!("\n{}\n", line(hex)), Path::new("r.jsonl")).unwrap_err().to_string();
            assert!(e.contains("r.jsonl") && e.contains(":2") && e.contains("payload_hex") && e.contains(what), "{e}");
        }
        let m = parse(&line("08e8ff"), Path::new("r.jsonl")).unwrap();
        assert_eq!(m[0].payload, [0x08, 0xe8, 0xff]);
        assert_eq!(Record::of(&m[0]).payload_hex.as_deref(), Some("08e8ff"));
    }
}
