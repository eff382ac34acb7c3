//! The twin's knowledge as JSON: each asset's state (`super::asset_state`) retained on `{prefix}/{asset}/state`
//! (QoS 1), published on the change and at most once per `every` of wall-clock time per asset.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde_json::{Value, json};

use super::asset_state;
use crate::ingest::Telemetry;
use crate::scenario::PublishSpec;
use crate::twin::{LoadedScenario, SimClock, TwinSystems};

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

/// Publishes each asset's state when it changed and its interval has passed.
fn publish_state(world: &mut World) {
    let Some(spec) = world.resource::<LoadedScenario>().0.publish.clone().filter(|p| p.prefix.is_some()) else {
        return;
    };
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
        let topic = format!("{}/{}/state", spec.prefix.as_deref().unwrap_or_default(), a.id);
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

/// Publishes the twin's state as JSON when the scenario gives a prefix (after the assessment, each tick).
pub struct JsonPublishPlugin;

impl Plugin for JsonPublishPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Published>()
            .add_systems(Update, publish_state.after(TwinSystems::Assess).before(TwinSystems::Control));
    }
}
