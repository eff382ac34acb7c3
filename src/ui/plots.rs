//! The plots (bottom panel, egui_plot) of the selected pump train: bearing wear with the what-if forecast as
//! median lines and percentile bands next to the baseline, remaining life with its p10–p90 band, cavitation risk
//! now and ahead, insulation health, and the winding temperature measured against the model's prediction with the
//! residual. The scenario's alert and alarm thresholds are lines, the recommended service window is shaded, spans
//! revised by late data are shaded, and what happened (faults, alarms, recalibrations, set-point changes,
//! maintenance) is marked on every chart with its text on hover.
//!
//! The charts share one time axis (the workbench's [`PlotWindow`]): zooming (wheel) or panning (drag) one moves
//! them all, and one crosshair (the pointer's, or one pinned by a click) runs through every chart with a read-out
//! of each series at that time. A double-click maximises a chart. What the charts show is built first as plain
//! data ([`plot_set`]), so the read-out and the CSV export are window-free.

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Ui};
use egui_plot::{FilledArea, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Span, VLine};

use super::desk::ChangeDesk;
use super::events::{self, PlotEvent};
use super::health::{self, Thresholds};
use super::history::{History, Trace};
use super::panel::Action;
use super::state::{PlotView, PlotWindow, Workbench};
use super::stored::{StoredHistory, trace_points};
use super::widgets::format_sim_time;
use crate::scenario::Index;
use crate::sync::Assimilation;
use crate::twin::motor::{DrivenPump, MotorNameplate};
use crate::twin::pump::Drive;
use crate::twin::{Asset, AssetIndex, SimClock};
use crate::units::Quantity;

/// Days shown at most on the remaining-life plot (longer lives are drawn at this cap).
const RUL_CAP_D: f64 = 3650.0;
/// Window widths offered, s (0: the whole run).
const WIDTHS: [(f64, &str); 5] =
    [(3600.0, "1 h"), (6.0 * 3600.0, "6 h"), (86_400.0, "24 h"), (7.0 * 86_400.0, "7 d"), (0.0, "all")];
/// An event marker answers the pointer this close, logical pixels.
const EVENT_HOVER_PX: f32 = 5.0;
/// One notch of the wheel (egui's points of scroll) narrows or widens the window by this factor.
const ZOOM_PER_POINT: f64 = 1.0025;
/// The smallest value a logarithmic axis draws (a remaining life of a quarter hour, in days).
const LOG_FLOOR: f64 = 0.01;
/// The crosshair's colour.
const CURSOR: Color32 = Color32::from_rgb(230, 230, 230);
/// The service window's shade.
const SERVICE_SHADE: Color32 = Color32::from_rgba_premultiplied(24, 16, 4, 24);

/// The pump and motor the plots show for a selection: the selected train, else the first pump.
pub(super) fn train_of(world: &World, selected: Option<&str>) -> (Option<String>, Option<String>) {
    let index = world.resource::<AssetIndex>();
    let id_of = |e: Entity| world.get::<Asset>(e).map(|a| a.id.clone());
    let pick = |e: Entity| -> Option<(Option<String>, Option<String>)> {
        let asset = world.get::<Asset>(e)?;
        match asset.kind {
            "CentrifugalPump" => Some((Some(asset.id.clone()), world.get::<Drive>(e).and_then(|d| id_of(d.0)))),
            "Motor" => Some((world.get::<DrivenPump>(e).and_then(|p| id_of(p.0)), Some(asset.id.clone()))),
            _ => None,
        }
    };
    if let Some(found) = selected.and_then(|s| index.0.get(s)).and_then(|&e| pick(e)) {
        return found;
    }
    index
        .0
        .values()
        .find(|&&e| world.get::<Asset>(e).is_some_and(|a| a.kind == "CentrifugalPump"))
        .and_then(|&e| pick(e))
        .unwrap_or((None, None))
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Color32,
    pub dashed: bool,
    /// `[t_s, value]`, oldest first, in the chart's unit.
    pub points: Vec<[f64; 2]>,
}

/// A shaded band between two curves sampled at the same times.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub name: String,
    /// Its edges' colour (the fill is a quarter of it).
    pub color: Color32,
    /// Times, s.
    pub xs: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

