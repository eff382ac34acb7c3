//! Connects a live twin (the workbench's, `twin serve`'s) to telemetry. With the scenario's default
//! `broker: Embedded` it starts an in-process MQTT broker on loopback and the virtual plant publishing to it, so
//! live data, faults and drift can be seen with nothing installed; with `Mqtt(url: ...)` it subscribes to that
//! broker, in a persistent session, and runs no plant. Signals that name OPC UA nodes are subscribed on their
//! servers, and then no virtual plant runs either. Where the scenario asks, the twin publishes its knowledge
//! there (`crate::publish`).

use std::time::{Duration, Instant};

use anyhow::Context;
use bevy::prelude::*;
use twin_mqtt::{MqttClient, MqttConfig, broker::EmbeddedBroker};

use crate::change::PlcTarget;
use crate::ingest::Telemetry;
use crate::plant::inprocess::add_inprocess_plant;
use crate::scenario::{BrokerSpec, Scenario};
use crate::twin::SimClock;

/// Wall-clock budget for draining telemetry in one frame.
const DRAIN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// What the live twin is connected to.
#[derive(Resource)]
pub struct LiveLink {
    /// The broker's URL, shown in the UI.
    pub url: String,
    /// Whether the virtual plant runs in-process.
    pub virtual_plant: bool,
    /// Whether that plant runs in lock-step with the twin, its publications handed over without the broker
    /// (see [`pace_plant`]).
    pub lockstep: bool,
    _broker: Option<EmbeddedBroker>,
}

/// Connects the twin in `app` to the scenario's broker as `client_id` (the scenario's client id wins for a real
/// broker), and starts the embedded broker and plant by default.
/// Returns the PLC that set-point changes are pushed to (see [`crate::change::plc_target`]); a PLC that cannot
/// be resolved, or whose set-points cannot be read, is no target (a ramp from a guessed value could step past the
/// rate limit) and the log says why.
pub fn connect_live(
    app: &mut App,
    scenario: &Scenario,
    seed: u64,
    client_id: &str,
) -> anyhow::Result<Option<PlcTarget>> {
    let opcua_plant = crate::ingest::opcua::has_opcua_signals(scenario);
    match &scenario.connections.broker {
        // The plant's OPC UA servers are its telemetry: no virtual plant stands in for it.
        BrokerSpec::Embedded if opcua_plant => {
            let urls: Vec<&str> = scenario.connections.opcua.iter().map(|e| e.url.as_str()).collect();
            app.insert_resource(LiveLink {
                url: urls.join(", "),
                virtual_plant: false,
                lockstep: false,
                _broker: None,
            });
        }
        BrokerSpec::Embedded => {
            let broker = twin_mqtt::broker::start_embedded().context("starting the embedded MQTT broker")?;
            let url = broker.url();
            let mut telemetry = app.world_mut().resource_mut::<Telemetry>();
            telemetry.budget = Some(DRAIN_BUDGET);
            telemetry.connect(MqttConfig::from_url(&url, client_id)?)?;
            let mut plant_cfg = MqttConfig::from_url(&url, "twin-virtual-plant")?;
            plant_cfg.clean_session = true;
            // The plant answers the twin's Sparkplug rebirth requests.
            plant_cfg.subscriptions = vec![(crate::plant::publish::NCMD_FILTER.into(), twin_mqtt::Qos::AtLeastOnce)];
            let plant_client = MqttClient::start(plant_cfg)?;
            add_inprocess_plant(app, scenario, seed, Some(plant_client))?;
            app.insert_resource(LiveLink { url, virtual_plant: true, lockstep: false, _broker: Some(broker) });
        }
        BrokerSpec::Mqtt(spec) => {
            let session = crate::ingest::Session::Persistent(client_id);
            crate::ingest::connect_broker(app.world_mut(), spec, session, Some(DRAIN_BUDGET))?;
            app.insert_resource(LiveLink {
                url: spec.url.clone(),
                virtual_plant: false,
                lockstep: false,
                _broker: None,
            });
        }
    }
    crate::ingest::connect_opcua(app.world_mut(), scenario, Some(DRAIN_BUDGET)).map_err(anyhow::Error::msg)?;
    if let Some(p) = &scenario.publish
        && !(opcua_plant && matches!(scenario.connections.broker, BrokerSpec::Embedded))
    {
        app.add_plugins(crate::publish::JsonPublishPlugin);
        if let Some(sp) = &p.sparkplug {
            let url = app.world().resource::<LiveLink>().url.clone();
            let cfg = match &scenario.connections.broker {
                BrokerSpec::Embedded => MqttConfig::from_url(&url, &sp.edge_node)?,
                BrokerSpec::Mqtt(spec) => crate::ingest::broker_config(spec, &sp.edge_node)?,
            };
            let every = std::time::Duration::from_secs_f64(p.every.secs());
            let node = crate::publish::sparkplug::EdgeNode::connect(cfg, sp, every)?;
            app.insert_resource(node).add_plugins(crate::publish::sparkplug::SparkplugNodePlugin);
        }
    }
    match crate::change::plc_target(app, scenario) {
        Ok((target, _)) => Ok(target),
        Err(e) => {
            warn!("{e}: set-point changes cannot be pushed");
            Ok(None)
        }
    }
}

