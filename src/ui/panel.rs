//! The egui side of the workbench, laid out once per frame: the top bar, the asset tree (left), the inspector
//! and change panel (right), the plots (bottom), labels over the assets in the 3D view, the dialogs, and the 3D
//! camera's viewport fitted to the space the panels leave. Drawing reads the world; what the user asks for is
//! collected as [`Action`]s and carried out after the frame's layout, with the world writable.

use std::time::Instant;

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, Viewport};
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, Ui, UiBuilder};
use bevy_egui::{EguiContext, EguiGlobalSettings, EguiPrimaryContextPass, PrimaryEguiContext};

use super::camera::OrbitCamera;
use super::desk::ChangeDesk;
use super::health;
use super::scene::{anchor_height, site_point};
use super::state::{RightTab, TreeRow, Workbench};
use super::widgets::{format_sim_time, label, speed_label};
use super::{changes, files, inspector, plots, quality, tree};
use crate::twin::tank::TankModel;
use crate::twin::{Asset, AssetIndex, ClockPacing, LoadedScenario, SimClock, SitePosition};

/// Draws the workbench every frame and keeps the 3D viewport beside its panels.
pub(super) struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Workbench>()
            .init_resource::<Rates>()
            .add_systems(Startup, spawn_egui_camera)
            .add_systems(EguiPrimaryContextPass, draw_workbench);
    }
}

/// Something the user asked for this frame.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    TogglePause,
    SetSpeed(f64),
    Select(String),
    Files(files::FileAction),
    AddDraft,
    Discard(u64),
    Rebase(u64),
    Validate,
    Approve(String),
    /// Sign the validated change set with the user's key.
    Sign,
    /// Add a signature file made elsewhere.
    AddSignature,
    Push,
    WhatIf(String),
    /// Save the visible charts' data as CSV.
    ExportCsv,
    /// Save the plot panel as a PNG.
    ExportPng,
}

/// Height of the plot panel at start, logical pixels.
const PLOTS_HEIGHT: f32 = 250.0;

/// Time speeds offered in the top bar, simulated seconds per second.
pub(super) const SPEEDS: [f64; 6] = [1.0, 10.0, 60.0, 600.0, 3600.0, 86_400.0];

/// Message rate of the telemetry and pace of simulated time, measured over the wall clock.
#[derive(Resource, Debug, Default)]
pub(super) struct Rates {
    /// When last taken: the wall clock, the message counter, the simulated clock (s).
    last: Option<(Instant, u64, f64)>,
    /// Messages per wall-clock second, smoothed.
    pub per_s: f64,
    /// Simulated seconds per wall-clock second (the speed achieved), smoothed.
    pub sim_per_s: f64,
}

impl Rates {
    /// Takes the message counter and the simulated clock `sim_s` now; updates the rates at most every half second.
    pub fn update(&mut self, count: u64, sim_s: f64, now: Instant) {
        match self.last {
            None => self.last = Some((now, count, sim_s)),
            Some((t, c, s)) => {
                let dt = now.duration_since(t).as_secs_f64();
                if dt >= 0.5 {
                    let smooth = |old: f64, new: f64| if old == 0.0 { new } else { 0.6 * old + 0.4 * new };
                    self.per_s = smooth(self.per_s, count.saturating_sub(c) as f64 / dt);
                    self.sim_per_s = smooth(self.sim_per_s, (sim_s - s).max(0.0) / dt);
                    self.last = Some((now, count, sim_s));
                }
            }
        }
    }
}

/// Gives egui its own camera over the whole window, drawn after (over) the 3D camera, so that shrinking the 3D
/// viewport does not clip the panels.
fn spawn_egui_camera(mut commands: Commands, mut settings: ResMut<EguiGlobalSettings>) {
    settings.auto_create_primary_context = false;
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
}

