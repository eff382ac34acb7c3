//! Live telemetry into the twin through a real Mosquitto started by the test on a free loopback port: samples
//! published with `mosquitto_pub` land on the right asset components, converted to canonical units; malformed
//! payloads are counted by reason and never crash the twin; a QoS 1 stream survives a broker restart with nothing
//! lost and nothing applied twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use twin::app::headless_app;
use twin::assess::config::{ConfigStatus, Configuration};
use twin::ingest::{Measurements, SampleApplied, Telemetry};
use twin::scenario;
use twin::twin::{AssetIndex, SimClock, TwinSystems};
use twin::units::Quantity;
use twin_mqtt::testkit::{Mosquitto, StreamPublisher, mosquitto_pub, mosquitto_pub_file, wait_until};

/// The booster station's twin, connected to `broker`, with its epoch at the wall clock so live timestamps fit.
fn live_twin(broker: &Mosquitto) -> (App, f64) {
    let s = scenario::load(&super::root().join("scenes/booster_station.ron")).unwrap();
    let mut app = headless_app(Arc::new(s), 1);
    let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let mut t = app.world_mut().resource_mut::<Telemetry>();
    t.epoch_unix_s = epoch;
    let cfg = twin_mqtt::MqttConfig::from_url(&format!("mqtt://127.0.0.1:{}", broker.port), "twin-it").unwrap();
    t.connect(cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.mqtt.as_ref().unwrap().stats().connected || t.mqtt.as_ref().unwrap().stats().subacks == 0 {
        assert!(Instant::now() < deadline, "twin did not connect and subscribe");
        std::thread::sleep(Duration::from_millis(20));
    }
    (app, epoch)
}

/// Steps the twin `secs` simulated seconds, one tick per second, giving the client time to deliver.
fn step(app: &mut App, secs: u32) {
    for _ in 0..secs {
        std::thread::sleep(Duration::from_millis(20));
        app.world_mut().resource_mut::<SimClock>().pending_steps = 1;
        app.update();
    }
}

fn measured(app: &App, asset: &str, q: Quantity) -> Option<twin::ingest::Measured> {
    let e = app.world().resource::<AssetIndex>().0[asset];
    app.world().get::<Measurements>(e)?.0.get(&q).copied()
}

fn count(app: &App, key: &str) -> u64 {
    app.world().resource::<Telemetry>().counters().get(key).copied().unwrap_or(0)
}

#[test]
fn samples_from_mosquitto_pub_reach_the_right_components_in_canonical_units() {
    let broker = Mosquitto::start(false, "");
    let (mut app, epoch) = live_twin(&broker);
    let ts = epoch + 0.5;
    // The booster scenario's sources send in/s, degF, l/s and cm.
    mosquitto_pub(broker.port, "booster/p201/vibration", &format!(r#"{{"rms": 0.1, "ts": {ts}}}"#), 1);
    mosquitto_pub(broker.port, "booster/m201/temp", &format!(r#"{{"value": 212, "ts": {ts}}}"#), 1);
    mosquitto_pub(broker.port, "booster/p201/flow", &format!(r#"{{"value": 50, "ts": {ts}}}"#), 1);
    mosquitto_pub(broker.port, "booster/t2/level", &format!(r#"{{"value": 350, "ts": {ts}}}"#), 1);
    step(&mut app, 8); // past the 5 s reorder horizon

    let vib = measured(&app, "P-201", Quantity::VibrationVelocityRms).expect("vibration on P-201");
    assert!((vib.value - 2.54).abs() < 1e-9, "0.1 in/s = 2.54 mm/s, got {}", vib.value);
    assert!((vib.event_s - 0.5).abs() < 1e-6, "event time on the twin's time base: {}", vib.event_s);
    let temp = measured(&app, "M-201", Quantity::WindingTemperature).expect("winding temp on M-201");
    assert!((temp.value - 100.0).abs() < 1e-9, "212 degF = 100 degC, got {}", temp.value);
    let flow = measured(&app, "P-201", Quantity::Flow).expect("flow on P-201");
    assert!((flow.value - 180.0).abs() < 1e-9, "50 l/s = 180 m3/h, got {}", flow.value);
    let level = measured(&app, "T-2", Quantity::TankLevel).expect("level on T-2");
    assert!((level.value - 3.5).abs() < 1e-9, "350 cm = 3.5 m, got {}", level.value);
    assert!(!temp.skewed_clock && !temp.reordered);
    assert!(measured(&app, "P-202", Quantity::Flow).is_none(), "nothing landed on another pump");
    assert_eq!(count(&app, "accepted"), 4);

    // Quality: with no more samples the signals go stale after three 1 s periods.
    step(&mut app, 4);
    assert!(measured(&app, "M-201", Quantity::WindingTemperature).unwrap().stale);
}

#[test]
fn malformed_payloads_are_counted_and_never_crash_the_twin() {
    let broker = Mosquitto::start(false, "");
    let (mut app, epoch) = live_twin(&broker);
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("truncated.pb");
    std::fs::write(&garbage, [0x08u8, 0x96, 0x01, 0x12, 0xff, 0x0a]).unwrap(); // a truncated protobuf
    let huge = format!(r#"{{"value": {}, "ts": {}}}"#, "9".repeat(400), epoch);
    mosquitto_pub(broker.port, "booster/m201/temp", "{not json", 1);
    mosquitto_pub_file(broker.port, "booster/m202/temp", &garbage, 1);
    // The same truncated protobuf on the Sparkplug node's device topic (P-203 has two signals there).
    mosquitto_pub_file(broker.port, "spBv1.0/booster/DDATA/booster-edge-3/P-203", &garbage, 1);
    mosquitto_pub(broker.port, "booster/m202/temp", &format!(r#"{{"value": "hot", "ts": {epoch}}}"#), 1);
    mosquitto_pub(broker.port, "booster/p201/flow", &huge, 1);
    mosquitto_pub(broker.port, "booster/p202/flow", &format!(r#"{{"value": 1e6, "ts": {epoch}}}"#), 1);
    mosquitto_pub(broker.port, "booster/p201/flow", &format!(r#"{{"flow": 10, "ts": {epoch}}}"#), 1);
    mosquitto_pub(broker.port, "nobody/listens/here", "{}", 1);
    mosquitto_pub(broker.port, "booster/t2/level", &format!(r#"{{"value": 300, "ts": {epoch}}}"#), 1);
    step(&mut app, 8);

    assert_eq!(count(&app, "bad_payload"), 4, "{:?}", app.world().resource::<Telemetry>().counters());
    assert_eq!(count(&app, "not_a_number"), 1);
    assert_eq!(count(&app, "non_finite"), 1);
    assert_eq!(count(&app, "out_of_range"), 1);
    assert_eq!(count(&app, "missing_value"), 1);
    assert_eq!(count(&app, "accepted"), 1, "the one good sample still gets through");
    assert!(measured(&app, "M-201", Quantity::WindingTemperature).is_none());
    assert!((measured(&app, "T-2", Quantity::TankLevel).unwrap().value - 3.0).abs() < 1e-9);
}

#[test]
fn the_virtual_plant_publishes_through_mosquitto_and_the_twin_receives_it() {
    let broker = Mosquitto::start(false, "");
    let s = scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap();
    let mut app = headless_app(Arc::new(s), 1);
    let mut t = app.world_mut().resource_mut::<Telemetry>();
    t.epoch_unix_s = twin::plant::VirtualPlant::EPOCH_UNIX_S; // the plant's clock
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    t.connect(twin_mqtt::MqttConfig::from_url(&url, "twin-it-plant").unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.world().resource::<Telemetry>().mqtt.as_ref().unwrap().stats().subacks == 0 {
        assert!(Instant::now() < deadline, "twin did not subscribe");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The twin follows the plant's clock: it is at t = 121 s when the plant's two minutes arrive (1 s after
    // the last sample, as a live link would deliver them), then runs on past the reorder horizon.
    app.world_mut().resource_mut::<SimClock>().pending_steps = 121;
    app.update();
    let out =
        super::twin(&["plant", "scenes/pump_station.ron", "--broker", &url, "--duration", "120s", "--speed", "max"]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    // Four topics at 1 s (vibration RMS, peak and crest share one) and the level every 10 s.
    while app.world().resource::<Telemetry>().mqtt.as_ref().unwrap().stats().received < 4 * 120 + 12 {
        assert!(Instant::now() < deadline, "the plant's messages did not all arrive");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.update(); // drains everything at t = 121 s
    app.world_mut().resource_mut::<SimClock>().pending_steps = 10;
    app.update();
    app.update(); // releases what the 5 s reorder horizon held back

    // The worked example's pump near its rated point, in canonical units, fresh and on time.
    let flow = measured(&app, "P-101", Quantity::Flow).expect("flow");
    assert!((200.0..=260.0).contains(&flow.value), "flow {} m3/h", flow.value);
    let vib = measured(&app, "P-101", Quantity::VibrationVelocityRms).expect("vibration");
    assert!((0.5..=4.5).contains(&vib.value), "vibration {} mm/s", vib.value);
    let crest = measured(&app, "P-101", Quantity::VibrationCrestFactor).expect("crest");
    assert!((1.2..=3.0).contains(&crest.value), "crest {}", crest.value);
    let current = measured(&app, "M-101", Quantity::MotorCurrent).expect("current");
    assert!((50.0..=98.0).contains(&current.value), "current {} A", current.value);
    let level = measured(&app, "T-1", Quantity::TankLevel).expect("level");
    assert!((3.0..=4.0).contains(&level.value), "level {} m", level.value);
    assert!(
        (flow.event_s - 120.0).abs() <= 5.0 + 1e-9,
        "the last released sample is from the run's end: {}",
        flow.event_s
    );
    assert!(!flow.skewed_clock, "a burst of old samples is no evidence of a skewed clock: {flow:?}");
    assert!(flow.stale, "the plant stopped publishing 11 s before the twin's clock: more than three periods");
    assert_eq!(count(&app, "out_of_range") + count(&app, "bad_payload") + count(&app, "late"), 0);
    // Six 1 s signals for 120 s and the level every 10 s, every one applied.
    assert_eq!(
        count(&app, "accepted") + count(&app, "reordered"),
        6 * 120 + 12,
        "{:?}",
        app.world().resource::<Telemetry>().counters()
    );
}

/// Every sample the twin applied, as the state estimation would see it.
#[derive(Resource, Default)]
struct AppliedLog(Vec<f64>);

fn log_applied(mut applied: MessageReader<SampleApplied>, mut log: ResMut<AppliedLog>) {
    log.0.extend(applied.read().map(|s| s.measured.value));
}

#[test]
fn a_qos1_stream_survives_a_broker_restart_with_nothing_lost_and_no_duplicate_applied() {
    const N: usize = 10_000;
    let mut broker = Mosquitto::start(true, "");
    let s = scenario::load(&super::root().join("tests/fixtures/stream.ron")).unwrap();
    let mut app = headless_app(Arc::new(s), 1);
    app.init_resource::<AppliedLog>().add_systems(Update, log_applied.after(TwinSystems::Ingest));
    // A persistent session (fixed client id, clean session off), fast reconnects for the test.
    let mut cfg =
        twin_mqtt::MqttConfig::from_url(&format!("mqtt://127.0.0.1:{}", broker.port), "twin-it-stream").unwrap();
    cfg.clean_session = false;
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 500;
    cfg.keep_alive_s = 5;
    app.world_mut().resource_mut::<Telemetry>().connect(cfg).unwrap();
    let stats = |app: &App| app.world().resource::<Telemetry>().mqtt.as_ref().unwrap().stats();
    assert!(wait_until(Duration::from_secs(10), || stats(&app).subacks == 1), "twin did not subscribe");

    // About 3,000 msg/s, so the restart lands mid-stream.
    let payloads = (0..N).map(|i| format!(r#"{{"seq": {i}, "value": {i}}}"#).into_bytes()).collect();
    let publisher = StreamPublisher::start(
        broker.port,
        "it-stream-pub",
        "it/stream/level",
        payloads,
        50,
        Duration::from_millis(15),
    );
    let applied = |app: &App| app.world().resource::<AppliedLog>().0.len();
    let mut restarted_after = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while applied(&app) < N && Instant::now() < deadline {
        app.update(); // the clock stands still: every sample's event time is "now", so each applies at once
        std::thread::sleep(Duration::from_millis(1));
        if restarted_after.is_none() && applied(&app) >= 3_000 {
            broker.stop(); // SIGTERM: mosquitto saves its sessions and queued messages
            std::thread::sleep(Duration::from_millis(300));
            broker.restart();
            restarted_after = Some(applied(&app));
        }
    }
    // Let any redelivery still in flight arrive.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let pubacks = publisher.pubacks();
    publisher.stop();

    let s = stats(&app);
    let counters = app.world().resource::<Telemetry>().counters();
    let mut values = app.world().resource::<AppliedLog>().0.clone();
    values.sort_by(f64::total_cmp);
    let expected: Vec<f64> = (0..N).map(|i| i as f64).collect();
    eprintln!("restart after {restarted_after:?} applied; publisher pubacks {pubacks}; counters {counters:?}; {s:?}");
    let restarted_after = restarted_after.expect("the broker restart happened");
    assert!(restarted_after < N, "the restart was mid-stream");
    assert!(values == expected, "every sequence number applied exactly once ({} applied)", values.len());
    let get = |k: &str| counters.get(k).copied().unwrap_or(0);
    assert_eq!(get("accepted") + get("reordered"), N as u64);
    assert_eq!(get("messages"), s.received, "the twin took every message the client received");
    assert_eq!(get("duplicate"), s.received - N as u64, "every redelivery was recognised and dropped");
    assert_eq!(get("dropped_channel_full"), 0);
    assert!(s.connects >= 2 && s.reconnect_attempts >= 1, "the client reconnected by itself: {s:?}");
    // The broker restored the persistent session, subscriptions included; what arrived after the restart
    // proves the subscription is live again.
    assert!(s.received as usize > restarted_after);
    let last = app.world().resource::<AssetIndex>().0["T-9"];
    let level = app.world().get::<Measurements>(last).unwrap().0[&Quantity::TankLevel];
    assert!(level.value >= 9_000.0, "the newest sample is on the tank: {level:?}");
}

#[test]
fn a_retained_identity_published_before_the_twin_connects_is_compared_with_the_scenario() {
    let broker = Mosquitto::start(false, "");
    // The assets reported what they run before the twin started: retained on the broker.
    for (topic, payload) in [
        ("booster/p201/identity", r#"{"config_version": "3.2", "firmware": "1.8.4"}"#),
        ("booster/p202/identity", r#"{"config_version": "3.2", "firmware": "2.0.1"}"#),
    ] {
        let st = std::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-t", topic, "-m", payload, "-q", "1", "-r"])
            .status()
            .expect("mosquitto_pub (Debian: mosquitto-clients)");
        assert!(st.success());
    }
    let (mut app, _) = live_twin(&broker);
    let status = |app: &App, asset: &str| {
        let e = app.world().resource::<AssetIndex>().0[asset];
        app.world().get::<Configuration>(e).unwrap().status()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&app, "P-202") == ConfigStatus::Awaiting {
        assert!(Instant::now() < deadline, "the retained report did not arrive");
        step(&mut app, 1);
    }
    step(&mut app, 1);
    assert_eq!(status(&app, "P-201"), ConfigStatus::Match);
    assert_eq!(status(&app, "P-202"), ConfigStatus::Mismatch("firmware 2.0.1 reported, 1.8.4 expected".into()));
    assert_eq!(status(&app, "P-203"), ConfigStatus::NotReported, "P-203 has no identity topic");
    assert_eq!(count(&app, "identity"), 2);

    // A malformed report is counted, and the last good one stands.
    mosquitto_pub(broker.port, "booster/p202/identity", r#"{"firmware": 3}"#, 1);
    let counted = wait_until(Duration::from_secs(10), || {
        step(&mut app, 1);
        count(&app, "bad_payload") == 1
    });
    assert!(counted, "the malformed report was counted as a bad payload");
    assert!(matches!(status(&app, "P-202"), ConfigStatus::Mismatch(_)));
}

/// The pump station's twin fed by its virtual plant through Mosquitto, as the workbench runs it at 60x on a slow
/// display: 15 simulated seconds a tick, the plant publishing each tick's samples and the twin draining them the
/// next. `faults` go to the plant. For the first `starved` ticks the twin's drain budget is zero (one message a
/// tick, as a frame that cannot keep up drains only part of what waits), then unlimited. Returns the twin after
/// `ticks` ticks, and how many messages the plant published in the last one (waiting for the next drain).
fn fast_live_station(broker: &Mosquitto, faults: Vec<scenario::FaultSpec>, starved: u32, ticks: u32) -> (App, u64) {
    fast_live_station_with(broker, faults, starved, ticks, twin_mqtt::MqttConfig::DEFAULT_CHANNEL_CAPACITY)
}

/// [`fast_live_station`] with the twin's client channel holding `capacity` messages.
fn fast_live_station_with(
    broker: &Mosquitto,
    faults: Vec<scenario::FaultSpec>,
    starved: u32,
    ticks: u32,
    capacity: usize,
) -> (App, u64) {
    let mut s = scenario::load(&super::root().join("scenes/pump_station.ron")).unwrap();
    s.faults = faults;
    let mut app = headless_app(Arc::new(s.clone()), 1);
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let mut t = app.world_mut().resource_mut::<Telemetry>();
    let mut cfg = twin_mqtt::MqttConfig::from_url(&url, "twin-fast").unwrap();
    cfg.channel_capacity = capacity;
    t.connect(cfg).unwrap();
    let client = |t: &Telemetry| t.mqtt.as_ref().unwrap().stats();
    assert!(wait_until(Duration::from_secs(10), || client(app.world().resource::<Telemetry>()).subacks > 0));
    let plant = twin_mqtt::MqttClient::start(twin_mqtt::MqttConfig::from_url(&url, "plant-fast").unwrap()).unwrap();
    assert!(wait_until(Duration::from_secs(10), || plant.stats().connected));
    twin::plant::inprocess::add_inprocess_plant(&mut app, &s, 1, Some(plant)).unwrap();
    let steps = (15.0 / s.simulation.model_step.secs()).round() as u32;
    let (mut before, mut last_tick) = (0, 0);
    for tick in 0..ticks {
        app.world_mut().resource_mut::<Telemetry>().budget = (tick < starved).then_some(Duration::ZERO);
        app.world_mut().resource_mut::<SimClock>().pending_steps = steps;
        app.update();
        // Whatever the plant published this tick is on its way; the next tick drains it. (A frame of a real
        // window is far longer than the trip through a broker on loopback; waiting for it keeps the test exact.)
        let published = app.world().resource::<twin::plant::inprocess::PlantRunner>().published;
        let arrived =
            wait_until(Duration::from_secs(20), || client(app.world().resource::<Telemetry>()).received >= published);
        assert!(arrived, "the twin received the plant's {published} messages");
        (before, last_tick) = (published, published - before);
    }
    (app, last_tick)
}

/// The fault [`assert_fast_live_station`] expects when told of a skew: P-101's flow sensor clock 90 s off.
fn flow_clock_90_s_behind() -> scenario::FaultSpec {
    scenario::FaultSpec::SkewedClock { signal: "P-101.flow".into(), offset: twin::scenario::Dur::from_secs(90.0) }
}

#[test]
fn fast_time_over_a_broker_is_not_taken_for_skewed_clocks_or_late_data_but_a_real_skew_is_caught() {
    let broker = Mosquitto::start(false, "");
    let (app, _) = fast_live_station(&broker, vec![flow_clock_90_s_behind()], 0, 16);
    assert_fast_live_station(&app, true);
}

#[test]
fn a_backlog_left_by_drains_that_could_not_keep_up_is_not_taken_for_late_data_or_skewed_clocks() {
    let broker = Mosquitto::start(false, "");
    // Six ticks of one message each leave hundreds waiting, some for 90 simulated seconds; the seventh drains
    // them all, and the rest of the run is drained a tick at a time.
    let (app, last_tick) = fast_live_station(&broker, vec![flow_clock_90_s_behind()], 6, 16);
    let waiting = app.world().resource::<Telemetry>().mqtt.as_ref().unwrap().receiver().len() as u64;
    assert!(waiting <= last_tick, "the backlog was drained: {waiting} waiting, {last_tick} sent in the last tick");
    assert_fast_live_station(&app, true);
}

#[test]
fn a_client_channel_filling_up_is_drained_past_the_budget_before_it_drops_anything() {
    let broker = Mosquitto::start(false, "");
    // 300 messages of room and about 80 a tick: drained one a tick, the channel would overflow by the fourth.
    let (app, last_tick) = fast_live_station_with(&broker, vec![], 16, 16, 300);
    let t = app.world().resource::<Telemetry>();
    let client = t.mqtt.as_ref().unwrap();
    assert_eq!(client.stats().dropped_channel_full, 0, "{:?}", client.stats());
    let waiting = client.receiver().len() as u64;
    assert!(waiting <= 150 + last_tick, "drained down to half: {waiting} waiting, {last_tick} sent in the last tick");
    assert!(waiting > last_tick, "the budget still held below half: {waiting} waiting");
    // A backlog that never clears leaves every receive time open back to its start: no clock can be judged
    // skewed then (none is injected here), and nothing is taken for late.
    assert_fast_live_station(&app, false);
}

/// Everything the plant sent was accepted, none refused as late, only the skewed source (P-101's flow, when
/// `skew` was injected) is flagged skewed, nothing revised what was shown, and every sample reached the
/// assimilated branch at its event time.
fn assert_fast_live_station(app: &App, skew: bool) {
    let counters = app.world().resource::<Telemetry>().counters();
    assert!(counters["accepted"] > 500, "{counters:?}");
    assert_eq!(counters.get("late").copied().unwrap_or(0), 0, "nothing refused as late: {counters:?}");
    let mut checked = 0;
    for asset in ["P-101", "M-101", "T-1"] {
        for (q, m) in &measured_all(app, asset) {
            let skewed = skew && asset == "P-101" && *q == Quantity::Flow;
            assert_eq!(m.skewed_clock, skewed, "{asset} {q:?}: {m:?}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} signals measured");
    let assimilation = app.world().resource::<twin::sync::Assimilation>();
    let revisions = &assimilation.revisions;
    assert!(revisions.is_empty(), "samples one tick old revise nothing: {revisions:?}");
    let c = &assimilation.counters;
    assert_eq!(c.too_late, 0, "every sample reached the assimilated branch: {c:?}");
}

fn measured_all(app: &App, asset: &str) -> Vec<(Quantity, twin::ingest::Measured)> {
    let e = app.world().resource::<AssetIndex>().0[asset];
    app.world().get::<Measurements>(e).map(|m| m.0.iter().map(|(q, v)| (*q, *v)).collect()).unwrap_or_default()
}
