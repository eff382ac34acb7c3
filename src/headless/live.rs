//! Connects a live twin (the workbench's, `twin serve`'s) to telemetry. With the scenario's default
//! `broker: Embedded` it starts an in-process MQTT broker on loopback and the virtual plant publishing to it, so
//! live data, faults and drift can be seen with nothing installed; with `Mqtt(url: ...)` it subscribes to that
//! broker, in a persistent session, and runs no plant. Where the scenario asks, the twin publishes its knowledge
//! there (`crate::publish`).

use anyhow::Context;
use bevy::prelude::*;
use twin_mqtt::{MqttClient, MqttConfig, broker::EmbeddedBroker};

use crate::change::PlcTarget;
use crate::ingest::Telemetry;
use crate::plant::inprocess::add_inprocess_plant;
use crate::scenario::{BrokerSpec, Scenario};

/// Wall-clock budget for draining telemetry in one frame.
const DRAIN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// What the live twin is connected to.
#[derive(Resource)]
pub struct LiveLink {
    /// The broker's URL, shown in the UI.
    pub url: String,
    /// Whether the virtual plant runs in-process.
    pub virtual_plant: bool,
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
    match &scenario.connections.broker {
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
            app.insert_resource(LiveLink { url, virtual_plant: true, _broker: Some(broker) });
        }
        BrokerSpec::Mqtt(spec) => {
            let session = crate::ingest::Session::Persistent(client_id);
            crate::ingest::connect_broker(app.world_mut(), spec, session, Some(DRAIN_BUDGET))?;
            app.insert_resource(LiveLink { url: spec.url.clone(), virtual_plant: false, _broker: None });
        }
    }
    if let Some(p) = &scenario.publish {
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
