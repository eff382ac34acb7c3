//! Sparkplug B end to end through a real Mosquitto: `twin plant` publishes the booster station's third train as
//! edge node "booster-edge-3" (births, then DDATA by alias) beside the JSON trains, and a headless twin decodes it
//! into the M-203 and P-203 components in canonical units; a sequence gap makes the twin publish an NCMD rebirth,
//! the running plant answers with new births, and data flows again.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin::app::headless_app;
use twin::ingest::{Measurements, Telemetry};
use twin::plant::VirtualPlant;
use twin::scenario;
use twin::twin::{AssetIndex, SimClock};
use twin::units::Quantity;
use twin_mqtt::sparkplug::{self, MessageType, MetricValue};
use twin_mqtt::testkit::{Mosquitto, mosquitto_pub_file, wait_until};

/// The booster station's twin on the plant's clock, connected to `broker` and subscribed.
fn booster_twin(broker: &Mosquitto, client_id: &str) -> App {
    let s = scenario::load(&super::root().join("scenes/booster_station.ron")).unwrap();
    let mut app = headless_app(Arc::new(s), 1);
    let mut t = app.world_mut().resource_mut::<Telemetry>();
    t.epoch_unix_s = VirtualPlant::EPOCH_UNIX_S;
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    t.connect(twin_mqtt::MqttConfig::from_url(&url, client_id).unwrap()).unwrap();
    let client = t.mqtt.as_ref().unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.stats().subacks > 0), "twin did not subscribe");
    app
}

fn measured(app: &App, asset: &str, q: Quantity) -> Option<twin::ingest::Measured> {
    let e = app.world().resource::<AssetIndex>().0[asset];
    app.world().get::<Measurements>(e)?.0.get(&q).copied()
}

fn count(app: &App, key: &str) -> u64 {
    app.world().resource::<Telemetry>().counters().get(key).copied().unwrap_or(0)
}

fn received(app: &App) -> u64 {
    app.world().resource::<Telemetry>().mqtt.as_ref().unwrap().stats().received
}

