//! Residual drift detection: false alarms over long healthy runs, detection delays, flatline, classification,
//! confidence and robustness to invalid input.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use twin_models::drift::{
    AlarmKind, Cause, DriftConfig, MonitorStatus, ResidualMonitor, SensorFault, SignalKind, SignalView, classify,
};

const WEEK_S: usize = 7 * 24 * 3600;
const HOUR_S: usize = 3600;

/// Unit-variance noise: white (`tau_s = 0`) or Gauss–Markov AR(1) with correlation time `tau_s`, at 1 Hz.
struct Noise {
    rng: ChaCha8Rng,
    phi: f64,
    x: f64,
}

impl Noise {
    fn new(seed: u64, tau_s: f64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: f64 = StandardNormal.sample(&mut rng);
        let phi = if tau_s > 0.0 { (-1.0 / tau_s).exp() } else { 0.0 };
        Self { rng, phi, x }
    }

    fn next(&mut self) -> f64 {
        let w: f64 = StandardNormal.sample(&mut self.rng);
        self.x = self.phi * self.x + (1.0 - self.phi * self.phi).sqrt() * w;
        self.x
    }
}

/// A flow-like signal: predicted value following a daily cycle, σ = 0.5 % of reading.
fn flow_prediction(t: f64) -> f64 {
    100.0 + 20.0 * (2.0 * std::f64::consts::PI * t / 86_400.0).sin()
}

/// Feed `n` samples at 1 Hz from `t0` with residual mean `mean(t)` (σ units) plus noise; returns the statuses'
/// maximum level and the first alarm (kind, time).
fn feed(
    mon: &mut ResidualMonitor,
    noise: &mut Noise,
    t0: usize,
    n: usize,
    mean: impl Fn(f64) -> f64,
) -> (f64, Option<(AlarmKind, f64)>, MonitorStatus) {
    let mut max_level = 0.0f64;
    let mut first = None;
    let mut st = mon.status();
    for i in t0..t0 + n {
        let t = i as f64;
        let pred = flow_prediction(t);
        let sigma = SignalKind::Flow.noise_sigma(pred);
        let meas = pred + (mean(t) + noise.next()) * sigma;
        st = mon.update(t, meas, pred, sigma);
        max_level = max_level.max(st.level);
        if first.is_none()
            && let Some(kind) = st.alarm
        {
            first = Some((kind, st.since_s.unwrap()));
        }
    }
    (max_level, first, st)
}

fn monitor() -> ResidualMonitor {
    ResidualMonitor::new(DriftConfig::default()).unwrap()
}

/// (a) A constant 3σ model bias over a healthy week raises no alarm, for white and for Gauss–Markov (τ = 60 s)
/// residual noise; prints the largest statistic reached as a fraction of its limit (the margin).
#[test]
fn drift_healthy_week_with_bias_raises_no_alarm() {
    for (label, tau, seed) in [("white", 0.0, 11), ("gauss-markov 60 s", 60.0, 12)] {
        let mut mon = monitor();
        let mut noise = Noise::new(seed, tau);
        let mut max_ewma = 0.0f64;
        let mut max_cusum = 0.0f64;
        let mut max_level = 0.0f64;
        let mut alarms = 0;
        for i in 0..WEEK_S {
            let t = i as f64;
            let pred = flow_prediction(t);
            let sigma = SignalKind::Flow.noise_sigma(pred);
            let st = mon.update(t, pred + (3.0 + noise.next()) * sigma, pred, sigma);
            if st.warmed_up {
                max_ewma = max_ewma.max(st.ewma.abs() / (mon.config().ewma_limit * mon.ewma_sigma()));
                max_cusum = max_cusum.max(st.cusum_pos.max(st.cusum_neg) / mon.config().cusum_h);
                max_level = max_level.max(st.level);
            }
            if st.alarm.is_some() {
                alarms += 1;
            }
        }
        let st = mon.status();
        println!(
            "{label}: max |ewma|/limit {max_ewma:.3}, max cusum/h {max_cusum:.3}, max level {max_level:.3}, \
             baseline {:.3} σ, alarmed samples {alarms}",
            st.baseline
        );
        assert_eq!(alarms, 0, "{label}: false alarm in a healthy week");
        assert!((st.baseline - 3.0).abs() < 0.3, "{label}: baseline {} should have learned the 3σ bias", st.baseline);
    }
}

