//! Files from the workbench: open a scenario, save the scenario as, export a report (native dialogs through the
//! desktop portal, on a worker thread so frames keep coming), Ctrl+O / Ctrl+S, recent files, and a dialog for a
//! scenario that does not load, which leaves the open one running. The twin's world is built from its scenario,
//! so opening another one restarts the workbench on it (a fresh process with the same seed and speed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::egui::{self, Ui};
use crossbeam_channel::{Receiver, Sender, unbounded};
use serde_json::json;

use super::panel::Action;
use super::state::{Dialog, Workbench};
use crate::scenario::{self, Scenario};
use crate::twin::{AssetIndex, LoadedScenario, SimClock};

/// A file action.
#[derive(Debug, Clone, PartialEq)]
pub enum FileAction {
    /// Ask for a scenario to open.
    Open,
    /// Ask where to save the scenario.
    SaveAs,
    /// Ask where to export the report.
    Export,
    /// Open this scenario.
    OpenPath(PathBuf),
    /// Save the scenario here.
    SavePath(PathBuf),
    /// Export the report here.
    ExportPath(PathBuf),
    /// Close the dialog.
    CloseDialog,
}

/// Where picked paths come back from the dialog threads.
#[derive(Resource)]
pub(super) struct FileDialogs {
    tx: Sender<FileAction>,
    rx: Receiver<FileAction>,
    /// A dialog is open (one at a time).
    pub open: bool,
    /// How to restart on another scenario: (seed, speed argument).
    pub relaunch: (u64, String),
}

/// Runs the file dialogs' results.
pub(super) struct FilesPlugin {
    pub seed: u64,
    pub speed: String,
    pub scenario_path: Option<PathBuf>,
}

impl Plugin for FilesPlugin {
    fn build(&self, app: &mut App) {
        let (tx, rx) = unbounded();
        let mut bench = Workbench::default();
        if let Some(store) = super::state::RecentFiles::default_store() {
            bench.recent = super::state::RecentFiles::load(store);
        }
        if let Some(p) = &self.scenario_path {
            let _ = bench.recent.add(p);
        }
        app.insert_resource(bench)
            .insert_resource(FileDialogs { tx, rx, open: false, relaunch: (self.seed, self.speed.clone()) })
            .add_systems(Update, take_picked_files);
    }
}

/// Ctrl+O opens, Ctrl+S saves as.
pub(super) fn shortcuts(ctx: &egui::Context, actions: &mut Vec<Action>) {
    ctx.input(|i| {
        if i.modifiers.command && i.key_pressed(egui::Key::O) {
            actions.push(Action::Files(FileAction::Open));
        }
        if i.modifiers.command && i.key_pressed(egui::Key::S) {
            actions.push(Action::Files(FileAction::SaveAs));
        }
    });
}

/// The File menu with the recent files.
pub(super) fn file_menu(ui: &mut Ui, bench: &Workbench, actions: &mut Vec<Action>) {
    ui.menu_button("File", |ui| {
        if ui.add(egui::Button::new("Open scenario…").shortcut_text("Ctrl+O")).clicked() {
            actions.push(Action::Files(FileAction::Open));
        }
        if ui.add(egui::Button::new("Save scenario as…").shortcut_text("Ctrl+S")).clicked() {
            actions.push(Action::Files(FileAction::SaveAs));
        }
        if ui.button("Export report…").clicked() {
            actions.push(Action::Files(FileAction::Export));
        }
        ui.separator();
        ui.label("Recent");
        if bench.recent.paths.is_empty() {
            ui.weak("none");
        }
        for p in &bench.recent.paths {
            let name = p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
            if ui.button(name).on_hover_text(p.display().to_string()).clicked() {
                actions.push(Action::Files(FileAction::OpenPath(p.clone())));
            }
        }
    });
}

/// The modal dialog, when there is one.
pub(super) fn dialogs(ctx: &egui::Context, bench: &Workbench, actions: &mut Vec<Action>) {
    let Some(d) = &bench.dialog else { return };
    egui::Window::new(&d.title)
        .collapsible(false)
        .resizable(true)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label(egui::RichText::new(&d.body).monospace());
            if ui.button("OK").clicked() {
                actions.push(Action::Files(FileAction::CloseDialog));
            }
        });
}

