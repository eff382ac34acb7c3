//! The egui side of the workbench: a left panel with the scenario, the sim clock and the asset list, labels
//! over the assets in the 3D view, and the 3D camera's viewport shrunk to the space the panel leaves.

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{CameraOutputMode, Viewport};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy::window::PrimaryWindow;
use bevy_egui::egui::{self, Ui, UiBuilder};
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiPrimaryContextPass, PrimaryEguiContext};

use super::camera::OrbitCamera;
use super::scene::{anchor_height, kind_color, site_point};
use crate::twin::tank::TankModel;
use crate::twin::{Asset, AssetIndex, ClockPacing, LoadedScenario, SimClock, SitePosition};

/// Draws the panel every frame and keeps the 3D viewport beside it.
pub(super) struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_egui_camera).add_systems(EguiPrimaryContextPass, draw_workbench);
    }
}

/// Gives egui its own camera over the whole window, drawn after (over) the 3D camera, so that shrinking the 3D
/// viewport does not clip the panel.
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

/// Formats simulated seconds as "0d 01:23:45".
pub(super) fn format_sim_time(secs: f64) -> String {
    let total = secs.max(0.0).floor() as u64;
    let (days, rem) = (total / 86_400, total % 86_400);
    format!("{days}d {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// One row of the asset list.
struct AssetRow<'a> {
    id: &'a str,
    kind: &'static str,
}

/// What the workbench shows of the twin.
#[derive(SystemParam)]
struct TwinView<'w, 's> {
    scenario: Res<'w, LoadedScenario>,
    clock: Res<'w, SimClock>,
    pacing: ResMut<'w, ClockPacing>,
    index: Res<'w, AssetIndex>,
    assets: Query<'w, 's, (&'static Asset, &'static SitePosition, Option<&'static TankModel>)>,
    link: Option<Res<'w, super::live::LiveLink>>,
    telemetry: Res<'w, crate::ingest::Telemetry>,
}

/// Draws the side panel and the asset labels, then fits the 3D camera's viewport to what the panel leaves.
fn draw_workbench(
    mut contexts: EguiContexts,
    mut camera: Single<(&mut Camera, &GlobalTransform), With<OrbitCamera>>,
    window: Single<&Window, With<PrimaryWindow>>,
    twin: TwinView,
) -> Result {
    let TwinView { scenario, clock, mut pacing, index, assets, link, telemetry } = twin;
    let counters = telemetry.counters();
    let link_text = match &link {
        Some(l) if l.virtual_plant => format!("{} (embedded, virtual plant)", l.url),
        Some(l) => l.url.clone(),
        None => "not connected".to_owned(),
    };
    let n = |k: &str| counters.get(k).copied().unwrap_or(0);
    let rejected: u64 = counters
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "accepted" | "reordered" | "messages" | "dropped_channel_full" | "identity")
        })
        .map(|(_, v)| v)
        .sum();
    let telemetry_text = format!(
        "{} messages · {} samples applied · {} rejected · {} dropped",
        n("messages"),
        n("accepted") + n("reordered"),
        rejected,
        n("dropped_channel_full")
    );
    let ctx = contexts.ctx_mut()?;
    let mut root = Ui::new(
        ctx.clone(),
        "workbench_root".into(),
        UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()),
    );
    let rows: Vec<AssetRow<'_>> = index
        .0
        .values()
        .filter_map(|&e| assets.get(e).ok())
        .map(|(a, _, _)| AssetRow { id: &a.id, kind: a.kind })
        .collect();
    let left = egui::Panel::left("workbench_side_panel")
        .resizable(true)
        .default_size(260.0)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                side_panel_ui(ui, &scenario.0.name, &clock, &mut pacing, &rows);
                ui.separator();
                telemetry_ui(ui, &link_text, &telemetry_text);
            });
        })
        .response
        .rect
        .width();

    let (cam, cam_transform) = &mut *camera;
    let view_rect = root.available_rect_before_wrap();
    let painter = root.painter_at(view_rect);
    for (asset, pos, tank) in index.0.values().filter_map(|&e| assets.get(e).ok()) {
        let anchor = site_point(pos) + Vec3::Y * (anchor_height(asset.kind, tank) + 0.35);
        if let Ok(p) = cam.world_to_viewport(cam_transform, anchor) {
            asset_label_ui(&painter, egui::pos2(p.x, p.y), &asset.id, kind_color(asset.kind));
        }
    }

    // Logical panel width to physical pixels; the rest of the window is the 3D view.
    let scale = window.scale_factor();
    let (w, h) = (window.physical_width(), window.physical_height());
    let left_px = ((left * scale).round() as u32).min(w.saturating_sub(1));
    if w > 0 && h > 0 {
        let viewport = Viewport {
            physical_position: UVec2::new(left_px, 0),
            physical_size: UVec2::new(w - left_px, h),
            ..default()
        };
        if cam.viewport.as_ref().map(|v| (v.physical_position, v.physical_size))
            != Some((viewport.physical_position, viewport.physical_size))
        {
            cam.viewport = Some(viewport);
        }
    }
    Ok(())
}

