//! The workbench's CPU time per frame with 10, 100 and 1,000 assets: the pump station's tank with its pump and
//! motor copied (1 + 2k assets), laid out on a grid, opened by the release `twin` under Xvfb with
//! `--frame-stats`. The figure is the wall time of the main world's update per frame (the twin's models at 60x,
//! the workbench's systems, Bevy's transform and visibility systems and the egui layout; the render world's own
//! schedule excluded), median over 60 frames after a warm-up, of three runs' medians (one run at 1,001). With two
//! cores shared with the software renderer this is an upper bound on the CPU it needs. The workbench runs against
//! an external broker (an address with nothing listening), as against a real plant.
//!
//! First, the same without a window (`twin::ui::windowless`): the twin, the workbench's systems and the very UI
//! pass, laid out and tessellated by egui, on one thread, with and without the in-process virtual plant, one model
//! step per frame (60x); and on the 10,002 assets of a site `twin scenario generate --pumps 4445` writes, live (1x,
//! one step a second taken in slices) and at 60x. That is the workbench's own CPU per frame, free of the software
//! renderer's competition for the two cores.
//!
//! Run with `cargo bench --bench gui` (needs `xvfb-run`, which `scripts/test.sh` installs). The scenarios are kept in
//! `target/gui-bench/`; `TWIN_GUI_BENCH_WRITE_ONLY=1` writes them and measures nothing.

use std::path::Path;
use std::process::Command;

use twin::scenario::{self, AssetKind, AssetSpec, Scenario};
use twin::twin::SimClock;
use twin::twin::simulate::{LIVE_STEP_SLICE, StepSlicing};

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
            .args(["--frames", "60", "--frame-stats", stats.to_str().expect("utf-8 path"), "--select", "P-0"])
            .arg("--audit")
            .arg(dir.join("audit.jsonl"))
            .output()
            .expect("xvfb-run (scripts/test.sh installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats written")).expect("JSON");
        assert_eq!(v["assets"].as_u64(), Some(assets as u64));
        medians.push(v["main_world_cpu_ms_median"].as_f64().unwrap_or(f64::NAN));
        walls.push(v["main_world_wall_ms_median"].as_f64().expect("median"));
        fps.push(v["frames_per_s"].as_f64().expect("fps"));
    }
    (median(medians), walls.clone(), median(walls), median(fps))
}

fn write(s: &Scenario, path: &Path) {
    std::fs::write(path, scenario::to_ron(s).expect("RON")).expect("write scenario");
}

/// How the twin advances in a windowless run.
#[derive(Clone, Copy, PartialEq)]
enum Pace {
    /// A whole model step every frame: 60x at 60 frames/s, the workbench fast-forwarding.
    StepPerFrame,
    /// One model step a second at 60 frames/s (1x, live), taken in slices as the live workbench takes it (it
    /// paces by the wall clock, `StepSlicing::Live`; this driver sets each frame's steps, hence `Always`).
    Live,
}

/// Windowless: the twin, the workbench's systems and the egui layout and tessellation of every panel, with
/// `select` selected and the plots' crosshair pinned (its read-out of every chart drawn); median on-CPU and wall
/// ms per frame, and the largest on-CPU, over 300 frames after 30 of warm-up.
fn windowless(s: &Scenario, plant: bool, dir: &Path, select: &str, pace: Pace) -> (f64, f64, f64) {
    let mut w =
        twin::ui::windowless::Windowless::new(std::sync::Arc::new(s.clone()), 1, plant, dir.join("audit.jsonl"))
            .expect("windowless workbench");
    if pace == Pace::Live {
        w.app.insert_resource(StepSlicing::Always(LIVE_STEP_SLICE));
    }
    let mut bench = w.app.world_mut().resource_mut::<twin::ui::state::Workbench>();
    bench.selected = Some(select.into());
    // The crosshair pinned inside the window: every frame reads every chart's series out at it.
    bench.view.cursor_s = Some(120.0);
    let frame = |w: &mut twin::ui::windowless::Windowless, i: u32| match pace {
        Pace::StepPerFrame => w.frame(1),
        Pace::Live => {
            // A sliced step keeps its pending step until it is whole; a new one is due every 60 frames.
            let pending = w.app.world().resource::<SimClock>().pending_steps;
            w.frame(pending + u32::from(i.is_multiple_of(60)))
        }
    };
    for i in 0..30 {
        frame(&mut w, i);
    }
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for i in 30..330 {
        let (t0, c0) = (std::time::Instant::now(), twin::ui::framestats::thread_cpu_ns());
        std::hint::black_box(frame(&mut w, i));
        wall.push(t0.elapsed().as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (c0, twin::ui::framestats::thread_cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64 / 1e6);
        }
    }
    let max = cpu.iter().copied().fold(0.0, f64::max);
    (median(cpu), median(wall), max)
}

