//! `twin serve` as an operator runs it: a child process on the embedded broker and virtual plant, stopped with
//! SIGTERM; it logs its connection and status, shuts down cleanly with exit 0, and its store holds every sample it
//! accepted (read with Python's sqlite3). A store it may not use stops it at once with exit 2.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{artifacts, root, stderr, twin};

/// The log without its colour codes.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn twin_serve_runs_until_sigterm_shuts_down_cleanly_and_its_store_holds_every_accepted_sample() {
    let dir = artifacts("serve");
    let store = dir.join("station.twin.sqlite");
    let log = dir.join("serve.log");
    for f in [&store, &log] {
        let _ = std::fs::remove_file(f);
    }
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .current_dir(root())
        .args(["serve", "scenes/pump_station.ron", "--speed", "60x", "--status-every", "1s", "--store"])
        .arg(&store)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    // Three status lines: it is connected and the virtual plant's telemetry flows.
    let started = Instant::now();
    let read = || plain(&std::fs::read_to_string(&log).unwrap_or_default());
    while read().matches("status:").count() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60), "no status lines:\n{}", read());
        assert!(child.try_wait().unwrap().is_none(), "serve exited early:\n{}", read());
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped.elapsed() < Duration::from_secs(20), "serve did not stop on SIGTERM:\n{}", read());
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = read();
    assert_eq!(status.code(), Some(0), "{text}");
    for line in [
        "serving Water treatment pump station",
        "broker connected",
        "shutting down: signal received",
        "history store closed",
        "stopped",
    ] {
        assert!(text.contains(line), "{line:?} missing from the log:\n{text}");
    }
    // The last status line, written at shutdown, counts what was accepted; the store holds exactly that.
    let last = text.lines().rfind(|l| l.contains("status:")).unwrap();
    let accepted: u64 = last.split("accepted ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(accepted > 100, "{last}");
    assert!(last.contains("rejected: none") && last.contains(" connected |"), "{last}");
    let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute('SELECT COUNT(*) FROM samples').fetchone()[0])";
    let py = Command::new("/usr/bin/python3").args(["-c", script]).arg(&store).output().unwrap();
    let stored: u64 = String::from_utf8_lossy(&py.stdout).trim().parse().unwrap();
    assert_eq!(stored, accepted, "every accepted sample is in the store");
}

#[test]
fn twin_serve_with_a_store_of_another_scenario_stops_at_once_with_exit_2() {
    let dir = artifacts("serve-refused");
    let store = dir.join("booster.twin.sqlite");
    let _ = std::fs::remove_file(&store);
    let out =
        twin(&["run", "scenes/booster_station.ron", "--duration", "1m", "-q", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = twin(&["serve", "scenes/pump_station.ron", "--store", store.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("belongs to scenario \"Booster station"), "{}", stderr(&out));
}
