//! The plant in 3D: a simple procedural shape per asset at its site position, pipes and shafts along the
//! dependency edges, a ground plane and the lights. Shapes are children of the asset entities, so the twin's
//! entities stay the single source of what exists.

use std::f32::consts::FRAC_PI_2;

use bevy::light::CascadeShadowConfigBuilder;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;

use super::health;

use crate::twin::tank::TankModel;
use crate::twin::{Asset, DependsOn, SitePosition};

/// Scale of the outline hull over the body it surrounds.
const OUTLINE_SCALE: f32 = 1.12;
/// Colour of the outline of a stale or drifting asset.
pub(super) const OUTLINE_COLOR: Color = Color::srgb(1.0, 0.92, 0.1);

/// Steps of the health colour scale: a body is painted in the colour of its score rounded to 1/HEALTH_STEPS.
pub(super) const HEALTH_STEPS: usize = 20;

/// The materials every asset's body is painted with, shared by all assets: one per step of the health colour
/// scale (score 0, healthy green, to 1, alarm red). Shared materials (and shared meshes) let the renderer batch
/// a thousand assets into a few draws and leave it nothing to re-upload when a colour changes; a material per
/// asset, recoloured in place, made Bevy's render preparation grow faster than the plant.
#[derive(Resource, Debug)]
pub(super) struct Palette {
    /// `health[k]` is the colour of score `k / HEALTH_STEPS`.
    pub health: Vec<Handle<StandardMaterial>>,
}

impl Palette {
    /// The step of the health scale a score (0 healthy to 1 alarm; clamped) is painted with.
    pub fn step(score: f64) -> usize {
        (score.clamp(0.0, 1.0) * HEALTH_STEPS as f64).round() as usize
    }

    /// The score the colour of step `k` shows.
    pub fn score_of(k: usize) -> f64 {
        k as f64 / HEALTH_STEPS as f64
    }
}

/// The health step an asset's body is painted with (`None` before the first tint: its kind's colour).
#[derive(Component, Debug, Default)]
pub(super) struct HealthPaint {
    pub step: Option<usize>,
}

/// A part of an asset's body painted in the asset's health colour (a child of the asset entity).
#[derive(Component, Debug)]
pub(super) struct Painted;

/// The outline hull of an asset, shown while one of its signals is stale or a drift alarm is active.
#[derive(Component, Debug)]
pub(super) struct Outline;

/// A pump's impeller, turned at the twin's speed.
#[derive(Component, Debug)]
pub(super) struct Rotor {
    /// Present angle about the shaft, rad.
    pub angle_rad: f32,
}

/// Builds the static plant scene once the twin's asset entities exist.
pub(super) struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ClearColor(Color::srgb(0.62, 0.70, 0.78)))
            .insert_resource(GlobalAmbientLight { brightness: 400.0, ..default() })
            .add_systems(Startup, (spawn_asset_shapes, spawn_pipes, spawn_ground_and_lights));
    }
}

/// The meshes of the asset shapes, each made once and shared by every asset of its kind (a tank's cylinders are
/// the unit cylinder scaled to its size).
struct Shapes {
    /// Pump volute casing (and, scaled up, its outline hull), axis along Y before rotation.
    casing: Handle<Mesh>,
    /// Impeller disc and one vane.
    disc: Handle<Mesh>,
    vane: Handle<Mesh>,
    /// Pump discharge nozzle and plinth.
    nozzle: Handle<Mesh>,
    plinth: Handle<Mesh>,
    /// Motor body (and its hull), frame and terminal box.
    motor_body: Handle<Mesh>,
    motor_frame: Handle<Mesh>,
    terminal_box: Handle<Mesh>,
    /// Radius 1, height 1: tanks and their roofs, scaled.
    unit_cylinder: Handle<Mesh>,
    /// Any other kind.
    ball: Handle<Mesh>,
}

