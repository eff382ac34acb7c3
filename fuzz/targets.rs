//! The fuzz targets, one per parser of untrusted input: compiled into the libFuzzer binaries of `fuzz/` and into
//! the test suite, which replays every file of `fuzz/corpus/<target>/` through the same function. A target
//! returns nothing and must never panic, hang or exhaust memory, whatever the bytes.

use std::path::Path;
use std::sync::OnceLock;

use twin::ingest::{IngestSettings, Ingestor, RawMessage};
use twin::scenario::Scenario;
use twin_mqtt::{json, sparkplug};

/// A fuzz target: takes any bytes, returns nothing, never panics.
pub type Target = fn(&[u8]);

/// Every target by name (the name is its binary in `fuzz/` and its corpus folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("sparkplug", sparkplug),
    ("json_path", json_path),
    ("mqtt_ingest", mqtt_ingest),
    ("csv_replay", csv_replay),
    ("jsonl_replay", jsonl_replay),
    ("scenario", scenario),
    ("modbus", modbus),
    ("opcua_value", opcua_value),
    ("approval", approval),
];

/// The booster station: JSON and Sparkplug B sources, identity topics, units to convert.
fn booster() -> &'static Scenario {
    static S: OnceLock<Scenario> = OnceLock::new();
    S.get_or_init(|| {
        twin::scenario::parse(include_str!("../scenes/booster_station.ron"), Path::new("booster_station.ron"))
            .expect("the bundled booster station parses")
    })
}

/// A fresh ingestor of the booster station.
fn ingestor() -> Ingestor {
    static I: OnceLock<Ingestor> = OnceLock::new();
    I.get_or_init(|| Ingestor::new(booster(), IngestSettings::default())).clone()
}

/// Topics the booster station's ingestor listens to (JSON values and identities, the Sparkplug node and its
/// devices, value-level messages) and one it does not.
const TOPICS: &[&str] = &[
    "booster/p201/vibration",
    "booster/m201/temp",
    "booster/p201/flow",
    "booster/t2/level",
    "booster/p201/identity",
    "spBv1.0/booster/NBIRTH/booster-edge-3",
    "spBv1.0/booster/NDATA/booster-edge-3",
    "spBv1.0/booster/NDEATH/booster-edge-3",
    "spBv1.0/booster/DBIRTH/booster-edge-3/P-203",
    "spBv1.0/booster/DDATA/booster-edge-3/P-203",
    "spBv1.0/booster/DDEATH/booster-edge-3/M-203",
    "spBv1.0/booster/NCMD/booster-edge-3",
    "$twin/value/P-201.vib_rms",
    "elsewhere/x",
];

/// A Sparkplug B payload (protobuf) from a device: decoded; each metric's value read as the twin reads it; the
/// node tracker fed its birth, then the same payload as data.
pub fn sparkplug(data: &[u8]) {
    let Ok(p) = sparkplug::decode(data) else { return };
    for m in &p.metrics {
        let _ = m.value_f64(m.datatype);
    }
    let mut tracker = sparkplug::NodeTracker::new();
    for t in ["spBv1.0/g/NBIRTH/n", "spBv1.0/g/NDATA/n", "spBv1.0/g/DBIRTH/n/d", "spBv1.0/g/DDATA/n/d"] {
        let topic = sparkplug::parse_topic(t).expect("a Sparkplug topic");
        let _ = tracker.handle(&topic, &p);
    }
}

/// A JSON path (the first line, as a scenario names it) and a JSON payload (the rest): the path compiled, the
/// payload parsed, the value, text and timestamp at the path read.
pub fn json_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (path, payload) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(v) = json::parse(payload.as_bytes()) else { return };
    if let Ok(path) = json::JsonPath::parse(path) {
        let _ = json::value_at(&v, &path);
        let _ = json::number_at(&v, &path);
        let _ = json::string_at(&v, &path);
        let _ = json::timestamp_at(&v, &path);
    }
    let _ = json::number(&v, "$.value");
    let _ = json::timestamp(&v, "$.ts");
}

/// A sequence of MQTT messages into the booster station's ingestor, as the broker would deliver them: each is a
/// topic (one byte picks it from [`TOPICS`]), a payload length (one byte) and the payload; then every queued
/// sample is released.
pub fn mqtt_ingest(data: &[u8]) {
    let mut ing = ingestor();
    let mut rest = data;
    let mut received_s = 0.0;
    while let [topic, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(n);
        let topic = TOPICS[usize::from(*topic) % TOPICS.len()];
        ing.ingest(&RawMessage { topic: topic.to_string(), payload: payload.to_vec(), received_s });
        received_s += 1.0;
        rest = tail;
    }
    let _ = ing.release(f64::INFINITY);
    let _ = ing.take_commands();
    let _ = ing.take_identities();
}

