//! The live look of the 3D plant: each asset's body tinted by its worst health (green, amber, red), an outline
//! around assets with a stale signal or an active drift alarm, pump impellers turning at the twin's speed, and a
//! click in the 3D view selecting the asset under the cursor.

use std::time::Duration;

use bevy::prelude::*;
use bevy::time::common_conditions::on_timer;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;

use super::camera::OrbitCamera;
use super::panel::tree_rows;
use super::scene::{HealthPaint, Outline, Painted, Palette, Rotor, anchor_height, site_point, tank_size};
use super::state::{TreeRow, Workbench, pick};
use crate::twin::pump::PumpReadings;
use crate::twin::tank::TankModel;
use crate::twin::{Asset, SitePosition};

/// How often tints and outlines are brought up to date (health changes over minutes, not frames).
const RETINT_EVERY: Duration = Duration::from_millis(250);
/// The impeller is drawn turning at this fraction of its true rate (1480 rpm would strobe at 60 frames/s).
pub(super) const ROTOR_SLOWDOWN: f32 = 1.0 / 60.0;
/// A press and release within this many logical pixels is a click, not a drag.
const CLICK_SLOP_PX: f32 = 4.0;

/// Tints, outlines, turns and picks.
pub(super) struct LookPlugin;

impl Plugin for LookPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PressedAt>()
            .add_systems(Update, (tint_and_outline.run_if(on_timer(RETINT_EVERY)), turn_rotors, select_on_click));
    }
}

/// Paints each asset's body with the shared material of its health colour and shows its outline when it is stale or drifting; the same
/// grading becomes the tree's rows.
fn tint_and_outline(world: &mut World) {
    let rows = tree_rows(world);
    for row in &rows {
        let Some(&e) = world.resource::<crate::twin::AssetIndex>().0.get(&row.id) else { continue };
        let (score, flagged) = (row.score, row.flagged);
        let children = world.get::<Children>(e).map(|c| c.to_vec()).unwrap_or_default();
        let step = Palette::step(score);
        let repaint = world.get_mut::<HealthPaint>(e).is_some_and(|mut paint| {
            let changed = paint.step != Some(step);
            paint.step = Some(step);
            changed
        });
        if repaint {
            let material = world.resource::<Palette>().health[step].clone();
            for &c in &children {
                if world.get::<Painted>(c).is_some()
                    && let Some(mut m) = world.get_mut::<MeshMaterial3d<StandardMaterial>>(c)
                {
                    m.0 = material.clone();
                }
            }
        }
        let want = if flagged { Visibility::Inherited } else { Visibility::Hidden };
        for c in children {
            if world.get::<Outline>(c).is_some()
                && let Some(mut v) = world.get_mut::<Visibility>(c)
                && *v != want
            {
                *v = want;
            }
        }
    }
    world.insert_resource(HealthRows(rows));
}

/// Turns each pump's impeller at its speed (slowed down so it can be seen).
fn turn_rotors(
    time: Res<Time>,
    pumps: Query<(&PumpReadings, &Children)>,
    mut rotors: Query<(&mut Rotor, &mut Transform)>,
) {
    let dt = time.delta_secs();
    for (readings, children) in &pumps {
        let rad_per_s = readings.0.speed_rpm as f32 / 60.0 * std::f32::consts::TAU * ROTOR_SLOWDOWN;
        for &c in children {
            if let Ok((mut rotor, mut t)) = rotors.get_mut(c) {
                rotor.angle_rad = (rotor.angle_rad + rad_per_s * dt).rem_euclid(std::f32::consts::TAU);
                t.rotation = Quat::from_rotation_x(rotor.angle_rad);
            }
        }
    }
}

/// Every asset's health as the tree shows it, brought up to date with the tints (not every frame: a thousand
/// assets' metrics each frame would cost more than the rest of the workbench).
#[derive(Resource, Debug, Default)]
pub(super) struct HealthRows(pub Vec<TreeRow>);

/// Where the left button went down in the 3D view (window logical pixels).
#[derive(Resource, Default)]
struct PressedAt(Option<Vec2>);

/// A left click in the 3D view (press and release without a drag) selects the asset under the cursor, or
/// clears the selection over empty ground.
fn select_on_click(
    buttons: Res<ButtonInput<MouseButton>>,
    window: Single<&Window, With<PrimaryWindow>>,
    camera: Single<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    egui_input: Option<Res<EguiWantsInput>>,
    mut pressed: ResMut<PressedAt>,
    assets: Query<(&Asset, &SitePosition, Option<&TankModel>)>,
    mut bench: ResMut<Workbench>,
) {
    let cursor = window.cursor_position();
    let (cam, cam_t) = *camera;
    let egui_busy = egui_input.is_some_and(|e| e.wants_any_pointer_input() || e.is_using_pointer());
    let in_view = cursor.zip(cam.logical_viewport_rect()).is_some_and(|(c, r)| r.contains(c)) && !egui_busy;
    if buttons.just_pressed(MouseButton::Left) {
        pressed.0 = if in_view { cursor } else { None };
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let Some((down, up)) = pressed.0.take().zip(cursor) else { return };
    if down.distance(up) > CLICK_SLOP_PX {
        return;
    }
    let Ok(ray) = cam.viewport_to_world(cam_t, up) else { return };
    let spheres: Vec<(&str, Vec3, f32)> = assets
        .iter()
        .map(|(a, pos, tank)| {
            let (r, h) = if a.kind == "Tank" { tank_size(tank) } else { (0.5, 1.0) };
            let centre = site_point(pos) + Vec3::Y * (anchor_height(a.kind, tank) * 0.5).max(h * 0.25);
            (a.id.as_str(), centre, r.max(h * 0.5).max(0.6))
        })
        .collect();
    bench.selected = pick(ray.origin, *ray.direction, spheres).map(str::to_owned);
}