impl Shapes {
    fn new(meshes: &mut Assets<Mesh>) -> Self {
        Shapes {
            casing: meshes.add(Cylinder::new(0.42, 0.36)),
            disc: meshes.add(Cylinder::new(0.2, 0.06)),
            vane: meshes.add(Cuboid::new(0.05, 0.36, 0.05)),
            nozzle: meshes.add(Cylinder::new(0.1, 0.35)),
            plinth: meshes.add(Cuboid::new(0.9, 0.15, 0.7)),
            motor_body: meshes.add(Cylinder::new(0.33, 0.9)),
            motor_frame: meshes.add(Cuboid::new(0.7, 0.2, 0.55)),
            terminal_box: meshes.add(Cuboid::new(0.25, 0.15, 0.25)),
            unit_cylinder: meshes.add(Cylinder::new(1.0, 1.0)),
            ball: meshes.add(Sphere::new(0.4)),
        }
    }
}

/// The colour an asset kind is drawn in (also used for the kind's swatch in the side panel).
pub(super) fn kind_color(kind: &str) -> Color {
    match kind {
        "CentrifugalPump" => Color::srgb(0.16, 0.42, 0.80),
        "Motor" => Color::srgb(0.85, 0.45, 0.12),
        "Tank" => Color::srgb(0.70, 0.72, 0.74),
        _ => Color::srgb(0.8, 0.2, 0.8),
    }
}

/// Height above an asset's site position where its label and its pipe connections sit, m.
pub(super) fn anchor_height(kind: &str, tank: Option<&TankModel>) -> f32 {
    match kind {
        "CentrifugalPump" => PUMP_AXIS_M,
        "Motor" => MOTOR_AXIS_M,
        "Tank" => tank_size(tank).1 + 0.3,
        _ => 0.5,
    }
}

/// Height of the pump's shaft axis above its base, m.
const PUMP_AXIS_M: f32 = 0.55;
/// Height of the motor's shaft axis above its base, m.
const MOTOR_AXIS_M: f32 = 0.5;
/// Height of the tank's outlet nozzle above its base, m.
const TANK_NOZZLE_M: f32 = 0.4;

/// Radius and height of a tank, m, from its parameters (a generic size when it has none).
pub(super) fn tank_size(tank: Option<&TankModel>) -> (f32, f32) {
    match tank {
        Some(TankModel(p)) => {
            let r = (p.area_m2.max(0.1) / std::f64::consts::PI).sqrt() as f32;
            (r.clamp(0.3, 15.0), (p.height_m as f32).clamp(0.5, 30.0))
        }
        None => (1.2, 3.0),
    }
}

/// The site position as a Bevy point (x east, y up, z south: the same axes as the scenario).
pub(super) fn site_point(p: &SitePosition) -> Vec3 {
    Vec3::new(p.x_m, p.y_m, p.z_m)
}

/// Where a pipe or shaft meets an asset: the pump's axis, the motor's axis, the tank's bottom nozzle.
fn connection_point(kind: &str, pos: &SitePosition) -> Vec3 {
    let h = match kind {
        "CentrifugalPump" => PUMP_AXIS_M,
        "Motor" => MOTOR_AXIS_M,
        "Tank" => TANK_NOZZLE_M,
        _ => 0.5,
    };
    site_point(pos) + Vec3::Y * h
}