#[test]
fn the_plants_sparkplug_node_reaches_the_twin_in_canonical_units() {
    let broker = Mosquitto::start(false, "");
    let mut app = booster_twin(&broker, "twin-it-sparkplug");
    app.world_mut().resource_mut::<SimClock>().pending_steps = 121;
    app.update();
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let out =
        super::twin(&["plant", "scenes/booster_station.ron", "--broker", &url, "--duration", "120s", "--speed", "max"]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    // JSON: eight 1 s topics and the level every 10 s; Sparkplug: NBIRTH, two DBIRTHs, a DDATA per device and
    // second, and the NDEATH of the clean shutdown.
    let expected = (8 * 120 + 12) + (3 + 2 * 120 + 1);
    assert!(
        wait_until(Duration::from_secs(20), || received(&app) >= expected),
        "{} of {expected} messages arrived",
        received(&app)
    );
    app.update();
    app.world_mut().resource_mut::<SimClock>().pending_steps = 10;
    app.update();
    app.update();

    let counters = app.world().resource::<Telemetry>().counters();
    // Four Sparkplug signals at 1 s for 120 s, plus the three the DBIRTHs carry (vibration is null at t = 0).
    let sig = app.world().resource::<Telemetry>().signal_counters();
    for id in ["P-203.flow", "P-203.vib_rms", "M-203.winding_temp", "M-203.current"] {
        let c = &sig[id];
        let applied = c.get("accepted").copied().unwrap_or(0) + c.get("reordered").copied().unwrap_or(0);
        let births = u64::from(id != "P-203.vib_rms");
        assert_eq!(applied + c.get("deadband").copied().unwrap_or(0), 120 + births, "{id}: {c:?}");
    }
    for bad in ["bad_payload", "rebirth_requested", "awaiting_rebirth", "unmapped_metric", "duplicate", "late"] {
        assert_eq!(counters.get(bad).copied().unwrap_or(0), 0, "{bad}: {counters:?}");
    }
    assert_eq!(counters.get("death"), Some(&1), "the NDEATH of the clean shutdown: {counters:?}");
    // The first DBIRTH's vibration is null (not read yet): no value to apply, and no fault of the data.
    assert_eq!(counters.get("missing_value"), None, "{counters:?}");

    // P-203 (150 m3/h rated, 1400 rpm) sends l/s and in/s, M-203 degF and A: all in canonical units here.
    let flow = measured(&app, "P-203", Quantity::Flow).expect("flow on P-203");
    assert!((90.0..=170.0).contains(&flow.value), "flow {} m3/h", flow.value);
    let vib = measured(&app, "P-203", Quantity::VibrationVelocityRms).expect("vibration on P-203");
    assert!((0.2..=4.5).contains(&vib.value), "vibration {} mm/s", vib.value);
    let temp = measured(&app, "M-203", Quantity::WindingTemperature).expect("winding temperature on M-203");
    assert!((15.0..=80.0).contains(&temp.value), "winding {} degC", temp.value);
    let current = measured(&app, "M-203", Quantity::MotorCurrent).expect("current on M-203");
    assert!((10.0..=60.0).contains(&current.value), "current {} A", current.value);
    assert!((flow.event_s - 120.0).abs() <= 5.0 + 1e-9, "event time from the metric timestamps: {}", flow.event_s);
    assert!(flow.stale && current.stale, "the NDEATH made the node's signals stale");
    // The JSON trains are still JSON.
    let p201 = measured(&app, "P-201", Quantity::Flow).expect("flow on P-201");
    assert!((150.0..=280.0).contains(&p201.value), "P-201 flow {}", p201.value);
}

/// Kills the background plant if the test fails.
struct Plant(Child);
impl Drop for Plant {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_sequence_gap_makes_the_twin_ask_for_a_rebirth_and_the_live_plant_answers() {
    let broker = Mosquitto::start(false, "");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut app = booster_twin(&broker, "twin-it-rebirth");
    // A watcher for the commands and births on the wire.
    let mut cfg = twin_mqtt::MqttConfig::from_url(&url, "twin-it-watch").unwrap();
    cfg.clean_session = true;
    cfg.subscriptions = vec![
        ("spBv1.0/booster/NCMD/+".into(), twin_mqtt::Qos::AtLeastOnce),
        ("spBv1.0/booster/NBIRTH/+".into(), twin_mqtt::Qos::AtLeastOnce),
    ];
    let watch = twin_mqtt::MqttClient::start(cfg).unwrap();
    assert!(wait_until(Duration::from_secs(10), || watch.stats().subacks > 0));

    let plant = Plant(
        Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(["plant", "scenes/booster_station.ron", "--broker", &url, "--duration", "600s", "--speed", "60x"])
            .current_dir(super::root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start twin plant"),
    );
    // The twin follows the plant's clock roughly (60 simulated s per wall second), ticking every 50 ms.
    let started = Instant::now();
    let tick = |app: &mut App| {
        let target = (started.elapsed().as_secs_f64() * 60.0) as u32;
        let now = app.world().resource::<SimClock>().now_s as u32;
        app.world_mut().resource_mut::<SimClock>().pending_steps = target.saturating_sub(now);
        app.update();
        std::thread::sleep(Duration::from_millis(50));
    };
    let flow_applied = |app: &App| {
        let s = app.world().resource::<Telemetry>().signal_counters();
        s["P-203.flow"].get("accepted").copied().unwrap_or(0) + s["P-203.flow"].get("reordered").copied().unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while flow_applied(&app) < 5 {
        assert!(
            Instant::now() < deadline,
            "no Sparkplug data applied: {:?}",
            app.world().resource::<Telemetry>().counters()
        );
        tick(&mut app);
    }
    assert_eq!(count(&app, "rebirth_requested"), 0);

    // A DDATA with a sequence number the node did not send next: the twin has lost track of the node.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("ddata.pb");
    let payload = sparkplug::Payload { timestamp: Some(1), seq: Some(0), ..Default::default() };
    std::fs::write(&bogus, sparkplug::encode(&payload)).unwrap();
    // seq 0 is never the expected one this late, and if it were, the plant's next message would be the gap.
    mosquitto_pub_file(broker.port, "spBv1.0/booster/DDATA/booster-edge-3/P-203", &bogus, 1);

    let mut ncmd = None;
    let mut rebirth_at = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while rebirth_at.is_none() {
        assert!(
            Instant::now() < deadline,
            "no rebirth: ncmd {ncmd:?}; {:?}",
            app.world().resource::<Telemetry>().counters()
        );
        tick(&mut app);
        while let Ok(m) = watch.receiver().try_recv() {
            let t = sparkplug::parse_topic(&m.topic).unwrap();
            let p = sparkplug::decode(&m.payload).unwrap();
            match t.message_type {
                MessageType::NCmd => {
                    assert_eq!(t.edge_node, "booster-edge-3");
                    let m0 = &p.metrics[0];
                    assert_eq!(m0.name.as_deref(), Some(sparkplug::REBIRTH_METRIC));
                    assert_eq!(m0.value, Some(MetricValue::BooleanValue(true)));
                    ncmd = Some(m.topic.clone());
                }
                MessageType::NBirth if ncmd.is_some() => {
                    assert_eq!(p.seq, Some(0), "NBIRTH resets seq");
                    rebirth_at = p.timestamp.map(|ms| ms as f64 / 1000.0 - VirtualPlant::EPOCH_UNIX_S);
                }
                _ => {}
            }
        }
    }
    assert_eq!(ncmd.as_deref(), Some("spBv1.0/booster/NCMD/booster-edge-3"));
    assert_eq!(count(&app, "rebirth_requested"), 1, "{:?}", app.world().resource::<Telemetry>().counters());
    let rebirth_at = rebirth_at.unwrap();

    // Data flows again: a P-203 flow sample from after the new births is applied.
    let deadline = Instant::now() + Duration::from_secs(10);
    while measured(&app, "P-203", Quantity::Flow).is_none_or(|m| m.event_s < rebirth_at + 2.0) {
        assert!(
            Instant::now() < deadline,
            "no data after the rebirth at {rebirth_at} s: {:?}, {:?}",
            measured(&app, "P-203", Quantity::Flow),
            app.world().resource::<Telemetry>().counters()
        );
        tick(&mut app);
    }
    let flow = measured(&app, "P-203", Quantity::Flow).unwrap();
    assert!((90.0..=170.0).contains(&flow.value), "flow {} m3/h", flow.value);
    assert_eq!(count(&app, "rebirth_requested"), 1, "one gap, one request");
    drop(plant);
    watch.shutdown();
}
