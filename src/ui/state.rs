//! The workbench's own state, apart from the twin: what is selected, the asset tree's filter, the plots' time
//! window, the dialogs, the recent files. Plain data and functions, tested without a window.

use std::path::{Path, PathBuf};

use bevy::prelude::*;

/// Length of the plots' time window when following live, s.
pub const DEFAULT_WINDOW_S: f64 = 6.0 * 3600.0;
/// The narrowest time window the plots show, s.
pub const MIN_SPAN_S: f64 = 600.0;
/// Recent files remembered.
pub const RECENT_MAX: usize = 8;

/// The plots' time axis: following the live clock, or parked at an end time the user scrubs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotWindow {
    /// Follow the twin's clock.
    pub follow_live: bool,
    /// Width of the window, s.
    pub width_s: f64,
    /// End of the window when not following, s.
    pub end_s: f64,
}

impl Default for PlotWindow {
    fn default() -> Self {
        Self { follow_live: true, width_s: DEFAULT_WINDOW_S, end_s: 0.0 }
    }
}

impl PlotWindow {
    /// The x range shown at simulated time `now_s`, s: the last `width_s` up to now when following, else the
    /// window ending at `end_s` (never past now, never before 0, and at least [`MIN_SPAN_S`] wide).
    pub fn range(&self, now_s: f64) -> (f64, f64) {
        let end = if self.follow_live { now_s } else { self.end_s.clamp(0.0, now_s.max(0.0)) };
        let start = (end - self.width_s.max(MIN_SPAN_S)).max(0.0);
        (start, end.max(start + MIN_SPAN_S))
    }

    /// Stops following and parks the window's end at `end_s`.
    pub fn scrub_to(&mut self, end_s: f64) {
        self.follow_live = false;
        self.end_s = end_s;
    }
}

/// The plots' crosshair and layout: where the pointer is, what a click pinned, which chart is maximised, and
/// where each chart was drawn (the linked axes' record, and what a PNG export takes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotView {
    /// The crosshair pinned by a click, simulated s.
    pub cursor_s: Option<f64>,
    /// Where the pointer is over a chart this frame, simulated s.
    pub hover_s: Option<f64>,
    /// The chart shown alone (double-clicked), by title.
    pub maximised: Option<&'static str>,
    /// What each chart drew in the last frame: title, rectangle (logical pixels), x range (simulated s).
    pub shown: Vec<(&'static str, bevy_egui::egui::Rect, f64, f64)>,
    /// The plot panel's rectangle in the last frame, logical pixels.
    pub panel: Option<bevy_egui::egui::Rect>,
}

impl PlotView {
    /// The crosshair's time: the pointer's over a chart, else the pinned one.
    pub fn cursor(&self) -> Option<f64> {
        self.hover_s.or(self.cursor_s)
    }
}

/// Messages per simulated second of each source (by kind and name), from its message counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceRates {
    /// The counters when last taken, and the simulated time then, s.
    last: Option<(f64, std::collections::BTreeMap<String, u64>)>,
    /// Rates by source key, messages per simulated second.
    pub per_s: std::collections::BTreeMap<String, f64>,
}

/// Simulated time between two updates of [`SourceRates`], s.
pub const SOURCE_RATE_EVERY_S: f64 = 60.0;

impl SourceRates {
    /// Takes the sources' counters (`key`, messages) at simulated time `now_s`; the rates move once at least
    /// [`SOURCE_RATE_EVERY_S`] has passed (a clock that went back, a restore, starts over).
    pub fn update<'a>(&mut self, now_s: f64, counts: impl Iterator<Item = (&'a str, u64)>) {
        let due = self.last.as_ref().is_none_or(|(t, _)| now_s - t >= SOURCE_RATE_EVERY_S || now_s < *t);
        if !due {
            return; // most frames: the counters are not even taken
        }
        let counts: std::collections::BTreeMap<String, u64> = counts.map(|(k, n)| (k.to_owned(), n)).collect();
        if let Some((t, old)) = &self.last
            && now_s > *t
        {
            let dt = now_s - t;
            self.per_s = counts
                .iter()
                .map(|(k, n)| (k.clone(), n.saturating_sub(old.get(k).copied().unwrap_or(0)) as f64 / dt))
                .collect();
        }
        self.last = Some((now_s, counts));
    }
}

/// A message for a modal dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialog {
    pub title: String,
    pub body: String,
}

/// Which page the right panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RightTab {
    #[default]
    Inspector,
    Change,
    Audit,
    /// Data quality per source.
    Quality,
}

