//! `twin run A.ron B.ron ...` (batches on all cores), sweeps, and `--plot` charts.

use std::path::Path;

use super::{artifacts, stderr, twin};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("written")).expect("JSON")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_batch_reports_each_scenario_and_a_bad_file_among_them_is_named_while_the_others_run() {
    let dir = artifacts("batch");
    let (reports, junit, plots) = (dir.join("reports"), dir.join("junit.xml"), dir.join("plots"));
    let out = twin(&[
        "run",
        "scenes/pump_station.ron",
        "tests/fixtures/bad/unknown_asset.ron",
        "tests/fixtures/failing_expectation.ron",
        "--duration",
        "2h",
        "--jobs",
        "2",
        "--report",
        reports.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--plot",
        plots.to_str().unwrap(),
    ]);
    let (err, table) = (stderr(&out), stdout(&out));
    assert_eq!(out.status.code(), Some(2), "bad input wins over a failure: {err}\n{table}");
    assert!(err.contains("tests/fixtures/bad/unknown_asset.ron:") && err.contains("unknown asset \"P-9\""), "{err}");
    assert!(err.contains("failing_expectation: FAIL P-1 VibrationRms <= 0.01 between 1h and 2h"), "{err}");
    // The summary table: one line per scenario, then the totals.
    let line = |case: &str| table.lines().find(|l| l.starts_with(&format!("{case} "))).unwrap_or_default().to_owned();
    assert!(line("pump_station").ends_with("passed") && line("pump_station").contains(" 6 "), "{table}");
    assert!(line("unknown_asset").contains("BAD INPUT"), "{table}");
    assert!(line("failing_expectation").ends_with("FAILED"), "{table}");
    assert!(table.contains("3 runs: 1 passed, 1 failed, 1 bad input;") && table.contains("on 2 workers"), "{table}");
    // Per-scenario reports, the same bytes as a run of its own.
    let single = dir.join("single.json");
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "2h", "-q", "--report", single.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read(reports.join("pump_station.json")).unwrap() == std::fs::read(&single).unwrap());
    assert_eq!(json(&reports.join("failing_expectation.json"))["passed"], false);
    assert!(!reports.join("unknown_asset.json").exists());
    let summary = json(&reports.join("summary.json"));
    assert_eq!((summary["runs"].as_u64(), summary["bad_input"].as_u64()), (Some(3), Some(1)), "{summary}");
    assert_eq!(summary["cases"][1]["status"], "bad_input");
    assert!(summary["cases"][1]["error"].as_str().unwrap().contains("unknown asset"));
    // One JUnit file, one suite per scenario (the bad one as an error).
    let (counts, suites) = super::junit(&junit);
    assert_eq!(suites.len(), 3, "{suites:?}");
    assert_eq!(counts, (10, 2, 1), "tests, failures, errors");
    let bad = suites.iter().find(|s| s.name == "unknown_asset").expect("the bad scenario's suite");
    assert_eq!(bad.counts, (1, 0, 1), "{bad:?}");
    assert!(bad.cases[0].1.as_deref().unwrap_or_default().contains("unknown asset"), "{bad:?}");
    // Charts per scenario.
    assert!(plots.join("pump_station").join("P-101.png").is_file());
    assert!(plots.join("failing_expectation").join("T-1.png").is_file());
}

