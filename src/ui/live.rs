//! Connects the workbench's twin to live telemetry. With the scenario's default `broker: Embedded` it starts an
//! in-process MQTT broker on loopback and the virtual plant publishing to it, so live data, faults and drift can
//! be seen with nothing installed; with `Mqtt(url: ...)` it subscribes to that broker and runs no plant.

use anyhow::Context;
use bevy::prelude::*;
use twin_mqtt::{MqttClient, MqttConfig, TlsConfig, broker::EmbeddedBroker};

use std::net::{SocketAddr, ToSocketAddrs};

use crate::change::PlcTarget;
use crate::ingest::Telemetry;
use crate::plant::inprocess::{add_inprocess_plant, serve_plc};
use crate::scenario::{BrokerSpec, PlcSpec, Scenario};

/// Wall-clock budget for draining telemetry in one frame.
const DRAIN_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// What the workbench is connected to.
#[derive(Resource)]
pub struct LiveLink {
    /// The broker's URL, shown in the UI.
    pub url: String,
    /// Whether the virtual plant runs in-process.
    pub virtual_plant: bool,
    _broker: Option<EmbeddedBroker>,
}

/// Connects the twin in `app` to the scenario's broker (and starts the embedded broker and plant by default).
/// Returns the PLC that set-point changes are pushed to: the virtual plant's, served on a loopback port, or the
/// scenario's Modbus TCP PLC.
pub fn connect_live(app: &mut App, scenario: &Scenario, seed: u64) -> anyhow::Result<Option<PlcTarget>> {
    match &scenario.connections.broker {
        BrokerSpec::Embedded => {
            let broker = twin_mqtt::broker::start_embedded().context("starting the embedded MQTT broker")?;
            let url = broker.url();
            let mut telemetry = app.world_mut().resource_mut::<Telemetry>();
            telemetry.budget = Some(DRAIN_BUDGET);
            telemetry.connect(MqttConfig::from_url(&url, "twin-workbench")?)?;
            let mut plant_cfg = MqttConfig::from_url(&url, "twin-virtual-plant")?;
            plant_cfg.clean_session = true;
            // The plant answers the twin's Sparkplug rebirth requests.
            plant_cfg.subscriptions = vec![(crate::plant::publish::NCMD_FILTER.into(), twin_mqtt::Qos::AtLeastOnce)];
            let plant_client = MqttClient::start(plant_cfg)?;
            add_inprocess_plant(app, scenario, seed, Some(plant_client))?;
            app.insert_resource(LiveLink { url, virtual_plant: true, _broker: Some(broker) });
            if matches!(scenario.connections.plc, PlcSpec::VirtualPlc) {
                let bind: SocketAddr = ([127, 0, 0, 1], 0).into();
                let addr = serve_plc(app, scenario, bind, twin_modbus::Behaviour::Normal)
                    .context("starting the virtual plant's PLC")?;
                return Ok(Some(PlcTarget { addr, unit_id: 1, virtual_plc: true }));
            }
        }
        BrokerSpec::Mqtt(spec) => {
            let mut cfg = MqttConfig::from_url(&spec.url, spec.client_id.as_deref().unwrap_or("twin-workbench"))?;
            let env = |name: &Option<String>| name.as_ref().and_then(|n| std::env::var(n).ok());
            cfg.username = env(&spec.username_env);
            cfg.password = env(&spec.password_env);
            if let Some(ca) = &spec.ca_file {
                cfg.tls = Some(TlsConfig { ca_file: ca.into(), client_cert_file: None, client_key_file: None });
            }
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
            let mut telemetry = app.world_mut().resource_mut::<Telemetry>();
            telemetry.budget = Some(DRAIN_BUDGET);
            telemetry.epoch_unix_s = now;
            telemetry.connect(cfg)?;
            app.insert_resource(LiveLink { url: spec.url.clone(), virtual_plant: false, _broker: None });
        }
    }
    Ok(match &scenario.connections.plc {
        PlcSpec::ModbusTcp(m) => {
            let addr = m.addr.to_socket_addrs().ok().and_then(|mut a| a.next());
            addr.map(|addr| PlcTarget { addr, unit_id: m.unit_id, virtual_plc: false })
        }
        PlcSpec::VirtualPlc => None,
    })
}