/// Carries out a file action.
pub(super) fn apply(world: &mut World, action: FileAction) {
    match action {
        FileAction::Open | FileAction::SaveAs | FileAction::Export => ask_path(world, action),
        FileAction::CloseDialog => world.resource_mut::<Workbench>().dialog = None,
        FileAction::OpenPath(p) => {
            let mut bench = world.resource_mut::<Workbench>();
            if try_open(&mut bench, &p).is_some() {
                let relaunch = world.resource::<FileDialogs>().relaunch.clone();
                relaunch_on(world, &p, relaunch);
            }
        }
        FileAction::SavePath(p) => {
            let scenario = world.resource::<LoadedScenario>().0.clone();
            let result = save_scenario(&scenario, &p);
            report_result(world, "save the scenario", &p, result);
        }
        FileAction::ExportPath(p) => {
            let result = std::fs::write(&p, export_report(world)).map_err(|e| e.to_string());
            report_result(world, "export the report", &p, result);
        }
    }
}

/// Loads `path`; on failure opens the error dialog and returns `None` (the open scenario stays).
pub fn try_open(bench: &mut Workbench, path: &Path) -> Option<Arc<Scenario>> {
    match scenario::load(path) {
        Ok(s) => {
            let _ = bench.recent.add(path);
            Some(Arc::new(s))
        }
        Err(e) => {
            bench.dialog = Some(Dialog {
                title: "Cannot open the scenario".into(),
                body: format!("{e}\n\nThe scenario already open keeps running."),
            });
            None
        }
    }
}

/// Writes the scenario as RON and reads it back, so that a saved file always opens.
pub fn save_scenario(s: &Scenario, path: &Path) -> Result<(), String> {
    let text = scenario::to_ron(s).map_err(|e| format!("cannot write RON: {e}"))?;
    std::fs::write(path, text).map_err(|e| e.to_string())?;
    scenario::load(path).map(|_| ()).map_err(|e| format!("the saved file does not load back: {e}"))
}

