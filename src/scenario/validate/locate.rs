//! Locating a field in the scenario's text: the line and column of an entry of a list, of a field in it, or of a
//! value, for problems a person can find.

use super::*;

/// Finds the text position of scenario elements by scanning the source in document order.
pub(super) struct SourceMap<'a> {
    pub(super) text: &'a str,
}

impl<'a> SourceMap<'a> {
    /// Byte offset of the first occurrence of `key` used as a field name (followed by `:`) at or after `from`.
    pub(super) fn key(&self, key: &str, from: usize) -> Option<usize> {
        let mut start = from;
        while let Some(rel) = self.text.get(start..)?.find(key) {
            let at = start + rel;
            let before_ok = at == 0 || !is_ident(self.text[..at].chars().next_back().unwrap_or(' '));
            let after = self.text[at + key.len()..].trim_start();
            if before_ok && after.starts_with(':') {
                return Some(at);
            }
            start = at + key.len();
        }
        None
    }

    /// Offset of the `n`-th element of a top-level list, found as the n-th occurrence of one of `markers`
    /// (a field name followed by `:`, or a variant name followed by `(`) after the list's key.
    pub(super) fn entry(&self, list: &str, n: usize, markers: &[&str]) -> Option<usize> {
        let mut pos = self.key(list, 0)?;
        let mut found = None;
        for _ in 0..=n {
            found = markers.iter().filter_map(|m| self.marker(m, pos)).min();
            pos = found? + 1;
        }
        found
    }

    pub(super) fn marker(&self, m: &str, from: usize) -> Option<usize> {
        let mut start = from;
        while let Some(rel) = self.text.get(start..)?.find(m) {
            let at = start + rel;
            let before_ok = at == 0 || !is_ident(self.text[..at].chars().next_back().unwrap_or(' '));
            let rest = &self.text[at + m.len()..];
            let after = rest.trim_start();
            let unit = UNIT_MARKERS.contains(&m) && !rest.starts_with(is_ident);
            if before_ok && (after.starts_with(':') || after.starts_with('(') || unit) {
                return Some(at);
            }
            start = at + m.len();
        }
        None
    }

    /// Offset of `needle` at or after `from`.
    pub(super) fn find(&self, needle: &str, from: usize) -> Option<usize> {
        self.text.get(from..)?.find(needle).map(|r| from + r)
    }

    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

pub(super) fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where a problem is: a list entry, then optionally a field inside it, then optionally a quoted value.
pub(super) struct At<'s> {
    pub(super) list: &'s str,
    pub(super) index: usize,
    pub(super) field: Option<&'s str>,
    pub(super) value: Option<String>,
}

pub(super) const FAULT_MARKERS: [&str; 7] = [
    "BearingDefect",
    "CavitationEpisode",
    "StuckSensor",
    "DriftingSensor",
    "SkewedClock",
    "BrokerOutage",
    "ConfigChange",
];

pub(super) const EXPECT_MARKERS: [&str; 10] = [
    "IndexBelow",
    "IndexAbove",
    "RulBetween",
    "AlarmRaised",
    "NoAlarm",
    "DriftDetected",
    "DraftAccepted",
    "DraftRejected",
    "NoSampleDropped",
    "ServiceWindowBefore",
];

/// Markers written without parentheses (unit variants).
pub(super) const UNIT_MARKERS: [&str; 1] = ["NoSampleDropped"];

pub(super) struct Collector<'a> {
    pub(super) map: SourceMap<'a>,
    pub(super) problems: Vec<Problem>,
}

impl Collector<'_> {
    pub(super) fn top(&mut self, field: &str, message: String) {
        let off = self.map.key(field, 0).unwrap_or(0);
        self.push(off, field.to_owned(), message);
    }

    pub(super) fn at(&mut self, at: At<'_>, message: String) {
        let markers: &[&str] = match at.list {
            "faults" => &FAULT_MARKERS,
            "expect" => &EXPECT_MARKERS,
            _ => &["id"],
        };
        let entry = self.map.entry(at.list, at.index, markers);
        let mut off = entry.or_else(|| self.map.key(at.list, 0)).unwrap_or(0);
        let mut path = format!("{}[{}]", at.list, at.index);
        if let Some(field) = at.field {
            let name = field.split(['[', '.']).next().unwrap_or(field);
            if let Some(f) = entry.and_then(|e| self.map.key(name, e)) {
                off = f;
            }
            path = format!("{path}.{field}");
        }
        if let Some(v) = at.value
            && let Some(f) = self.map.find(&format!("\"{v}\""), off)
        {
            off = f;
        }
        self.push(off, path, message);
    }

    pub(super) fn push(&mut self, offset: usize, path: String, message: String) {
        let (line, col) = self.map.line_col(offset);
        self.problems.push(Problem { line, col, path, message });
    }
}

pub(super) fn at<'s>(list: &'s str, index: usize, field: &'s str) -> At<'s> {
    At { list, index, field: Some(field), value: None }
}

pub(super) fn at_value<'s>(list: &'s str, index: usize, field: &'s str, value: &str) -> At<'s> {
    At { list, index, field: Some(field), value: Some(value.to_owned()) }
}