/// A vertical line of a chart's own (the service window's end, a planned shutdown).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub name: &'static str,
    /// Time, s.
    pub t_s: f64,
    pub color: Color32,
    pub dashed: bool,
}

/// One chart: its data, thresholds and own markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: &'static str,
    /// The chart's right end, s: the shared window's end, or further out to a forecast or a service window.
    pub x1: f64,
    pub limits: Option<Thresholds>,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    pub markers: Vec<Marker>,
    /// The recommended service window (recommended at, closes at), s.
    pub service: Option<(f64, f64)>,
    /// Draw a line at 0.
    pub zero_line: bool,
    /// Draw the values on a logarithmic axis (a remaining life spans days to years).
    pub log_y: bool,
    /// A line beside the title (where a service window closes beyond the chart).
    pub note: Option<String>,
}

/// Everything the plot row shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSet {
    pub pump: Option<String>,
    pub motor: Option<String>,
    /// The shared time window, s.
    pub x0: f64,
    pub x1: f64,
    pub charts: Vec<Chart>,
    /// Events of the train between `x0` and the furthest chart end, oldest first.
    pub events: Vec<PlotEvent>,
    /// Spans revised by late data, s.
    pub revisions: Vec<(f64, f64)>,
}

/// What the plots of the selected train show over `window` now: window-free.
pub fn plot_set(world: &World, window: &PlotWindow, selected: Option<&str>, desk: Option<&ChangeDesk>) -> PlotSet {
    let now = world.resource::<SimClock>().now_s;
    let policy = &world.resource::<crate::twin::LoadedScenario>().0.maintenance_policy;
    let (pump, motor) = train_of(world, selected);
    let (x0, x1) = window.range(now);
    let history = world.resource::<History>();
    // With a store, what the window shows comes from it (at full resolution when it fits), newer points from memory.
    let stored = world.get_resource::<StoredHistory>();
    let get = |asset: &str, trace: Trace| trace_points(history, stored, asset, trace, x0, x1);
    let revisions: Vec<(f64, f64)> = world
        .get_resource::<Assimilation>()
        .map(|a| a.revisions.iter().filter(|r| r.to_s >= x0 && r.from_s <= x1).map(|r| (r.from_s, r.to_s)).collect())
        .unwrap_or_default();
    let forecast = desk.and_then(|d| d.session.whatif()).filter(|w| Some(&w.pump) == pump.as_ref());
    let class_c = motor
        .as_ref()
        .and_then(|m| world.resource::<AssetIndex>().0.get(m).copied())
        .and_then(|e| world.get::<MotorNameplate>(e))
        .map(|n| n.0.insulation_class.rated_temp_c());
    let p = pump.as_deref().unwrap_or("");
    let m = motor.as_deref().unwrap_or("");
    let series = |name: &str, pts: Vec<[f64; 2]>, color: Color32| Series {
        name: name.to_owned(),
        color,
        dashed: false,
        points: pts,
    };
    let chart = |title, limits, series| Chart {
        title,
        x1,
        limits,
        series,
        bands: vec![],
        markers: vec![],
        service: None,
        zero_line: false,
        log_y: false,
        note: None,
    };

    // The recommended service window: the wear and remaining-life charts reach out to it.
    let window_rec = world
        .resource::<AssetIndex>()
        .0
        .get(p)
        .and_then(|&e| world.get::<crate::assess::service::ServiceWatch>(e))
        .and_then(|w| w.window.clone());
    let mut service_markers = Vec::new();
    if let Some(w) = &window_rec {
        service_markers.push(Marker {
            name: "service by",
            t_s: w.window_latest_s,
            color: events::EventKind::ServiceWindow.color(),
            dashed: false,
        });
        if let Some(at) = w.planned_shutdown_s {
            service_markers.push(Marker {
                name: "planned shutdown",
                t_s: at,
                color: Color32::from_rgb(120, 180, 255),
                dashed: true,
            });
        }
    }
    // ... up to one window's width past now; a window closing later is named in the chart's note.
    let reach = window_rec.as_ref().map_or(x1, |w| x1.max((w.window_latest_s * 1.02).min(x1 + (x1 - x0))));
    let note = window_rec
        .as_ref()
        .filter(|w| w.window_latest_s > reach)
        .map(|w| format!("service by {}, beyond the chart", format_sim_time(w.window_latest_s)));
    let service = window_rec.as_ref().map(|w| (w.raised_at_s, w.window_latest_s));

    // Bearing wear, with the what-if's bands when one was asked of this pump.
    let mut wear = chart(
        "Bearing wear",
        Some(health::policy_thresholds(policy, Index::BearingWear, health::BEARING_WEAR)),
        vec![series("wear", get(p, Trace::Index(Index::BearingWear)), Color32::LIGHT_BLUE)],
    );
    wear.x1 = forecast.map_or(reach, |f| reach.max(f.forked_at_s + f.answer.horizon_s));
    wear.markers.clone_from(&service_markers);
    wear.service = service;
    wear.note.clone_from(&note);
    if let Some(f) = forecast {
        let xs: Vec<f64> = f.answer.baseline.wear.t_s.iter().map(|t| f.forked_at_s + t).collect();
        for (name, o, c) in [
            ("baseline", &f.answer.baseline, Color32::from_rgb(170, 170, 170)),
            ("change", &f.answer.change, Color32::from_rgb(80, 160, 255)),
        ] {
            let b = &o.wear;
            if b.p10.len() == xs.len() && b.p90.len() == xs.len() && b.p50.len() == xs.len() {
                wear.bands.push(Band {
                    name: format!("{name} p10–p90"),
                    color: c,
                    xs: xs.clone(),
                    lo: b.p10.clone(),
                    hi: b.p90.clone(),
                });
                wear.series.push(Series {
                    name: format!("{name} median"),
                    color: c,
                    dashed: true,
                    points: xs.iter().zip(&b.p50).map(|(x, y)| [*x, *y]).collect(),
                });
            }
        }
    }

    // Remaining life with its p10–p90 band (the fatigue life's, or a growing defect's once one is tracked), in days.
    let day = |v: &[f64; 2]| [v[0], (v[1] / 24.0).min(RUL_CAP_D)];
    let mut rul = chart(
        "Remaining life, d",
        Some({
            let t = health::policy_thresholds(policy, Index::RemainingLifeHours, health::RUL_H);
            Thresholds { alert: t.alert / 24.0, alarm: t.alarm / 24.0, ..t }
        }),
        vec![series(
            "RUL p50",
            get(p, Trace::Index(Index::RemainingLifeHours)).iter().map(day).collect(),
            Color32::LIGHT_GREEN,
        )],
    );
    let (lo, hi) =
        (get(p, Trace::Index(Index::RemainingLifeP10Hours)), get(p, Trace::Index(Index::RemainingLifeP90Hours)));
    if !lo.is_empty() && lo.len() == hi.len() {
        rul.bands.push(Band {
            name: "p10–p90".into(),
            color: Color32::LIGHT_GREEN,
            xs: lo.iter().map(|q| q[0]).collect(),
            lo: lo.iter().map(|v| day(v)[1]).collect(),
            hi: hi.iter().map(|v| day(v)[1]).collect(),
        });
    }
    rul.x1 = reach;
    rul.log_y = true;
    rul.note = note;
    rul.markers = service_markers;
    rul.service = service;

    let cavitation = chart(
        "Cavitation risk",
        Some(health::policy_thresholds(policy, Index::CavitationRisk, health::CAVITATION)),
        vec![
            series("now", get(p, Trace::Index(Index::CavitationRisk)), Color32::from_rgb(255, 150, 60)),
            series("1 h ahead", get(p, Trace::Index(Index::CavitationRiskAhead)), Color32::from_rgb(230, 90, 200)),
        ],
    );
    let insulation = chart(
        "Insulation health",
        Some(health::policy_thresholds(policy, Index::InsulationHealth, health::INSULATION)),
        vec![series("insulation", get(m, Trace::Index(Index::InsulationHealth)), Color32::from_rgb(250, 210, 80))],
    );
    let q = Quantity::WindingTemperature;
    let measured = get(m, Trace::Measured(q));
    let predicted = get(m, Trace::Predicted(q));
    let residual: Vec<[f64; 2]> =
        measured.iter().zip(&predicted).filter(|(a, b)| a[0] == b[0]).map(|(a, b)| [a[0], a[1] - b[1]]).collect();
    let mut temps = vec![series("measured", measured.clone(), Color32::from_rgb(255, 120, 90))];
    if measured.is_empty() {
        temps.push(series("twin", get(m, Trace::Index(Index::WindingTemperature)), Color32::from_rgb(120, 200, 255)));
    } else {
        temps.push(series("predicted", predicted, Color32::from_rgb(120, 200, 255)));
    }
    let temp_limits =
        class_c.map(|c| Thresholds { alert: c - health::WINDING_MARGIN_K, alarm: c, higher_is_worse: true });
    let temperature = chart("Winding temperature, °C", temp_limits, temps);
    let mut residual_chart = chart(
        "Temperature residual, K",
        None,
        vec![series("measured − predicted", residual, Color32::from_rgb(200, 160, 255))],
    );
    residual_chart.zero_line = true;

    let charts = vec![wear, rul, cavitation, insulation, temperature, residual_chart];
    let end = charts.iter().map(|c| c.x1).fold(x1, f64::max);
    let assets: Vec<&str> = [p, m].into_iter().filter(|a| !a.is_empty()).collect();
    let events = events::plot_events(world, &assets, x0, end);
    PlotSet { pump, motor, x0, x1, charts, events, revisions }
}

