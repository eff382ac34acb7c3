//! The workbench's CPU time per frame with 10, 100 and 1,000 assets: the pump station's tank with its pump and
//! motor copied (1 + 2k assets), laid out on a grid, opened by the release `twin` under Xvfb with
//! `--frame-stats`. The figure is the CPU time of the main world's update per frame (the twin's models at 60x,
//! the workbench's systems and the egui layout; the render world, on its own thread, excluded), median over 150
//! frames after a warm-up, of three runs' medians.
//!
//! Two set-ups: the workbench as it runs against a real plant (an external broker, here an address with nothing
//! listening, so no virtual plant runs inside the process), and the default embedded set-up, where the virtual
//! plant (a stand-in for the real plant) also simulates every pump inside the same frame.
//!
//! Run with `cargo bench --bench gui` (needs `xvfb-run`, which `scripts/test.sh` installs).

use std::path::Path;
use std::process::Command;

use twin::scenario::{self, AssetKind, AssetSpec, Scenario};

/// The station with `pairs` pump–motor pairs on its one tank, on a grid 4 m apart.
fn station_of(base: &Scenario, pairs: usize) -> Scenario {
    let mut s = base.clone();
    let tank = s.assets.iter().find(|a| matches!(a.kind, AssetKind::Tank(_))).cloned().expect("tank");
    let motor = s.assets.iter().find(|a| matches!(a.kind, AssetKind::Motor(_))).cloned().expect("motor");
    let pump = s.assets.iter().find(|a| matches!(a.kind, AssetKind::CentrifugalPump(_))).cloned().expect("pump");
    let mut assets = vec![tank.clone()];
    if let Some(AssetKind::Tank(t)) = assets.first_mut().map(|a| &mut a.kind) {
        t.inflow_m3h *= pairs as f64;
        t.area_m2 *= pairs as f64;
    }
    let side = (pairs as f64).sqrt().ceil() as usize;
    for i in 0..pairs {
        let (x, z) = ((i % side) as f32 * 4.0 + 12.0, (i / side) as f32 * 4.0);
        let m = AssetSpec { id: format!("M-{i}"), position: (x + 1.6, 0.0, z), identity_topic: None, ..motor.clone() };
        let p = AssetSpec {
            id: format!("P-{i}"),
            position: (x, 0.0, z),
            depends_on: vec![m.id.clone(), tank.id.clone()],
            identity_topic: None,
            ..pump.clone()
        };
        assets.push(m);
        assets.push(p);
    }
    s.assets = assets;
    s.signals.clear();
    s.setpoints.clear();
    s.faults.clear();
    s.expect.clear();
    s.maintenance.clear();
    s.change.interlocks.clear();
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median CPU ms per frame and frames per second of three runs of the workbench on `path`.
fn measure(path: &Path, dir: &Path, assets: usize, runs: usize) -> (f64, Vec<f64>, f64, f64) {
    let mut medians = Vec::new();
    let mut walls = Vec::new();
    let mut fps = Vec::new();
    for run in 0..runs {
        let stats = dir.join(format!("stats_{assets}_{run}.json"));
        let out = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x800x24", env!("CARGO_BIN_EXE_twin")])
            .arg(path)
            .args(["--frames", "150", "--frame-stats", stats.to_str().expect("utf-8 path"), "--select", "P-0"])
            .arg("--audit")
            .arg(dir.join("audit.jsonl"))
            .output()
            .expect("xvfb-run (scripts/test.sh installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats written")).expect("JSON");
        assert_eq!(v["assets"].as_u64(), Some(assets as u64));
        medians.push(v["main_world_cpu_ms_median"].as_f64().expect("median"));
        walls.push(v["main_world_wall_ms_median"].as_f64().expect("median"));
        fps.push(v["frames_per_s"].as_f64().expect("fps"));
    }
    (median(medians.clone()), medians, median(walls), median(fps))
}

fn write(s: &Scenario, path: &Path) {
    let cfg = ron::ser::PrettyConfig::default()
        .extensions(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES | ron::extensions::Extensions::IMPLICIT_SOME);
    std::fs::write(path, ron::ser::to_string_pretty(s, cfg).expect("RON")).expect("write scenario");
}

fn main() {
    let base = scenario::load(Path::new("scenes/pump_station.ron")).expect("scenes/pump_station.ron");
    let dir = tempfile::tempdir().expect("temp dir");
    println!("workbench main-world time per frame (render world excluded), release, Xvfb + llvmpipe, medians");
    let fmt = |v: &[f64]| v.iter().map(|m| format!("{m:.2}")).collect::<Vec<_>>().join(", ");
    for (setup, embedded) in
        [("external broker, no plant in-process", false), ("embedded broker + virtual plant", true)]
    {
        for pairs in [5, 50, 500] {
            if embedded && pairs != 500 {
                continue;
            }
            let assets = 1 + 2 * pairs;
            let mut s = station_of(&base, pairs);
            if !embedded {
                s.connections.broker = scenario::BrokerSpec::Mqtt(scenario::MqttSpec {
                    url: "mqtt://127.0.0.1:9".into(),
                    client_id: None,
                    username_env: None,
                    password_env: None,
                    ca_file: None,
                });
            }
            let path = dir.path().join(format!("station_{assets}_{embedded}.ron"));
            write(&s, &path);
            let (med, runs, wall, fps) = measure(&path, dir.path(), assets, 3);
            println!(
                "{assets:>5} assets, {setup}: {med:>6.2} ms on-CPU per frame (runs: {}), {wall:.2} ms wall, {fps:.1} frames/s",
                fmt(&runs)
            );
        }
    }
}
