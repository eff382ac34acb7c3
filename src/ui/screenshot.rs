//! Screenshot mode (`twin --screenshot PNG`): render a number of frames, save the window to a PNG, and exit, so
//! that tests and docs can check what the workbench shows. A watchdog fails the run if no picture comes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};

/// Frames to wait for the picture after asking for it before giving up.
const WATCHDOG_FRAMES: u32 = 600;

/// Takes one screenshot after `frames` frames and exits; records why in `failure` if it cannot.
pub(super) struct ScreenshotPlugin {
    pub path: PathBuf,
    pub frames: u32,
    /// Export the plots (CSV and PNG, as their buttons do) after this many frames.
    pub export_plots_at: Option<u32>,
    /// Set to the reason when the run ends without a screenshot.
    pub failure: Arc<Mutex<Option<String>>>,
}

/// Progress of screenshot mode.
#[derive(Resource, Debug)]
struct ScreenshotJob {
    path: PathBuf,
    frames: u32,
    frames_done: u32,
    export_plots_at: Option<u32>,
    requested: bool,
    /// Set by the capture observer: whether the file was written.
    written: Arc<Mutex<Option<bool>>>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Plugin for ScreenshotPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ScreenshotJob {
            path: self.path.clone(),
            frames: self.frames,
            frames_done: 0,
            export_plots_at: self.export_plots_at,
            requested: false,
            written: Arc::new(Mutex::new(None)),
            failure: self.failure.clone(),
        })
        .add_systems(Last, (advance_screenshot_job, export_plots).chain().in_set(super::FrameEnd::Decide));
    }
}

/// Counts frames, asks for the screenshot when due, and exits once it is written or the watchdog fires.
fn advance_screenshot_job(mut commands: Commands, mut job: ResMut<ScreenshotJob>, mut exit: MessageWriter<AppExit>) {
    job.frames_done += 1;
    let written = *job.written.lock().unwrap_or_else(|e| e.into_inner());
    match written {
        Some(true) => {
            info!("screenshot written to {}", job.path.display());
            exit.write(AppExit::Success);
            return;
        }
        Some(false) => {
            fail(&job, &mut exit, format!("cannot write the screenshot to {}", job.path.display()));
            return;
        }
        None => {}
    }
    if !job.requested && job.frames_done >= job.frames {
        job.requested = true;
        // A stale file from an earlier run must not pass for this one's picture.
        let _ = std::fs::remove_file(&job.path);
        let path = job.path.clone();
        let flag = job.written.clone();
        let mut save = save_to_disk(path.clone());
        commands.spawn(Screenshot::primary_window()).observe(move |captured: On<ScreenshotCaptured>| {
            save(captured);
            *flag.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.is_file());
        });
    }
    if job.frames_done >= job.frames.saturating_add(WATCHDOG_FRAMES) {
        fail(&job, &mut exit, format!("no screenshot after {} frames", job.frames_done));
    }
}

/// Exports the plots once, when their frame comes.
fn export_plots(world: &mut World) {
    let job = world.resource::<ScreenshotJob>();
    if job.export_plots_at != Some(job.frames_done) {
        return;
    }
    super::plots::export_csv(world);
    super::plots::export_png(world);
}

/// Records why screenshot mode failed and exits with an error.
fn fail(job: &ScreenshotJob, exit: &mut MessageWriter<AppExit>, why: String) {
    error!("{why}");
    *job.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    exit.write(AppExit::error());
}