/// The value of a series at `t_s`, interpolated between its neighbours (none outside its span).
pub fn value_at(points: &[[f64; 2]], t_s: f64) -> Option<f64> {
    let i = points.partition_point(|p| p[0] < t_s);
    match (i.checked_sub(1).map(|j| points[j]), points.get(i)) {
        (_, Some(b)) if b[0] == t_s => Some(b[1]),
        (Some(a), Some(b)) => Some(a[1] + (b[1] - a[1]) * (t_s - a[0]) / (b[0] - a[0])),
        _ => None,
    }
}

/// One entry of the crosshair's read-out.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub chart: &'static str,
    pub series: String,
    pub value: f64,
    pub color: Color32,
}

/// Every series' value at `t_s` (bands as their low and high edges), chart by chart.
pub fn readout(set: &PlotSet, t_s: f64) -> Vec<Reading> {
    let mut out = Vec::new();
    for c in &set.charts {
        for s in &c.series {
            if let Some(value) = value_at(&s.points, t_s) {
                out.push(Reading { chart: c.title, series: s.name.clone(), value, color: s.color });
            }
        }
        for b in &c.bands {
            let edge = |ys: &[f64]| {
                let pts: Vec<[f64; 2]> = b.xs.iter().zip(ys).map(|(x, y)| [*x, *y]).collect();
                value_at(&pts, t_s)
            };
            if let (Some(lo), Some(hi)) = (edge(&b.lo), edge(&b.hi)) {
                out.push(Reading { chart: c.title, series: format!("{} low", b.name), value: lo, color: b.color });
                out.push(Reading { chart: c.title, series: format!("{} high", b.name), value: hi, color: b.color });
            }
        }
    }
    out
}