/// The workbench's state.
#[derive(Resource, Debug, Default)]
pub struct Workbench {
    /// Selected asset id.
    pub selected: Option<String>,
    /// Asset tree filter (case-insensitive substring of the id or kind).
    pub filter: String,
    pub plots: PlotWindow,
    /// The plots' crosshair and layout.
    pub view: PlotView,
    /// Message rates per source, for the data-quality page.
    pub source_rates: SourceRates,
    /// Where the plots' exports are written (empty: the working directory).
    pub export_dir: PathBuf,
    /// A dialog to show (errors from opening a file, …).
    pub dialog: Option<Dialog>,
    pub recent: RecentFiles,
    /// A one-line status (last file action), for the top bar.
    pub status: String,
    /// The right panel's page.
    pub right_tab: RightTab,
}

impl Workbench {
    /// Selects `id`, or clears the selection when it is already selected.
    pub fn toggle_select(&mut self, id: &str) {
        if self.selected.as_deref() == Some(id) {
            self.selected = None;
        } else {
            self.selected = Some(id.to_owned());
        }
    }
}

/// One asset as the tree lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeRow {
    pub id: String,
    pub kind: &'static str,
    /// Worst health badness 0..1.
    pub score: f64,
    /// A signal stale or a drift alarm active.
    pub flagged: bool,
    /// Time left in the recommended service window, h (none: no window recommended).
    pub service_within_h: Option<f64>,
}

/// The rows matching `filter`, grouped by kind (kinds in name order, assets in id order within each).
pub fn tree_groups<'a>(rows: &'a [TreeRow], filter: &str) -> Vec<(&'static str, Vec<&'a TreeRow>)> {
    let f = filter.trim().to_lowercase();
    let mut groups: Vec<(&'static str, Vec<&TreeRow>)> = Vec::new();
    let mut matching: Vec<&TreeRow> = rows
        .iter()
        .filter(|r| f.is_empty() || r.id.to_lowercase().contains(&f) || r.kind.to_lowercase().contains(&f))
        .collect();
    matching.sort_by(|a, b| a.kind.cmp(b.kind).then_with(|| a.id.cmp(&b.id)));
    for r in matching {
        match groups.last_mut() {
            Some((k, v)) if *k == r.kind => v.push(r),
            _ => groups.push((r.kind, vec![r])),
        }
    }
    groups
}

/// The asset a click picks: the nearest along the ray whose bounding sphere (centre, radius) the ray passes
/// through.
pub fn pick<'a>(origin: Vec3, dir: Vec3, spheres: impl IntoIterator<Item = (&'a str, Vec3, f32)>) -> Option<&'a str> {
    let dir = dir.try_normalize()?;
    spheres
        .into_iter()
        .filter_map(|(id, c, r)| {
            let along = (c - origin).dot(dir);
            let closest = origin + dir * along;
            (along > 0.0 && closest.distance(c) <= r).then_some((id, along))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id)
}

/// Recently opened scenario files, newest first, kept in a text file (one path per line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentFiles {
    pub paths: Vec<PathBuf>,
    /// Where the list is kept (none: in memory only).
    pub store: Option<PathBuf>,
}