/// The tree's rows: every asset with its worst health, whether it is flagged (stale signal, drift alarm) and the
/// time left in its recommended service window.
pub(super) fn tree_rows(world: &World) -> Vec<TreeRow> {
    let alarms: Vec<&str> = world
        .get_resource::<crate::sync::Assimilation>()
        .map(|a| a.alarms.iter().filter(|x| x.cleared_s.is_none()).map(|x| x.asset.as_str()).collect())
        .unwrap_or_default();
    let policy = &world.resource::<crate::twin::LoadedScenario>().0.maintenance_policy;
    let now = world.resource::<crate::twin::SimClock>().now_s;
    world
        .resource::<AssetIndex>()
        .0
        .iter()
        .filter_map(|(id, &e)| {
            let e = world.get_entity(e).ok()?;
            let asset = e.get::<Asset>()?;
            let score = health::worst_score(&health::metrics(&e, policy));
            let flagged = health::any_stale(&e) || alarms.contains(&id.as_str());
            let window = e.get::<crate::assess::service::ServiceWatch>().and_then(|w| w.window.as_ref());
            let service_within_h = window.map(|w| (w.window_latest_s - now) / 3600.0);
            Some(TreeRow { id: id.clone(), kind: asset.kind, score, flagged, service_within_h })
        })
        .collect()
}

/// Lays out the whole workbench and carries out what the user asked for.
fn draw_workbench(world: &mut World) {
    let Ok(ctx) = world
        .query_filtered::<&mut EguiContext, With<PrimaryEguiContext>>()
        .single_mut(world)
        .map(|mut c| c.get_mut().clone())
    else {
        return;
    };
    if let Some(view) = ui_pass(&ctx, world) {
        fit_viewport(world, view);
    }
}

/// One pass of the workbench's UI over the twin in `world`: takes finished background jobs, lays out every
/// panel in `ctx`, and carries out what the user asked for. Returns the rectangle left for the 3D view. Needs no
/// window: the windowless harness runs the same pass.
pub(super) fn ui_pass(ctx: &egui::Context, world: &mut World) -> Option<egui::Rect> {
    let mut bench = world.remove_resource::<Workbench>()?;
    let mut desk = world.remove_resource::<ChangeDesk>();
    if let Some(d) = desk.as_mut() {
        d.session.poll(world);
    }
    let messages = world.resource::<crate::ingest::Telemetry>().drained;
    let sim_s = world.resource::<SimClock>().now_s;
    world.resource_mut::<Rates>().update(messages, sim_s, Instant::now());
    let mut actions = Vec::new();
    files::shortcuts(ctx, &mut actions);
    // The rows graded with the tints (taken out for the layout, not copied), or graded now before the first tint.
    let cached = world.remove_resource::<super::look::HealthRows>().filter(|r| !r.0.is_empty());
    let rows = match &cached {
        Some(r) => std::borrow::Cow::Borrowed(r.0.as_slice()),
        None => std::borrow::Cow::Owned(tree_rows(world)),
    };
    let view_rect = layout(ctx, world, &mut bench, desk.as_mut(), &rows, &mut actions);
    drop(rows);
    if let Some(r) = cached {
        world.insert_resource(r);
    }
    world.insert_resource(bench);
    if let Some(d) = desk {
        world.insert_resource(d);
    }
    for a in actions {
        apply(world, a);
    }
    Some(view_rect)
}

