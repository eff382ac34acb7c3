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
        self.frame_with(steps, Vec::new())
    }

    /// [`Windowless::frame`] with input events (the pointer moved, a wheel turned, a button pressed).
    pub fn frame_with(&mut self, steps: u32, events: Vec<egui::Event>) -> usize {
        self.app.world_mut().resource_mut::<SimClock>().pending_steps = steps;
        self.app.update();
        if self.frames.is_multiple_of(ROWS_EVERY) {
            let rows = tree_rows(self.app.world());
            self.app.world_mut().insert_resource(HealthRows(rows));
        }
        self.frames += 1;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, self.size)),
            events,
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
        // Tall enough for the inspector's configuration section above the plots' 250 pixels.
        w.size = egui::vec2(1280.0, 1100.0);
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
    fn the_data_quality_page_lists_each_source_with_its_rate_rejections_age_and_clock() {
        let (mut w, _dir) = station();
        w.app.world_mut().resource_mut::<Workbench>().right_tab = RightTab::Quality;
        for _ in 0..30 {
            w.frame(60);
        }
        let t = w.texts();
        let sources = w.app.world().resource::<crate::ingest::Telemetry>().ingestor.sources();
        assert!(sources.len() >= 3, "{sources:#?}");
        for s in &sources {
            assert!(t.contains(&s.name), "source {} not listed:\n{t}", s.name);
            assert!(s.accepted > 0, "{s:#?}");
        }
        for expected in ["Data quality", "msg/s", "accepted", "rejected 0", "last 0 s ago", "clock +0.00 s"] {
            assert!(t.contains(expected), "\"{expected}\" not drawn:\n{t}");
        }
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

/// The plots without a window: the event list, the linked axes and crosshair, the CSV export.
#[cfg(test)]
mod plot_tests {
    use super::*;
    use crate::assess::defect::DefectTracker;
    use crate::ui::events::{EventKind, plot_events};
    use crate::ui::history::{History, Trace};
    use crate::ui::plots::{plot_set, readout, to_csv, value_at};
    use crate::ui::state::PlotWindow;

    /// The station with P-101 selected, run `hours` of simulated time (10-minute frames).
    fn station_after(hours: u32) -> (Windowless, tempfile::TempDir) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/pump_station.ron");
        let scenario = Arc::new(crate::scenario::load(&path).expect("bundled scenario"));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = Windowless::new(scenario, 1, true, dir.path().join("audit.jsonl")).expect("windowless workbench");
        w.app.world_mut().resource_mut::<Workbench>().selected = Some("P-101".into());
        for _ in 0..hours * 6 {
            w.frame(600);
        }
        (w, dir)
    }

    fn entity(w: &Windowless, id: &str) -> Entity {
        w.app.world().resource::<crate::twin::AssetIndex>().0[id]
    }

    #[test]
    fn the_event_list_has_what_the_twin_recorded_in_time_order_within_the_window() {
        let (mut w, _dir) = station_after(16);
        // A set-point change (as a push would make it) is noted by the history and listed.
        let p101 = entity(&w, "P-101");
        let before = w.app.world().get::<crate::twin::pump::SpeedSetpoint>(p101).unwrap().rpm;
        w.app.world_mut().get_mut::<crate::twin::pump::SpeedSetpoint>(p101).unwrap().rpm = before - 60.0;
        w.frame(60);
        let world = w.app.world();
        let now = world.resource::<SimClock>().now_s;
        let all = plot_events(world, &["P-101", "M-101"], 0.0, f64::INFINITY);
        assert!(all.windows(2).all(|p| p[0].t_s <= p[1].t_s), "in time order: {all:#?}");

        // The detected fault, at the tracker's detection time, with its text.
        let defect =
            world.get::<DefectTracker>(p101).unwrap().defect.clone().expect("the seeded fault is detected by 16 h");
        let fault: Vec<_> = all.iter().filter(|e| e.kind == EventKind::Fault).collect();
        assert_eq!(fault.len(), 1, "{all:#?}");
        assert_eq!(fault[0].t_s, defect.detected_at_s);
        assert!(fault[0].text.contains("bearing defect detected on P-101"), "{}", fault[0].text);
        // The recommended service window closes where the watch says.
        let window = world.get::<crate::assess::service::ServiceWatch>(p101).unwrap().window.clone().expect("window");
        assert!(all.iter().any(|e| e.kind == EventKind::ServiceWindow && e.t_s == window.window_latest_s));
        // Every drift alarm of the train raised (and cleared) is there, nothing of other assets.
        let a = world.resource::<crate::sync::Assimilation>();
        let mine = |asset: &str| asset == "P-101" || asset == "M-101";
        let raised = a.alarms.iter().filter(|x| mine(&x.asset)).count();
        let cleared = a.alarms.iter().filter(|x| mine(&x.asset) && x.cleared_s.is_some()).count();
        assert_eq!(all.iter().filter(|e| e.kind == EventKind::AlarmRaised).count(), raised);
        assert_eq!(all.iter().filter(|e| e.kind == EventKind::AlarmCleared).count(), cleared);
        assert!(all.iter().all(|e| mine(&e.asset)), "{all:#?}");
        // The set-point change, old and new values, now.
        let sp: Vec<_> = all.iter().filter(|e| e.kind == EventKind::Setpoint).collect();
        assert_eq!(sp.len(), 1, "{all:#?}");
        assert!(sp[0].t_s <= now && sp[0].t_s > now - 120.0);
        assert!(sp[0].text.contains(&format!("{before:.0} to {:.0} rpm", before - 60.0)), "{}", sp[0].text);
        // The window cuts: nothing before the fault when the window starts after it.
        let later = plot_events(world, &["P-101", "M-101"], defect.detected_at_s + 1.0, now);
        assert!(later.iter().all(|e| e.t_s > defect.detected_at_s && e.t_s <= now));
        assert!(later.iter().all(|e| e.kind != EventKind::Fault && e.kind != EventKind::ServiceWindow));
    }

    /// The charts' rectangles and x ranges drawn in the last frame.
    fn shown(w: &Windowless) -> Vec<(&'static str, egui::Rect, f64, f64)> {
        w.app.world().resource::<Workbench>().view.shown.clone()
    }

    #[test]
    fn the_charts_share_one_time_axis_zoomed_and_panned_together_and_one_crosshair_reads_them_all() {
        let (mut w, _dir) = station_after(8);
        w.frame(0);
        let first = shown(&w);
        assert_eq!(first.len(), 6, "six charts: {first:?}");
        // All charts but the two that reach out to a forecast or service window start and end together.
        let same = |v: &[(&str, egui::Rect, f64, f64)]| {
            v.iter().all(|c| (c.2 - v[0].2).abs() < 1e-6) && v[2..].iter().all(|c| (c.3 - v[2].3).abs() < 1e-6)
        };
        assert!(same(&first), "{first:?}");
        let width = |v: &[(&str, egui::Rect, f64, f64)]| v[3].3 - v[3].2;

        // The wheel over the cavitation chart narrows every chart's window.
        let centre = first[2].1.center();
        let wheel = vec![
            egui::Event::PointerMoved(centre),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, 120.0),
                modifiers: egui::Modifiers::NONE,
                phase: egui::TouchPhase::Move,
            },
        ];
        for _ in 0..10 {
            w.frame_with(0, wheel.clone());
        }
        w.frame_with(0, vec![egui::Event::PointerMoved(centre)]);
        w.frame_with(0, vec![egui::Event::PointerMoved(centre)]);
        let zoomed = shown(&w);
        assert!(width(&zoomed) < 0.9 * width(&first), "zoomed in: {} → {} s", width(&first), width(&zoomed));
        assert!(same(&zoomed), "every chart zoomed with it: {zoomed:?}");

        // The pointer over one chart puts a crosshair time on all of them, and the read-out names each chart's
        // series with its value there.
        let bench = w.app.world().resource::<Workbench>();
        let t = bench.view.cursor().expect("the pointer is over a chart");
        let rect = zoomed[2].1;
        let expect_t = zoomed[2].2 + (zoomed[2].3 - zoomed[2].2) * f64::from((centre.x - rect.left()) / rect.width());
        assert!((t - expect_t).abs() < (zoomed[2].3 - zoomed[2].2) * 0.02, "crosshair at {t}, pointer at {expect_t}");
        let text = w.texts().to_owned();
        for chart in ["Bearing wear", "Remaining life, d", "Cavitation risk", "Insulation health"] {
            assert!(text.contains(chart), "{chart} not in the read-out:\n{text}");
        }
        let wear = value_at(
            w.app.world().resource::<History>().get("P-101", Trace::Index(crate::scenario::Index::BearingWear)),
            t,
        )
        .expect("wear recorded there");
        assert!(text.contains(&format!("wear {wear:.3}")), "wear {wear:.3} not read out:\n{text}");

        // A drag pans every chart back in time (and stops following live).
        let drag = |to: egui::Pos2| vec![egui::Event::PointerMoved(to)];
        let mut events = vec![egui::Event::PointerButton {
            pos: centre,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        }];
        events.extend(drag(centre));
        w.frame_with(0, events);
        for dx in 1..=8 {
            w.frame_with(0, drag(centre + egui::vec2(10.0 * dx as f32, 0.0)));
        }
        w.frame_with(
            0,
            vec![egui::Event::PointerButton {
                pos: centre + egui::vec2(80.0, 0.0),
                button: egui::PointerButton::Primary,
                pressed: false,
                modifiers: egui::Modifiers::NONE,
            }],
        );
        w.frame(0);
        let panned = shown(&w);
        assert!(!w.app.world().resource::<Workbench>().plots.follow_live);
        assert!(panned[3].3 < zoomed[3].3 - 0.1 * width(&zoomed), "panned back: {zoomed:?} → {panned:?}");
        assert!(same(&panned), "every chart panned with it: {panned:?}");
    }

    #[test]
    fn the_csv_export_has_every_visible_point_of_every_series_and_the_events() {
        let (w, _dir) = station_after(16);
        let world = w.app.world();
        let window = PlotWindow { follow_live: true, width_s: 6.0 * 3600.0, end_s: 0.0 };
        let set = plot_set(world, &window, Some("P-101"), None);
        let text = to_csv(&set).expect("CSV");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap(), vec!["chart", "series", "time_s", "time", "value", "note"]);
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("a well-formed row")).collect();
        // Every series' points inside the window, each once, with its value.
        for c in &set.charts {
            for s in &c.series {
                let points: Vec<[f64; 2]> =
                    s.points.iter().filter(|p| p[0] >= set.x0 && p[0] <= c.x1).copied().collect();
                let got: Vec<[f64; 2]> = rows
                    .iter()
                    .filter(|r| &r[0] == c.title && r[1] == s.name)
                    .map(|r| [r[2].parse().unwrap(), r[4].parse().unwrap()])
                    .collect();
                assert_eq!(got, points, "{} / {}", c.title, s.name);
            }
        }
        // The wear trace is the history's, and the remaining-life band has its two edges.
        let wear = world.resource::<History>().get("P-101", Trace::Index(crate::scenario::Index::BearingWear));
        let in_window = wear.iter().filter(|p| p[0] >= set.x0 && p[0] <= set.charts[0].x1).count();
        assert!(in_window > 30, "one point a frame (10 min) over 6 h: {in_window}");
        assert_eq!(rows.iter().filter(|r| &r[0] == "Bearing wear" && &r[1] == "wear").count(), in_window);
        let low = rows.iter().filter(|r| &r[0] == "Remaining life, d" && &r[1] == "p10–p90 low").count();
        let high = rows.iter().filter(|r| &r[0] == "Remaining life, d" && &r[1] == "p10–p90 high").count();
        assert!(low > 30 && low == high, "{low} {high}");
        // The events, with their text.
        let events: Vec<_> = rows.iter().filter(|r| &r[0] == "events").collect();
        assert_eq!(events.len(), set.events.len());
        assert!(events.iter().any(|r| &r[1] == "fault" && r[5].contains("bearing defect detected on P-101")));
        // The read-out at a time inside the window has a value for each chart with data there.
        let t = set.x1 - 3600.0;
        let charts: std::collections::BTreeSet<&str> = readout(&set, t).iter().map(|r| r.chart).collect();
        assert_eq!(charts.len(), 6, "{charts:?}");
    }

    #[test]
    fn a_series_is_read_between_its_points_and_not_outside_them() {
        let pts = [[0.0, 1.0], [10.0, 3.0], [20.0, 3.0]];
        assert_eq!(value_at(&pts, 5.0), Some(2.0));
        assert_eq!(value_at(&pts, 10.0), Some(3.0));
        assert_eq!(value_at(&pts, 0.0), Some(1.0));
        assert_eq!(value_at(&pts, -1.0), None);
        assert_eq!(value_at(&pts, 21.0), None);
        assert_eq!(value_at(&[], 1.0), None);
    }
}