#[test]
fn a_sweep_reports_each_case_and_vibration_grows_in_proportion_to_the_unbalance() {
    let dir = artifacts("sweep");
    let (reports, junit) = (dir.join("reports"), dir.join("junit.xml"));
    let out = twin(&[
        "run",
        "tests/fixtures/sweep_unbalance.ron",
        "--duration",
        "1h",
        "--report",
        reports.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (err, table) = (stderr(&out), stdout(&out));
    assert_eq!(out.status.code(), Some(1), "the 4x case exceeds the zone B/C limit: {err}\n{table}");
    for k in 1..=4 {
        let case = format!("sweep_unbalance[unbalance={k}x]");
        let row = table.lines().find(|l| l.starts_with(&case)).unwrap_or_else(|| panic!("{case} in {table}"));
        assert!(row.ends_with(if k == 4 { "FAILED" } else { "passed" }), "{row}");
    }
    assert!(err.contains("sweep_unbalance[unbalance=4x]: FAIL P-1 VibrationRms <= 2.8 at the end"), "{err}");
    // The unbalance force is U·ω² and the housing velocity is that force over the support stiffness times ω
    // (models/src/loadmap.rs, with no misalignment in this pump): the RMS is proportional to the unbalance.
    let vib = |k: u32| {
        let r = json(&reports.join(format!("sweep_unbalance.unbalance-{k}x.json")));
        assert_eq!(r["scenario"], format!("Unbalance sweep[unbalance={k}x]"));
        assert_eq!(r["sweep"]["value"], f64::from(k));
        assert_eq!(r["sweep"]["param"], "Unbalance(P-1)");
        let p1 = r["assets"].as_array().unwrap().iter().find(|a| a["id"] == "P-1").unwrap().clone();
        p1["indices"]["vibration_rms_mm_s"]["last"].as_f64().unwrap()
    };
    let base = vib(1);
    assert!(base > 0.3, "{base} mm/s");
    for k in 2..=4 {
        let ratio = vib(k) / base;
        assert!((ratio / f64::from(k) - 1.0).abs() < 0.02, "{k}x unbalance gives {ratio:.3}x vibration");
    }
    let summary = json(&reports.join("summary.json"));
    assert_eq!((summary["passed"].as_u64(), summary["failed"].as_u64()), (Some(3), Some(1)), "{summary}");
    let (_, suites) = super::junit(&junit);
    assert_eq!(suites.len(), 4);
    let four = suites.iter().find(|s| s.name == "Unbalance sweep[unbalance=4x]").expect("the 4x case's suite");
    assert_eq!(four.counts, (2, 1, 0), "{four:?}");
}

#[test]
fn a_bad_sweep_is_bad_input_located_in_the_file() {
    let dir = artifacts("bad_sweep");
    let path = dir.join("bad_sweep.ron");
    let text = std::fs::read_to_string("tests/fixtures/sweep_unbalance.ron")
        .unwrap()
        .replace("param: Unbalance(asset: \"P-1\")", "param: Unbalance(asset: \"T-1\")");
    std::fs::write(&path, text).unwrap();
    let out = twin(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("sweep.param.asset: asset \"T-1\" is not a CentrifugalPump; pumps of the scenario: P-1"),
        "{}",
        stderr(&out)
    );
    let out = twin(&["run", path.to_str().unwrap(), "--duration", "1h"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Pixels of exactly this colour.
fn count_colour(rgb: &[u8], (r, g, b): (u8, u8, u8)) -> usize {
    rgb.chunks_exact(3).filter(|p| p == &[r, g, b]).count()
}

fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("png written")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("decodes");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn plot_writes_a_png_chart_per_asset_with_its_indices_drawn() {
    let dir = artifacts("plot");
    let plots = dir.join("plots");
    let out = twin(&["run", "scenes/pump_station.ron", "--duration", "2h", "-q", "--plot", plots.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut files: Vec<String> =
        std::fs::read_dir(&plots).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["M-101.png", "P-101.png", "T-1.png"]);
    // Eight pump indices in four rows of two panels; a motor's two in one row; a tank's one.
    for (file, panels, size) in
        [("P-101.png", 8, (1200, 1200)), ("M-101.png", 2, (1200, 300)), ("T-1.png", 1, (1200, 300))]
    {
        assert_eq!(twin::headless::plot::chart_size(panels), size);
        let (w, h, rgb) = decode(&plots.join(file));
        assert_eq!((w, h), size, "{file}");
        let white = count_colour(&rgb, (255, 255, 255));
        assert!(white > (w * h) as usize / 2, "{file}: mostly background ({white} white pixels)");
        for (k, &colour) in twin::headless::plot::PALETTE.iter().take(panels).enumerate() {
            let n = count_colour(&rgb, colour);
            assert!(n > 300, "{file}: panel {k}'s line colour {colour:?} drawn on only {n} pixels");
        }
        // Text (titles, tick labels) is drawn in black from the bundled font.
        assert!(count_colour(&rgb, (0, 0, 0)) > 1000, "{file}: no text or axes");
    }
}
