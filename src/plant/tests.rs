//! Tests of the virtual plant against its own truth and the documented noise, fault and payload behaviour.

use std::path::Path;

use serde_json::Value;

use super::sensor::{CURRENT_NOISE, FLOW_NOISE, LEVEL_NOISE_M, SPEED_NOISE_RPM, TEMPERATURE_NOISE_K};
use super::truth::{FRAME_AMBIENT_RESISTANCE_FACTOR, HEAD_FACTOR, UNBALANCE_FACTOR, WINDING_FRAME_RESISTANCE_FACTOR};
use super::*;
use crate::scenario::{Dur, SignalSpec};

const EPOCH: f64 = VirtualPlant::EPOCH_UNIX_S;

fn scene(name: &str) -> Scenario {
    crate::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes").join(name)).unwrap()
}

/// The pump station without its faults (the 36 h bearing defect is out of reach of a unit test anyway).
fn station() -> Scenario {
    let mut s = scene("pump_station.ron");
    s.faults.clear();
    s
}

fn plant(s: &Scenario, seed: u64) -> VirtualPlant {
    VirtualPlant::new(s, seed).unwrap()
}

fn json(p: &Publication) -> Value {
    serde_json::from_slice(&p.payload).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&p.payload)))
}

/// The value at "$.a.b" or "$.a[0]".
fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.strip_prefix("$.")?.split('.') {
        let (name, idx) = part.split_once('[').map_or((part, None), |(n, i)| (n, Some(i)));
        cur = cur.get(name)?;
        if let Some(i) = idx {
            cur = cur.get(i.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

fn signal<'s>(s: &'s Scenario, id: &str) -> &'s SignalSpec {
    s.signals.iter().find(|x| x.id == id).unwrap()
}

fn mqtt(sig: &SignalSpec) -> &crate::scenario::MqttSource {
    let SignalSource::Mqtt(m) = &sig.source else { panic!("{} is not a JSON signal", sig.id) };
    m
}

/// The reading of a signal in a publication, if the publication carries it.
fn reading(sig: &SignalSpec, p: &Publication) -> Option<f64> {
    let m = mqtt(sig);
    if p.topic != m.topic {
        return None;
    }
    at(&json(p), &m.value).and_then(Value::as_f64)
}

fn timestamp(sig: &SignalSpec, p: &Publication) -> f64 {
    at(&json(p), mqtt(sig).timestamp.as_deref().unwrap()).and_then(Value::as_f64).unwrap()
}

/// A copy of `base` measuring another quantity on its own topic.
fn extra_signal(base: &SignalSpec, id: &str, asset: &str, q: Quantity, unit: &str, topic: &str) -> SignalSpec {
    let mut s = base.clone();
    s.id = id.into();
    s.asset = asset.into();
    s.quantity = q;
    s.unit = unit.into();
    s.valid = (-1e6, 1e6);
    let SignalSource::Mqtt(m) = &mut s.source else { panic!("not a JSON signal") };
    m.topic = topic.into();
    s
}

/// Steps one model step at a time, handing each publication to `f` with the truth at its sample time.
fn run(p: &mut VirtualPlant, secs: f64, mut f: impl FnMut(&Publication, &PlantTruth)) {
    let n = (secs / p.step_s()).round() as usize;
    for _ in 0..n {
        let pubs = p.advance(p.step_s());
        let truth = p.truth();
        for x in &pubs {
            f(x, &truth);
        }
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

#[test]
fn pump_station_payloads_follow_the_signal_table() {
    let s = station();
    let mut p = plant(&s, 1);
    let secs = 120.0;
    let pubs = p.advance(secs);
    assert_eq!(p.now_s(), secs);
    for sig in &s.signals {
        let m = mqtt(sig);
        let mine: Vec<&Publication> = pubs.iter().filter(|x| reading(sig, x).is_some()).collect();
        let period = sig.period.secs();
        assert_eq!(mine.len() as f64, secs / period, "{}", sig.id);
        for (k, x) in mine.iter().enumerate() {
            assert_eq!(x.topic, m.topic);
            assert!(!x.retain);
            assert_eq!(x.t_s, (k + 1) as f64 * period, "{}", sig.id);
            assert!((timestamp(sig, x) - (EPOCH + x.t_s)).abs() < 1e-6, "{}", sig.id);
            let v = reading(sig, x).unwrap();
            assert!(v >= sig.valid.0 && v <= sig.valid.1, "{} = {v}", sig.id);
        }
    }
    // Signals sharing a topic come together, and every topic counts its messages 0, 1, 2, ...
    let vib = pubs.iter().find(|x| x.topic == "plant/p101/vibration").map(json).unwrap();
    for key in ["rms", "peak", "crest", "ts", "seq"] {
        assert!(vib[key].is_number(), "{vib}");
    }
    for topic in p.topics() {
        let seqs: Vec<u64> =
            pubs.iter().filter(|x| x.topic == topic).map(|x| json(x)["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{topic}");
    }
    // Timestamps are unix seconds at millisecond resolution, 2026-01-01 at t = 0.
    let flow = signal(&s, "P-101.flow");
    let first = pubs.iter().find(|x| reading(flow, x).is_some()).unwrap();
    assert_eq!(timestamp(flow, first), 1_767_225_601.0);
}

#[test]
fn booster_units_are_converted_from_the_truth() {
    let s = scene("booster_station.ron");
    let mut p = plant(&s, 2);
    let (temp, flow, level, vib) = (
        signal(&s, "M-201.winding_temp").clone(),
        signal(&s, "P-201.flow").clone(),
        signal(&s, "T-2.level").clone(),
        signal(&s, "P-201.vib_rms").clone(),
    );
    let mut n = [0; 4];
    run(&mut p, 300.0, |x, truth| {
        let pump = truth.pump("P-201").unwrap();
        if let Some(v) = reading(&temp, x) {
            n[0] += 1;
            let expect = 1.8 * pump.state.winding_temp_c + 32.0;
            assert!((v - expect).abs() < 5.0 * 1.8 * TEMPERATURE_NOISE_K, "degF {v} vs {expect}");
        }
        if let Some(v) = reading(&flow, x) {
            n[1] += 1;
            let expect = pump.outputs.flow_m3h / 3.6;
            assert!((v / expect - 1.0).abs() < 5.0 * FLOW_NOISE, "l/s {v} vs {expect}");
        }
        if let Some(v) = reading(&level, x) {
            n[2] += 1;
            let expect = truth.tank_level_m("T-2").unwrap() * 100.0;
            assert!((v - expect).abs() < 5.0 * LEVEL_NOISE_M * 100.0, "cm {v} vs {expect}");
        }
        if let Some(v) = reading(&vib, x) {
            n[3] += 1;
            let expect = pump.outputs.vib_rms_mm_s / 25.4;
            assert!((v / expect - 1.0).abs() < 0.15, "in/s {v} vs {expect}");
        }
    });
    assert_eq!(n, [300, 300, 30, 300]);
}

#[test]
fn noise_statistics_match_the_documented_levels() {
    let mut s = station();
    let flow = signal(&s, "P-101.flow").clone();
    s.signals.push(extra_signal(&flow, "P-101.speed", "P-101", Quantity::Speed, "rpm", "plant/p101/speed"));
    s.signals.push(extra_signal(
        &flow,
        "P-101.bearing_temp",
        "P-101",
        Quantity::BearingTemperature,
        "degC",
        "plant/p101/bearing_temp",
    ));
    let ids = ["P-101.vib_rms", "M-101.winding_temp", "P-101.flow", "M-101.current", "T-1.level", "P-101.speed"];
    let ids = [ids.as_slice(), &["P-101.bearing_temp"]].concat();
    let sigs: Vec<SignalSpec> = ids.iter().map(|id| signal(&s, id).clone()).collect();
    let mut residuals = vec![Vec::new(); sigs.len()];
    let mut p = plant(&s, 3);
    run(&mut p, 7200.0, |x, truth| {
        let pump = truth.pump("P-101").unwrap();
        let o = &pump.outputs;
        for (i, sig) in sigs.iter().enumerate() {
            let Some(v) = reading(sig, x) else { continue };
            residuals[i].push(match i {
                0 => v / o.vib_rms_mm_s - 1.0,
                1 => v - pump.state.winding_temp_c,
                2 => v / o.flow_m3h - 1.0,
                3 => v / o.motor_current_a - 1.0,
                4 => v - truth.tank_level_m("T-1").unwrap(),
                5 => v - o.speed_rpm,
                _ => v - pump.state.bearing_temp_c,
            });
        }
    });
    let documented = [0.03, TEMPERATURE_NOISE_K, FLOW_NOISE, CURRENT_NOISE, LEVEL_NOISE_M, SPEED_NOISE_RPM];
    let documented = [documented.as_slice(), &[TEMPERATURE_NOISE_K]].concat();
    for ((id, r), sd) in ids.iter().zip(&residuals).zip(documented) {
        let (m, s) = mean_std(r);
        let n = r.len() as f64;
        assert!(n >= 720.0, "{id}: {n} samples");
        // The mean within 4 standard errors (plus 0.2 % for the vibration synthesis' own windowing).
        let slack = if *id == "P-101.vib_rms" { 0.002 } else { 0.0 };
        assert!(m.abs() < 4.0 * sd / n.sqrt() + slack, "{id}: mean residual {m}");
        assert!((s / sd - 1.0).abs() < 0.1, "{id}: residual std {s}, documented {sd}");
    }
}

#[test]
fn true_parameters_differ_from_nominal_within_the_documented_ranges() {
    let s = station();
    let Some(AssetKind::CentrifugalPump(pump)) = s.asset("P-101").map(|a| &a.kind) else { panic!() };
    let Some(AssetKind::Motor(motor)) = s.asset("M-101").map(|a| &a.kind) else { panic!() };
    let inside = |x: f64, (lo, hi): (f64, f64)| x >= lo - 1e-12 && x <= hi + 1e-12;
    let mut heads = Vec::new();
    for seed in 0..16 {
        let truth = plant(&s, seed).truth();
        let t = &truth.pumps[0];
        let th = &t.motor.thermal;
        let head = t.pump.shutoff_head_m / pump.shutoff_head_m;
        assert!(inside(head, HEAD_FACTOR), "head {head}");
        assert!((t.pump.rated_head_m / pump.rated_head_m - head).abs() < 1e-12);
        assert!(inside(t.pump.unbalance_g_mm / pump.unbalance_g_mm, UNBALANCE_FACTOR));
        let fa = th.r_frame_ambient_k_per_w / motor.thermal.r_frame_ambient_k_per_w;
        assert!(inside(fa, FRAME_AMBIENT_RESISTANCE_FACTOR), "frame {fa}");
        let still = th.r_frame_ambient_still_k_per_w / motor.thermal.r_frame_ambient_still_k_per_w;
        assert!((still - fa).abs() < 1e-12);
        let wf = th.r_winding_frame_k_per_w / motor.thermal.r_winding_frame_k_per_w;
        assert!(inside(wf, WINDING_FRAME_RESISTANCE_FACTOR), "winding {wf}");
        // Nothing else differs.
        let mut back = t.pump.clone();
        back.shutoff_head_m = pump.shutoff_head_m;
        back.rated_head_m = pump.rated_head_m;
        back.unbalance_g_mm = pump.unbalance_g_mm;
        assert_eq!(&back, pump);
        assert_eq!(t.motor.rated_power_kw, motor.rated_power_kw);
        heads.push(head);
        // The truth really runs on the true head curve: a worn impeller delivers less than the nameplate pump.
        assert!(t.outputs.flow_m3h < 250.0 - 1.0, "flow {}", t.outputs.flow_m3h);
    }
    let spread =
        heads.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - heads.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    assert!(spread > 0.01, "the factors vary with the seed");
    assert_eq!(plant(&s, 5).truth(), plant(&s, 5).truth());
    assert_ne!(plant(&s, 5).truth(), plant(&s, 6).truth());
}

#[test]
fn same_seed_same_bytes_another_seed_other_bytes() {
    let s = scene("booster_station.ron");
    let a = plant(&s, 7).advance(120.0);
    let b = plant(&s, 7).advance(120.0);
    let c = plant(&s, 8).advance(120.0);
    assert!(!a.is_empty());
    assert!(a.iter().any(|x| x.topic.starts_with("spBv1.0/")), "the booster's Sparkplug node is covered too");
    assert_eq!(a, b);
    assert_eq!(a.len(), c.len());
    assert_ne!(a, c);
    // Stepping in small pieces gives the same bytes as one big step.
    let mut d = plant(&s, 7);
    let pieces: Vec<Publication> = (0..240).flat_map(|_| d.advance(0.5)).collect();
    assert_eq!(a, pieces);
}

#[test]
fn bearing_defect_raises_the_crest_factor_at_steady_rms_and_the_damage_rate() {
    let mut s = station();
    s.faults = vec![FaultSpec::BearingDefect { asset: "P-101".into(), onset: Dur::from_secs(900.0), severity: 0.6 }];
    let (rms, crest) = (signal(&s, "P-101.vib_rms").clone(), signal(&s, "P-101.vib_crest").clone());
    let mut p = plant(&s, 4);
    let (mut before, mut after) = ((vec![], vec![]), (vec![], vec![]));
    let mut rate = (0.0, 0.0);
    run(&mut p, 1800.0, |x, truth| {
        let t = truth.pump("P-101").unwrap();
        let side = if x.t_s < 900.0 {
            &mut before
        } else if x.t_s > 905.0 {
            &mut after
        } else {
            return;
        };
        if let Some(v) = reading(&rms, x) {
            side.0.push(v);
        }
        if let Some(v) = reading(&crest, x) {
            side.1.push(v);
        }
        let r = t.outputs.health.bearing_life.rate_l10_per_h;
        if x.t_s < 900.0 {
            rate.0 = r;
            assert_eq!(t.defect_severity, 0.0);
        } else {
            rate.1 = r;
            // The defect grows from 0.6, slowly at first (about 0.6 % in a quarter of an hour).
            assert!((0.6..0.61).contains(&t.defect_severity), "{}", t.defect_severity);
        }
    });
    let (rms0, rms1) = (mean_std(&before.0).0, mean_std(&after.0).0);
    let (crest0, crest1) = (mean_std(&before.1).0, mean_std(&after.1).0);
    assert!(crest0 > 1.35 && crest0 < 1.6, "healthy crest {crest0}");
    assert!(crest1 > 1.5 * crest0, "crest {crest0} -> {crest1}");
    assert!((rms1 / rms0 - 1.0).abs() < 0.15, "rms {rms0} -> {rms1}");
    // Damage rate × (1 + 9 · 0.6²) = × 4.24.
    assert!((rate.1 / rate.0 / (1.0 + 9.0 * 0.36) - 1.0).abs() < 0.05, "rate {:?}", rate);
}

#[test]
fn stuck_sensor_freezes_and_drifting_sensor_drifts() {
    let mut s = station();
    s.faults = vec![
        FaultSpec::StuckSensor { signal: "P-101.flow".into(), at: Dur::from_secs(300.0) },
        FaultSpec::DriftingSensor { signal: "M-101.winding_temp".into(), at: Dur::from_secs(300.0), rate_per_h: 36.0 },
    ];
    let (flow, temp) = (signal(&s, "P-101.flow").clone(), signal(&s, "M-101.winding_temp").clone());
    let mut p = plant(&s, 5);
    let (mut flows, mut drift) = (vec![], vec![]);
    run(&mut p, 900.0, |x, truth| {
        if let Some(v) = reading(&flow, x) {
            flows.push((x.t_s, v));
        }
        if let Some(v) = reading(&temp, x) {
            drift.push((x.t_s, v - truth.pump("P-101").unwrap().state.winding_temp_c));
        }
    });
    let last_before = flows.iter().rev().find(|(t, _)| *t < 300.0).unwrap().1;
    assert!(flows.iter().filter(|(t, _)| *t >= 300.0).all(|(_, v)| *v == last_before));
    let live: Vec<f64> = flows.iter().filter(|(t, _)| *t < 300.0).map(|(_, v)| *v).collect();
    assert!(mean_std(&live).1 > 0.0, "a live sensor scatters");
    // Least-squares slope of the residual after the drift starts: 36 K/h = 0.01 K/s.
    let pts: Vec<(f64, f64)> = drift.iter().filter(|(t, _)| *t >= 300.0).map(|(t, r)| (t - 300.0, *r)).collect();
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let slope = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / pts.iter().map(|(x, _)| (x - mx).powi(2)).sum::<f64>();
    assert!((slope * 3600.0 / 36.0 - 1.0).abs() < 0.02, "drift {} K/h", slope * 3600.0);
    let before: Vec<f64> = drift.iter().filter(|(t, _)| *t < 300.0).map(|(_, r)| *r).collect();
    assert!(mean_std(&before).0.abs() < 0.05);
}

#[test]
fn skewed_clock_offsets_that_topic_only() {
    let mut s = station();
    s.faults = vec![FaultSpec::SkewedClock { signal: "P-101.flow".into(), offset: Dur::from_secs(90.0) }];
    let mut p = plant(&s, 6);
    let pubs = p.advance(20.0);
    let (flow, current) = (signal(&s, "P-101.flow"), signal(&s, "M-101.current"));
    let mut n = 0;
    for x in &pubs {
        if reading(flow, x).is_some() {
            assert!((timestamp(flow, x) - (EPOCH + x.t_s + 90.0)).abs() < 1e-6);
            n += 1;
        }
        if reading(current, x).is_some() {
            assert!((timestamp(current, x) - (EPOCH + x.t_s)).abs() < 1e-6);
        }
    }
    assert_eq!(n, 20);
}

#[test]
fn broker_outage_holds_then_releases_in_order_with_original_timestamps() {
    let mut s = station();
    s.faults = vec![FaultSpec::BrokerOutage { at: Dur::from_secs(100.0), duration: Dur::from_secs(50.0) }];
    let mut p = plant(&s, 7);
    let mut all = Vec::new();
    for step in 1..=200 {
        let pubs = p.advance(1.0);
        let t = step as f64;
        if (100.0..150.0).contains(&t) {
            assert!(pubs.is_empty(), "published at {t} during the outage");
        } else if t == 150.0 {
            // 50 s of vibration, winding temperature, flow and current, and 5 level samples, then the fresh ones.
            let held: Vec<&Publication> = pubs.iter().filter(|x| x.t_s < 150.0).collect();
            assert_eq!(held.len(), 50 * 4 + 5);
            assert!(pubs[..held.len()].iter().all(|x| x.t_s < 150.0), "held messages come first");
            assert!(held.windows(2).all(|w| w[0].t_s <= w[1].t_s));
            assert_eq!(held.first().unwrap().t_s, 100.0);
            assert!(pubs.iter().all(|x| x.sent_s == 150.0));
            assert!(pubs.iter().any(|x| x.t_s == 150.0));
        } else {
            // The retained identity reports go out at the start (t = 0), with the first step's samples.
            let identities = pubs.iter().filter(|x| x.retain).count();
            assert_eq!(identities, if step == 1 { 3 } else { 0 });
            assert!(pubs.iter().filter(|x| !x.retain).all(|x| x.t_s == t && x.sent_s == t));
        }
        all.extend(pubs);
    }
    // Original timestamps, and per-topic sequence numbers without gaps or repeats.
    let flow = signal(&s, "P-101.flow");
    for x in all.iter().filter(|x| reading(flow, x).is_some()) {
        assert!((timestamp(flow, x) - (EPOCH + x.t_s)).abs() < 1e-6);
    }
    for topic in p.topics() {
        let seqs: Vec<u64> =
            all.iter().filter(|x| x.topic == topic).map(|x| json(x)["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{topic}");
    }
}

#[test]
fn cavitation_episode_raises_the_pumps_cavitation_risk() {
    let mut s = station();
    // Lift the pump 6 m above the tank bottom: NPSHa ≈ 10.1 + 3.5 - 6 - 1.25 = 6.3 m against NPSHr ≈ 3.9 m, a
    // safe margin; a 3 m drop in the level it sees takes NPSHa below NPSHr.
    for a in &mut s.assets {
        if let AssetKind::CentrifugalPump(p) = &mut a.kind {
            p.suction.pump_elevation_m = 6.0;
        }
    }
    s.faults = vec![FaultSpec::CavitationEpisode {
        asset: "P-101".into(),
        start: Dur::from_secs(120.0),
        duration: Dur::from_secs(120.0),
        level_drop_m: 3.0,
    }];
    let mut p = plant(&s, 8);
    let risk = |p: &mut VirtualPlant, secs: f64| {
        p.advance(secs);
        let t = p.truth();
        (t.pumps[0].outputs.health.cavitation_risk, t.pumps[0].state.cavitation_s, t.tanks[0].1)
    };
    let (r0, c0, l0) = risk(&mut p, 110.0);
    assert_eq!((r0, c0), (0.0, 0.0));
    let (r1, c1, l1) = risk(&mut p, 60.0);
    assert!(r1 > 0.9, "risk during the episode {r1}");
    assert!(c1 >= 49.0, "cavitating for {c1} s");
    assert!((l1 - l0).abs() < 0.1, "the tank itself keeps its level: {l0} -> {l1}");
    let (r2, c2, _) = risk(&mut p, 130.0);
    assert_eq!(r2, 0.0);
    assert!((c2 - 120.0).abs() <= 1.0, "cavitated {c2} s");
}

/// Flow at the true operating point for a speed, from the true head curve and the system curve.
fn operating_flow(t: &PumpTruth, speed_rpm: f64) -> f64 {
    let p = &t.pump;
    let s = speed_rpm / p.rated_speed_rpm;
    let k = (p.shutoff_head_m - p.rated_head_m) / p.rated_flow_m3h.powi(2);
    ((p.shutoff_head_m * s * s - p.system.static_head_m) / (k + p.system.resistance_m_per_m3h2)).max(0.0).sqrt()
}

fn mean_published(p: &mut VirtualPlant, sig: &SignalSpec, secs: f64) -> f64 {
    let v: Vec<f64> = p.advance(secs).iter().filter_map(|x| reading(sig, x)).collect();
    mean_std(&v).0
}

#[test]
fn speed_setpoint_moves_the_truth_and_the_published_flow_follows() {
    let s = station();
    let flow = signal(&s, "P-101.flow").clone();
    let mut p = plant(&s, 9);
    p.advance(240.0);
    let q0 = mean_published(&mut p, &flow, 60.0);
    let t0 = p.truth().pumps[0].clone();
    assert!((q0 / operating_flow(&t0, 1480.0) - 1.0).abs() < 0.005, "{q0}");

    p.set_setpoint("P-101.speed", 1100.0).unwrap();
    p.advance(10.0);
    // The drive ramps at the set-point's 20 rpm/s.
    assert!((p.truth().pumps[0].speed_command_rpm - 1280.0).abs() < 1e-9);
    p.advance(230.0);
    let q1 = mean_published(&mut p, &flow, 60.0);
    let t1 = p.truth().pumps[0].clone();
    assert!((t1.outputs.speed_rpm - 1100.0).abs() < 1e-6);
    assert!((q1 / operating_flow(&t1, 1100.0) - 1.0).abs() < 0.005, "{q1}");
    assert!(q1 < q0);

    assert!(matches!(p.set_setpoint("P-101.speed", 2000.0), Err(PlantError::SetpointOutOfRange { .. })));
    assert!(matches!(p.set_setpoint("P-101.speed", f64::NAN), Err(PlantError::SetpointOutOfRange { .. })));
    assert!(matches!(p.set_setpoint("P-999.speed", 1000.0), Err(PlantError::UnknownSetpoint(_))));
}

#[test]
fn without_static_head_the_published_flow_follows_the_affinity_law() {
    let mut s = station();
    for a in &mut s.assets {
        if let AssetKind::CentrifugalPump(p) = &mut a.kind {
            p.system.static_head_m = 0.0;
        }
    }
    let flow = signal(&s, "P-101.flow").clone();
    let mut p = plant(&s, 10);
    p.advance(60.0);
    let q0 = mean_published(&mut p, &flow, 120.0);
    p.set_setpoint("P-101.speed", 1036.0).unwrap();
    p.advance(120.0);
    let q1 = mean_published(&mut p, &flow, 120.0);
    // Q2/Q1 = n2/n1 = 0.7; the mean of 120 readings of 0.5 % noise is good to 0.05 %.
    assert!((q1 / q0 / 0.7 - 1.0).abs() < 0.003, "{q0} -> {q1}");
}

#[test]
fn topic_filters_are_made_publishable() {
    let mut s = station();
    for sig in &mut s.signals {
        let SignalSource::Mqtt(m) = &mut sig.source else { continue };
        if sig.id == "P-101.flow" {
            m.topic = "plant/+/flow".into();
        } else if sig.id == "M-101.current" {
            m.topic = "plant/current/#".into();
        }
    }
    let mut p = plant(&s, 11);
    let topics: Vec<String> = p.advance(1.0).into_iter().map(|x| x.topic).collect();
    assert!(topics.contains(&"plant/P-101/flow".to_string()), "{topics:?}");
    assert!(topics.contains(&"plant/current/M-101.current".to_string()), "{topics:?}");
}

#[test]
fn a_bad_json_path_is_reported_not_panicked() {
    let mut s = station();
    let SignalSource::Mqtt(m) = &mut s.signals[1].source else { panic!("JSON signal") };
    m.value = "$.rms".into(); // clashes with the RMS signal on the same topic
    let e = VirtualPlant::new(&s, 0).unwrap_err();
    assert!(e.to_string().contains("clashes"), "{e}");
}

/// A whole day of the pump station with its own faults (about 1.3 s in a debug build).
#[test]
fn a_day_of_the_pump_station() {
    let s = scene("pump_station.ron");
    let mut p = plant(&s, 12);
    let mut n = 0;
    for _ in 0..24 {
        let pubs = p.advance(3600.0);
        assert!(pubs.iter().all(|x| !String::from_utf8_lossy(&x.payload).contains("null")));
        n += pubs.len();
    }
    assert_eq!(n, 86_400 * 4 + 8_640 + 3, "four 1 s topics, the 10 s level, three identity reports");
    let t = p.truth();
    assert!(t.tanks[0].1 > 0.5 && t.tanks[0].1 <= 5.0);
}

// Sparkplug B: the booster station's third train (M-203, P-203) is edge node "booster-edge-3" in group "booster".

use twin_mqtt::sparkplug::{self as sp, MessageType, MetricValue};

const EDGE3: &str = "booster-edge-3";

fn decoded(p: &Publication) -> (sp::SparkplugTopic, sp::Payload) {
    let t = sp::parse_topic(&p.topic).unwrap_or_else(|| panic!("not a Sparkplug topic: {}", p.topic));
    (t, sp::decode(&p.payload).unwrap())
}

fn sparkplug_pubs(pubs: &[Publication]) -> Vec<(sp::SparkplugTopic, sp::Payload, &Publication)> {
    pubs.iter()
        .filter(|p| p.topic.starts_with("spBv1.0/"))
        .map(|p| {
            let (t, pl) = decoded(p);
            (t, pl, p)
        })
        .collect()
}

fn ms(t_s: f64) -> u64 {
    ((EPOCH + t_s) * 1000.0).round() as u64
}

#[test]
fn sparkplug_births_come_first_then_data_by_alias_only() {
    let s = scene("booster_station.ron");
    let mut p = plant(&s, 21);
    let pubs = p.advance(3.0);
    let spb = sparkplug_pubs(&pubs);
    let kinds: Vec<(MessageType, Option<&str>)> =
        spb.iter().map(|(t, _, _)| (t.message_type, t.device.as_deref())).collect();
    assert_eq!(
        &kinds[..3],
        &[(MessageType::NBirth, None), (MessageType::DBirth, Some("P-203")), (MessageType::DBirth, Some("M-203"))]
    );
    assert!(pubs[0].topic == "spBv1.0/booster/NBIRTH/booster-edge-3", "births before any sample: {}", pubs[0].topic);
    assert!(spb.iter().all(|(t, _, _)| t.group == "booster" && t.edge_node == EDGE3));

    // NBIRTH: seq 0, bdSeq and the rebirth control, at t = 0.
    let (_, nbirth, _) = &spb[0];
    assert_eq!((nbirth.seq, nbirth.timestamp), (Some(0), Some(ms(0.0))));
    let names: Vec<&str> = nbirth.metrics.iter().filter_map(|m| m.name.as_deref()).collect();
    assert_eq!(names, ["bdSeq", sp::REBIRTH_METRIC]);
    assert_eq!(nbirth.metrics[0].value, Some(MetricValue::LongValue(0)));
    assert_eq!(nbirth.metrics[1].value, Some(MetricValue::BooleanValue(false)));

    // DBIRTHs: every metric with name, alias, Double and its current value (vibration has no window yet: null).
    let (_, pb, _) = &spb[1];
    assert_eq!(pb.seq, Some(1));
    let flow_birth = pb.metrics.iter().find(|m| m.name.as_deref() == Some("Flow")).unwrap();
    assert_eq!(flow_birth.datatype, Some(sp::datatype::DOUBLE));
    assert!(matches!(flow_birth.value, Some(MetricValue::DoubleValue(v)) if v > 10.0), "{flow_birth:?}");
    let vib_birth = pb.metrics.iter().find(|m| m.name.as_deref() == Some("Vibration/RMS")).unwrap();
    assert_eq!((vib_birth.is_null, vib_birth.value.as_ref()), (Some(true), None));
    let (_, mb, _) = &spb[2];
    assert_eq!(mb.seq, Some(2));
    let mut aliases: Vec<(String, u64)> = pb
        .metrics
        .iter()
        .chain(&mb.metrics)
        .map(|m| {
            assert_eq!(m.datatype, Some(sp::datatype::DOUBLE));
            (m.name.clone().unwrap(), m.alias.unwrap())
        })
        .collect();
    aliases.sort_by_key(|a| a.1);
    assert_eq!(aliases.iter().map(|a| a.1).collect::<Vec<_>>(), [1, 2, 3, 4], "unique aliases per node");
    let flow_alias = flow_birth.alias.unwrap();

    // DDATA: alias, timestamp and value only; seq continues across devices; timestamps are the sample times.
    let data = &spb[3..];
    assert_eq!(data.len(), 6, "two devices, three seconds");
    for (k, (t, payload, publ)) in data.iter().enumerate() {
        assert_eq!(t.message_type, MessageType::DData);
        assert_eq!(payload.seq, Some(3 + k as u64));
        assert_eq!(payload.timestamp, Some(ms(publ.t_s)));
        assert_eq!(payload.metrics.len(), 2);
        for m in &payload.metrics {
            assert!(m.name.is_none() && m.datatype.is_none() && m.alias.is_some(), "{m:?}");
            assert_eq!(m.timestamp, Some(ms(publ.t_s)));
        }
    }
    // The value is the reading in the signal's unit (l/s) of the true flow.
    let truth = p.truth();
    let last_flow = data
        .iter()
        .rev()
        .find_map(|(_, pl, _)| pl.metrics.iter().find(|m| m.alias == Some(flow_alias)))
        .and_then(|m| m.value_f64(None))
        .unwrap();
    let expect = truth.pump("P-203").unwrap().outputs.flow_m3h / 3.6;
    assert!((last_flow / expect - 1.0).abs() < 5.0 * FLOW_NOISE, "l/s {last_flow} vs {expect}");
    // JSON signals are untouched.
    assert!(pubs.iter().any(|x| x.topic == "booster/p201/flow"));
    assert!(!pubs.iter().any(|x| x.topic.contains("p203") || x.topic.contains("m203")));
}

#[test]
fn sparkplug_seq_counts_every_message_of_the_node_and_wraps_after_255() {
    let s = scene("booster_station.ron");
    let mut p = plant(&s, 22);
    let pubs = p.advance(200.0);
    let seqs: Vec<u64> = sparkplug_pubs(&pubs).iter().map(|(_, pl, _)| pl.seq.unwrap()).collect();
    assert_eq!(seqs.len(), 3 + 2 * 200);
    for (k, s) in seqs.iter().enumerate() {
        assert_eq!(*s, k as u64 % 256, "message {k}");
    }
    assert!(seqs.contains(&255) && seqs[256] == 0, "wrapped");
}

#[test]
fn a_rebirth_command_makes_the_next_advance_start_with_births_at_seq_0() {
    let s = scene("booster_station.ron");
    let mut p = plant(&s, 23);
    let before = p.advance(10.0);
    let last_ddata = sparkplug_pubs(&before).last().map(|(_, pl, _)| pl.clone()).unwrap();

    // Not for this plant, not a rebirth, not decodable: ignored and counted.
    assert!(!p.handle_command("spBv1.0/booster/NCMD/other-edge", &sp::rebirth_command("booster", "other-edge").1));
    assert!(!p.handle_command("spBv1.0/booster/DCMD/booster-edge-3/P-203", &[]));
    assert!(!p.handle_command("spBv1.0/booster/NCMD/booster-edge-3", &[0xff, 0xff, 0x01]));
    let no = sp::encode(&sp::Payload {
        metrics: vec![sp::Metric::new(sp::REBIRTH_METRIC, sp::datatype::BOOLEAN, MetricValue::BooleanValue(false))],
        ..Default::default()
    });
    assert!(!p.handle_command("spBv1.0/booster/NCMD/booster-edge-3", &no));
    assert_eq!(p.commands_ignored(), 4);
    assert!(p.advance(0.0).is_empty(), "nothing due without a request");

    let (topic, payload) = sp::rebirth_command("booster", EDGE3);
    assert!(p.handle_command(&topic, &payload));
    let after = p.advance(2.0);
    let spb = sparkplug_pubs(&after);
    let kinds: Vec<MessageType> = spb.iter().map(|(t, _, _)| t.message_type).collect();
    assert_eq!(kinds[..3], [MessageType::NBirth, MessageType::DBirth, MessageType::DBirth]);
    assert_eq!(after[0].topic, "spBv1.0/booster/NBIRTH/booster-edge-3", "births ahead of the samples");
    assert_eq!(after[0].t_s, 10.0);
    let seqs: Vec<u64> = spb.iter().map(|(_, pl, _)| pl.seq.unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6], "NBIRTH resets seq");
    // The DBIRTH carries the last readings with their sample times (t = 10 s), not nulls.
    let (_, pb, _) = &spb[1];
    let flow = pb.metrics.iter().find(|m| m.name.as_deref() == Some("Flow")).unwrap();
    assert_eq!(last_ddata.timestamp, Some(ms(10.0)));
    assert_eq!(flow.timestamp, Some(ms(10.0)));
    assert!(pb.metrics.iter().all(|m| m.is_null.is_none() && m.value.is_some()), "{pb:?}");
    // Only once: the next advance has no births.
    let more = p.advance(1.0);
    assert!(sparkplug_pubs(&more).iter().all(|(t, _, _)| t.message_type == MessageType::DData));
}

#[test]
fn sparkplug_data_held_through_an_outage_keeps_its_seq_and_timestamps() {
    let mut s = scene("booster_station.ron");
    s.faults.push(FaultSpec::BrokerOutage { at: Dur::from_secs(5.0), duration: Dur::from_secs(3.0) });
    let mut p = plant(&s, 24);
    let pubs = p.advance(10.0);
    let spb = sparkplug_pubs(&pubs);
    let seqs: Vec<u64> = spb.iter().map(|(_, pl, _)| pl.seq.unwrap()).collect();
    assert_eq!(seqs, (0..spb.len() as u64).collect::<Vec<_>>(), "sent in their original order");
    let held: Vec<_> = spb.iter().filter(|(_, _, x)| x.sent_s > x.t_s).collect();
    assert_eq!(held.len(), 6, "t = 5, 6, 7 s, two devices");
    for (_, pl, x) in held {
        assert_eq!(x.sent_s, 8.0);
        assert_eq!(pl.timestamp, Some(ms(x.t_s)), "original timestamp");
    }
}

#[test]
fn sparkplug_skewed_clock_offsets_that_device_only_and_deaths_carry_bdseq() {
    let mut s = scene("booster_station.ron");
    s.faults.push(FaultSpec::SkewedClock { signal: "P-203.flow".into(), offset: Dur::from_secs(30.0) });
    let mut p = plant(&s, 25);
    let pubs = p.advance(2.0);
    for (t, pl, x) in sparkplug_pubs(&pubs).iter().filter(|(t, _, _)| t.message_type == MessageType::DData) {
        let skew = if t.device.as_deref() == Some("P-203") { 30.0 } else { 0.0 };
        assert_eq!(pl.timestamp, Some(ms(x.t_s + skew)), "{}", x.topic);
    }
    let deaths = p.death_certificates();
    assert_eq!(deaths.len(), 1);
    let (t, pl) = decoded(&deaths[0]);
    assert_eq!((t.message_type, t.edge_node.as_str()), (MessageType::NDeath, EDGE3));
    assert_eq!(pl.seq, None);
    assert_eq!(pl.metrics[0].name.as_deref(), Some("bdSeq"));
    assert_eq!(pl.metrics[0].value, Some(MetricValue::LongValue(0)));
}

/// When the bearing of P-101 fails with a defect of `severity` at 0 s and the pump's speed set-point at `rpm`:
/// (failure time s, its own hidden growth rate 1/h, the growth factor g while it ran, when `ds/dt = λ g s` with
/// the truth's rate and g minute by minute reaches the threshold s).
fn failure(severity: f64, rpm: f64, seed: u64) -> (f64, f64, f64, f64) {
    let mut s = station();
    s.faults = vec![FaultSpec::BearingDefect { asset: "P-101".into(), onset: Dur::from_secs(0.0), severity }];
    s.setpoints.iter_mut().find(|x| x.id == "P-101.speed").unwrap().initial = rpm;
    let mut p = plant(&s, seed);
    let (mut g, mut ln_s, mut expect_s) = (0.0, severity.ln(), None);
    for _ in 0..(10.0 * 86_400.0 / 60.0) as usize {
        p.advance(60.0);
        let truth = p.truth();
        let t = truth.pump("P-101").unwrap();
        if let Some(at) = t.failed_at_s {
            // The pump tripped: a minute later it is still stopped, whatever the set-point says.
            p.advance(60.0);
            assert!(p.truth().pump("P-101").unwrap().outputs.speed_rpm < 1.0);
            return (at, t.defect_own_growth_rate_per_h, g, expect_s.unwrap_or(f64::INFINITY));
        }
        let train = twin_models::PumpTrain::with_map(t.pump.clone(), t.motor.clone(), nominal_map());
        g = train.defect_growth_factor(&t.outputs);
        // The rate in effect (the own rate at the bearing's temperature now) over the minute.
        ln_s += t.defect_growth_rate_per_h * t.growth_factor / 60.0;
        if ln_s >= 0.0 && expect_s.is_none() {
            expect_s = Some(p.now_s());
        }
    }
    panic!("no failure in 10 days");
}

fn nominal_map() -> twin_models::LoadMap {
    static MAP: std::sync::OnceLock<twin_models::LoadMap> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let s = station();
        let (Some(AssetKind::CentrifugalPump(pump)), Some(AssetKind::Motor(motor))) =
            (s.asset("P-101").map(|a| a.kind.clone()), s.asset("M-101").map(|a| a.kind.clone()))
        else {
            panic!("the station's pump and motor");
        };
        twin_models::PumpTrain::new(pump, motor).unwrap().map
    })
    .clone()
}

#[test]
fn a_defect_grows_at_the_pumps_hidden_rate_until_the_bearing_fails_and_sooner_at_full_speed() {
    let (at, rate, g, expect_s) = failure(0.9, 1480.0, 4);
    // ds/dt = λ g s from 0.9 to 1, λ the own rate sped up by the warm bearing (the minute steps round it by at most
    // one either way).
    assert!((at - expect_s).abs() <= 120.0, "failed at {at} s, expected {expect_s} s (λ_own {rate}/h, g {g})");
    // The same pump (same seed: the same hidden rate) run slower lasts longer: less speed and less load.
    let (slow_at, slow_rate, slow_g, _) = failure(0.9, 1150.0, 4);
    assert_eq!(slow_rate, rate);
    assert!(slow_g < 0.85 * g, "g {slow_g} at 1150 rpm vs {g} at 1480");
    assert!(slow_at > 1.15 * at, "failed at {slow_at} s at 1150 rpm vs {at} s at 1480 rpm");
    // Another seed, another pump of the fleet: another rate.
    assert_ne!(failure(0.9, 1480.0, 5).1, rate);
}