impl RecentFiles {
    /// The list kept at `store` (empty when the file does not exist or cannot be read).
    pub fn load(store: PathBuf) -> Self {
        let paths = std::fs::read_to_string(&store)
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).map(PathBuf::from).take(RECENT_MAX).collect())
            .unwrap_or_default();
        Self { paths, store: Some(store) }
    }

    /// The default store: `$XDG_CONFIG_HOME/twin/recent.txt` (or `~/.config/twin/recent.txt`).
    pub fn default_store() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
        Some(base.join("twin").join("recent.txt"))
    }

    /// Puts `path` first (once), keeps at most [`RECENT_MAX`], and saves the list.
    pub fn add(&mut self, path: &Path) -> std::io::Result<()> {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        self.paths.retain(|p| p != &path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_MAX);
        let Some(store) = &self.store else { return Ok(()) };
        if let Some(dir) = store.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text: String = self.paths.iter().map(|p| format!("{}\n", p.display())).collect();
        std::fs::write(store, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, kind: &'static str) -> TreeRow {
        TreeRow { id: id.into(), kind, score: 0.0, flagged: false, service_within_h: None }
    }

    #[test]
    fn the_tree_groups_by_kind_and_filters_by_name_or_kind() {
        let rows = vec![
            row("P-102", "CentrifugalPump"),
            row("M-101", "Motor"),
            row("P-101", "CentrifugalPump"),
            row("T-1", "Tank"),
        ];
        let g = tree_groups(&rows, "");
        let shape: Vec<(&str, Vec<&str>)> =
            g.iter().map(|(k, v)| (*k, v.iter().map(|r| r.id.as_str()).collect())).collect();
        assert_eq!(
            shape,
            [("CentrifugalPump", vec!["P-101", "P-102"]), ("Motor", vec!["M-101"]), ("Tank", vec!["T-1"])]
        );
        let g = tree_groups(&rows, " p-10");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].1.len(), 2);
        let g = tree_groups(&rows, "motor");
        assert_eq!(g[0].1[0].id, "M-101");
        assert!(tree_groups(&rows, "zzz").is_empty());
    }

    #[test]
    fn selection_toggles() {
        let mut w = Workbench::default();
        w.toggle_select("P-101");
        assert_eq!(w.selected.as_deref(), Some("P-101"));
        w.toggle_select("M-101");
        assert_eq!(w.selected.as_deref(), Some("M-101"));
        w.toggle_select("M-101");
        assert_eq!(w.selected, None);
    }

    #[test]
    fn a_click_picks_the_nearest_asset_on_the_ray() {
        let spheres = [("far", Vec3::new(0.0, 0.0, -20.0), 1.0), ("near", Vec3::new(0.2, 0.0, -5.0), 1.0)];
        assert_eq!(pick(Vec3::ZERO, Vec3::NEG_Z, spheres), Some("near"));
        // Off to the side: nothing; behind the camera: nothing.
        assert_eq!(pick(Vec3::ZERO, Vec3::new(1.0, 0.0, -0.2), spheres), None);
        assert_eq!(pick(Vec3::ZERO, Vec3::Z, spheres), None);
        assert_eq!(
            pick(Vec3::ZERO, Vec3::new(0.0, 0.0, -1.0), [("far", Vec3::new(0.0, 0.0, -20.0), 1.0)]),
            Some("far")
        );
    }

    #[test]
    fn the_plot_window_follows_live_or_stays_where_scrubbed() {
        let mut w = PlotWindow { width_s: 3600.0, ..Default::default() };
        assert_eq!(w.range(10_000.0), (6400.0, 10_000.0));
        w.scrub_to(5000.0);
        assert!(!w.follow_live);
        assert_eq!(w.range(10_000.0), (1400.0, 5000.0));
        assert_eq!(w.range(20_000.0), (1400.0, 5000.0), "a parked window does not move with the clock");
        w.scrub_to(50_000.0);
        assert_eq!(w.range(20_000.0), (16_400.0, 20_000.0), "never past now");
        w.follow_live = true;
        assert_eq!(w.range(100.0), (0.0, 600.0), "early on, the window starts at 0 and is 10 min wide");
        assert_eq!(w.range(2000.0), (0.0, 2000.0), "until the window is full, it shows the whole run");
    }

    #[test]
    fn recent_files_are_newest_first_unique_bounded_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("cfg/recent.txt");
        let mut r = RecentFiles::load(store.clone());
        assert!(r.paths.is_empty());
        for i in 0..10 {
            r.add(&dir.path().join(format!("s{i}.ron"))).unwrap();
        }
        r.add(&dir.path().join("s5.ron")).unwrap();
        assert_eq!(r.paths.len(), RECENT_MAX);
        assert_eq!(r.paths[0], dir.path().join("s5.ron"));
        assert_eq!(r.paths[1], dir.path().join("s9.ron"));
        assert_eq!(r.paths.iter().filter(|p| p.ends_with("s5.ron")).count(), 1);
        assert_eq!(RecentFiles::load(store).paths, r.paths);
    }

    #[test]
    fn source_rates_are_messages_per_simulated_second_over_at_least_a_simulated_minute() {
        let mut r = SourceRates::default();
        r.update(0.0, [("MQTT a", 0), ("MQTT b", 10)].into_iter());
        r.update(30.0, [("MQTT a", 30), ("MQTT b", 10)].into_iter());
        assert!(r.per_s.is_empty(), "not before a minute");
        r.update(60.0, [("MQTT a", 60), ("MQTT b", 13)].into_iter());
        assert_eq!(r.per_s.get("MQTT a"), Some(&1.0));
        assert_eq!(r.per_s.get("MQTT b"), Some(&0.05));
        // The clock went back (a restore): start over.
        r.update(10.0, [("MQTT a", 5)].into_iter());
        r.update(70.0, [("MQTT a", 65)].into_iter());
        assert_eq!(r.per_s.get("MQTT a"), Some(&1.0));
    }
}
