//! The desktop workbench: the same twin as the headless runner, plus a window with the plant in 3D, an orbit
//! camera and an egui side panel. `run_gui` is the whole entry point; each submodule owns one concern.

mod camera;
mod live;
mod panel;
mod scene;
mod screenshot;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::EguiPlugin;

use crate::headless::Speed;
use crate::scenario::Scenario;
use crate::twin::{ClockPacing, TwinPlugin};

/// Simulated seconds per wall-clock second when the workbench is asked to run "as fast as possible": a window
/// is paced by its frames anyway, so `max` means an hour per second.
const MAX_SPEED_FACTOR: f64 = 3600.0;

/// How the workbench opens.
#[derive(Debug, Clone)]
pub struct GuiOptions {
    /// Pace of simulated time.
    pub speed: Speed,
    /// Seed of the twin's random processes.
    pub seed: u64,
    /// Save a screenshot here after `frames` frames, then exit.
    pub screenshot: Option<PathBuf>,
    /// Frames to render before the screenshot.
    pub frames: u32,
}

/// Opens the workbench on `scenario` and runs until the window is closed (or, in screenshot mode, until the
/// screenshot is written).
pub fn run_gui(scenario: Arc<Scenario>, opts: GuiOptions) -> anyhow::Result<()> {
    let speed = match opts.speed {
        Speed::Max => MAX_SPEED_FACTOR,
        Speed::Paced(f) => f,
    };
    let title = format!("twin — {}", scenario.name);
    let scenario_for_live = scenario.clone();
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window { title, resolution: WindowResolution::new(1280, 800), ..default() }),
                ..default()
            })
            .set(bevy::log::LogPlugin {
                filter: format!("{},{}", bevy::log::DEFAULT_FILTER, twin_mqtt::broker::LOG_FILTER),
                ..default()
            }),
    )
    .add_plugins(EguiPlugin::default())
    .add_plugins(TwinPlugin { scenario, seed: opts.seed })
    .insert_resource(ClockPacing::Realtime { speed, owed_s: 0.0, paused: false })
    .add_plugins((scene::ScenePlugin, camera::OrbitCameraPlugin, panel::PanelPlugin));
    live::connect_live(&mut app, &scenario_for_live, opts.seed)?;
    let failure = Arc::new(Mutex::new(None));
    if let Some(path) = opts.screenshot {
        app.add_plugins(screenshot::ScreenshotPlugin { path, frames: opts.frames, failure: failure.clone() });
    }
    let exit = app.run();
    if let Some(why) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
        bail!(why);
    }
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => bail!("the workbench exited with code {code}"),
    }
}