/// Draws every panel; returns the rectangle left for the 3D view (logical pixels).
fn layout(
    ctx: &egui::Context,
    world: &World,
    bench: &mut Workbench,
    mut desk: Option<&mut ChangeDesk>,
    rows: &[TreeRow],
    actions: &mut Vec<Action>,
) -> egui::Rect {
    let mut root = Ui::new(
        ctx.clone(),
        "workbench_root".into(),
        UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    egui::Panel::top("workbench_top_bar").show(&mut root, |ui| {
        top_bar(ui, world, bench, desk.as_deref_mut(), actions);
    });
    // The plots span the whole width under the tree, the 3D view and the inspector.
    egui::Panel::bottom("workbench_plots").resizable(true).default_size(PLOTS_HEIGHT).min_size(160.0).show(
        &mut root,
        |ui| {
            plots::plots_ui(ui, world, bench, desk.as_deref(), actions);
        },
    );
    egui::Panel::left("workbench_asset_tree").resizable(true).default_size(230.0).show(&mut root, |ui| {
        tree::tree_ui(ui, bench, rows, actions);
    });
    egui::Panel::right("workbench_right").resizable(true).default_size(360.0).show(&mut root, |ui| {
        egui::ScrollArea::vertical().id_salt("right_scroll").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut bench.right_tab, RightTab::Inspector, "Inspector");
                ui.selectable_value(&mut bench.right_tab, RightTab::Change, "Change");
                ui.selectable_value(&mut bench.right_tab, RightTab::Audit, "Audit log");
                ui.selectable_value(&mut bench.right_tab, RightTab::Quality, "Data quality");
            });
            ui.separator();
            match (bench.right_tab, &mut desk) {
                (RightTab::Inspector, _) => inspector::inspector_ui(ui, world, bench.selected.as_deref()),
                (RightTab::Change, Some(d)) => changes::change_ui(ui, world, d, bench.selected.as_deref(), actions),
                (RightTab::Audit, Some(d)) => changes::audit_ui(ui, d),
                (RightTab::Quality, _) => quality::quality_ui(ui, world, &mut bench.source_rates),
                (_, None) => {
                    ui.label("No change desk: the workbench has no twin to change.");
                }
            }
        });
    });
    let view = root.available_rect_before_wrap();
    asset_labels(&root.painter_at(view), world, rows);
    files::dialogs(ctx, bench, actions);
    view
}

/// The top bar, two rows so that neither is cut off at a common width: first files, scenario, clock, run/pause
/// and speed, and the writes switch; then the connections, with the broker's rates, drops and rejected samples, and
/// the PLC.
fn top_bar(
    ui: &mut Ui,
    world: &World,
    bench: &mut Workbench,
    desk: Option<&mut ChangeDesk>,
    actions: &mut Vec<Action>,
) {
    let scenario = &world.resource::<LoadedScenario>().0;
    let plc = desk.as_ref().and_then(|d| d.session.target());
    ui.horizontal_wrapped(|ui| {
        files::file_menu(ui, bench, actions);
        ui.separator();
        ui.label(egui::RichText::new(&scenario.name).strong());
        ui.separator();
        let clock = world.resource::<SimClock>();
        ui.monospace(format_sim_time(clock.now_s));
        if let ClockPacing::Realtime { speed, paused, .. } = world.resource::<ClockPacing>() {
            if ui.button(if *paused { "▶ Run" } else { "⏸ Pause" }).clicked() {
                actions.push(Action::TogglePause);
            }
            egui::ComboBox::from_id_salt("speed").selected_text(speed_label(*speed)).width(70.0).show_ui(ui, |ui| {
                for s in SPEEDS {
                    if ui.selectable_label(*speed == s, speed_label(s)).clicked() {
                        actions.push(Action::SetSpeed(s));
                    }
                }
            });
            // Said out loud when the machine cannot keep the pace asked for (simulated time then runs slower;
            // nothing is skipped).
            let achieved = world.resource::<Rates>().sim_per_s;
            if !*paused && achieved > 0.0 && achieved < 0.8 * *speed {
                ui.colored_label(egui::Color32::from_rgb(230, 150, 40), format!("achieved {achieved:.0}x"))
                    .on_hover_text("This machine steps the twin slower than the speed asked for; nothing is skipped");
            }
        }
        ui.separator();
        if let Some(d) = desk {
            writes_switch(ui, scenario.change.allow_writes, d);
        }
        if !bench.status.is_empty() {
            ui.separator();
            ui.small(&bench.status);
        }
    });
    ui.horizontal_wrapped(|ui| connections_ui(ui, world, plc));
}

