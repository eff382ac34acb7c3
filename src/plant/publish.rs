//! `twin plant`: the virtual plant on its own, publishing its telemetry to an MQTT broker as a real site's
//! edge gateways would (the embedded broker when none is named), paced to the wall clock or faster.
//!
//! It subscribes to `spBv1.0/+/NCMD/+` and hands every command to [`VirtualPlant::handle_command`] between
//! publishing rounds, so a host's rebirth request is answered with new births within one round. On its clean
//! end it publishes each Sparkplug node's NDEATH. (No MQTT will is registered: the client has no will setting.)

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::VirtualPlant;
use crate::twin::Speed;

/// Simulated time advanced per publishing round, s.
const ROUND_S: f64 = 1.0;

/// Sparkplug node commands of every group and node.
pub const NCMD_FILTER: &str = "spBv1.0/+/NCMD/+";

/// Runs the plant of the scenario at `path` for `duration_s` simulated seconds.
/// `epoch_unix_s` is the unix time of the plant's t = 0, which its timestamps count from (`None`: the fixed
/// [`VirtualPlant::EPOCH_UNIX_S`], so runs are repeatable).
pub fn run_plant(
    path: &Path,
    broker: Option<&str>,
    duration_s: f64,
    speed: Speed,
    seed: u64,
    epoch_unix_s: Option<f64>,
) -> anyhow::Result<()> {
    let scenario = crate::scenario::load(path)?;
    let mut plant = VirtualPlant::new(&scenario, seed)?;
    if let Some(epoch) = epoch_unix_s {
        plant.set_epoch(epoch);
    }
    let (_embedded, url) = match broker {
        Some(u) => (None, u.to_owned()),
        None => {
            let b = twin_mqtt::broker::start_embedded().context("starting the embedded broker")?;
            let url = b.url();
            (Some(b), url)
        }
    };
    let mut cfg = twin_mqtt::MqttConfig::from_url(&url, &format!("twin-plant-{seed}"))?;
    cfg.clean_session = true;
    if plant.sparkplug_nodes().next().is_some() {
        cfg.subscriptions = vec![(NCMD_FILTER.to_owned(), twin_mqtt::Qos::AtLeastOnce)];
    }
    let client = twin_mqtt::MqttClient::start(cfg)?;
    eprintln!(
        "virtual plant of \"{}\" publishing to {url} (topics: {})",
        scenario.name,
        plant.topics().collect::<Vec<_>>().join(", ")
    );

    let started = Instant::now();
    let mut published = 0u64;
    let mut refused = 0u64;
    let mut rebirths = 0u64;
    while plant.now_s() < duration_s {
        while let Ok(m) = client.receiver().try_recv() {
            if plant.handle_command(&m.topic, &m.payload) {
                rebirths += 1;
                eprintln!("rebirth requested on {} at t = {:.0} s", m.topic, plant.now_s());
            }
        }
        for p in plant.advance(ROUND_S.min(duration_s - plant.now_s())) {
            match client.publish(&p.topic, p.payload, twin_mqtt::Qos::AtLeastOnce, p.retain) {
                Ok(()) => published += 1,
                Err(_) => refused += 1,
            }
        }
        speed.pace(started, plant.now_s());
    }
    for p in plant.death_certificates() {
        match client.publish(&p.topic, p.payload, twin_mqtt::Qos::AtLeastOnce, p.retain) {
            Ok(()) => published += 1,
            Err(_) => refused += 1,
        }
    }
    // Every publication is QoS 1: wait for the broker to confirm them all before disconnecting.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.stats().publish_confirmed < published && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let confirmed = client.stats().publish_confirmed;
    if confirmed < published {
        anyhow::bail!("the broker confirmed {confirmed} of {published} publications within 30 s");
    }
    client.shutdown();
    eprintln!(
        "published {published} messages ({refused} refused by a full queue) over {:.0} simulated s; \
         {rebirths} rebirths, {} commands ignored",
        plant.now_s(),
        plant.commands_ignored()
    );
    Ok(())
}
