//! The 3D camera: framed on the site's bounding box at start, then orbited (left drag), panned (right or
//! middle drag) and zoomed (wheel) by the user. Drags only start inside the 3D viewport, so working the side
//! panel never moves the view.

use bevy::input::mouse::{AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;

use super::scene::{site_point, tank_size};
use crate::twin::tank::TankModel;
use crate::twin::{Asset, SitePosition};

/// Spawns the 3D camera and moves it with the mouse.
pub(super) struct OrbitCameraPlugin;

impl Plugin for OrbitCameraPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_orbit_camera)
            .add_systems(Update, (steer_orbit_camera, reframe_on_key, place_orbit_camera).chain());
    }
}

/// Vertical field of view of the 3D camera, rad.
const FOV_Y: f32 = std::f32::consts::FRAC_PI_4;
/// Radians of orbit per logical pixel of drag.
const ORBIT_RAD_PER_PX: f32 = 0.006;
/// Pitch limits, rad: never under the ground, never exactly overhead.
const PITCH_RANGE: (f32, f32) = (0.05, 1.5);

/// Where the camera looks and from how far: the camera's transform is derived from this every frame.
#[derive(Component, Debug, Clone, PartialEq)]
pub(super) struct OrbitCamera {
    /// The point orbited, m.
    pub focus: Vec3,
    /// Distance from the focus, m.
    pub radius: f32,
    /// Heading around the vertical, rad.
    pub yaw: f32,
    /// Elevation above the horizon, rad.
    pub pitch: f32,
    /// The framing computed at start, restored by the Home key.
    pub home: (Vec3, f32),
    /// The mouse button of the drag in progress, if one started inside the viewport.
    pub dragging: Option<MouseButton>,
    /// Cursor position at the previous frame of the drag, window logical pixels.
    pub last_cursor: Option<Vec2>,
}

impl OrbitCamera {
    /// A camera looking at `focus` from `radius` away, from the south-east and above.
    pub fn new(focus: Vec3, radius: f32) -> Self {
        Self { focus, radius, yaw: 0.6, pitch: 0.55, home: (focus, radius), dragging: None, last_cursor: None }
    }

    /// The camera transform for the present focus, distance and angles.
    pub fn transform(&self) -> Transform {
        let dir = Vec3::new(self.yaw.sin() * self.pitch.cos(), self.pitch.sin(), self.yaw.cos() * self.pitch.cos());
        Transform::from_translation(self.focus + dir * self.radius).looking_at(self.focus, Vec3::Y)
    }
}

/// Focus and distance that fit every point of `points` (with a margin) in a view of vertical field `fov_y`.
pub(super) fn frame_points(points: impl IntoIterator<Item = Vec3>, fov_y: f32) -> (Vec3, f32) {
    let mut lo = Vec3::splat(f32::MAX);
    let mut hi = Vec3::splat(f32::MIN);
    for p in points {
        lo = lo.min(p);
        hi = hi.max(p);
    }
    if lo.x > hi.x {
        return (Vec3::ZERO, 15.0);
    }
    let center = (lo + hi) / 2.0;
    // Bounding sphere of the box, with a little room for labels; never closer than a few metres.
    let r = ((hi - lo).length() / 2.0 + 0.5).max(3.0);
    (center, r * 1.05 / (fov_y / 2.0).sin())
}

/// Spawns the 3D camera framed on all assets (bottoms and tops of their shapes).
fn spawn_orbit_camera(mut commands: Commands, assets: Query<(&SitePosition, Option<&TankModel>), With<Asset>>) {
    let points = assets.iter().flat_map(|(pos, tank)| {
        let base = site_point(pos);
        let (r, h) = if tank.is_some() { tank_size(tank) } else { (0.6, 1.2) };
        [base - Vec3::new(r, 0.0, r), base + Vec3::new(r, h, r)]
    });
    let (focus, radius) = frame_points(points, FOV_Y);
    let orbit = OrbitCamera::new(focus, radius);
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection { fov: FOV_Y, ..default() }),
        orbit.transform(),
        orbit,
    ));
}

