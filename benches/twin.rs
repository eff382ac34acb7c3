//! Benchmarks of the twin as a whole (run with `cargo bench --bench twin`): a 30-day headless run of the worked
//! example at a 1 s model step, and model steps per second through the ECS for stations of 10, 100 and 1,000
//! pumps, side by side with the bare model loop over the same steps (the ECS overhead is their ratio).
//! Figures are medians over several runs; the machine is shared, so compare ratios, not absolute times.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use twin::headless::{self, RunOptions};
use twin::scenario::{self, AssetKind, AssetSpec, Scenario};
use twin_models::{PumpTrain, PumpTrainInputs, PumpTrainState};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn opts(duration_s: f64) -> RunOptions {
    RunOptions { plant: false, ..RunOptions::new(duration_s, 1) }
}

/// The pump station with its pump and motor copied `n` times, all on the one tank (inflow scaled to match).
fn station_of(base: &Scenario, n: usize) -> Scenario {
    let mut s = base.clone();
    let tank = s.assets.iter().find(|a| matches!(a.kind, AssetKind::Tank(_))).cloned().expect("tank");
    let motor = s.assets.iter().find(|a| matches!(a.kind, AssetKind::Motor(_))).cloned().expect("motor");
    let pump = s.assets.iter().find(|a| matches!(a.kind, AssetKind::CentrifugalPump(_))).cloned().expect("pump");
    let mut assets = vec![tank.clone()];
    if let Some(AssetKind::Tank(t)) = assets.first_mut().map(|a| &mut a.kind) {
        t.inflow_m3h *= n as f64;
        t.area_m2 *= n as f64;
    }
    for i in 0..n {
        let m = AssetSpec { id: format!("M-{i}"), ..motor.clone() };
        let p = AssetSpec { id: format!("P-{i}"), depends_on: vec![m.id.clone(), tank.id.clone()], ..pump.clone() };
        assets.push(m);
        assets.push(p);
    }
    s.assets = assets;
    s.signals.clear();
    s.setpoints.clear();
    s.faults.clear();
    s.expect.clear();
    s
}

fn main() {
    let base = scenario::load(Path::new("scenes/pump_station.ron")).expect("scenes/pump_station.ron");
    let path = Path::new("scenes/pump_station.ron");

    let arc = Arc::new(base.clone());
    let t30 = time(5, || {
        black_box(headless::run(arc.clone(), path, &opts(30.0 * 86_400.0)).expect("run"));
    });
    println!("30-day headless run of the pump station, 1 s model step (2,592,000 steps): median {t30:.3} s");

    let (AssetKind::CentrifugalPump(pp), AssetKind::Motor(mp)) =
        (&base.asset("P-101").expect("P-101").kind, &base.asset("M-101").expect("M-101").kind)
    else {
        panic!("pump station shape")
    };
    let train = PumpTrain::new(pp.clone(), mp.clone()).expect("model");
    for n in [10usize, 100, 1000] {
        let s = Arc::new(station_of(&base, n));
        let day_steps = 86_400.0;
        let duration = if n >= 1000 { 3_600.0 * 6.0 } else { day_steps };
        let ecs = time(5, || {
            black_box(headless::run(s.clone(), path, &opts(duration)).expect("run"));
        });
        let steps = n as f64 * duration;
        let mut states = vec![PumpTrainState::initial(20.0); n];
        let inputs = PumpTrainInputs {
            speed_setpoint_rpm: 1480.0,
            tank_level_m: 3.5,
            ambient_c: 20.0,
            bearing_defect_severity: 0.0,
        };
        let bare = time(5, || {
            for _ in 0..duration as usize {
                for st in states.iter_mut() {
                    black_box(train.step(st, &inputs, 1.0));
                }
            }
        });
        println!(
            "{n:>5} pumps: ECS {:>6.2} M pump-steps/s, bare model loop {:>6.2} M/s, ECS/bare time ratio {:.2}",
            steps / ecs / 1e6,
            steps / bare / 1e6,
            ecs / bare
        );
    }
}
