//! The twin's knowledge published back to the plant: each asset's indices, active drift alarms, recommended
//! service window and configuration status as retained JSON on `{prefix}/{asset}/state` (QoS 1), so SCADA,
//! historians, Grafana and maintenance systems can read what the twin knows. Off unless the scenario's `publish`
//! asks; published on the change and at most once per `every` of wall-clock time per asset.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde_json::{Value, json};

use crate::assess::config::Configuration;
use crate::assess::service::ServiceWatch;
use crate::ingest::Telemetry;
use crate::scenario::{Index, PublishSpec};
use crate::sync::Assimilation;
use crate::twin::{LoadedScenario, SimClock, TwinSystems, read_index};

/// What was published, per asset, and what could not be.
#[derive(Resource, Debug, Default)]
pub struct Published {
    /// Per asset: when its state was last published and what it said (without the time).
    last: HashMap<String, (Instant, Value)>,
    /// Publications handed to the MQTT client, count.
    pub sent: u64,
    /// Publications the client refused (not connected, queue full), count.
    pub refused: u64,
}

/// The state of `asset` as published: indices, active alarms, service window, configuration.
pub fn asset_state(world: &World, asset: &str, kind: &str) -> Value {
    let mut indices = serde_json::Map::new();
    for index in Index::ALL.into_iter().filter(|i| i.kind_name() == kind) {
        if let Some(v) = read_index(world, asset, index).filter(|v| v.is_finite()) {
            // Rounded to what matters, so that noise in the last digits is not a change.
            indices.insert(index.key().to_owned(), json!((v * 1e4).round() / 1e4));
        }
    }
    let epoch = world.get_resource::<Telemetry>().map_or(crate::ingest::DEFAULT_EPOCH_UNIX_S, |t| t.epoch_unix_s);
    let alarms: Vec<Value> = world
        .get_resource::<Assimilation>()
        .map(|a| {
            a.alarms
                .iter()
                .filter(|x| x.asset == asset && x.cleared_s.is_none())
                .map(|x| {
                    json!({"quantity": format!("{:?}", x.quantity), "kind": format!("{:?}", x.kind),
                           "raised_unix_s": epoch + x.raised_s, "reason": x.reason})
                })
                .collect()
        })
        .unwrap_or_default();
    let entity = world.resource::<crate::twin::AssetIndex>().0.get(asset).and_then(|&e| world.get_entity(e).ok());
    let window = entity.and_then(|e| e.get::<ServiceWatch>()).and_then(|w| w.window.as_ref()).map(|w| {
        json!({"latest_unix_s": epoch + w.window_latest_s, "planned_shutdown_unix_s": w.planned_shutdown_s.map(|s| epoch + s),
               "max_failure_probability": w.max_failure_probability, "rul_h": w.rul_h, "index": w.index})
    });
    let config =
        entity.and_then(|e| e.get::<Configuration>()).map(|c| serde_json::to_value(c.status()).unwrap_or_default());
    json!({"asset": asset, "kind": kind, "indices": indices, "drift_alarms": alarms, "service_window": window,
           "configuration": config})
}

/// Publishes each asset's state when it changed and its interval has passed.
fn publish_state(world: &mut World) {
    let Some(spec) = world.resource::<LoadedScenario>().0.publish.clone() else { return };
    let Some(mut published) = world.remove_resource::<Published>() else { return };
    let connected = world.resource::<Telemetry>().mqtt.as_ref().is_some_and(|c| c.stats().connected);
    if connected {
        publish_assets(world, &spec, &mut published);
    }
    world.insert_resource(published);
}

fn publish_assets(world: &World, spec: &PublishSpec, published: &mut Published) {
    let now = Instant::now();
    let every = Duration::from_secs_f64(spec.every.secs());
    let t_unix_s = world.resource::<Telemetry>().epoch_unix_s + world.resource::<SimClock>().now_s;
    let scenario = world.resource::<LoadedScenario>().0.clone();
    let Some(client) = world.resource::<Telemetry>().mqtt.as_ref() else { return };
    for a in &scenario.assets {
        if published.last.get(&a.id).is_some_and(|(at, _)| now.duration_since(*at) < every) {
            continue;
        }
        let state = asset_state(world, &a.id, a.kind.name());
        if published.last.get(&a.id).is_some_and(|(_, last)| *last == state) {
            continue;
        }
        let mut payload = state.clone();
        payload["t_unix_s"] = json!(t_unix_s);
        let topic = format!("{}/{}/state", spec.prefix, a.id);
        match client.publish(&topic, payload.to_string().into_bytes(), twin_mqtt::Qos::AtLeastOnce, true) {
            Ok(()) => {
                published.sent += 1;
                published.last.insert(a.id.clone(), (now, state));
            }
            Err(e) => {
                if published.refused == 0 {
                    warn!("publishing the twin's state on {topic}: {e}");
                }
                published.refused += 1;
            }
        }
    }
}

/// Publishes the twin's knowledge when the scenario asks (after the assessment, each tick).
pub struct PublishPlugin;

impl Plugin for PublishPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Published>()
            .add_systems(Update, publish_state.after(TwinSystems::Assess).before(TwinSystems::Control));
    }
}