/// Turns mouse drags and the wheel into orbit, pan and zoom, for drags that started inside the 3D viewport.
fn steer_orbit_camera(
    mut camera: Single<(&Camera, &mut OrbitCamera)>,
    window: Single<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    scroll: Res<AccumulatedMouseScroll>,
    egui_input: Option<Res<EguiWantsInput>>,
) {
    let (cam, orbit) = &mut *camera;
    let egui_busy = egui_input.is_some_and(|e| e.wants_any_pointer_input() || e.is_using_pointer());
    let cursor = window.cursor_position();
    let in_viewport = match (cursor, cam.logical_viewport_rect()) {
        (Some(cursor), Some(rect)) => rect.contains(cursor) && !egui_busy,
        _ => false,
    };
    if let Some(held) = orbit.dragging
        && !buttons.pressed(held)
    {
        orbit.dragging = None;
    }
    if orbit.dragging.is_none() && in_viewport {
        orbit.dragging =
            [MouseButton::Left, MouseButton::Right, MouseButton::Middle].into_iter().find(|b| buttons.just_pressed(*b));
    }
    // Cursor movement rather than raw mouse motion: it is what the user sees, and it is what remote and
    // synthetic pointers (VNC, xdotool) deliver.
    let delta = match (orbit.dragging, orbit.last_cursor, cursor) {
        (Some(_), Some(last), Some(now)) => now - last,
        _ => Vec2::ZERO,
    };
    let last_cursor = if orbit.dragging.is_some() { cursor } else { None };
    if orbit.last_cursor != last_cursor {
        orbit.last_cursor = last_cursor;
    }
    match orbit.dragging {
        Some(MouseButton::Left) if delta != Vec2::ZERO => {
            orbit.yaw -= delta.x * ORBIT_RAD_PER_PX;
            orbit.pitch = (orbit.pitch + delta.y * ORBIT_RAD_PER_PX).clamp(PITCH_RANGE.0, PITCH_RANGE.1);
        }
        Some(MouseButton::Right | MouseButton::Middle) if delta != Vec2::ZERO => {
            // One pixel of drag moves the focus by what one pixel covers at the focus distance.
            let height_px = cam.logical_viewport_size().map_or(800.0, |s| s.y).max(1.0);
            let m_per_px = 2.0 * orbit.radius * (FOV_Y / 2.0).tan() / height_px;
            let t = orbit.transform();
            let (right, up) = (t.right(), t.up());
            orbit.focus += (-delta.x * *right + delta.y * *up) * m_per_px;
        }
        _ => {}
    }
    if in_viewport && scroll.delta.y != 0.0 {
        let per_notch = match scroll.unit {
            MouseScrollUnit::Line => 0.12,
            MouseScrollUnit::Pixel => 0.004,
        };
        orbit.radius = (orbit.radius * (-scroll.delta.y * per_notch).exp()).clamp(1.0, 5_000.0);
    }
}

/// Restores the start framing when Home is pressed (and egui is not taking the keyboard).
fn reframe_on_key(
    mut orbit: Single<&mut OrbitCamera>,
    keys: Res<ButtonInput<KeyCode>>,
    egui_input: Option<Res<EguiWantsInput>>,
) {
    if keys.just_pressed(KeyCode::Home) && !egui_input.is_some_and(|e| e.wants_any_keyboard_input()) {
        let (focus, radius) = orbit.home;
        orbit.focus = focus;
        orbit.radius = radius;
    }
}

/// Writes the orbit state into the camera's transform when it changed.
fn place_orbit_camera(mut camera: Single<(&OrbitCamera, &mut Transform), Changed<OrbitCamera>>) {
    let (orbit, transform) = &mut *camera;
    **transform = orbit.transform();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_centres_on_the_bounding_box_and_backs_off_with_its_size() {
        let (c, near) = frame_points([Vec3::new(0.0, 0.0, 0.0), Vec3::new(10.0, 0.0, 4.0)], FOV_Y);
        assert!(c.distance(Vec3::new(5.0, 0.0, 2.0)) < 1e-5);
        let (_, far) = frame_points([Vec3::new(0.0, 0.0, 0.0), Vec3::new(100.0, 0.0, 4.0)], FOV_Y);
        assert!(far > near * 5.0);
        assert_eq!(frame_points([], FOV_Y), (Vec3::ZERO, 15.0));
    }

    #[test]
    fn orbit_transform_looks_at_the_focus_from_radius() {
        let o = OrbitCamera::new(Vec3::new(3.0, 0.0, -2.0), 20.0);
        let t = o.transform();
        assert!((t.translation.distance(o.focus) - 20.0).abs() < 1e-4);
        assert!(t.forward().dot((o.focus - t.translation).normalize()) > 0.9999);
        assert!(t.translation.y > o.focus.y);
    }
}