/// The top bar's second row: the broker (connected or not, its URL, message rate, channel drops and rejected
/// samples with their reasons on hover), what the twin publishes, and the PLC writes go to.
fn connections_ui(ui: &mut Ui, world: &World, plc: Option<crate::change::PlcTarget>) {
    let telemetry = world.resource::<crate::ingest::Telemetry>();
    let counters = telemetry.counters();
    let n = |k: &str| counters.get(k).copied().unwrap_or(0);
    let link = world.get_resource::<crate::headless::live::LiveLink>();
    let connected = telemetry.mqtt.as_ref().map(|c| c.stats().connected);
    // A plant on OPC UA alone has no broker to show (its endpoints follow).
    let broker = telemetry.mqtt.is_some() || telemetry.opcua.is_empty();
    if broker {
        // Painted, not a glyph: the default fonts have no filled circle.
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        let (centre, radius) = (rect.center(), 4.5);
        match connected {
            Some(true) => ui.painter().circle_filled(centre, radius, egui::Color32::from_rgb(60, 200, 90)),
            Some(false) => ui.painter().circle_filled(centre, radius, egui::Color32::from_rgb(230, 70, 60)),
            None => ui.painter().circle_stroke(centre, radius, egui::Stroke::new(1.5, egui::Color32::GRAY)),
        };
    }
    let url = link.map_or("no broker".to_owned(), |l| match (l.virtual_plant, l.lockstep) {
        (true, false) => format!("{} (embedded, virtual plant)", l.url),
        (true, true) => format!("{} idle: virtual plant in lock-step", l.url),
        _ => l.url.clone(),
    });
    let rate = world.resource::<Rates>().per_s;
    let rejected: Vec<(String, u64)> = counters
        .iter()
        .filter(|(k, v)| {
            **v > 0
                && !k.starts_with("status.")
                && !matches!(k.as_str(), "accepted" | "reordered" | "messages" | "dropped_channel_full" | "identity")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let total_rejected: u64 = rejected.iter().map(|(_, v)| v).sum();
    if broker {
        let hover = match (connected, link.is_some_and(|l| l.lockstep)) {
            (Some(false), _) => "disconnected".to_owned(),
            (_, true) => format!(
                "connected; above {}x the virtual plant is stepped with the twin and hands its messages over in \
                 process, at their send times: the broker path would deliver them late",
                crate::headless::live::BROKER_PATH_MAX_SPEED
            ),
            _ => "connected".to_owned(),
        };
        ui.label(format!("Broker {url}")).on_hover_text(hover);
    }
    ui.monospace(format!("{rate:.0} msg/s"));
    let drops = n("dropped_channel_full");
    ui.colored_label(
        if drops > 0 { egui::Color32::from_rgb(230, 150, 40) } else { ui.visuals().text_color() },
        format!("drops {drops}"),
    );
    let breakdown = if rejected.is_empty() {
        "nothing rejected".to_owned()
    } else {
        rejected.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
    };
    ui.label(format!("rejected {total_rejected}")).on_hover_text(breakdown);
    // Sources that misbehave, by name (a Sparkplug node that never sent its birth, say): what "rejected" hides.
    let diagnostics =
        world.get_resource::<crate::ingest::Telemetry>().map(|t| t.ingestor.diagnostics()).unwrap_or_default();
    if !diagnostics.is_empty() {
        ui.colored_label(egui::Color32::from_rgb(230, 150, 40), format!("source problems {}", diagnostics.len()))
            .on_hover_text(diagnostics.join("\n\n"));
    }
    // OPC UA servers: connected or not, and a channel without security said out loud.
    for link in &telemetry.opcua {
        let c = &link.client;
        ui.separator();
        let colour =
            if c.connected() { egui::Color32::from_rgb(60, 200, 90) } else { egui::Color32::from_rgb(230, 70, 60) };
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().circle_filled(rect.center(), 4.5, colour);
        let s = c.stats();
        ui.label(format!("OPC UA {}", c.url())).on_hover_text(format!(
            "{} values received, {} dropped (channel full), {} connection losses, {} reconnects; statuses: {}",
            s.received,
            s.dropped_channel_full,
            s.connection_losses,
            s.reconnects,
            telemetry.ingestor.status_counts().iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        ));
        if c.security() == twin_opcua::SecurityMode::None {
            ui.label(
                egui::RichText::new("⚠ NO SECURITY")
                    .strong()
                    .color(egui::Color32::WHITE)
                    .background_color(egui::Color32::from_rgb(200, 30, 30)),
            )
            .on_hover_text(
                "The scenario asks for OPC UA without security: values and writes travel unsigned, in clear",
            );
        }
    }
    // What the twin publishes, and where (the scenario's `publish`).
    let spec = world.resource::<crate::twin::LoadedScenario>().0.publish.clone();
    if let (Some(spec), Some(p)) = (spec, world.get_resource::<crate::publish::Published>()) {
        let mut wheres = Vec::new();
        if let Some(prefix) = &spec.prefix {
            wheres.push(format!("{prefix}/<asset>/state"));
        }
        if let Some(sp) = &spec.sparkplug {
            wheres.push(format!("Sparkplug {}/{}", sp.group, sp.edge_node));
        }
        let node = world.get_resource::<crate::publish::sparkplug::EdgeNode>();
        ui.separator();
        ui.label(format!("publishing {}", wheres.join(" and "))).on_hover_text(format!(
            "each asset's indices, drift alarms, service window and configuration, at most every {}: JSON {} sent, \
             {} refused{}",
            spec.every,
            p.sent,
            p.refused,
            node.map_or(String::new(), |n| format!("; Sparkplug {} births, {} data messages", n.births, n.data))
        ));
    }
    ui.separator();
    ui.label(match plc {
        Some(t) => format!("PLC {t}"),
        None => "PLC: none".into(),
    });
}

/// The writes switch: red and loud when on, grey when off, and dimmed when the scenario forbids writes.
fn writes_switch(ui: &mut Ui, allowed: bool, desk: &mut ChangeDesk) {
    if !allowed {
        desk.writes_enabled = false;
        ui.add_enabled(false, egui::Button::new("🔒 writes forbidden by scenario"));
        return;
    }
    let (text, fill) = if desk.writes_enabled {
        (
            egui::RichText::new("⚠ WRITES ENABLED").strong().color(egui::Color32::WHITE),
            egui::Color32::from_rgb(200, 30, 30),
        )
    } else {
        (egui::RichText::new("🔒 writes disabled").color(egui::Color32::LIGHT_GRAY), egui::Color32::from_gray(60))
    };
    if ui
        .add(egui::Button::new(text).fill(fill))
        .on_hover_text("Writes to the PLC need this switch, the scenario's permission, validation and approval")
        .clicked()
    {
        desk.writes_enabled = !desk.writes_enabled;
    }
}

/// Each asset's id in a small box above it in the 3D view, underlined in its health colour.
fn asset_labels(painter: &egui::Painter, world: &World, rows: &[TreeRow]) {
    let mut cams = world.try_query_filtered::<(&Camera, &GlobalTransform), With<OrbitCamera>>();
    let Some((cam, cam_transform)) = cams.as_mut().and_then(|q| q.iter(world).next()) else { return };
    if rows.len() > 200 {
        return; // a thousand labels hide the plant; the tree and the inspector name them
    }
    let index = world.resource::<AssetIndex>();
    for row in rows {
        let Some(e) = index.0.get(&row.id).and_then(|&e| world.get_entity(e).ok()) else { continue };
        let (Some(asset), Some(pos)) = (e.get::<Asset>(), e.get::<SitePosition>()) else { continue };
        let anchor = site_point(pos) + Vec3::Y * (anchor_height(asset.kind, e.get::<TankModel>()) + 0.35);
        if let Ok(p) = cam.world_to_viewport(cam_transform, anchor) {
            label(painter, egui::pos2(p.x, p.y), &row.id, health::score_color(row.score), row.flagged);
        }
    }
}

/// Carries out one action.
fn apply(world: &mut World, action: Action) {
    match action {
        Action::TogglePause => {
            if let ClockPacing::Realtime { paused, .. } = &mut *world.resource_mut::<ClockPacing>() {
                *paused = !*paused;
            }
        }
        Action::SetSpeed(s) => {
            if let ClockPacing::Realtime { speed, owed_s, .. } = &mut *world.resource_mut::<ClockPacing>() {
                *speed = s;
                *owed_s = 0.0;
            }
            crate::headless::live::pace_plant(world, s);
        }
        Action::Select(id) => world.resource_mut::<Workbench>().toggle_select(&id),
        Action::Files(f) => files::apply(world, f),
        Action::AddDraft => desk_do(world, |d, w| d.add_draft(w).map(|_| ())),
        Action::Discard(id) => desk_do(world, |d, _| d.discard(id)),
        Action::Rebase(id) => desk_do(world, |d, w| d.rebase(w, id)),
        Action::Validate => desk_do(world, |d, w| d.validate_all(w)),
        Action::Approve(name) => desk_do(world, |d, w| d.approve(w, &name)),
        Action::Sign => desk_do(world, |d, w| d.sign(w).map(drop)),
        Action::AddSignature => desk_do(world, |d, w| d.add_signature(w).map(drop)),
        Action::Push => desk_do(world, |d, w| d.start_push(w)),
        Action::ExportCsv => plots::export_csv(world),
        Action::ExportPng => plots::export_png(world),
        Action::WhatIf(pump) => desk_do(world, |d, w| {
            let horizon = w.resource::<LoadedScenario>().0.change.horizon.secs().max(7.0 * 86_400.0);
            d.start_whatif(w, &pump, horizon, 300)
        }),
    }
}

/// Runs `f` on the change desk; an error goes to the desk's log.
fn desk_do(world: &mut World, f: impl FnOnce(&mut ChangeDesk, &mut World) -> Result<(), String>) {
    let Some(mut d) = world.remove_resource::<ChangeDesk>() else { return };
    if let Err(e) = f(&mut d, world) {
        d.session.note(format!("error: {e}"));
    }
    world.insert_resource(d);
}

/// Fits the 3D camera's viewport to the rectangle the panels leave (logical pixels to physical).
fn fit_viewport(world: &mut World, view: egui::Rect) {
    let Ok(window) = world.query_filtered::<&Window, With<PrimaryWindow>>().single(world) else { return };
    let scale = window.scale_factor();
    let (w, h) = (window.physical_width(), window.physical_height());
    if w == 0 || h == 0 {
        return;
    }
    let x0 = ((view.min.x * scale).round().max(0.0) as u32).min(w - 1);
    let y0 = ((view.min.y * scale).round().max(0.0) as u32).min(h - 1);
    let x1 = ((view.max.x * scale).round() as u32).clamp(x0 + 1, w);
    let y1 = ((view.max.y * scale).round() as u32).clamp(y0 + 1, h);
    let Ok(mut cam) = world.query_filtered::<&mut Camera, With<OrbitCamera>>().single_mut(world) else { return };
    let viewport =
        Viewport { physical_position: UVec2::new(x0, y0), physical_size: UVec2::new(x1 - x0, y1 - y0), ..default() };
    if cam.viewport.as_ref().map(|v| (v.physical_position, v.physical_size))
        != Some((viewport.physical_position, viewport.physical_size))
    {
        cam.viewport = Some(viewport);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_rate_and_the_speed_achieved_are_counted_over_the_wall_clock() {
        let mut r = Rates::default();
        let t0 = Instant::now();
        r.update(100, 0.0, t0);
        r.update(150, 600.0, t0 + std::time::Duration::from_millis(200));
        assert_eq!(r.per_s, 0.0, "not before half a second");
        r.update(200, 3600.0, t0 + std::time::Duration::from_secs(1));
        assert!((r.per_s - 100.0).abs() < 1e-9, "{}", r.per_s);
        assert!((r.sim_per_s - 3600.0).abs() < 1e-9, "{}", r.sim_per_s);
        r.update(200, 3600.0, t0 + std::time::Duration::from_secs(2));
        assert!((r.per_s - 60.0).abs() < 1e-9, "smoothed toward 0: {}", r.per_s);
        assert!((r.sim_per_s - 2160.0).abs() < 1e-9, "paused: smoothed toward 0: {}", r.sim_per_s);
    }
}