/// (b) A +3σ step in the residual mean is detected within 10 min at 1 Hz with white noise and within 15 min with
/// Gauss–Markov τ = 60 s noise (≈ 2 min per independent sample: a 3σ step cannot be caught reliably in 10 min
/// at a false-alarm rate that survives a week), several seeds, and not before the step.
#[test]
fn drift_step_of_3_sigma_detected_within_10_min_white_15_min_correlated() {
    let step_at = 3 * HOUR_S;
    for (tau, bound) in [(0.0, 600.0), (60.0, 900.0)] {
        let mut delays = Vec::new();
        for seed in 0..8 {
            let mut mon = monitor();
            let mut noise = Noise::new(100 + seed, tau);
            let (_, early, _) = feed(&mut mon, &mut noise, 0, step_at, |_| 1.5);
            assert!(early.is_none(), "false alarm before the step: {early:?}");
            let (_, first, _) = feed(&mut mon, &mut noise, step_at, HOUR_S, |_| 1.5 + 3.0);
            let (kind, since) = first.expect("step not detected within 1 h");
            assert_eq!(kind, AlarmKind::ShiftUp);
            delays.push(since - step_at as f64);
        }
        let max = delays.iter().cloned().fold(0.0, f64::max);
        println!("step 3σ, tau {tau} s: detection delays {delays:?} s (max {max} s)");
        assert!(max < bound, "3σ step detection delay {max} s exceeds {bound} s (tau {tau} s)");
    }
}

/// A step down is reported as `ShiftDown`, and the alarm clears (hysteresis) once the residual returns.
#[test]
fn drift_step_down_detected_and_clears_after_return() {
    let mut mon = monitor();
    let mut noise = Noise::new(7, 60.0);
    let step_at = 2 * HOUR_S;
    feed(&mut mon, &mut noise, 0, step_at, |_| 0.0);
    let (_, first, st) = feed(&mut mon, &mut noise, step_at, HOUR_S, |_| -3.0);
    assert_eq!(first.map(|f| f.0), Some(AlarmKind::ShiftDown));
    assert_eq!(st.alarm, Some(AlarmKind::ShiftDown), "alarm must persist while the shift persists");
    assert_eq!(st.confidence, 0.0);
    // Residual returns: the alarm clears within a few hours (CUSUM capped at 2h, then clear_samples quiet).
    let (_, _, st) = feed(&mut mon, &mut noise, step_at + HOUR_S, 4 * HOUR_S, |_| 0.0);
    assert_eq!(st.alarm, None, "alarm should clear after the residual returned: {st:?}");
}

/// (c) A ramp of 2σ per hour is detected within 2 h.
#[test]
fn drift_ramp_of_2_sigma_per_hour_detected_within_2_h() {
    let start = 3 * HOUR_S;
    let mut worst = 0.0f64;
    for tau in [0.0, 60.0] {
        let mut delays = Vec::new();
        for seed in 0..4 {
            let mut mon = monitor();
            let mut noise = Noise::new(200 + seed, tau);
            let (_, early, _) = feed(&mut mon, &mut noise, 0, start, |_| -2.0);
            assert!(early.is_none());
            let ramp = |t: f64| -2.0 + 2.0 * (t - start as f64) / 3600.0;
            let (_, first, _) = feed(&mut mon, &mut noise, start, 3 * HOUR_S, ramp);
            let (kind, since) = first.expect("ramp not detected within 3 h");
            assert_eq!(kind, AlarmKind::ShiftUp);
            delays.push(since - start as f64);
        }
        let max = delays.iter().cloned().fold(0.0, f64::max);
        println!("ramp 2σ/h, tau {tau} s: detection delays {delays:?} s (max {:.2} h)", max / 3600.0);
        worst = worst.max(max);
    }
    assert!(worst < 2.0 * 3600.0, "ramp detection delay {worst} s exceeds 2 h");
}