/// The charts' data as CSV: one row per point shown (chart, series, time in s and as the clock shows it, value),
/// bands as their low and high edges, and the events with their text.
pub fn to_csv(set: &PlotSet) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["chart", "series", "time_s", "time", "value", "note"])?;
    let mut row = |chart: &str, series: &str, t: f64, value: String, note: &str| {
        w.write_record([chart, series, &format!("{t}"), &format_sim_time(t), &value, note])
    };
    for c in &set.charts {
        let shown = |t: f64| t >= set.x0 && t <= c.x1;
        for s in &c.series {
            for p in s.points.iter().filter(|p| shown(p[0])) {
                row(c.title, &s.name, p[0], format!("{}", p[1]), "")?;
            }
        }
        for b in &c.bands {
            for (i, &t) in b.xs.iter().enumerate().filter(|(_, t)| shown(**t)) {
                row(c.title, &format!("{} low", b.name), t, format!("{}", b.lo[i]), "")?;
                row(c.title, &format!("{} high", b.name), t, format!("{}", b.hi[i]), "")?;
            }
        }
    }
    for e in &set.events {
        row("events", e.kind.name(), e.t_s, String::new(), &e.text)?;
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Draws the plot row.
pub(super) fn plots_ui(
    ui: &mut Ui,
    world: &World,
    bench: &mut Workbench,
    desk: Option<&ChangeDesk>,
    actions: &mut Vec<Action>,
) {
    let now = world.resource::<SimClock>().now_s;
    bench.view.panel = Some(ui.max_rect());
    let set = plot_set(world, &bench.plots, bench.selected.as_deref(), desk);
    ui.horizontal(|ui| {
        ui.strong(match (&set.pump, &set.motor) {
            (Some(p), Some(m)) => format!("Plots: {p} / {m}"),
            (Some(p), None) => format!("Plots: {p}"),
            _ => "Plots: no pump train".into(),
        });
        ui.separator();
        ui.checkbox(&mut bench.plots.follow_live, "Follow live");
        for (w, name) in WIDTHS {
            let width = if w == 0.0 { now.max(3600.0) } else { w };
            if ui.selectable_label((bench.plots.width_s - width).abs() < 1.0, name).clicked() {
                bench.plots.width_s = width;
            }
        }
        if !bench.plots.follow_live {
            let mut end = bench.plots.end_s.min(now);
            ui.add(
                egui::Slider::new(&mut end, 0.0..=now.max(1.0))
                    .text("window end")
                    .custom_formatter(|v, _| format_sim_time(v)),
            );
            bench.plots.scrub_to(end);
        } else {
            bench.plots.end_s = now;
        }
        ui.separator();
        if ui.button("CSV").on_hover_text("Save the visible charts' data as CSV").clicked() {
            actions.push(Action::ExportCsv);
        }
        if ui.button("PNG").on_hover_text("Save the plot panel as a PNG image").clicked() {
            actions.push(Action::ExportPng);
        }
    });
    readout_ui(ui, &set, &bench.view);

    let maximised = bench.view.maximised.and_then(|t| set.charts.iter().position(|c| c.title == t));
    let n = if maximised.is_some() { 1.0 } else { set.charts.len() as f32 };
    let spacing = ui.spacing().item_spacing.x;
    let w = ((ui.available_width() - spacing * (n - 1.0)) / n).max(120.0);
    let h = (ui.available_height() - 4.0).max(100.0);
    let mut hover = None;
    bench.view.shown.clear();
    ui.horizontal(|ui| {
        for (i, c) in set.charts.iter().enumerate() {
            if maximised.is_some_and(|m| m != i) {
                continue;
            }
            let out = chart_ui(ui, c, &set, &bench.view, w, h);
            bench.view.shown.push((c.title, out.rect, out.x0, out.x1));
            if let Some(t) = out.hover_s {
                hover = Some(t);
            }
            if out.clicked {
                // A click pins the crosshair where it is, a click on a pinned one frees it.
                bench.view.cursor_s = match (bench.view.cursor_s, out.hover_s) {
                    (Some(_), _) => None,
                    (None, t) => t,
                };
            }
            if out.double_clicked {
                bench.view.maximised = if bench.view.maximised == Some(c.title) { None } else { Some(c.title) };
                bench.view.cursor_s = None;
            }
            if out.zoom != 1.0 {
                bench.plots.width_s = (bench.plots.width_s * out.zoom).max(super::state::MIN_SPAN_S);
            }
            if out.pan_s != 0.0 {
                let end = set.x1 + out.pan_s;
                bench.plots.scrub_to(end.min(now));
            }
        }
    });
    bench.view.hover_s = hover;
    // The panel keeps the height it was given (or dragged to): what it shows fills it.
    ui.allocate_space(egui::vec2(0.0, ui.available_height().max(0.0)));
}

/// The crosshair's time and every series' value there, in the series' colours; the event there, if any.
fn readout_ui(ui: &mut Ui, set: &PlotSet, view: &PlotView) {
    ui.horizontal_wrapped(|ui| {
        let Some(t) = view.cursor() else {
            ui.weak("Hover a chart for values across all charts; click to pin the crosshair, double-click to maximise");
            return;
        };
        ui.monospace(format!("{}{}", if view.hover_s.is_some() { "at " } else { "📌 " }, format_sim_time(t)));
        let mut chart = "";
        for r in readout(set, t) {
            if r.chart != chart {
                ui.separator();
                ui.small(r.chart);
                chart = r.chart;
            }
            ui.label(egui::RichText::new(format!("{} {}", r.series, fmt_value(r.value))).small().color(r.color));
        }
        let tol = (set.x1 - set.x0) / 50.0;
        if let Some(e) = events::nearest(&set.events, t, tol) {
            ui.separator();
            ui.label(egui::RichText::new(format!("⚑ {}", e.text)).small().color(e.kind.color()));
        }
    });
}

/// A value with as many digits as its size needs.
fn fmt_value(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

/// What one chart saw of the pointer this frame.
struct ChartOut {
    /// The data area, logical pixels.
    rect: egui::Rect,
    /// The x range drawn, s.
    x0: f64,
    x1: f64,
    hover_s: Option<f64>,
    clicked: bool,
    double_clicked: bool,
    /// Factor to apply to the window's width (wheel over the chart).
    zoom: f64,
    /// Seconds to move the window's end by (dragged).
    pan_s: f64,
}

/// One chart: title, thresholds, service window, revised spans, events, the crosshair, its own series.
fn chart_ui(ui: &mut Ui, c: &Chart, set: &PlotSet, view: &PlotView, w: f32, h: f32) -> ChartOut {
    ui.vertical(|ui| {
        ui.set_width(w);
        let top = ui.cursor().top();
        ui.horizontal(|ui| {
            ui.set_max_width(w);
            ui.small(c.title);
            if let Some(n) = &c.note {
                let note = egui::RichText::new(n).small().color(events::EventKind::ServiceWindow.color());
                ui.add(egui::Label::new(note).truncate()).on_hover_text(n);
            }
        });
        let (x0, x1) = (set.x0, c.x1);
        let cursor = view.cursor();
        // On a logarithmic axis the chart draws log10 of each value and labels its ticks with the values.
        let y = |v: f64| if c.log_y { v.max(LOG_FLOOR).log10() } else { v };
        let mut plot = Plot::new(c.title)
            .width(w)
            .height((h - (ui.cursor().top() - top)).max(60.0))
            .legend(
                Legend::default()
                    .position(egui_plot::Corner::LeftTop)
                    .background_alpha(0.5)
                    .text_style(egui::TextStyle::Small),
            )
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_double_click_reset(false)
            .show_x(false)
            .show_y(false)
            .x_axis_formatter(|m, _| format!("{:.1} h", m.value / 3600.0));
        if c.log_y {
            plot = plot.y_axis_formatter(|m, _| {
                let v = 10f64.powf(m.value);
                if v >= 1.0 { format!("{v:.0}") } else { format!("{v:.2}") }
            });
        }
        let resp = plot.show(ui, |pu| {
            pu.set_plot_bounds_x(x0..=x1);
            if let Some((a, b)) = c.service {
                pu.span(Span::new("", a..=b.max(a + 1.0)).fill(SERVICE_SHADE));
            }
            for &(a, b) in &set.revisions {
                pu.span(Span::new("", a..=b.max(a + 1.0)).fill(Color32::from_rgba_unmultiplied(255, 200, 80, 40)));
            }
            if let Some(t) = c.limits {
                pu.hline(
                    HLine::new("", y(t.alert)).color(Color32::from_rgb(240, 170, 40)).style(LineStyle::dashed_dense()),
                );
                pu.hline(HLine::new("", y(t.alarm)).color(Color32::from_rgb(230, 60, 50)).width(1.5));
            }
            if c.zero_line {
                pu.hline(HLine::new("", 0.0).color(Color32::GRAY));
            }
            for e in &set.events {
                pu.vline(VLine::new("", e.t_s).color(e.kind.color()).width(1.5).style(LineStyle::dotted_dense()));
            }
            for m in &c.markers {
                let v = VLine::new(m.name, m.t_s).color(m.color).width(1.5);
                pu.vline(if m.dashed { v.style(LineStyle::dashed_loose()) } else { v });
            }
            for b in &c.bands {
                let lo: Vec<f64> = b.lo.iter().map(|v| y(*v)).collect();
                let hi: Vec<f64> = b.hi.iter().map(|v| y(*v)).collect();
                pu.add(FilledArea::new(b.name.clone(), &b.xs, &lo, &hi).fill_color(b.color.gamma_multiply(0.25)));
            }
            for s in &c.series {
                let pts: Vec<[f64; 2]> = s.points.iter().map(|p| [p[0], y(p[1])]).collect();
                let line = Line::new(s.name.clone(), PlotPoints::new(pts)).color(s.color);
                pu.line(if s.dashed { line.style(LineStyle::dashed_loose()) } else { line });
            }
            if let Some(t) = cursor {
                pu.vline(VLine::new("", t).color(CURSOR).width(1.5));
            }
        });
        let r = &resp.response;
        // Read with the bounds this frame drew (the closure's pointer coordinate is the previous frame's).
        let hover_s = r.hover_pos().map(|p| resp.transform.value_from_position(p).x);
        let per_px = (x1 - x0) / f64::from(resp.transform.frame().width().max(1.0));
        let mut out = ChartOut {
            rect: *resp.transform.frame(),
            x0: resp.transform.bounds().min()[0],
            x1: resp.transform.bounds().max()[0],
            hover_s,
            clicked: r.clicked(),
            double_clicked: r.double_clicked(),
            zoom: 1.0,
            pan_s: 0.0,
        };
        if r.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                out.zoom = ZOOM_PER_POINT.powf(-f64::from(scroll));
            }
        }
        if r.dragged() {
            out.pan_s = -f64::from(r.drag_delta().x) * per_px;
        }
        // An event marker near the pointer says what happened.
        if let Some(t) = hover_s
            && let Some(e) = events::nearest(&set.events, t, f64::from(EVENT_HOVER_PX) * per_px)
        {
            r.clone().on_hover_text(format!("{} · {}: {}", format_sim_time(e.t_s), e.kind.name(), e.text));
        }
        out
    })
    .inner
}

