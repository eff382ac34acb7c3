//! The twin's knowledge published back to the plant, so SCADA, historians, Grafana and maintenance systems can read
//! what the twin knows: each asset's indices, active drift alarms, recommended service window and configuration
//! status, as retained JSON (`json`) and as a Sparkplug B edge node of the twin's own (`sparkplug`). Off unless the
//! scenario's `publish` asks.

pub mod json;
pub mod sparkplug;

use bevy::prelude::*;
use serde_json::{Value, json};

use crate::assess::config::Configuration;
use crate::assess::service::ServiceWatch;
use crate::ingest::Telemetry;
use crate::scenario::Index;
use crate::sync::Assimilation;
use crate::twin::read_index;

pub use json::{JsonPublishPlugin, Published};

/// The state of `asset` as published: indices, active alarms, service window, configuration.
pub fn asset_state(world: &World, asset: &str, kind: &str) -> Value {
    let mut indices = serde_json::Map::new();
    for index in Index::of_kind(kind) {
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
