//! `twin check`: the bundled scenarios are valid, and each bad-input fixture gets its own clear message.

use super::{scenes, stderr, twin};

#[test]
fn every_bundled_scenario_passes_check() {
    for scene in scenes() {
        let out = twin(&["check", scene.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", scene.display(), stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
    }
}

/// (fixture, substrings its message must contain).
const BAD: &[(&str, &[&str])] = &[
    ("syntax_error", &["tests/fixtures/bad/syntax_error.ron:5:5: syntax error: Expected comma"]),
    ("unknown_field", &["tests/fixtures/bad/unknown_field.ron:21:17:", "ratd_speed_rpm", "rated_speed_rpm"]),
    (
        "unknown_asset",
        &[
            "tests/fixtures/bad/unknown_asset.ron:32:36: signals[0].asset: unknown asset \"P-9\"",
            "known assets: T-1, M-1, P-1",
        ],
    ),
    (
        "duplicate_id",
        &["tests/fixtures/bad/duplicate_id.ron:7:10: assets[1].id: duplicate id \"T-1\"; assets[0] already uses it"],
    ),
    (
        "dependency_cycle",
        &["tests/fixtures/bad/dependency_cycle.ron:9:13: assets[1].depends_on: dependency cycle: M-1 -> P-1 -> M-1"],
    ),
    ("min_above_max", &["tests/fixtures/bad/min_above_max.ron:36:86: setpoints[0].min: min 1600 is above max 1480"]),
    (
        "unknown_unit",
        &[
            "tests/fixtures/bad/unknown_unit.ron:32:81: signals[0].unit: unknown unit \"furlongs/s\" for VibrationVelocityRms; valid: mm/s, m/s, in/s",
        ],
    ),
    (
        "identity_wildcard",
        &[
            "tests/fixtures/bad/identity_wildcard.ron:7:26: assets[0].identity_topic: identity topic \"f/+/identity\" must be a concrete topic",
        ],
    ),
    (
        "config_change_unreported",
        &[
            "tests/fixtures/bad/config_change_unreported.ron:40:29: faults[0].asset: asset \"P-1\" has no identity_topic, so it cannot report a configuration change",
        ],
    ),
    (
        "expect_references",
        &[
            "tests/fixtures/bad/expect_references.ron:41:33: expect[1].setpoint: unknown set-point \"P-1.sped\"; known set-points: P-1.speed",
            "tests/fixtures/bad/expect_references.ron:42:23: expect[2].fault: no faults[0]; the scenario has 0 fault(s)",
            "tests/fixtures/bad/expect_references.ron:43:34: expect[3].min_h: min_h 5000 is above max_h 1000",
            "tests/fixtures/bad/expect_references.ron:44:31: expect[4].before: before must be longer than 0 s",
        ],
    ),
    (
        "bad_history",
        &[
            "tests/fixtures/bad/bad_history.ron:19:13: assets[1].history.bearing_defect_severity: asset \"M-1\" is a Motor: history.bearing_defect_severity is the history of a CentrifugalPump's bearing",
            "tests/fixtures/bad/bad_history.ron:32:13: assets[2].history.bearing_operating_h: the operating hours must be a finite number, 0 or more (not -500)",
            "tests/fixtures/bad/bad_history.ron:32:13: assets[2].history.bearing_defect_severity: a defect's severity is 0 (none) to 1 (severe), not 1.5",
            "tests/fixtures/bad/bad_history.ron:45:42: assets[3].history.bearing_installed: the install date 2026-03-01 is in the future: after the run's start (2026-01-15)",
            "tests/fixtures/bad/bad_history.ron:45:13: assets[3].history.bearing_duty: a duty is the share of time the pump runs, more than 0 to 1, not 1.5",
            "tests/fixtures/bad/bad_history.ron:58:42: assets[4].history.bearing_installed: \"spring 2019\" is not a date: write \"2019-06-01\" or \"2019-06-01T08:00:00Z\"",
        ],
    ),
    (
        "expect_unknown_layer",
        &[
            "tests/fixtures/bad/expect_unknown_layer.ron:40:79: Unexpected variant named `Pressure` in enum `Layer`",
            "`Envelope`, `Rate`, `Interlocks`, `Forecast`, `Freshness`, or `Conflict`",
        ],
    ),
];

#[test]
fn each_bad_fixture_gets_its_message_and_exit_code_2() {
    for (name, expected) in BAD {
        let path = format!("tests/fixtures/bad/{name}.ron");
        for args in [vec!["check", path.as_str()], vec!["run", path.as_str(), "--duration", "1h"]] {
            let out = twin(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
            for e in *expected {
                assert!(err.contains(e), "{args:?}: expected {e:?} in:\n{err}");
            }
        }
    }
}

#[test]
fn the_base_of_the_bad_fixtures_is_itself_valid() {
    let out = twin(&["check", "tests/fixtures/valid_small.ron"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_missing_file_is_bad_input() {
    let out = twin(&["check", "scenes/no_such_file.ron"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scenes/no_such_file.ron: cannot read scenario"), "{}", stderr(&out));
}

#[test]
fn help_documents_every_command_and_flag() {
    let out = twin(&["run", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--duration", "--seed", "--speed", "--report", "--junit", "--quiet"] {
        assert!(help.contains(flag), "run --help lacks {flag}:\n{help}");
    }
    let top = String::from_utf8_lossy(&twin(&["--help"]).stdout).into_owned();
    for word in ["run", "check", "--screenshot", "--speed"] {
        assert!(top.contains(word), "--help lacks {word}:\n{top}");
    }
}
