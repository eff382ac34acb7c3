//! The desktop workbench: the same twin as the headless runner, plus a window with the plant in 3D, an orbit
//! camera, the asset tree, the inspector, the plots and the change panel. `run_gui` is the whole entry point;
//! each submodule owns one concern, and the UI logic (`state`, `desk`, `health`, `history`) needs no window.

mod camera;
mod changes;
pub mod desk;
pub mod events;
mod files;
pub mod framestats;
pub mod health;
pub mod history;
mod inspector;
mod look;
mod panel;
pub mod plots;
mod quality;
mod scene;
mod screenshot;
pub mod state;
pub mod stored;
mod tree;
mod widgets;
pub mod windowless;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::EguiPlugin;

use crate::app::TwinPlugins;
use crate::headless::Speed;
use crate::scenario::Scenario;
use crate::twin::ClockPacing;

/// Simulated seconds per wall-clock second when the workbench is asked to run "as fast as possible": a window
/// is paced by its frames anyway, so `max` means an hour per second.
const MAX_SPEED_FACTOR: f64 = 3600.0;

/// The workbench's systems at the end of a frame, in order: those that may end the run (screenshot mode, frame
/// statistics), then those that finish what must outlive it (the history store), so an exit asked for in this
/// frame is seen before the app is torn down.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
enum FrameEnd {
    Decide,
    Finish,
}

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
    /// The scenario's file, when it came from disk (recent files, title).
    pub scenario_path: Option<PathBuf>,
    /// The change desk's audit log.
    pub audit: PathBuf,
    /// Select this asset at start.
    pub select: Option<String>,
    /// The right panel's page at start.
    pub page: state::RightTab,
    /// Write per-frame CPU times to this file at exit (see `FrameStats`).
    pub frame_stats: Option<PathBuf>,
    /// Keep the history in this store (resuming from its newest checkpoint unless `fresh`), and draw the plots'
    /// ranges from it.
    pub store: Option<PathBuf>,
    /// Start from the scenario, not from the store's checkpoint.
    pub fresh: bool,
    /// Pin the plots' crosshair at this simulated time, s.
    pub cursor: Option<f64>,
    /// Where the plots' exports go.
    pub export_dir: PathBuf,
    /// In screenshot mode, export the plots halfway through the frames.
    pub export_plots: bool,
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
    // The twin first: its assets are then the entities of the headless twin's (a checkpoint restores into either).
    app.add_plugins(TwinPlugins { scenario, seed: opts.seed })
        .add_plugins(
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
        .configure_sets(Last, (FrameEnd::Decide, FrameEnd::Finish).chain())
        .add_plugins(EguiPlugin::default())
        .add_plugins(files::FilesPlugin {
            seed: opts.seed,
            speed: format!("{speed}x"),
            scenario_path: opts.scenario_path.clone(),
        })
        .add_plugins((
            scene::ScenePlugin,
            camera::OrbitCameraPlugin,
            history::HistoryPlugin,
            look::LookPlugin,
            panel::PanelPlugin,
        ));
    // The store before connecting: a store or checkpoint that is refused stops here, and a resumed twin connects
    // where it left off.
    let resumed = match &opts.store {
        Some(path) => {
            let store_opts = crate::store::StoreOptions {
                retain_s: None,
                checkpoint_every_s: Some(crate::store::CHECKPOINT_EVERY_S),
            };
            crate::headless::live::open_store(&mut app, path, store_opts, !opts.fresh, false)?
        }
        None => None,
    };
    let target = crate::headless::live::connect_live(&mut app, &scenario_for_live, opts.seed, "twin-workbench")?;
    let owed_s = crate::headless::live::after_resume(&mut app, resumed.as_ref(), speed);
    crate::headless::live::pace_plant(app.world_mut(), speed);
    app.insert_resource(ClockPacing::Realtime { speed, owed_s, paused: false });
    if let Some(path) = &opts.store {
        let epoch = app.world().resource::<crate::ingest::Telemetry>().epoch_unix_s;
        app.insert_resource(stored::StoredHistory::open(path, epoch)?).add_plugins(stored::StoredPlugin);
    }
    app.insert_resource(desk::ChangeDesk::new(opts.audit.clone(), target, opts.seed));
    let mut bench = app.world_mut().resource_mut::<state::Workbench>();
    bench.selected = opts.select.clone();
    bench.view.cursor_s = opts.cursor;
    bench.export_dir.clone_from(&opts.export_dir);
    bench.right_tab = opts.page;
    let failure = Arc::new(Mutex::new(None));
    if let Some(path) = opts.frame_stats {
        app.add_plugins(framestats::FrameStatsPlugin { path, frames: opts.frames, failure: failure.clone() });
    }
    if let Some(path) = opts.screenshot {
        let export_plots_at = opts.export_plots.then_some(opts.frames / 2);
        app.add_plugins(screenshot::ScreenshotPlugin {
            path,
            frames: opts.frames,
            export_plots_at,
            failure: failure.clone(),
        });
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
