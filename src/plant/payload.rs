//! JSON payload layouts: where each signal's value, the source timestamp and the sequence number go in the object a
//! topic publishes, built once from the scenario's JSON paths ("$.rms", "$.a.b", "$.a[0]") and written without
//! building a `serde_json::Value` per message.

use std::io::Write;

/// What a leaf of the layout holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The value of the sensor with this index (in the plant's sensor table).
    Value(usize),
    /// The quality flag of the sensor with this index.
    Quality(usize),
    /// The device's source timestamp, unix s.
    Timestamp,
    /// The per-topic sequence number.
    Seq,
}

/// The quality flag written where a signal names a quality path.
pub const QUALITY_GOOD: &str = "good";

/// Longest array a path may index into.
const MAX_INDEX: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Splits "$.a.b[2]" into segments.
fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let rest = path.trim().strip_prefix('$').ok_or_else(|| format!("JSON path \"{path}\" must start with \"$\""))?;
    let mut segs = Vec::new();
    let mut parts = rest.split('.');
    if parts.next() != Some("") {
        return Err(format!("JSON path \"{path}\": expected \"$.name\""));
    }
    for part in parts {
        let (name, mut idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("JSON path \"{path}\": every step needs a field name"));
        }
        segs.push(Seg::Key(name.to_string()));
        while !idx.is_empty() {
            let close = idx.find(']').ok_or_else(|| format!("JSON path \"{path}\": unclosed \"[\""))?;
            let i: usize = idx
                .get(1..close)
                .and_then(|s| s.parse().ok())
                .filter(|&i| i < MAX_INDEX)
                .ok_or_else(|| format!("JSON path \"{path}\": array index must be a number below {MAX_INDEX}"))?;
            segs.push(Seg::Index(i));
            idx = &idx[close + 1..];
        }
    }
    if segs.is_empty() {
        return Err(format!("JSON path \"{path}\" names the payload itself; name a field, e.g. \"$.value\""));
    }
    Ok(segs)
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(Slot),
    /// Fields in insertion order: (JSON-encoded `"key":`, key, node).
    Object(Vec<(Vec<u8>, String, Node)>),
    Array(Vec<Option<Node>>),
}

impl Node {
    fn container_for(seg: &Seg) -> Node {
        match seg {
            Seg::Key(_) => Node::Object(Vec::new()),
            Seg::Index(_) => Node::Array(Vec::new()),
        }
    }

    /// The child at `seg`, created as `make()` when absent.
    fn child(&mut self, seg: &Seg, make: impl FnOnce() -> Node) -> Result<&mut Node, ()> {
        match (self, seg) {
            (Node::Object(fields), Seg::Key(k)) => {
                let i = match fields.iter().position(|(_, name, _)| name == k) {
                    Some(i) => i,
                    None => {
                        let mut key = serde_json::to_vec(k).unwrap_or_default();
                        key.push(b':');
                        fields.push((key, k.clone(), make()));
                        fields.len() - 1
                    }
                };
                Ok(&mut fields[i].2)
            }
            (Node::Array(items), Seg::Index(i)) => {
                if items.len() <= *i {
                    items.resize(*i + 1, None);
                }
                Ok(items[*i].get_or_insert_with(make))
            }
            _ => Err(()),
        }
    }

    fn present(&self, values: &[Option<f64>]) -> bool {
        match self {
            Node::Leaf(Slot::Value(i) | Slot::Quality(i)) => values.get(*i).is_some_and(Option::is_some),
            Node::Leaf(Slot::Timestamp | Slot::Seq) => true,
            Node::Object(fields) => fields.iter().any(|(_, _, n)| n.present(values)),
            Node::Array(items) => items.iter().flatten().any(|n| n.present(values)),
        }
    }

    fn write(&self, buf: &mut Vec<u8>, values: &[Option<f64>], ts: f64, seq: u64) {
        match self {
            Node::Leaf(Slot::Value(i)) => write_f64(buf, values.get(*i).copied().flatten().unwrap_or(f64::NAN)),
            Node::Leaf(Slot::Quality(_)) => {
                let _ = serde_json::to_writer(&mut *buf, QUALITY_GOOD);
            }
            Node::Leaf(Slot::Timestamp) => write_f64(buf, ts),
            Node::Leaf(Slot::Seq) => {
                let _ = write!(buf, "{seq}");
            }
            Node::Object(fields) => {
                buf.push(b'{');
                let mut first = true;
                for (key, _, node) in fields {
                    if !node.present(values) {
                        continue;
                    }
                    if !first {
                        buf.push(b',');
                    }
                    first = false;
                    buf.extend_from_slice(key);
                    node.write(buf, values, ts, seq);
                }
                buf.push(b'}');
            }
            Node::Array(items) => {
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    match item {
                        Some(node) if node.present(values) => node.write(buf, values, ts, seq),
                        _ => buf.extend_from_slice(b"null"),
                    }
                }
                buf.push(b']');
            }
        }
    }
}

