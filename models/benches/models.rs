//! Timing harness for the asset models (median of N repetitions, no external bench framework): reduced-order
//! pump-train throughput, the cost of one rapier rotor step, a 30-day single-train run, the load-map fit and a
//! what-if study (`cargo bench -p twin-models -- whatif` runs that one alone).

use std::hint::black_box;
use std::time::{Duration, Instant};

use twin_models::rotor::{DEFAULT_DT_S, RotorParams, RotorSim};
use twin_models::whatif::{self, Ambient, Plan, Study, Uncertainty};
use twin_models::{LoadMap, MotorParams, PumpParams, PumpTrain, PumpTrainInputs, PumpTrainState};

/// On-CPU time of this thread, ns (Linux `/proc/thread-self/schedstat`, first field), if available. The machine
/// is shared, so wall time includes time the thread waited for a core; on-CPU time does not.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Medians of wall time and on-CPU time.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Timing {
    /// The figure to report: on-CPU time when available, else wall.
    fn best(&self) -> Duration {
        self.cpu.unwrap_or(self.wall)
    }
    fn describe(&self, scale: f64, unit: &str) -> String {
        let cpu = self.cpu.map(|c| format!("{:.2} {unit} on-CPU, ", c.as_secs_f64() * scale)).unwrap_or_default();
        format!("{cpu}{:.2} {unit} wall", self.wall.as_secs_f64() * scale)
    }
}

/// Runs `f` `reps` times and returns the median wall and on-CPU times.
fn median(reps: usize, mut f: impl FnMut()) -> Timing {
    let mut wall = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let c0 = thread_cpu_ns();
        let s = Instant::now();
        f();
        wall.push(s.elapsed());
        if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
            cpu.push(Duration::from_nanos(b - a));
        }
    }
    wall.sort();
    cpu.sort();
    Timing { wall: wall[reps / 2], cpu: (cpu.len() == reps).then(|| cpu[reps / 2]) }
}

/// (e) The what-if engine's "done when" case: one pump, 7-day horizon, 1 000 samples, baseline and change (a
/// deferred bearing replacement and a speed change), default step (300 s), all cores. Wall time: the study
/// runs on worker threads.
fn bench_whatif(train: &PumpTrain) {
    let mut state = PumpTrainState::initial(20.0);
    let inp = PumpTrainInputs {
        speed_setpoint_rpm: 1480.0,
        tank_level_m: 3.5,
        ambient_c: 20.0,
        bearing_defect_severity: 0.3,
    };
    for _ in 0..1440 {
        train.step(&mut state, &inp, 60.0);
    }
    state.bearing_damage_l10 = 2.5;
    let ambient = Ambient { mean_c: 22.0, daily_swing_k: 5.0, start_time_of_day_s: 8.0 * 3600.0 };
    let baseline = Plan::constant(1480.0, 3.5, ambient).with_maintenance_at(1.0 * 86_400.0);
    let change =
        Plan::constant(1480.0, 3.5, ambient).with_speed_from(86_400.0, 1350.0).with_maintenance_at(8.0 * 86_400.0);
    let mut study = Study::new(train.clone(), state, baseline, change);
    study.uncertainty = Uncertainty {
        head_rel_std: 0.02,
        unbalance_rel_std: 0.2,
        frame_ambient_rel_std: 0.05,
        ambient_std_k: 2.0,
        defect_severity_mean: 0.3,
        defect_severity_std: 0.1,
        ..Uncertainty::default()
    };
    let mut answer = None;
    let d = median(7, || {
        answer = Some(whatif::run(black_box(&study)).unwrap());
    });
    let a = answer.unwrap();
    println!(
        "(e) what-if, 7 days x {} samples x 2 plans at {} s on {} threads: median {:.1} ms wall \
         (p_failure {:.3} -> {:.3})",
        study.samples,
        study.dt_s,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        d.wall.as_secs_f64() * 1e3,
        a.baseline.p_failure,
        a.change.p_failure,
    );
}

fn main() {
    let pump = PumpParams::example();
    let motor = MotorParams::example();
    if std::env::args().skip(1).any(|a| a == "whatif") {
        bench_whatif(&PumpTrain::new(pump, motor).unwrap());
        return;
    }

    // (d) load-map fit.
    let fit = median(7, || {
        black_box(LoadMap::fit_pump(black_box(&pump), &motor).unwrap());
    });
    println!("(d) load-map fit (rapier sweep of 12 points): median {}", fit.describe(1e3, "ms"));

    // (a) 1000 pump trains, stepped in a loop on one core.
    let base = PumpTrain::new(pump.clone(), motor.clone()).unwrap();
    let trains: Vec<PumpTrain> = (0..1000)
        .map(|i| {
            let mut p = pump.clone();
            p.unbalance_g_mm = 200.0 + i as f64;
            PumpTrain::with_map(p, motor.clone(), base.map.clone())
        })
        .collect();
    let mut states: Vec<PumpTrainState> = (0..1000).map(|_| PumpTrainState::initial(20.0)).collect();
    let inputs: Vec<PumpTrainInputs> = (0..1000)
        .map(|i| PumpTrainInputs {
            speed_setpoint_rpm: 900.0 + (i % 600) as f64,
            tank_level_m: 2.0 + (i % 7) as f64 * 0.3,
            ambient_c: 20.0,
            bearing_defect_severity: (i % 5) as f64 * 0.1,
        })
        .collect();
    let steps_per_train = 1000;
    let mut sink = 0.0;
    let d = median(7, || {
        for _ in 0..steps_per_train {
            for ((t, s), inp) in trains.iter().zip(states.iter_mut()).zip(inputs.iter()) {
                let o = t.step(s, inp, 1.0);
                sink += o.vib_rms_mm_s;
            }
        }
    });
    black_box(sink);
    let n = (steps_per_train * trains.len()) as f64;
    println!(
        "(a) reduced-order, 1000 trains x {steps_per_train} steps: median {} -> {:.2} M asset-steps/s on-CPU ({:.2} M/s wall)",
        d.describe(1e9 / n, "ns/step"),
        n / d.best().as_secs_f64() / 1e6,
        n / d.wall.as_secs_f64() / 1e6,
    );

    // (b) one rapier step per pump.
    let rotor = RotorParams::from_pump(&pump, &motor);
    let mut sim = RotorSim::new(rotor.clone(), DEFAULT_DT_S);
    sim.set_speed_setpoint(rotor.rated_speed_rad_s);
    sim.set_speed(rotor.rated_speed_rad_s);
    let rs = 2000;
    let d = median(7, || {
        for _ in 0..rs {
            black_box(sim.step());
        }
    });
    println!("(b) rapier rotor step (1 kHz, one pump): median {}", d.describe(1e6 / rs as f64, "us/step"));

    // (c) 30 days of one train at 1 s steps.
    let inp = PumpTrainInputs {
        speed_setpoint_rpm: 1480.0,
        tank_level_m: 3.5,
        ambient_c: 20.0,
        bearing_defect_severity: 0.0,
    };
    let mut wear = 0.0;
    let d = median(5, || {
        let mut st = PumpTrainState::initial(20.0);
        for _ in 0..30 * 86_400 {
            wear = base.step(&mut st, &inp, 1.0).health.bearing_wear;
        }
    });
    println!(
        "(c) 30-day single train at 1 s (2 592 000 steps): median {} (final wear index {wear:.5})",
        d.describe(1e3, "ms")
    );

    bench_whatif(&base);
}