/// The workbench's report: time, the synchronization report, every asset's graded health, telemetry counters.
pub fn export_report(world: &World) -> String {
    let scenario = &world.resource::<LoadedScenario>().0;
    let assets: serde_json::Map<String, serde_json::Value> = world
        .resource::<AssetIndex>()
        .0
        .iter()
        .filter_map(|(id, &e)| {
            let e = world.get_entity(e).ok()?;
            let m = super::health::metrics(&e, &world.resource::<LoadedScenario>().0.maintenance_policy);
            let metrics: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .map(|x| (x.name.to_owned(), json!({"value": x.value, "unit": x.unit, "score": x.score})))
                .collect();
            Some((id.clone(), json!({"worst_score": super::health::worst_score(&m), "metrics": metrics})))
        })
        .collect();
    let telemetry = world.resource::<crate::ingest::Telemetry>();
    let report = json!({
        "scenario": scenario.name,
        "sim_time_s": world.resource::<SimClock>().now_s,
        "assets": assets,
        "ingest": telemetry.counters(),
        "sync": crate::assess::Report::of(world),
    });
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

fn report_result(world: &mut World, what: &str, path: &Path, result: Result<(), String>) {
    let mut bench = world.resource_mut::<Workbench>();
    match result {
        Ok(()) => bench.status = format!("saved {}", path.display()),
        Err(e) => {
            bench.dialog = Some(Dialog { title: format!("Cannot {what}"), body: format!("{}: {e}", path.display()) })
        }
    }
}

/// Opens the native dialog on a worker thread; its answer comes back through the channel.
fn ask_path(world: &mut World, action: FileAction) {
    let mut dialogs = world.resource_mut::<FileDialogs>();
    if dialogs.open {
        return;
    }
    dialogs.open = true;
    let tx = dialogs.tx.clone();
    let spawned = std::thread::Builder::new().name("twin-file-dialog".into()).spawn(move || {
        let ron = |d: rfd::FileDialog| d.add_filter("Scenario (RON)", &["ron"]);
        let picked = match action {
            FileAction::Open => {
                ron(rfd::FileDialog::new().set_title("Open scenario")).pick_file().map(FileAction::OpenPath)
            }
            FileAction::SaveAs => ron(rfd::FileDialog::new().set_title("Save scenario as"))
                .set_file_name("scenario.ron")
                .save_file()
                .map(FileAction::SavePath),
            _ => rfd::FileDialog::new()
                .set_title("Export report")
                .add_filter("JSON", &["json"])
                .set_file_name("twin-report.json")
                .save_file()
                .map(FileAction::ExportPath),
        };
        let _ = tx.send(picked.unwrap_or(FileAction::CloseDialog));
    });
    if let Err(e) = spawned {
        dialogs.open = false;
        world.resource_mut::<Workbench>().dialog =
            Some(Dialog { title: "Cannot open a file dialog".into(), body: e.to_string() });
    }
}

/// Takes the dialogs' answers.
fn take_picked_files(world: &mut World) {
    let picked: Vec<FileAction> = world.resource::<FileDialogs>().rx.try_iter().collect();
    for a in picked {
        world.resource_mut::<FileDialogs>().open = false;
        if a != FileAction::CloseDialog {
            apply(world, a);
        }
    }
}

/// Restarts the workbench on `path`: a fresh process replaces this one.
fn relaunch_on(world: &mut World, path: &Path, (seed, speed): (u64, String)) {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("twin"));
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(path).args(["--seed", &seed.to_string(), "--speed", &speed]);
    // The history store (if any) gets its last rows and checkpoint: the new process opens the other scenario.
    if let Some(Err(e)) = crate::store::finish_store(world) {
        error!("history store: {e}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec(); // returns only on failure
        world.resource_mut::<Workbench>().dialog =
            Some(Dialog { title: "Cannot restart on the scenario".into(), body: err.to_string() });
    }
    #[cfg(not(unix))]
    match cmd.spawn() {
        Ok(_) => {
            world.write_message(AppExit::Success);
        }
        Err(e) => {
            world.resource_mut::<Workbench>().dialog =
                Some(Dialog { title: "Cannot restart on the scenario".into(), body: e.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron")
    }

    #[test]
    fn a_bad_scenario_opens_an_error_dialog_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.ron");
        std::fs::write(&bad, "Scenario(\n  version: 1,\n  name: \"x\",\n  assets: [ (id: 3) ],\n)\n").unwrap();
        let mut bench = Workbench::default();
        assert!(try_open(&mut bench, &bad).is_none());
        let d = bench.dialog.clone().expect("an error dialog");
        assert!(d.body.contains("bad.ron"), "{}", d.body);
        assert!(d.body.contains(":4") || d.body.contains("line 4"), "{}", d.body);
        assert!(d.body.contains("keeps running"));
        assert!(bench.recent.paths.is_empty(), "a file that does not open is not recent");
        // A good one opens and becomes recent.
        assert!(try_open(&mut bench, &bundled()).is_some());
        assert_eq!(bench.recent.paths.len(), 1);
    }

    #[test]
    fn a_saved_scenario_loads_back_equal() {
        let s = scenario::load(&bundled()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("saved.ron");
        save_scenario(&s, &p).unwrap();
        assert_eq!(scenario::load(&p).unwrap(), s);
    }

    #[test]
    fn the_exported_report_has_every_asset_and_the_sync_report() {
        let s = Arc::new(scenario::load(&bundled()).unwrap());
        let mut app = crate::app::headless_app(s.clone(), 1);
        app.update();
        let v: serde_json::Value = serde_json::from_str(&export_report(app.world())).unwrap();
        assert_eq!(v["scenario"], s.name);
        for a in &s.assets {
            assert!(v["assets"][&a.id]["worst_score"].is_number(), "{}", a.id);
        }
        assert!(v["sync"]["assimilation"].is_object());
    }
}