/// The fastest simulated time (s per wall-clock s) at which the virtual plant publishes over the embedded broker:
/// faster, its messages would wait behind the twin's drain budget and reach it late (stale, "skewed" clocks) or
/// not at all (a full channel).
pub const BROKER_PATH_MAX_SPEED: f64 = 60.0;

/// Sets how the virtual plant of a live twin reaches it at `speed`: over the embedded broker up to
/// [`BROKER_PATH_MAX_SPEED`], stepped in lock-step with the twin above it (its publications handed over in
/// process, at their send times, and the twin's tick cut to what the channel holds). Returns whether it is in
/// lock-step; nothing changes without a virtual plant.
pub fn pace_plant(world: &mut World, speed: f64) -> bool {
    let Some(mut link) = world.get_resource_mut::<LiveLink>() else { return false };
    if !link.virtual_plant {
        return false;
    }
    let lockstep = speed > BROKER_PATH_MAX_SPEED;
    link.lockstep = lockstep;
    let direct = lockstep.then(|| world.resource::<Telemetry>().sender());
    if let Some(mut runner) = world.get_resource_mut::<crate::plant::inprocess::PlantRunner>() {
        runner.set_lockstep(direct);
    }
    lockstep
}

/// Opens the history store at `path` into `app` and, when `resume`, restores its newest checkpoint; before
/// [`connect_live`]. The journal after the checkpoint is replayed at once when `replay_now` (`twin serve`: it
/// runs no frames before connecting), else fed as the clock reaches each message (the workbench, whose first
/// frames need its window). What was resumed, if anything; the log says.
pub fn open_store(
    app: &mut App,
    path: &std::path::Path,
    opts: crate::store::StoreOptions,
    resume: bool,
    replay_now: bool,
) -> Result<Option<crate::store::Resumed>, crate::store::OpenError> {
    let resumed = crate::store::add_store(app, path, opts, resume)?;
    let Some(r) = resumed else { return Ok(None) };
    let epoch = app.world().resource::<Telemetry>().epoch_unix_s;
    let until = crate::scenario::Dur::from_secs(r.until_unix_s - epoch);
    let at = crate::scenario::Dur::from_secs(r.checkpoint_s);
    if replay_now {
        let started = Instant::now();
        crate::store::catch_up(app);
        info!(
            "resumed from the checkpoint at t = {at}, then replayed {} journaled messages to t = {until} in {:.1} s",
            r.journaled,
            started.elapsed().as_secs_f64()
        );
    } else {
        info!("resumed from the checkpoint at t = {at}; {} journaled messages to t = {until} follow", r.journaled);
    }
    Ok(resumed)
}

/// After [`connect_live`] of a twin resumed from a store: runs the virtual plant forward to where the journal
/// ends, waits for the messages the broker held for the session, and returns the simulated time the twin owes
/// the wall clock at `speed` (a real plant's: the time it was down; 0 with the virtual plant, which waited).
pub fn after_resume(app: &mut App, resumed: Option<&crate::store::Resumed>, speed: f64) -> f64 {
    let Some(r) = resumed else { return 0.0 };
    let epoch = app.world().resource::<Telemetry>().epoch_unix_s;
    let now = app.world().resource::<SimClock>().now_s;
    crate::plant::inprocess::fast_forward(app, now.max(r.until_unix_s - epoch));
    // What the broker held for the session comes first, before the clock catches up and passes its times.
    wait_for_backlog(app.world().resource::<Telemetry>());
    if app.world().resource::<LiveLink>().virtual_plant {
        return 0.0;
    }
    (crate::scenario::unix_now_s() - epoch - now).max(0.0) * speed
}

/// Waits (up to a few seconds) until the live client is connected and the messages its session held have
/// arrived: the channel stopped growing.
fn wait_for_backlog(t: &Telemetry) {
    let Some(c) = &t.mqtt else { return };
    let started = Instant::now();
    while !c.stats().connected && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut last = (c.receiver().len(), Instant::now());
    while started.elapsed() < Duration::from_secs(10) && last.1.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(20));
        if c.receiver().len() != last.0 {
            last = (c.receiver().len(), Instant::now());
        }
    }
}