/// Gives every asset entity a transform at its site position and procedural child shapes for its kind.
fn spawn_asset_shapes(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    assets: Query<(Entity, &Asset, &SitePosition, &DependsOn, Option<&TankModel>)>,
    others: Query<(Entity, &Asset, &SitePosition, &DependsOn)>,
) {
    // Little metallic sheen: there is no environment map for metal to reflect, so metal would render black.
    let steel = materials.add(StandardMaterial {
        base_color: Color::srgb(0.40, 0.42, 0.45),
        metallic: 0.1,
        perceptual_roughness: 0.5,
        ..default()
    });
    let concrete = materials.add(StandardMaterial {
        base_color: Color::srgb(0.55, 0.55, 0.52),
        perceptual_roughness: 0.95,
        ..default()
    });
    // Unlit, drawn inside out (front faces culled): around a body, only its rim shows.
    let outline = materials.add(StandardMaterial {
        base_color: OUTLINE_COLOR,
        unlit: true,
        cull_mode: Some(bevy::render::render_resource::Face::Front),
        ..default()
    });
    let body =
        |color: Color| StandardMaterial { base_color: color, metallic: 0.2, perceptual_roughness: 0.6, ..default() };
    let health: Vec<_> =
        (0..=HEALTH_STEPS).map(|k| materials.add(body(health::score_color(Palette::score_of(k))))).collect();
    commands.insert_resource(Palette { health });
    let roof = materials.add(StandardMaterial {
        base_color: Color::srgb(0.55, 0.57, 0.60),
        perceptual_roughness: 0.8,
        ..default()
    });
    let shapes = Shapes::new(&mut meshes);
    // Until the first tint: each kind in its own colour.
    let mut kind_paint: HashMap<&'static str, Handle<StandardMaterial>> = HashMap::new();
    for (entity, asset, pos, deps, tank) in &assets {
        let here = site_point(pos);
        let paint = kind_paint.entry(asset.kind).or_insert_with(|| materials.add(body(kind_color(asset.kind)))).clone();
        // Rotating machines face the machine they are coupled to: a pump its motor, a motor its pump.
        let shaft_dir = coupled_partner(entity, asset, deps, &others)
            .map(|p| site_point(p) - here)
            .and_then(|d| Vec3::new(d.x, 0.0, d.z).try_normalize())
            .unwrap_or(Vec3::X);
        let yaw = Quat::from_rotation_arc(Vec3::X, shaft_dir);
        // (mesh, material, transform, painted in the health colour)
        let mut parts: Vec<(Handle<Mesh>, Handle<StandardMaterial>, Transform, bool)> = Vec::new();
        // The body drawn slightly larger, inside out, in the outline's colour: an outline when shown.
        let mut hull: Option<(Handle<Mesh>, Transform)> = None;
        let mut rotor: Option<Vec<(Handle<Mesh>, Transform)>> = None;
        match asset.kind {
            "CentrifugalPump" => {
                hull = Some((
                    shapes.casing.clone(),
                    Transform::from_xyz(0.0, PUMP_AXIS_M, 0.0)
                        .with_rotation(Quat::from_rotation_z(FRAC_PI_2))
                        .with_scale(Vec3::splat(OUTLINE_SCALE)),
                ));
                // Impeller: a disc with three vanes on the suction side, turned about the shaft (x) axis.
                let mut r = vec![(shapes.disc.clone(), Transform::from_rotation(Quat::from_rotation_z(FRAC_PI_2)))];
                let vane = &shapes.vane;
                for k in 0..3 {
                    let a = k as f32 * std::f32::consts::TAU / 6.0;
                    r.push((
                        vane.clone(),
                        Transform::from_xyz(-0.05, 0.0, 0.0).with_rotation(Quat::from_rotation_x(a)),
                    ));
                }
                rotor = Some(r);
                // Volute casing: a short cylinder with its axis along the shaft, on a plinth.
                parts.push((
                    shapes.casing.clone(),
                    paint.clone(),
                    Transform::from_xyz(0.0, PUMP_AXIS_M, 0.0).with_rotation(Quat::from_rotation_z(FRAC_PI_2)),
                    true,
                ));
                // Discharge nozzle, upwards.
                parts.push((
                    shapes.nozzle.clone(),
                    steel.clone(),
                    Transform::from_xyz(0.0, PUMP_AXIS_M + 0.45, 0.0),
                    false,
                ));
                parts.push((shapes.plinth.clone(), concrete.clone(), Transform::from_xyz(0.0, 0.075, 0.0), false));
            }
            "Motor" => {
                hull = Some((
                    shapes.motor_body.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M, 0.0)
                        .with_rotation(Quat::from_rotation_z(FRAC_PI_2))
                        .with_scale(Vec3::splat(OUTLINE_SCALE)),
                ));
                // Frame with cooling fins suggested by a box, end bells by a cylinder along the shaft.
                parts.push((
                    shapes.motor_body.clone(),
                    paint.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M, 0.0).with_rotation(Quat::from_rotation_z(FRAC_PI_2)),
                    true,
                ));
                parts.push((
                    shapes.motor_frame.clone(),
                    paint.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M - 0.25, 0.0),
                    true,
                ));
                // Terminal box on top.
                parts.push((
                    shapes.terminal_box.clone(),
                    steel.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M + 0.38, 0.0),
                    false,
                ));
            }
            "Tank" => {
                let (r, h) = tank_size(tank);
                let shell = Transform::from_xyz(0.0, h / 2.0, 0.0).with_scale(Vec3::new(r, h, r));
                hull = Some((shapes.unit_cylinder.clone(), shell.with_scale(Vec3::new(r * 1.04, h * 1.02, r * 1.04))));
                parts.push((shapes.unit_cylinder.clone(), paint.clone(), shell, true));
                // Roof cap, slightly darker so the silhouette reads from above.
                parts.push((
                    shapes.unit_cylinder.clone(),
                    roof.clone(),
                    Transform::from_xyz(0.0, h, 0.0).with_scale(Vec3::new(r * 1.02, 0.08, r * 1.02)),
                    false,
                ));
            }
            _ => {
                parts.push((shapes.ball.clone(), paint.clone(), Transform::from_xyz(0.0, 0.4, 0.0), true));
            }
        }
        commands.entity(entity).insert((
            Transform::from_translation(here).with_rotation(yaw),
            Visibility::default(),
            HealthPaint::default(),
        ));
        commands.entity(entity).with_children(|children| {
            for (mesh, material, transform, painted) in parts {
                let mut part = children.spawn((Mesh3d(mesh), MeshMaterial3d(material), transform));
                if painted {
                    part.insert(Painted);
                }
            }
            if let Some((mesh, transform)) = hull {
                children.spawn((Mesh3d(mesh), MeshMaterial3d(outline.clone()), transform, Visibility::Hidden, Outline));
            }
            if let Some(vanes) = rotor {
                children
                    .spawn((
                        Transform::from_xyz(-0.27, PUMP_AXIS_M, 0.0),
                        Visibility::default(),
                        Rotor { angle_rad: 0.0 },
                    ))
                    .with_children(|r| {
                        for (mesh, transform) in vanes {
                            r.spawn((Mesh3d(mesh), MeshMaterial3d(steel.clone()), transform));
                        }
                    });
            }
        });
    }
}