/// The panel's content: scenario name, sim clock with pause, and the asset list.
fn side_panel_ui(ui: &mut Ui, name: &str, clock: &SimClock, pacing: &mut ClockPacing, rows: &[AssetRow<'_>]) {
    ui.heading(name);
    ui.separator();
    clock_ui(ui, clock, pacing);
    ui.separator();
    ui.label(egui::RichText::new(format!("Assets ({})", rows.len())).strong());
    asset_list_ui(ui, rows);
    ui.separator();
    ui.small("Drag: orbit · Right/middle drag: pan\nWheel: zoom · Home: reframe");
}

/// Where telemetry comes from and what became of it.
fn telemetry_ui(ui: &mut Ui, link: &str, counts: &str) {
    ui.label(egui::RichText::new("Telemetry").strong());
    ui.small(link);
    ui.small(counts);
}

/// The sim clock, its pace, and a pause toggle.
fn clock_ui(ui: &mut Ui, clock: &SimClock, pacing: &mut ClockPacing) {
    ui.horizontal(|ui| {
        ui.label("Sim time");
        ui.monospace(format_sim_time(clock.now_s));
    });
    if let ClockPacing::Realtime { speed, paused, .. } = pacing {
        ui.horizontal(|ui| {
            ui.label(format!("{speed}× real time"));
            let label = if *paused { "▶ Resume" } else { "⏸ Pause" };
            if ui.button(label).clicked() {
                *paused = !*paused;
            }
        });
    }
}

/// The assets, one row each: a swatch in the kind's 3D colour, the id, the kind.
fn asset_list_ui(ui: &mut Ui, rows: &[AssetRow<'_>]) {
    egui::Grid::new("asset_list").num_columns(2).striped(true).spacing([12.0, 4.0]).show(ui, |ui| {
        for row in rows {
            ui.horizontal(|ui| {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, to_egui_color(kind_color(row.kind)));
                ui.monospace(row.id);
            });
            ui.label(row.kind);
            ui.end_row();
        }
    });
}

/// An asset's id in a small dark box centred above `at` (window logical coordinates).
fn asset_label_ui(painter: &egui::Painter, at: egui::Pos2, id: &str, color: Color) {
    let galley = painter.layout_no_wrap(id.to_owned(), egui::FontId::monospace(12.0), egui::Color32::WHITE);
    let size = galley.size();
    let min = at - egui::vec2(size.x / 2.0, size.y);
    let rect = egui::Rect::from_min_size(min, size).expand2(egui::vec2(4.0, 2.0));
    painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(170));
    painter.line_segment([rect.left_bottom(), rect.right_bottom()], egui::Stroke::new(2.0, to_egui_color(color)));
    painter.galley(min, galley, egui::Color32::WHITE);
}

/// A Bevy colour as an opaque egui colour.
fn to_egui_color(c: Color) -> egui::Color32 {
    let s = c.to_srgba();
    egui::Color32::from_rgb((s.red * 255.0) as u8, (s.green * 255.0) as u8, (s.blue * 255.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_time_is_days_then_clock() {
        assert_eq!(format_sim_time(0.0), "0d 00:00:00");
        assert_eq!(format_sim_time(5025.9), "0d 01:23:45");
        assert_eq!(format_sim_time(86_400.0 * 3.0 + 59.0), "3d 00:00:59");
        assert_eq!(format_sim_time(-4.0), "0d 00:00:00");
    }
}