/// (d) A stuck sensor (identical readings while the prediction moves) is flagged Flatline within 30 samples and
/// classified `SensorFault(Stuck)`; the alarm clears once the readings move again.
#[test]
fn drift_stuck_sensor_flagged_flatline_and_classified_stuck() {
    let mut mon = monitor();
    let mut noise = Noise::new(3, 60.0);
    let start = 2 * HOUR_S;
    feed(&mut mon, &mut noise, 0, start, |_| 0.0);
    let frozen = flow_prediction(start as f64) * 1.001;
    let mut flagged_after = None;
    for i in 0..60 {
        let t = (start + i) as f64;
        let pred = flow_prediction(t);
        let st = mon.update(t, frozen, pred, SignalKind::Flow.noise_sigma(pred));
        if st.alarm == Some(AlarmKind::Flatline) {
            flagged_after = Some(i + 1);
            break;
        }
    }
    let n = flagged_after.expect("stuck sensor not flagged within 60 samples");
    println!("flatline flagged after {n} identical samples");
    assert!(n <= 30, "flagged after {n} samples");
    let view = SignalView { name: "P-101 flow", kind: SignalKind::Flow, status: mon.status() };
    let d = classify(&view, &[]);
    assert_eq!(d.cause, Cause::SensorFault(SensorFault::Stuck), "{}", d.reason);
    assert!(d.reason.contains("P-101 flow"));

    // A pump at standstill: the meter's low-flow cut-off reads exactly 0, the model predicts 0, σ is a noise
    // floor: not stuck.
    let mut idle = monitor();
    for i in 0..200 {
        let st = idle.update(i as f64, 0.0, 0.0, 0.1);
        assert_ne!(st.alarm, Some(AlarmKind::Flatline));
    }

    // The sensor recovers: alarm clears after clear_samples of moving readings.
    let t1 = start + n;
    let (_, _, st) = feed(&mut mon, &mut noise, t1, 2 * HOUR_S, |_| 0.0);
    assert_eq!(st.alarm, None, "{st:?}");
}

/// Run a monitor for `kind` over 3 h healthy then 1 h with a `shift` (σ units, 0 = healthy) and return the
/// final status.
fn run_signal(kind: SignalKind, seed: u64, shift: f64) -> MonitorStatus {
    let mut mon = monitor();
    let mut noise = Noise::new(seed, 60.0);
    let reading = |t: f64| match kind {
        SignalKind::WindingTemperature => 80.0 + 5.0 * (t / 5000.0).sin(),
        SignalKind::MotorCurrent => 40.0 + 4.0 * (t / 7000.0).sin(),
        SignalKind::Flow => flow_prediction(t),
        SignalKind::TankLevel => 2.0 + 0.5 * (t / 9000.0).sin(),
        SignalKind::VibrationRms => 2.5,
        SignalKind::VibrationPeak => 8.0,
        SignalKind::CrestFactor => 3.2,
        SignalKind::Other => 1.0,
    };
    let mut st = mon.status();
    for i in 0..4 * HOUR_S {
        let t = i as f64;
        let pred = reading(t);
        let sigma = kind.noise_sigma(pred);
        let mean = if i >= 3 * HOUR_S { shift } else { 0.5 };
        st = mon.update(t, pred + (mean + noise.next()) * sigma, pred, sigma);
    }
    st
}