/// Whether a dependency edge between these kinds is a shaft coupling rather than a pipe.
fn is_coupling(a: &str, b: &str) -> bool {
    matches!((a, b), ("CentrifugalPump", "Motor") | ("Motor", "CentrifugalPump"))
}

/// The site position of the machine `entity` is coupled to, whichever side declares the dependency.
fn coupled_partner<'a>(
    entity: Entity,
    asset: &Asset,
    deps: &DependsOn,
    others: &'a Query<(Entity, &Asset, &SitePosition, &DependsOn)>,
) -> Option<&'a SitePosition> {
    let declared = deps.0.iter().filter_map(|&d| others.get(d).ok());
    let mut declaring = others.iter().filter(|(_, _, _, their)| their.0.contains(&entity));
    declared
        .into_iter()
        .find(|(_, other, _, _)| is_coupling(asset.kind, other.kind))
        .or_else(|| declaring.find(|(_, other, _, _)| is_coupling(asset.kind, other.kind)))
        .map(|(_, _, pos, _)| pos)
}

/// Draws each dependency edge: a shaft between coupled machines, a pipe otherwise (e.g. tank to pump suction).
fn spawn_pipes(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    assets: Query<(&Asset, &SitePosition, &DependsOn)>,
) {
    let pipe_material = materials.add(StandardMaterial {
        base_color: Color::srgb(0.20, 0.55, 0.45),
        metallic: 0.1,
        perceptual_roughness: 0.5,
        ..default()
    });
    let shaft_material = materials.add(StandardMaterial {
        base_color: Color::srgb(0.15, 0.15, 0.17),
        metallic: 0.1,
        perceptual_roughness: 0.4,
        ..default()
    });
    let unit = meshes.add(Cylinder::new(1.0, 1.0));
    let elbow = meshes.add(Sphere::new(1.0));
    for (asset, pos, deps) in &assets {
        let from = connection_point(asset.kind, pos);
        for &dep in &deps.0 {
            let Ok((other, other_pos, _)) = assets.get(dep) else { continue };
            let to = connection_point(other.kind, other_pos);
            let coupled = is_coupling(asset.kind, other.kind);
            let (radius, material) = if coupled { (0.05, &shaft_material) } else { (0.08, &pipe_material) };
            let route = if coupled { vec![from, to] } else { pipe_route(from, to) };
            for pair in route.windows(2) {
                if let Some(transform) = segment_transform(pair[0], pair[1], radius) {
                    commands.spawn((Mesh3d(unit.clone()), MeshMaterial3d(material.clone()), transform));
                }
            }
            // Elbows, so that the bends read as joints.
            for &corner in route.iter().skip(1).take(route.len().saturating_sub(2)) {
                commands.spawn((
                    Mesh3d(elbow.clone()),
                    MeshMaterial3d(material.clone()),
                    Transform::from_translation(corner).with_scale(Vec3::splat(radius)),
                ));
            }
        }
    }
}