/// A finite number in its shortest round-trip form; `null` otherwise (JSON has no NaN).
fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let _ = serde_json::to_writer(&mut *buf, &v);
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// One topic's payload layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    root: Node,
}

impl Layout {
    pub(crate) fn new() -> Self {
        Self { root: Node::Object(Vec::new()) }
    }

    /// Places `slot` at `path`. Two timestamps may share a path (one device clock); any other clash is an error.
    pub(crate) fn insert(&mut self, path: &str, slot: Slot) -> Result<(), String> {
        let segs = parse_path(path)?;
        let clash = || format!("JSON path \"{path}\" clashes with another field of the same payload");
        let mut cur = &mut self.root;
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let make = || if last { Node::Leaf(slot) } else { Node::container_for(&segs[i + 1]) };
            cur = cur.child(seg, make).map_err(|_| clash())?;
            if last {
                return match cur {
                    Node::Leaf(s) if *s == slot => Ok(()),
                    _ => Err(clash()),
                };
            }
            if matches!(cur, Node::Leaf(_)) {
                return Err(clash());
            }
        }
        Ok(())
    }

    /// Adds `"seq"` at the top level unless a signal already uses that name.
    pub(crate) fn add_seq(&mut self) {
        if let Node::Object(fields) = &self.root
            && fields.iter().any(|(_, k, _)| k == "seq")
        {
            return;
        }
        let _ = self.insert("$.seq", Slot::Seq);
    }

    /// Writes the payload: the values present (`values[i]` for sensor `i`), the timestamp and the sequence number.
    pub(crate) fn write(&self, values: &[Option<f64>], ts_unix_s: f64, seq: u64) -> Vec<u8> {
        let mut buf = Vec::with_capacity(96);
        self.root.write(&mut buf, values, ts_unix_s, seq);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn flat_nested_and_indexed_paths() {
        let mut l = Layout::new();
        l.insert("$.rms", Slot::Value(0)).unwrap();
        l.insert("$.ts", Slot::Timestamp).unwrap();
        l.insert("$.a.b", Slot::Value(1)).unwrap();
        l.insert("$.a.c[1]", Slot::Value(2)).unwrap();
        l.insert("$.ts", Slot::Timestamp).unwrap();
        l.insert("$.q", Slot::Quality(0)).unwrap();
        l.add_seq();
        let bytes = l.write(&[Some(1.5), Some(-2.0), Some(3.25)], 1_767_225_601.123, 7);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"rms": 1.5, "ts": 1_767_225_601.123, "a": {"b": -2.0, "c": [null, 3.25]}, "q": "good", "seq": 7})
        );
        // Absent values leave their fields (and emptied objects) out; NaN becomes null.
        let v: Value = serde_json::from_slice(&l.write(&[Some(f64::NAN), None, None], 1.0, 8)).unwrap();
        assert_eq!(v, json!({"rms": null, "ts": 1.0, "q": "good", "seq": 8}));
    }

    #[test]
    fn clashes_and_bad_paths_are_refused() {
        let mut l = Layout::new();
        l.insert("$.a", Slot::Value(0)).unwrap();
        assert!(l.insert("$.a", Slot::Value(1)).is_err());
        assert!(l.insert("$.a.b", Slot::Value(1)).is_err());
        assert!(l.insert("$.a[0]", Slot::Value(1)).is_err());
        assert!(l.insert("$", Slot::Value(1)).is_err());
        assert!(l.insert("value", Slot::Value(1)).is_err());
        assert!(l.insert("$.x[99999]", Slot::Value(1)).is_err());
        assert!(l.insert("$.x[", Slot::Value(1)).is_err());
        // A signal called "seq" keeps its name; the counter is then left out.
        l.insert("$.seq", Slot::Value(2)).unwrap();
        l.add_seq();
        let v: Value = serde_json::from_slice(&l.write(&[Some(1.0), None, Some(2.0)], 0.0, 5)).unwrap();
        assert_eq!(v, json!({"a": 1.0, "seq": 2.0}));
    }
}
