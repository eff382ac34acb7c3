//! Synchronization of the twin with its plant, through the real `twin` binary: event-time correctness of late
//! samples (a sample delayed within the allowed lateness gives exactly the indices of its on-time delivery).

use std::path::Path;

use serde_json::Value;
use twin::ingest::RawMessage;
use twin::ingest::recording::{self, Recorder};

use super::{artifacts, stderr, twin};

/// Replays `messages` (written to `file`) for one hour of the pump station and returns the JSON report.
fn replay(dir: &Path, name: &str, messages: &[RawMessage]) -> Value {
    let file = dir.join(format!("{name}.jsonl"));
    let mut rec = Recorder::create(&file).unwrap();
    for m in messages {
        rec.write(m);
    }
    rec.finish().unwrap();
    let report = dir.join(format!("{name}.json"));
    let (f, r) = (file.to_str().unwrap(), report.to_str().unwrap());
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "1h", "--replay", f, "--report", r, "-q"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

/// Every series value of a report, as (series name, sample time, value).
fn series(r: &Value) -> Vec<(String, f64, f64)> {
    let t: Vec<f64> = r["t_s"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let mut out = Vec::new();
    for s in r["series"].as_array().unwrap() {
        let name = format!("{}.{}", s["asset"].as_str().unwrap(), s["index"].as_str().unwrap());
        for (i, v) in s["values"].as_array().unwrap().iter().enumerate() {
            out.push((name.clone(), t[i], v.as_f64().unwrap_or(f64::NAN)));
        }
    }
    out
}

#[test]
fn a_late_sample_within_the_allowed_lateness_changes_the_indices_exactly_as_if_on_time() {
    let dir = artifacts("sync-late");
    let rec = dir.join("recorded.jsonl");
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "1h", "--record", rec.to_str().unwrap(), "-q"]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", stderr(&out));
    let recorded = recording::read(&rec).unwrap();
    let on_time = replay(&dir, "on_time", &recorded);
    let ticks: Vec<f64> = on_time["t_s"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();

    // A tank-level sample after half an hour whose 3 s delay crosses a tick boundary: the twin has shown its
    // event time without it before it arrives (the allowed lateness is 5 s).
    let epoch = twin::plant::VirtualPlant::EPOCH_UNIX_S;
    let delay = 3.0;
    let i = recorded
        .iter()
        .position(|m| {
            let e = m.received_s - epoch;
            m.topic == "plant/t1/level" && e > 1800.0 && ticks.iter().any(|&t| t > e && t < e + delay)
        })
        .expect("a level sample whose delay crosses a tick");
    let event_s = recorded[i].received_s - epoch;

    let mut late = recorded.clone();
    let mut m = late.remove(i);
    m.received_s += delay;
    let at = late.iter().position(|x| x.received_s > m.received_s).unwrap_or(late.len());
    late.insert(at, m);
    let late = replay(&dir, "late", &late);

    let mut missing = recorded.clone();
    missing.remove(i);
    let missing = replay(&dir, "missing", &missing);

    // The late run revised what it had shown, and nothing else differs from the on-time run.
    let revisions = late["sync"]["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "the late sample revised one span: {}", late["sync"]);
    let (from, to) = (revisions[0]["from_s"].as_f64().unwrap(), revisions[0]["to_s"].as_f64().unwrap());
    assert!(from == event_s && to > event_s && to <= event_s + delay, "{revisions:?}");
    assert!(on_time["sync"]["revisions"].as_array().unwrap().is_empty());
    assert_eq!(late["assets"], on_time["assets"], "final indices and their summaries are identical");
    assert_eq!(late["sync"]["prediction_error"], on_time["sync"]["prediction_error"]);
    let (a, b) = (series(&on_time), series(&late));
    let mut compared = 0;
    for ((name, t, x), (_, _, y)) in a.iter().zip(&b) {
        if *t < from || *t > to {
            assert!(x.to_bits() == y.to_bits(), "{name} at {t} s: {x} on time, {y} late");
            compared += 1;
        }
    }
    assert!(compared > a.len() / 2);
    assert_eq!(on_time["sync"]["assimilation"]["too_late"], 0);
    assert_eq!(late["sync"]["assimilation"]["too_late"], 0);

    // The sample mattered: without it the estimated level, and what depends on it, differ.
    let differs = series(&missing).iter().zip(&a).filter(|(m, o)| m.2.to_bits() != o.2.to_bits()).count();
    assert!(differs > 0, "dropping the sample changes the indices");
}