/// A pipe's path between two connection points: down (or up) to the lower end's height, along x to halfway,
/// along z, along x to the far end, and up (or down) to it. Pipes that share an end thus share a header.
fn pipe_route(from: Vec3, to: Vec3) -> Vec<Vec3> {
    let y = from.y.min(to.y);
    let mid_x = (from.x + to.x) / 2.0;
    let points = [
        from,
        Vec3::new(from.x, y, from.z),
        Vec3::new(mid_x, y, from.z),
        Vec3::new(mid_x, y, to.z),
        Vec3::new(to.x, y, to.z),
        to,
    ];
    let mut route: Vec<Vec3> = Vec::with_capacity(points.len());
    for p in points {
        if route.last().is_none_or(|last| last.distance(p) > 1e-3) {
            route.push(p);
        }
    }
    route
}

/// The transform that stretches a unit cylinder (radius 1, height 1, along Y) between `a` and `b`.
fn segment_transform(a: Vec3, b: Vec3, radius: f32) -> Option<Transform> {
    let d = b - a;
    let len = d.length();
    if len < 1e-3 {
        return None;
    }
    Some(Transform {
        translation: (a + b) / 2.0,
        rotation: Quat::from_rotation_arc(Vec3::Y, d / len),
        scale: Vec3::new(radius, len, radius),
    })
}