/// A CSV replay file (either layout) for the booster station; its rows fed to an ingestor.
pub fn csv_replay(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(messages) = twin::ingest::csv::parse(text, Path::new("fuzz.csv"), booster(), 1.7e9) {
        replay(&messages);
    }
}

/// A JSON Lines recording; its messages fed to an ingestor.
pub fn jsonl_replay(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(messages) = twin::ingest::recording::parse(text, Path::new("fuzz.jsonl")) {
        replay(&messages);
    }
}

/// Feeds a replay's first 1,000 messages to a fresh ingestor and releases every queued sample.
fn replay(messages: &[RawMessage]) {
    let mut ing = ingestor();
    for m in messages.iter().take(1000) {
        ing.ingest(m);
    }
    let _ = ing.release(f64::INFINITY);
}

/// A scenario file: parsed and validated, and on success written back and parsed again.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(s) = twin::scenario::parse(text, Path::new("fuzz.ron")) else { return };
    if let Ok(again) = twin::scenario::to_ron(&s) {
        let _ = twin::scenario::parse(&again, Path::new("fuzz-again.ron"));
    }
}

/// Modbus TCP bytes, both ways: as requests to the virtual PLC (the frame guard, then tokio-modbus's decoder
/// on every frame it lets through, then the register bank), and as a PLC's reply (tokio-modbus's response
/// decoder, then every register encoding on the words it carries).
pub fn modbus(data: &[u8]) {
    use tokio_modbus::bytes::Bytes;
    use twin_modbus::{Encoding, RegisterSpec, WordOrder};
    let (checked, _error) = twin_modbus::guard::check_frames(data);
    let mut pos = 0;
    while pos < checked {
        let len = usize::from(u16::from_be_bytes([data[pos + 4], data[pos + 5]]));
        let pdu = &data[pos + 7..pos + 6 + len];
        if let Ok(tokio_modbus::Request::WriteMultipleRegisters(address, words)) =
            tokio_modbus::Request::try_from(Bytes::copy_from_slice(pdu))
        {
            let bank = twin_modbus::RegisterBank::new();
            let _ = bank.write(address, &words);
        }
        pos += 6 + len;
    }
    let words: Vec<u16> = match tokio_modbus::Response::try_from(Bytes::copy_from_slice(data)) {
        Ok(tokio_modbus::Response::ReadHoldingRegisters(words)) => words,
        _ => data.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect(),
    };
    for encoding in [Encoding::U16, Encoding::I16, Encoding::U32, Encoding::F32] {
        for order in [WordOrder::HighFirst, WordOrder::LowFirst] {
            let spec = RegisterSpec::new(0, encoding).with_scale(10.0).with_word_order(order);
            for w in words.chunks(spec.word_count()) {
                let _ = spec.decode(w);
            }
        }
    }
}

/// An OPC UA DataValue in binary encoding, as a server sends it in a data change: decoded by async-opcua,
/// converted as the subscription does, and fed to an ingestor as the value of the booster's flow signal.
pub fn opcua_value(data: &[u8]) {
    let Ok(change) = twin_opcua::decode_data_change(data, 0) else { return };
    let signals = ["P-201.flow".to_string()];
    if let Some(m) = twin::ingest::opcua::message(&signals, &change, 1.7e9) {
        let mut ing = ingestor();
        ing.ingest(&m);
        let _ = ing.release(f64::INFINITY);
    }
}

/// What comes from another engineer's machine or from disk when a change is approved: the first byte picks a
/// signature file (verified, then checked against a trust file of one engineer), a change-set file (hashed,
/// summarised, compared with itself), a trusted keys file (a signature checked against it) or an audit log
/// (`twin audit verify`); the rest is the file.
pub fn approval(data: &[u8]) {
    const TRUST: &str = include_str!("corpus/approval/trust");
    const SIGNATURE: &str = include_str!("corpus/approval/signature");
    let Some((kind, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let path = Path::new("fuzz");
    let sig_of = |text: &str| twin_sign::SignatureFile::parse(text, path).ok();
    let trust_of = |text: &str| twin_sign::TrustStore::parse(text, path).ok();
    match kind % 4 {
        0 => {
            if let (Some(sig), Some(trust)) = (sig_of(text), trust_of(&TRUST[1..])) {
                let _ = sig.verify();
                let _ = trust.check_approval(&sig, &sig.change_hash);
            }
        }
        1 => {
            if let Ok(doc) = twin::change::approval::ChangeSetDoc::parse(text, path) {
                let _ = doc.hash();
                let _ = doc.summary();
                assert!(doc.same_change(&doc) && doc.differences(&doc).is_empty());
            }
        }
        2 => {
            if let (Some(trust), Some(sig)) = (trust_of(text), sig_of(&SIGNATURE[1..])) {
                let _ = trust.keys().count();
                let _ = trust.check_approval(&sig, &sig.change_hash);
            }
        }
        _ => {
            let _ = twin::change::audit::verify_from(rest);
        }
    }
}
