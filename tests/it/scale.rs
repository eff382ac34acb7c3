//! Generated large sites (`twin scenario generate`): a site of a thousand trains passes `twin check`, and a small
//! one runs with the virtual plant publishing every signal, JSON and Sparkplug B, to the twin.

use super::{artifacts, stderr, twin};

#[test]
fn a_generated_site_of_a_thousand_trains_passes_check_and_bad_sizes_are_refused() {
    let dir = artifacts("scale-generate");
    let site = dir.join("site.ron");
    let out = twin(&["scenario", "generate", "--pumps", "1000", "--name", "Water works", "-o", site.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = twin(&["check", site.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Water works: 2250 assets, 4250 signals, 1000 set-points"), "{said}");

    for (args, why) in [
        (&["--pumps", "0"][..], "at least 1"),
        (&["--pumps", "40000"][..], "at most 32757"),
        (&["--pumps", "10", "--per-tank", "0"][..], "at least 1"),
    ] {
        let out = twin(&[&["scenario", "generate"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn every_signal_of_a_generated_site_reaches_the_twin_from_the_virtual_plant() {
    let dir = artifacts("scale-run");
    let site = dir.join("site.ron");
    let out = twin(&["scenario", "generate", "--pumps", "12", "-o", site.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = dir.join("report.json");
    let out = twin(&[
        "run",
        site.to_str().unwrap(),
        "--duration",
        "2m",
        "--speed",
        "max",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["ingest"]["dropped_channel_full"], 0, "{}", r["ingest"]);
    let by_signal = r["ingest_by_signal"].as_object().unwrap();
    assert_eq!(by_signal.len(), 12 * 4 + 3, "every train's four signals and each tank's level");
    for (signal, counts) in by_signal {
        // One sample a second for two minutes (the tank levels every 10 s).
        let want = if signal.ends_with(".level") { 11 } else { 110 };
        let accepted = counts["accepted"].as_u64().unwrap_or(0);
        assert!(accepted >= want, "{signal}: {accepted} samples accepted, expected at least {want}");
    }
    // Train 3 is a Sparkplug B device, train 1 publishes JSON: both arrive.
    assert!(by_signal.contains_key("P-003.flow") && by_signal.contains_key("P-001.flow"));
}