fn main() {
    let base = scenario::load(Path::new("scenes/pump_station.ron")).expect("scenes/pump_station.ron");
    // Kept after the run, so that a case can be opened or profiled by hand.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/gui-bench");
    std::fs::create_dir_all(&dir).expect("target/gui-bench");
    let fmt = |v: &[f64]| v.iter().map(|m| format!("{m:.2}")).collect::<Vec<_>>().join(", ");
    println!(
        "windowless: twin + workbench systems + egui layout and tessellation per frame (render excluded), medians"
    );
    for (pairs, plant) in [(5, false), (50, false), (500, false), (500, true)] {
        let s = station_of(&base, pairs);
        let runs: Vec<_> = (0..3).map(|_| windowless(&s, plant, dir.as_path(), "P-0", Pace::StepPerFrame)).collect();
        let cpu: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let wall: Vec<f64> = runs.iter().map(|r| r.1).collect();
        println!(
            "{:>5} assets{}: {:>6.2} ms on-CPU per frame (runs: {}), {:.2} ms wall",
            1 + 2 * pairs,
            if plant { " + in-process virtual plant" } else { "" },
            median(cpu.clone()),
            fmt(&cpu),
            median(wall)
        );
    }
    // Plant scale: the site `twin scenario generate --pumps 4445` writes (4,445 trains on 1,112 shared tanks), live
    // (1x) and fast-forwarded (60x).
    let spec = scenario::generate::SiteSpec { pumps: 4445, name: "Scale".into(), ..Default::default() };
    let site = scenario::generate::site(&spec).expect("a generated site");
    // With the in-process virtual plant the step corrects the estimators with the plant's 17,900 samples a second
    // as it would with a real plant's telemetry, but the plant's own simulation of the 4,445 trains runs on the same
    // thread too (a real plant's is elsewhere): an upper bound.
    for (pace, plant) in
        [(Pace::Live, false), (Pace::Live, true), (Pace::StepPerFrame, false), (Pace::StepPerFrame, true)]
    {
        let runs: Vec<_> = (0..3).map(|_| windowless(&site, plant, dir.as_path(), "P-0001", pace)).collect();
        let cpu: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let max: Vec<f64> = runs.iter().map(|r| r.2).collect();
        println!(
            "{:>5} assets (twin scenario generate --pumps 4445){}, {}: {:>6.2} ms on-CPU per frame (runs: {}), \
             {:.2} ms wall, largest frame {:.2} ms (runs: {})",
            site.assets.len(),
            if plant { " + in-process virtual plant" } else { "" },
            if pace == Pace::Live { "1x, live, sliced steps" } else { "60x, a whole step per frame" },
            median(cpu.clone()),
            fmt(&cpu),
            median(runs.iter().map(|r| r.1).collect()),
            median(max.clone()),
            fmt(&max)
        );
    }
    if std::env::var_os("TWIN_GUI_BENCH_WINDOWLESS_ONLY").is_some() {
        return;
    }
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
                s.connections.broker = scenario::BrokerSpec::Mqtt(scenario::MqttSpec::at("mqtt://127.0.0.1:9"));
            }
            let path = dir.as_path().join(format!("station_{assets}_{embedded}.ron"));
            write(&s, &path);
            if std::env::var_os("TWIN_GUI_BENCH_WRITE_ONLY").is_some() {
                continue; // only the scenario files, to open or profile by hand
            }
            // A thousand assets render at well under a frame per second in software: one run.
            let (med, runs, wall, fps) = measure(&path, dir.as_path(), assets, if pairs >= 500 { 1 } else { 3 });
            println!(
                "{assets:>5} assets, {setup}: {wall:>7.2} ms wall per frame ({med:.2} ms on the schedule's thread; runs' \
                 wall medians: {}), {fps:.1} frames/s",
                fmt(&runs)
            );
        }
    }
}