/// (e) Cause classification from coupled signals.
#[test]
fn drift_classification_rules() {
    let temp = run_signal(SignalKind::WindingTemperature, 31, 4.0);
    let current_ok = run_signal(SignalKind::MotorCurrent, 32, 0.5);
    assert_eq!(temp.alarm, Some(AlarmKind::ShiftUp));
    assert_eq!(current_ok.alarm, None);
    let temp_view =
        SignalView { name: "P-101 winding temperature", kind: SignalKind::WindingTemperature, status: temp };
    let current_ok_view =
        SignalView { name: "P-101 motor current", kind: SignalKind::MotorCurrent, status: current_ok };
    let d = classify(&temp_view, &[current_ok_view]);
    println!("{:?}: {}", d.cause, d.reason);
    assert_eq!(d.cause, Cause::SensorFault(SensorFault::Drift));
    assert!(d.reason.contains("P-101 winding temperature"));

    // Nothing to compare with: no neighbours, an uncoupled neighbour, or one still warming up.
    assert_eq!(classify(&temp_view, &[]).cause, Cause::Unknown);
    let level_ok = SignalView {
        name: "T-1 level",
        kind: SignalKind::TankLevel,
        status: run_signal(SignalKind::TankLevel, 33, 0.5),
    };
    assert_eq!(classify(&temp_view, &[level_ok]).cause, Cause::Unknown);
    let warming = SignalView { status: MonitorStatus { warmed_up: false, ..current_ok }, ..current_ok_view };
    assert_eq!(classify(&temp_view, &[warming]).cause, Cause::Unknown);

    // Flow and current shifted together: the pump changed.
    let flow =
        SignalView { name: "P-101 flow", kind: SignalKind::Flow, status: run_signal(SignalKind::Flow, 34, -3.5) };
    let current = SignalView {
        name: "P-101 motor current",
        kind: SignalKind::MotorCurrent,
        status: run_signal(SignalKind::MotorCurrent, 35, -3.0),
    };
    assert_eq!(flow.status.alarm, Some(AlarmKind::ShiftDown));
    assert_eq!(current.status.alarm, Some(AlarmKind::ShiftDown));
    let d = classify(&flow, &[current, level_ok]);
    println!("{:?}: {}", d.cause, d.reason);
    assert_eq!(d.cause, Cause::ModelDrift);
    assert!(d.reason.contains("P-101 flow") && d.reason.contains("P-101 motor current"));

    // Flow alone shifted, current and level normal: flow meter drift.
    let flow_only = classify(&flow, &[current_ok_view, level_ok]);
    assert_eq!(flow_only.cause, Cause::SensorFault(SensorFault::Drift), "{}", flow_only.reason);

    // Vibration RMS, peak and crest factor rising together: bearing defect.
    let rms = SignalView {
        name: "P-101 DE vibration RMS",
        kind: SignalKind::VibrationRms,
        status: run_signal(SignalKind::VibrationRms, 36, 4.0),
    };
    let peak = SignalView {
        name: "P-101 DE vibration peak",
        kind: SignalKind::VibrationPeak,
        status: run_signal(SignalKind::VibrationPeak, 37, 5.0),
    };
    let crest = SignalView {
        name: "P-101 DE crest factor",
        kind: SignalKind::CrestFactor,
        status: run_signal(SignalKind::CrestFactor, 38, 3.0),
    };
    for v in [&rms, &peak, &crest] {
        assert_eq!(v.status.alarm, Some(AlarmKind::ShiftUp), "{}", v.name);
    }
    let d = classify(&rms, &[peak, crest]);
    println!("{:?}: {}", d.cause, d.reason);
    assert_eq!(d.cause, Cause::ModelDrift);
    assert!(d.reason.contains("bearing defect"), "{}", d.reason);
    assert!(d.reason.contains("P-101 DE vibration RMS"));

    // Vibration RMS alone rising while peak and crest are normal: sensor/processing drift.
    let peak_ok = SignalView { status: run_signal(SignalKind::VibrationPeak, 39, 0.5), ..peak };
    let crest_ok = SignalView { status: run_signal(SignalKind::CrestFactor, 40, 0.5), ..crest };
    assert_eq!(classify(&rms, &[peak_ok, crest_ok]).cause, Cause::SensorFault(SensorFault::Drift));

    // Not in alarm.
    assert_eq!(classify(&current_ok_view, &[temp_view]).cause, Cause::NoAlarm);
}

/// (f) Confidence is ~1 for healthy residuals and falls monotonically (to 0) with a growing shift.
#[test]
fn drift_confidence_healthy_and_monotone_in_shift() {
    // Healthy day after warm-up.
    let mut mon = monitor();
    let mut noise = Noise::new(55, 60.0);
    let mut confs = Vec::new();
    for i in 0..25 * HOUR_S {
        let t = i as f64;
        let pred = flow_prediction(t);
        let sigma = SignalKind::Flow.noise_sigma(pred);
        let st = mon.update(t, pred + (1.0 + noise.next()) * sigma, pred, sigma);
        if st.warmed_up {
            confs.push(st.confidence);
        }
    }
    let mean = confs.iter().sum::<f64>() / confs.len() as f64;
    let at_one = confs.iter().filter(|&&c| c >= 0.999).count() as f64 / confs.len() as f64;
    let min = confs.iter().cloned().fold(1.0, f64::min);
    println!("healthy confidence: mean {mean:.4}, fraction at 1 {at_one:.4}, min {min:.3}");
    assert!(mean > 0.98 && at_one > 0.9, "mean {mean}, fraction at 1 {at_one}");

    // Same noise, growing shift held for 5 min after warm-up: confidence after the shift is non-increasing.
    let shifts: Vec<f64> = (0..=16).map(|i| 0.25 * i as f64).collect();
    let mut out = Vec::new();
    for &s in &shifts {
        let mut mon = monitor();
        let mut noise = Noise::new(56, 60.0);
        feed(&mut mon, &mut noise, 0, 2 * HOUR_S, |_| 0.0);
        let (_, _, st) = feed(&mut mon, &mut noise, 2 * HOUR_S, 300, |_| s);
        out.push(st.confidence);
    }
    println!("confidence vs shift {shifts:?}: {out:?}");
    assert!(out[0] > 0.99, "healthy confidence {}", out[0]);
    assert!(out.windows(2).all(|w| w[1] <= w[0] + 1e-12), "not monotone: {out:?}");
    assert_eq!(*out.last().unwrap(), 0.0);
    assert!(out.iter().any(|&c| c > 0.0 && c < 1.0), "no graded confidence between 1 and 0: {out:?}");
}

