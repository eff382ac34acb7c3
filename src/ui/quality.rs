//! The data-quality page of the right panel: for each source of telemetry (MQTT topic, Sparkplug node or device,
//! OPC UA endpoint) its message rate, what ingestion refused and why, how old its newest sample is, its clock's
//! offset, and anything held back with the reason; above them, the connections with their drops.

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Ui};

use super::state::SourceRates;
use crate::ingest::Telemetry;
use crate::twin::SimClock;

const WARN: Color32 = Color32::from_rgb(230, 150, 40);

/// Draws the page.
pub(super) fn quality_ui(ui: &mut Ui, world: &World, rates: &mut SourceRates) {
    let Some(t) = world.get_resource::<Telemetry>() else {
        ui.label("No telemetry: the twin runs on its models alone.");
        return;
    };
    let now_s = world.resource::<SimClock>().now_s;
    let now_unix = t.epoch_unix_s + now_s;
    let sources = t.ingestor.sources();
    let keys: Vec<String> = sources.iter().map(|s| format!("{} {}", s.kind.name(), s.name)).collect();
    rates.update(now_s, keys.iter().map(String::as_str).zip(sources.iter().map(|s| s.messages)));

    ui.heading("Data quality");
    let drops = t.dropped_channel_full();
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("{} messages taken", t.drained));
        ui.separator();
        let text = format!("{drops} dropped (channel full)");
        if drops > 0 {
            ui.colored_label(WARN, text)
        } else {
            ui.label(text)
        };
    });
    if let Some(c) = &t.mqtt {
        let s = c.stats();
        ui.small(format!(
            "MQTT client: {}; {} received, {} dropped (channel full)",
            if s.connected { "connected" } else { "disconnected" },
            s.received,
            s.dropped_channel_full
        ));
    }
    for link in &t.opcua {
        let c = &link.client;
        let s = c.stats();
        ui.small(format!(
            "OPC UA {}: {}, security {:?}; {} values, {} dropped, {} connection losses, {} reconnects",
            c.url(),
            if c.connected() { "connected" } else { "disconnected" },
            c.security(),
            s.received,
            s.dropped_channel_full,
            s.connection_losses,
            s.reconnects
        ));
    }
    if sources.is_empty() {
        ui.label("The scenario has no signals.");
        return;
    }
    ui.separator();
    for (s, key) in sources.iter().zip(&keys) {
        ui.horizontal_wrapped(|ui| {
            ui.strong(s.kind.name());
            ui.monospace(&s.name);
            ui.weak(format!("{} signal(s)", s.signals.len())).on_hover_text(s.signals.join("\n"));
        });
        ui.horizontal_wrapped(|ui| {
            ui.add_space(12.0);
            let rate = rates.per_s.get(key).copied();
            ui.small(rate.map_or("rate —".into(), |r| format!("{r:.2} msg/s")))
                .on_hover_text("messages per simulated second over the last simulated minute or more");
            ui.small(format!("accepted {}", s.accepted));
            let rejected: u64 = s.rejected.values().sum();
            let reasons = s.rejected.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n");
            if rejected > 0 {
                ui.colored_label(WARN, egui::RichText::new(format!("rejected {rejected}")).small())
                    .on_hover_text(reasons);
            } else {
                ui.small("rejected 0");
            }
            match s.last_received_s {
                Some(at) => ui.small(format!("last {:.0} s ago", (now_unix - at).max(0.0))),
                None => ui.colored_label(WARN, egui::RichText::new("nothing yet").small()),
            };
            match s.clock {
                Some((true, off)) => {
                    ui.colored_label(WARN, egui::RichText::new(format!("clock skewed {off:+.1} s (corrected)")).small())
                }
                Some((false, off)) => ui.small(format!("clock {off:+.2} s")),
                None => ui.small("clock —"),
            }
            .on_hover_text("receive time − source time, as estimated from its timestamps");
            if s.waiting > 0 {
                ui.colored_label(WARN, egui::RichText::new(format!("{} waiting for their time", s.waiting)).small())
                    .on_hover_text("samples stamped ahead of the twin's clock wait until their event time comes");
            }
        });
        if let Some(h) = &s.held {
            ui.horizontal_wrapped(|ui| {
                ui.add_space(12.0);
                ui.colored_label(WARN, egui::RichText::new(format!("held: {h}")).small());
            });
        }
    }
}