/// Where an export goes: the working directory, named after the train and the simulated time.
fn export_path(world: &World, ext: &str) -> std::path::PathBuf {
    let bench = world.resource::<Workbench>();
    let (pump, _) = train_of(world, bench.selected.as_deref());
    let t = world.resource::<SimClock>().now_s;
    let name = format!("twin-plots-{}-{}.{ext}", pump.as_deref().unwrap_or("none"), format_sim_time(t))
        .replace([' ', ':'], "-");
    bench.export_dir.join(name)
}

/// Saves the visible charts' data as CSV; the top bar's status line says where, or why not.
pub(super) fn export_csv(world: &mut World) {
    let set = {
        let bench = world.resource::<Workbench>();
        plot_set(world, &bench.plots, bench.selected.as_deref(), world.get_resource::<ChangeDesk>())
    };
    let path = export_path(world, "csv");
    let saved = to_csv(&set)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display())));
    world.resource_mut::<Workbench>().status = match saved {
        Ok(()) => format!("plot data saved to {}", path.display()),
        Err(e) => format!("plot data not saved: {e}"),
    };
}

/// Saves the plot panel as a PNG: the window's next frame, cropped to the panel.
pub(super) fn export_png(world: &mut World) {
    use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
    let Some(panel) = world.resource::<Workbench>().view.panel else { return };
    let scale = world
        .query_filtered::<&Window, With<bevy::window::PrimaryWindow>>()
        .iter(world)
        .next()
        .map(Window::scale_factor);
    let Some(scale) = scale else {
        world.resource_mut::<Workbench>().status = "no window to take the plots' picture from".into();
        return;
    };
    let path = export_path(world, "png");
    world.resource_mut::<Workbench>().status = format!("saving the plots to {} …", path.display());
    world.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut bench: ResMut<Workbench>| {
            let saved = captured.image.clone().try_into_dynamic().map_err(|e| e.to_string()).and_then(|img| {
                let (x, y) = ((panel.min.x * scale).max(0.0) as u32, (panel.min.y * scale).max(0.0) as u32);
                let (w, h) = ((panel.width() * scale) as u32, (panel.height() * scale) as u32);
                let (w, h) = (w.min(img.width().saturating_sub(x)), h.min(img.height().saturating_sub(y)));
                img.crop_imm(x, y, w, h).to_rgb8().save(&path).map_err(|e| e.to_string())
            });
            bench.status = match saved {
                Ok(()) => format!("plots saved to {}", path.display()),
                Err(e) => format!("plots not saved to {}: {e}", path.display()),
            };
        },
    );
}