/// (g) Non-finite or invalid inputs never panic, are counted and do not change the state.
#[test]
fn drift_invalid_inputs_ignored_and_counted() {
    let mut a = monitor();
    let mut b = monitor();
    let mut noise = Noise::new(9, 60.0);
    let bad = [
        (f64::NAN, 1.0, 1.0, 0.1),
        (f64::INFINITY, 1.0, 1.0, 0.1),
        (0.0, f64::NAN, 1.0, 0.1),
        (0.0, 1.0, f64::NEG_INFINITY, 0.1),
        (0.0, 1.0, 1.0, f64::NAN),
        (0.0, 1.0, 1.0, 0.0),
        (0.0, 1.0, 1.0, -0.1),
        (0.0, 2.0, 1.0, 1e-320), // residual / σ overflows
        (0.0, 1e308, -1e308, 1.0),
    ];
    let mut expected_ignored = 0;
    for i in 0..2 * HOUR_S {
        let t = i as f64;
        let pred = flow_prediction(t);
        let sigma = SignalKind::Flow.noise_sigma(pred);
        let meas = pred + noise.next() * sigma;
        let sa = a.update(t, meas, pred, sigma);
        let sb = b.update(t, meas, pred, sigma);
        assert_eq!(sa, sb);
        if i % 97 == 5 {
            let (bt, bm, bp, bs) = bad[(i / 97) % bad.len()];
            let shifted_t = if bt.is_finite() { t + 0.5 } else { bt };
            let st = b.update(shifted_t, bm, bp, bs);
            assert_eq!(st, sa, "an invalid sample changed the status");
            // A time going backwards (or repeated) is ignored too.
            let st = b.update(t - 10.0, meas, pred, sigma);
            assert_eq!(st, sa);
            expected_ignored += 2;
        }
    }
    assert_eq!(a.samples(), b.samples());
    assert_eq!(b.ignored(), expected_ignored);
    assert_eq!(a.ignored(), 0);
    assert_eq!(a.status(), b.status());
    assert!(b.status().ewma.is_finite() && b.status().baseline.is_finite());
}

#[test]
fn drift_config_validation_and_rebaseline() {
    assert!(DriftConfig::default().validate().is_empty());
    let bad = DriftConfig { ewma_lambda: 0.0, cusum_h: f64::NAN, ..DriftConfig::default() };
    let err = ResidualMonitor::new(bad).unwrap_err();
    assert!(format!("{err}").contains("ewma_lambda") && format!("{err}").contains("cusum_h"));

    // After a recalibration the caller accepts the new level: alarm gone, baseline relearned.
    let mut mon = monitor();
    let mut noise = Noise::new(4, 0.0);
    feed(&mut mon, &mut noise, 0, 2 * HOUR_S, |_| 0.0);
    let (_, first, _) = feed(&mut mon, &mut noise, 2 * HOUR_S, HOUR_S, |_| 5.0);
    assert!(first.is_some());
    mon.rebaseline();
    assert_eq!(mon.status().alarm, None);
    let (_, again, st) = feed(&mut mon, &mut noise, 3 * HOUR_S, 3 * HOUR_S, |_| 5.0);
    assert!(again.is_none(), "{again:?}");
    assert!((st.baseline - 5.0).abs() < 0.2);
}
