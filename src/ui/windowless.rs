//! The workbench without a window: the twin's app with the workbench's state, history and change desk, and the
//! very UI pass the window runs, laid out and tessellated on a plain egui context. The GUI benchmark measures its
//! CPU time per frame (everything but Bevy's render preparation and the GPU), and tests drive it to check what
//! the panels show with no display.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::egui;

use super::desk::ChangeDesk;
use super::history::HistoryPlugin;
use super::look::HealthRows;
use super::panel::{Rates, tree_rows, ui_pass};
use super::state::Workbench;
use crate::scenario::Scenario;
use crate::twin::SimClock;

/// Frames between two refreshes of the tree's health rows (the window refreshes them every 250 ms: 15 frames at
/// 60 frames/s).
const ROWS_EVERY: u64 = 15;

/// The workbench's logic and layout over a headless twin.
pub struct Windowless {
    pub app: App,
    ctx: egui::Context,
    frames: u64,
    texts: String,
    /// Logical size of the pretend window.
    pub size: egui::Vec2,
}

impl Windowless {
    /// The twin of `scenario` (with the in-process virtual plant when `plant`), the workbench's state and an
    /// empty change desk whose audit log would go to `audit`.
    pub fn new(scenario: Arc<Scenario>, seed: u64, plant: bool, audit: std::path::PathBuf) -> anyhow::Result<Self> {
        let mut app = crate::app::headless_app(scenario.clone(), seed);
        if plant {
            crate::plant::inprocess::add_inprocess_plant(&mut app, &scenario, seed, None)?;
        }
        app.add_plugins(HistoryPlugin)
            .init_resource::<Workbench>()
            .init_resource::<Rates>()
            .init_resource::<HealthRows>()
            .insert_resource(ChangeDesk::new(audit, None, seed));
        app.update();
        Ok(Self {
            app,
            ctx: egui::Context::default(),
            frames: 0,
            texts: String::new(),
            size: egui::vec2(1280.0, 800.0),
        })
    }

    /// One frame: the twin advances `steps` model steps, then the UI pass runs and is tessellated. Returns the
    /// number of clipped primitives drawn (what a renderer would upload).
    pub fn frame(&mut self, steps: u32) -> usize {
        self.app.world_mut().resource_mut::<SimClock>().pending_steps = steps;
        self.app.update();
        if self.frames.is_multiple_of(ROWS_EVERY) {
            let rows = tree_rows(self.app.world());
            self.app.world_mut().insert_resource(HealthRows(rows));
        }
        self.frames += 1;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, self.size)),
            ..Default::default()
        };
        let world = self.app.world_mut();
        self.ctx.begin_pass(input);
        ui_pass(&self.ctx, world);
        let mut out = self.ctx.end_pass();
        out.textures_delta.clear(); // no GPU to upload the font atlas to
        self.texts.clear();
        for c in &out.shapes {
            collect_texts(&c.shape, &mut self.texts);
        }
        self.ctx.tessellate(out.shapes, out.pixels_per_point).len()
    }

    /// Every text the last frame drew, one per line (for tests that check what a panel says).
    pub fn texts(&self) -> &str {
        &self.texts
    }
}

fn collect_texts(shape: &egui::Shape, out: &mut String) {
    match shape {
        egui::Shape::Text(t) => {
            out.push_str(t.galley.text());
            out.push('\n');
        }
        egui::Shape::Vec(v) => v.iter().for_each(|s| collect_texts(s, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::state::RightTab;

    fn station() -> (Windowless, tempfile::TempDir) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = Arc::new(crate::scenario::load(&path).expect("bundled scenario"));
        let dir = tempfile::tempdir().expect("tempdir");
        let w = Windowless::new(scenario, 1, true, dir.path().join("audit.jsonl")).expect("windowless workbench");
        (w, dir)
    }

    #[test]
    fn the_panels_show_the_selected_asset_its_health_and_its_plots() {
        let (mut w, _dir) = station();
        w.app.world_mut().resource_mut::<Workbench>().selected = Some("P-101".into());
        for _ in 0..60 {
            assert!(w.frame(60) > 0, "something is drawn");
        }
        let t = w.texts();
        for expected in [
            "Water treatment pump station", // top bar
            "CentrifugalPump (1)",          // tree group
            "P-101",
            "bearing wear", // inspector health
            "NPSH available / required",
            "matches the scenario", // configuration, after the identity report
            "Plots: P-101 / M-101",
            "Bearing wear",
            "Winding temperature, °C",
            "writes disabled",
        ] {
            assert!(t.contains(expected), "\"{expected}\" not drawn; texts:\n{t}");
        }
        // The filter hides what does not match.
        w.app.world_mut().resource_mut::<Workbench>().filter = "M-".into();
        w.frame(1);
        assert!(w.texts().contains("1 of 3 assets"), "{}", w.texts());
    }

    #[test]
    fn the_change_page_shows_each_layers_verdict_after_validation() {
        let (mut w, _dir) = station();
        w.app.world_mut().resource_mut::<Workbench>().right_tab = RightTab::Change;
        for _ in 0..10 {
            w.frame(60);
        }
        assert!(w.texts().contains("Draft a change") && w.texts().contains("not now: validate"), "{}", w.texts());
        let world = w.app.world_mut();
        let mut desk = world.remove_resource::<ChangeDesk>().unwrap();
        desk.setpoint = "P-101.speed".into();
        desk.value_text = "2000".into();
        desk.add_draft(world).unwrap();
        desk.validate_all(world).unwrap();
        world.insert_resource(desk);
        // The forecast runs on a worker thread; frames keep coming and the panel takes its answer when it is in.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while w.app.world().resource::<ChangeDesk>().session.validating() && std::time::Instant::now() < deadline {
            w.frame(1);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        w.frame(1); // a new grid's first frame only measures itself
        w.frame(1);
        let t = w.texts();
        for layer in ["Envelope", "Rate", "Interlocks", "Forecast", "Freshness", "Conflict"] {
            assert!(t.contains(layer), "{layer} not shown:\n{t}");
        }
        assert!(t.contains("2000 rpm is outside the envelope"), "{t}");
    }
}
