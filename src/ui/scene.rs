//! The plant in 3D: a simple procedural shape per asset at its site position, pipes and shafts along the
//! dependency edges, a ground plane and the lights. Shapes are children of the asset entities, so the twin's
//! entities stay the single source of what exists.

use std::f32::consts::FRAC_PI_2;

use bevy::light::CascadeShadowConfigBuilder;
use bevy::prelude::*;

use crate::twin::tank::TankModel;
use crate::twin::{Asset, DependsOn, SitePosition};

/// Scale of the outline hull over the body it surrounds.
const OUTLINE_SCALE: f32 = 1.12;
/// Colour of the outline of a stale or drifting asset.
pub(super) const OUTLINE_COLOR: Color = Color::srgb(1.0, 0.92, 0.1);

/// The material painted in the asset's health colour, and the score it shows (-1 before the first tint).
#[derive(Component, Debug)]
pub(super) struct HealthPaint {
    pub material: Handle<StandardMaterial>,
    pub score: f64,
}

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
    for (entity, asset, pos, deps, tank) in &assets {
        let here = site_point(pos);
        let paint = materials.add(StandardMaterial {
            base_color: kind_color(asset.kind),
            metallic: 0.2,
            perceptual_roughness: 0.6,
            ..default()
        });
        // Rotating machines face the machine they are coupled to: a pump its motor, a motor its pump.
        let shaft_dir = coupled_partner(entity, asset, deps, &others)
            .map(|p| site_point(p) - here)
            .and_then(|d| Vec3::new(d.x, 0.0, d.z).try_normalize())
            .unwrap_or(Vec3::X);
        let yaw = Quat::from_rotation_arc(Vec3::X, shaft_dir);
        let mut parts: Vec<(Handle<Mesh>, Handle<StandardMaterial>, Transform)> = Vec::new();
        // The body drawn slightly larger, inside out, in the outline's colour: an outline when shown.
        let mut hull: Option<(Handle<Mesh>, Transform)> = None;
        let mut rotor: Option<Vec<(Handle<Mesh>, Transform)>> = None;
        match asset.kind {
            "CentrifugalPump" => {
                hull = Some((
                    meshes.add(Cylinder::new(0.42, 0.36)),
                    Transform::from_xyz(0.0, PUMP_AXIS_M, 0.0)
                        .with_rotation(Quat::from_rotation_z(FRAC_PI_2))
                        .with_scale(Vec3::splat(OUTLINE_SCALE)),
                ));
                // Impeller: a disc with three vanes on the suction side, turned about the shaft (x) axis.
                let mut r = vec![(
                    meshes.add(Cylinder::new(0.2, 0.06)),
                    Transform::from_rotation(Quat::from_rotation_z(FRAC_PI_2)),
                )];
                let vane = meshes.add(Cuboid::new(0.05, 0.36, 0.05));
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
                    meshes.add(Cylinder::new(0.42, 0.36)),
                    paint.clone(),
                    Transform::from_xyz(0.0, PUMP_AXIS_M, 0.0).with_rotation(Quat::from_rotation_z(FRAC_PI_2)),
                ));
                // Discharge nozzle, upwards.
                parts.push((
                    meshes.add(Cylinder::new(0.1, 0.35)),
                    steel.clone(),
                    Transform::from_xyz(0.0, PUMP_AXIS_M + 0.45, 0.0),
                ));
                parts.push((
                    meshes.add(Cuboid::new(0.9, 0.15, 0.7)),
                    concrete.clone(),
                    Transform::from_xyz(0.0, 0.075, 0.0),
                ));
            }
            "Motor" => {
                hull = Some((
                    meshes.add(Cylinder::new(0.33, 0.9)),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M, 0.0)
                        .with_rotation(Quat::from_rotation_z(FRAC_PI_2))
                        .with_scale(Vec3::splat(OUTLINE_SCALE)),
                ));
                // Frame with cooling fins suggested by a box, end bells by a cylinder along the shaft.
                parts.push((
                    meshes.add(Cylinder::new(0.33, 0.9)),
                    paint.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M, 0.0).with_rotation(Quat::from_rotation_z(FRAC_PI_2)),
                ));
                parts.push((
                    meshes.add(Cuboid::new(0.7, 0.2, 0.55)),
                    paint.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M - 0.25, 0.0),
                ));
                // Terminal box on top.
                parts.push((
                    meshes.add(Cuboid::new(0.25, 0.15, 0.25)),
                    steel.clone(),
                    Transform::from_xyz(0.0, MOTOR_AXIS_M + 0.38, 0.0),
                ));
            }
            "Tank" => {
                let (r, h) = tank_size(tank);
                hull = Some((
                    meshes.add(Cylinder::new(r, h)),
                    Transform::from_xyz(0.0, h / 2.0, 0.0).with_scale(Vec3::new(1.04, 1.02, 1.04)),
                ));
                parts.push((meshes.add(Cylinder::new(r, h)), paint.clone(), Transform::from_xyz(0.0, h / 2.0, 0.0)));
                // Roof cap, slightly darker so the silhouette reads from above.
                let roof = materials.add(StandardMaterial {
                    base_color: Color::srgb(0.55, 0.57, 0.60),
                    perceptual_roughness: 0.8,
                    ..default()
                });
                parts.push((meshes.add(Cylinder::new(r * 1.02, 0.08)), roof, Transform::from_xyz(0.0, h, 0.0)));
            }
            _ => {
                parts.push((meshes.add(Sphere::new(0.4)), paint.clone(), Transform::from_xyz(0.0, 0.4, 0.0)));
            }
        }
        commands.entity(entity).insert((
            Transform::from_translation(here).with_rotation(yaw),
            Visibility::default(),
            HealthPaint { material: paint.clone(), score: -1.0 },
        ));
        commands.entity(entity).with_children(|children| {
            for (mesh, material, transform) in parts {
                children.spawn((Mesh3d(mesh), MeshMaterial3d(material), transform));
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