/// A ground plane under the whole site and a sun.
fn spawn_ground_and_lights(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    positions: Query<&SitePosition, With<Asset>>,
) {
    let (min, max) = positions
        .iter()
        .map(site_point)
        .fold((Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)), |(lo, hi), p| (lo.min(p), hi.max(p)));
    let (center, size) = if min.x <= max.x {
        ((min + max) / 2.0, ((max - min).xz().max_element() * 4.0).max(200.0))
    } else {
        (Vec3::ZERO, 200.0)
    };
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(size, size))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgb(0.42, 0.46, 0.40),
            perceptual_roughness: 1.0,
            ..default()
        })),
        Transform::from_xyz(center.x, min.y.min(0.0) - 0.001, center.z),
    ));
    // High from the south-west: the default view (from the south-east) sees lit faces and short shadows.
    // One shadow cascade covering the site: a plant is small, and software renderers (CI) pay per cascade.
    let site_m = if min.x <= max.x { (max - min).length() } else { 10.0 };
    let cascades = CascadeShadowConfigBuilder {
        num_cascades: 1,
        maximum_distance: (site_m * 4.0).max(60.0),
        first_cascade_far_bound: (site_m * 4.0).max(60.0),
        ..default()
    };
    commands.spawn((
        DirectionalLight { illuminance: 8_000.0, shadow_maps_enabled: true, ..default() },
        Transform::from_xyz(center.x - 8.0, 30.0, center.z + 14.0).looking_at(center, Vec3::Y),
        cascades.build(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    use crate::scenario::{AssetKind, Scenario};

    /// The bundled station with its pumps and motors copied `copies` times onto its tank, 2 m apart.
    fn station_times(copies: usize) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let mut s = crate::scenario::load(&path).expect("bundled scenario");
        let tanks: Vec<String> =
            s.assets.iter().filter(|a| matches!(a.kind, AssetKind::Tank(_))).map(|a| a.id.clone()).collect();
        let machines: Vec<_> = s.assets.iter().filter(|a| !tanks.contains(&a.id)).cloned().collect();
        for i in 1..copies {
            for m in &machines {
                let mut c = m.clone();
                c.id = format!("{}-{i}", m.id);
                c.position.2 += 2.0 * i as f32;
                c.identity_topic = None;
                c.depends_on = m
                    .depends_on
                    .iter()
                    .map(|d| if tanks.contains(d) { d.clone() } else { format!("{d}-{i}") })
                    .collect();
                s.assets.push(c);
            }
        }
        s
    }

    /// The twin of `scenario` with its assets' 3D shapes spawned (no window, no renderer).
    fn spawned(scenario: Scenario) -> App {
        let mut app = crate::app::headless_app(Arc::new(scenario), 1);
        app.add_plugins(bevy::asset::AssetPlugin::default())
            .init_asset::<Mesh>()
            .init_asset::<StandardMaterial>()
            .add_systems(Startup, spawn_asset_shapes);
        app.update();
        app
    }

    /// Spawns the 3D shapes of `scenario` and counts (parts drawn, distinct meshes, distinct materials).
    fn shapes(scenario: Scenario) -> (usize, usize, usize) {
        let mut app = spawned(scenario);
        let world = app.world_mut();
        let parts: Vec<(AssetId<Mesh>, AssetId<StandardMaterial>)> = world
            .query::<(&Mesh3d, &MeshMaterial3d<StandardMaterial>)>()
            .iter(world)
            .map(|(m, s)| (m.id(), s.id()))
            .collect();
        let meshes: HashSet<_> = parts.iter().map(|p| p.0).collect();
        let materials: HashSet<_> = parts.iter().map(|p| p.1).collect();
        (parts.len(), meshes.len(), materials.len())
    }

    #[test]
    fn assets_share_their_meshes_and_materials_however_many_there_are() {
        let one = station_times(1);
        let assets = one.assets.len();
        let (parts_1, meshes_1, materials_1) = shapes(one);
        let many = station_times(40);
        let added = many.assets.len() - assets;
        assert!(added >= 40, "{added} assets added");
        let (parts_40, meshes_40, materials_40) = shapes(many);
        assert!(parts_40 >= parts_1 + added, "every asset is drawn: {parts_1} parts, then {parts_40}");
        assert_eq!(meshes_40, meshes_1, "meshes are shared by the assets of a kind");
        assert_eq!(materials_40, materials_1, "materials are shared by the assets of a kind");
    }

    #[test]
    fn the_palette_paints_each_step_of_the_health_scale_in_its_colour() {
        assert_eq!(Palette::step(-0.3), 0);
        assert_eq!(Palette::step(0.0), 0);
        assert_eq!(Palette::step(0.52), 10);
        assert_eq!(Palette::step(1.0), HEALTH_STEPS);
        assert_eq!(Palette::step(7.0), HEALTH_STEPS);
        // Every score is painted within half a step of its own colour.
        for k in 0..=100 {
            let score = k as f64 / 100.0;
            assert!((Palette::score_of(Palette::step(score)) - score).abs() <= 0.5 / HEALTH_STEPS as f64 + 1e-12);
        }
        let app = spawned(station_times(1));
        let palette = app.world().resource::<Palette>();
        assert_eq!(palette.health.len(), HEALTH_STEPS + 1);
        let materials = app.world().resource::<Assets<StandardMaterial>>();
        for (k, h) in palette.health.iter().enumerate() {
            let m = materials.get(h).expect("palette material");
            assert_eq!(m.base_color, health::score_color(Palette::score_of(k)), "step {k}");
        }
        assert_ne!(palette.health[0], palette.health[HEALTH_STEPS]);
    }

    #[test]
    fn segment_transform_spans_the_two_points() {
        let a = Vec3::new(1.0, 0.5, 0.0);
        let b = Vec3::new(1.0, 0.5, 4.0);
        let t = segment_transform(a, b, 0.1).unwrap();
        let top = t.transform_point(Vec3::new(0.0, 0.5, 0.0));
        let bottom = t.transform_point(Vec3::new(0.0, -0.5, 0.0));
        assert!(top.distance(b) < 1e-4 || top.distance(a) < 1e-4);
        assert!((top - bottom).length() - 4.0 < 1e-4);
        assert!(segment_transform(a, a, 0.1).is_none());
    }

    #[test]
    fn pipe_routes_are_orthogonal_and_skip_empty_legs() {
        let route = pipe_route(Vec3::new(0.0, 0.5, 4.0), Vec3::new(-6.0, 0.5, 0.0));
        assert_eq!(route.len(), 4);
        assert_eq!(route[0], Vec3::new(0.0, 0.5, 4.0));
        assert_eq!(route[3], Vec3::new(-6.0, 0.5, 0.0));
        for pair in route.windows(2) {
            let d = pair[1] - pair[0];
            assert_eq!([d.x != 0.0, d.y != 0.0, d.z != 0.0].iter().filter(|&&b| b).count(), 1);
        }
    }
}
