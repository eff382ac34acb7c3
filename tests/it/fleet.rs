//! The ML layer end to end: `twin fleet` writes run-to-failure histories, `scripts/train_pace.py` (scikit-learn,
//! skl2onnx) trains and exports the pace model, the twin loads the ONNX file with tract and its prior equals the
//! scikit-learn model's own prediction; bad models and bad dataset rows are clear errors naming the file; the IMS and
//! FEMTO readers on fixtures written in those layouts.

use std::path::Path;

use super::{artifacts, root, stderr, twin};

fn python() -> std::path::PathBuf {
    super::serve::peers_python()
}

/// Runs Python `code` with `args` in the project's environment; its standard output.
fn py(code: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python()).arg("-c").arg(code).args(args).output().expect("python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small fleet written, trained on, and the model's paths: (dir, onnx, pickled scikit-learn pipeline). Made
/// once for the tests that need it.
fn trained_fleet() -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    static TRAINED: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    TRAINED.get_or_init(train).clone()
}

fn train() -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = artifacts("fleet-train");
    let fleet = dir.join("fleet");
    let out = twin(&[
        "fleet",
        "scenes/run_to_failure.ron",
        "--pumps",
        "12",
        "--seed",
        "5",
        "--max-duration",
        "200d",
        "-o",
        fleet.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (onnx, pkl) = (dir.join("pace.onnx"), dir.join("pace.pkl"));
    let out = std::process::Command::new(python())
        .arg(root().join("scripts/train_pace.py"))
        .args([fleet.to_str().unwrap(), "--output", onnx.to_str().unwrap(), "--sklearn", pkl.to_str().unwrap()])
        .args(["--version", "pace-test"])
        .output()
        .expect("train");
    assert!(out.status.success(), "training failed: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    (fleet, onnx, pkl)
}

#[test]
fn a_small_fleet_trains_a_pace_model_and_the_twins_prior_is_scikit_learns_prediction() {
    let (fleet, onnx, pkl) = trained_fleet();

    // The layout: every pump ran to failure, its history once a minute up to the failure, the hidden truth kept
    // apart from the observables.
    let pumps = std::fs::read_to_string(fleet.join("pumps.csv")).unwrap();
    let header = pumps.lines().next().unwrap();
    assert!(header.starts_with("pump,source,vib_unit,rated_speed_rpm,rated_current_a,"), "{header}");
    let histories = std::fs::read_to_string(fleet.join("histories.csv")).unwrap();
    assert_eq!(
        histories.lines().next().unwrap(),
        "pump,t_s,speed_rpm,flow_m3h,motor_current_a,winding_temp_c,vib_rms,vib_peak,crest_factor,growth_factor"
    );
    let summary: Vec<Vec<String>> = pumps.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(summary.len(), 12);
    for row in &summary {
        let failure: f64 = row[9].parse().unwrap_or_else(|_| panic!("{} did not fail: {row:?}", row[0]));
        let rows: usize = row[11].parse().unwrap();
        assert_eq!(rows, (failure / 60.0).ceil() as usize, "{}: a row a minute up to the failure", row[0]);
        let onset: f64 = row[7].parse().unwrap();
        assert!(onset < failure);
    }

    // The twin on a new pump (not in the training fleet) with the model: its prior at detection.
    let base = twin::scenario::load(&root().join("scenes/run_to_failure.ron")).unwrap();
    let p = twin::headless::fleet::fleet_pump(&base, None, 77, 0).unwrap();
    let mut app = twin::headless::fleet::fleet_twin(&p, Some(&onnx)).unwrap();
    // It watches the fleet pump's own plant (the one `twin fleet` runs to failure), not another draw.
    let own = |plant: &twin::plant::VirtualPlant| plant.truth().pump(&p.asset).unwrap().defect_own_growth_rate_per_h;
    let fleet_plant = twin::plant::VirtualPlant::new(&p.scenario, p.plant_seed).unwrap();
    assert_eq!(own(&app.world().resource::<twin::plant::inprocess::PlantRunner>().plant), own(&fleet_plant));
    app.update();
    twin::change::cli::run_for(&mut app, p.summary.onset_s + 1800.0);
    let e = app.world().resource::<twin::twin::AssetIndex>().0[&p.asset];
    let d = app.world().get::<twin::assess::defect::DefectTracker>(e).unwrap().defect.clone().expect("detected");
    let prior = d.prior.expect("a learnt prior");
    assert!(prior.model.starts_with("pace-test ("), "{}", prior.model);
    // Scikit-learn's own prediction on the same features.
    let x: Vec<String> = prior.features.iter().map(|v| format!("{v:.17e}")).collect();
    let code = "import pickle,sys,numpy as np; m=pickle.load(open(sys.argv[1],'rb')); \
                print(repr(float(m.predict(np.array([[float(v) for v in sys.argv[2:]]]))[0])))";
    let sk: f64 = py(code, &[pkl.to_str().unwrap(), &x[0], &x[1], &x[2], &x[3]]).trim().parse().unwrap();
    let twin_ln = prior.predicted_per_h.ln();
    assert!((twin_ln - sk).abs() < 1e-9, "the twin's prior ln {twin_ln} vs scikit-learn's {sk}");
    // The features are the pump's: it runs at its fleet speed, warm, on its own vibration.
    assert!((prior.features[0] - p.summary.speed_setpoint_rpm / p.summary.rated_speed_rpm).abs() < 0.02);
    assert!(prior.features[1] > p.summary.ambient_mean_c, "{:?}", prior.features);
    // It is the prior the readings then update: right after detection the posterior rate sits near it, not at
    // the fleet's median.
    assert!(!prior.clamped);
    let report = twin::assess::Report::of(app.world());
    let m = report.pace_model.expect("the report names the model");
    assert_eq!(m.predictions, 1);
    assert_eq!(m.info.features.len(), 4);
    assert!(m.info.heldout_mae_ln > 0.0 && m.info.residual_sd_ln > 0.0);
    assert!(m.info.training_fleet.contains("--pumps 12"), "{}", m.info.training_fleet);
}

#[test]
fn the_fleets_parquet_histories_hold_the_same_rows_as_its_csv() {
    let dir = artifacts("fleet-parquet");
    for format in ["csv", "parquet"] {
        let out = twin(&[
            "fleet",
            "scenes/run_to_failure.ron",
            "--pumps",
            "2",
            "--seed",
            "3",
            "--max-duration",
            "1d",
            "--format",
            format,
            "-o",
            dir.join(format).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let code = "import sys,csv,pyarrow.parquet as pq; t=pq.read_table(sys.argv[2]).to_pylist(); \
                r=list(csv.DictReader(open(sys.argv[1]))); assert len(t)==len(r)>0, (len(t),len(r)); \
                k=lambda x: (x['pump'], float(x['t_s'])); t.sort(key=k); r.sort(key=k); \
                bad=[(a,b) for a,b in zip(r,t) for k in a if (a[k] if k=='pump' else (float(a[k]) if a[k] else None)) \
                != (b[k] if k=='pump' or b[k]==b[k] else None)]; assert not bad, bad[:3]; print(len(t))";
    let n = py(
        code,
        &[dir.join("csv/histories.csv").to_str().unwrap(), dir.join("parquet/histories.parquet").to_str().unwrap()],
    );
    // Two pumps, a day each (censored: no failure within a day), a row a minute.
    assert_eq!(n.trim(), "2880");
}

#[test]
fn a_corrupt_model_and_a_model_with_other_features_are_refused_naming_the_file() {
    let (_, onnx, _) = trained_fleet();
    let dir = artifacts("fleet-bad-model");
    let scenario = std::fs::read_to_string(root().join("scenes/run_to_failure.ron")).unwrap();
    let with_model = |model: &str| {
        let text = scenario.replacen("    assets: [", &format!("    pace_model: \"{model}\",\n    assets: ["), 1);
        let path = dir.join(format!("{model}.ron"));
        std::fs::write(&path, text).unwrap();
        path
    };
    // Corrupt: the model cut in half (as an interrupted copy leaves it).
    let bytes = std::fs::read(&onnx).unwrap();
    std::fs::write(dir.join("corrupt.onnx"), &bytes[..bytes.len() / 2]).unwrap();
    // Other features: the same model with one feature renamed in its metadata.
    let code = "import onnx,sys,json; m=onnx.load(sys.argv[1]); \
                p=[p for p in m.metadata_props if p.key=='twin.features'][0]; f=json.loads(p.value); \
                f[1]['name']='bearing_temp_c'; p.value=json.dumps(f); onnx.save(m, sys.argv[2])";
    py(code, &[onnx.to_str().unwrap(), dir.join("other.onnx").to_str().unwrap()]);
    for (model, expect) in [
        ("corrupt.onnx", "not a usable ONNX model"),
        ("other.onnx", "features do not match"),
        ("missing.onnx", "cannot read the pace model"),
    ] {
        let path = with_model(model);
        let out = twin(&["check", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{model}: {err}");
        assert!(err.contains(model) && err.contains(expect), "{model}: {err}");
    }
    // The good model passes `twin check`.
    std::fs::copy(&onnx, dir.join("good.onnx")).unwrap();
    let out = twin(&["check", with_model("good.onnx").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Writes an IMS test directory: `snapshots` files of `rows` rows, 4 channels, channel c a sine of amplitude
/// `c + 1` g growing by 10 % per snapshot.
fn write_ims(dir: &Path, snapshots: usize, rows: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..snapshots {
        let mut text = String::new();
        for i in 0..rows {
            let phase = std::f64::consts::TAU * i as f64 / 20.0;
            let v: Vec<String> =
                (0..4).map(|c| format!("{:.6}", (c + 1) as f64 * 1.1f64.powi(k as i32) * phase.sin())).collect();
            text.push_str(&v.join("\t"));
            text.push_str("\r\n");
        }
        std::fs::write(dir.join(format!("2004.02.12.10.{:02}.39", 2 + 10 * k)), text).unwrap();
    }
}

/// Writes a FEMTO bearing directory: `snapshots` files of `rows` rows, 10 s apart, a horizontal sine of amplitude
/// 0.5 g doubling per snapshot.
fn write_femto(dir: &Path, snapshots: usize, rows: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..snapshots {
        let mut text = String::new();
        let t = 9.0 * 3600.0 + 39.0 * 60.0 + 39.0 + 10.0 * k as f64;
        for i in 0..rows {
            let phase = std::f64::consts::TAU * i as f64 / 20.0;
            let (h, m, s) = ((t / 3600.0).floor(), ((t % 3600.0) / 60.0).floor(), (t % 60.0).floor());
            text.push_str(&format!(
                "{h},{m},{s},{}.0,{:.6},{:.6}\n",
                65_664 + 39 * i,
                0.5 * 2f64.powi(k as i32) * phase.sin(),
                0.1 * phase.cos()
            ));
        }
        std::fs::write(dir.join(format!("acc_{:05}.csv", k + 1)), text).unwrap();
    }
}

fn rows(csv: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(csv).unwrap().lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

#[test]
fn ims_and_femto_files_become_fleet_histories_with_their_rms_peak_and_crest() {
    let dir = artifacts("fleet-datasets");
    let ims = dir.join("ims/2nd_test");
    write_ims(&ims, 3, 400);
    let out = twin(&["fleet", "import", "ims", ims.to_str().unwrap(), "-o", dir.join("ims-out").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let h = rows(&dir.join("ims-out/histories.csv"));
    assert_eq!(h.len(), 12, "4 channels x 3 snapshots");
    for r in &h {
        let c: f64 = r[0].trim_start_matches("ims-ch").parse().unwrap();
        let t: f64 = r[1].parse().unwrap();
        let k = (t / 600.0).round() as i32;
        let amp = c * 1.1f64.powi(k);
        // A sine sampled 20 times a period: RMS A/√2, peak A, crest √2.
        let (rms, peak, crest): (f64, f64, f64) = (r[6].parse().unwrap(), r[7].parse().unwrap(), r[8].parse().unwrap());
        assert!((rms / (amp / 2f64.sqrt()) - 1.0).abs() < 1e-4, "{r:?}");
        assert!((peak / amp - 1.0).abs() < 1e-4, "{r:?}");
        assert!((crest - 2f64.sqrt()).abs() < 1e-3, "{r:?}");
        assert_eq!(r[2], "2000");
    }
    let pumps = rows(&dir.join("ims-out/pumps.csv"));
    assert_eq!(pumps.len(), 4);
    assert_eq!(pumps[0][9], "1200", "the last snapshot is the failure: 20 minutes after the first");

    let femto = dir.join("femto/Learning_set/Bearing1_1");
    write_femto(&femto, 4, 300);
    let out =
        twin(&["fleet", "import", "femto", femto.to_str().unwrap(), "-o", dir.join("femto-out").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let h = rows(&dir.join("femto-out/histories.csv"));
    assert_eq!(h.len(), 4);
    for (k, r) in h.iter().enumerate() {
        assert_eq!(r[0], "femto-Bearing1_1");
        assert_eq!(r[1].parse::<f64>().unwrap(), 10.0 * k as f64);
        assert_eq!(r[2], "1800", "condition 1: 1800 rpm");
        let amp = 0.5 * 2f64.powi(k as i32);
        assert!((r[6].parse::<f64>().unwrap() / (amp / 2f64.sqrt()) - 1.0).abs() < 1e-4, "{r:?}");
    }

    // A bad row in either: exit 2, the file and line named, nothing written.
    let bad_ims = dir.join("ims-bad");
    write_ims(&bad_ims, 2, 50);
    let file = bad_ims.join("2004.02.12.10.12.39");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replacen("\r\n", "\r\n0.1\t0.2\tx\t0.4\r\n", 3);
    std::fs::write(&file, text).unwrap();
    let out_dir = dir.join("ims-bad-out");
    let out = twin(&["fleet", "import", "ims", bad_ims.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("2004.02.12.10.12.39:2:") && err.contains("\"x\" is not a number"), "{err}");
    assert!(!out_dir.exists(), "nothing written");

    let bad_femto = dir.join("femto-bad/Bearing2_3");
    write_femto(&bad_femto, 2, 50);
    let file = bad_femto.join("acc_00002.csv");
    let text = std::fs::read_to_string(&file).unwrap().replacen('\n', "\n9,39,49,1\n", 5);
    std::fs::write(&file, text).unwrap();
    let out =
        twin(&["fleet", "import", "femto", bad_femto.to_str().unwrap(), "-o", dir.join("f-out").to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("acc_00002.csv:2:") && err.contains("4 fields"), "{err}");
}
