//! The plots (bottom panel, egui_plot) of the selected pump train: bearing wear with the what-if forecast as
//! median lines and percentile bands next to the baseline, remaining life, cavitation risk now and ahead,
//! insulation health, and the winding temperature measured against the model's prediction with the residual.
//! Alert and alarm thresholds are lines; spans revised by late data are shaded; the time window follows the
//! live clock or stays where the user scrubbed it.

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Ui};
use egui_plot::{FilledArea, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Span, VLine};

use super::desk::ChangeDesk;
use super::health::{self, Thresholds};
use super::history::{History, Trace};
use super::state::Workbench;
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

/// Draws the plot row.
pub(super) fn plots_ui(ui: &mut Ui, world: &World, bench: &mut Workbench, desk: Option<&ChangeDesk>) {
    let now = world.resource::<SimClock>().now_s;
    let policy = &world.resource::<crate::twin::LoadedScenario>().0.maintenance_policy;
    let (pump, motor) = train_of(world, bench.selected.as_deref());
    ui.horizontal(|ui| {
        ui.strong(match (&pump, &motor) {
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
    });
    let (x0, x1) = bench.plots.range(now);
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

    let charts = 6.0;
    let spacing = ui.spacing().item_spacing.x;
    let w = ((ui.available_width() - spacing * (charts - 1.0)) / charts).max(120.0);
    let h = (ui.available_height() - 4.0).max(140.0);
    let ctx = Frame { x0, x1, w, h, revisions: &revisions };
    ui.horizontal(|ui| {
        let p = pump.as_deref().unwrap_or("");
        let m = motor.as_deref().unwrap_or("");
        // Bearing wear, with the what-if's bands when one was asked of this pump, and the recommended service
        // window's end and planned shutdown (the chart reaches out to them).
        let window = world
            .resource::<AssetIndex>()
            .0
            .get(p)
            .and_then(|&e| world.get::<crate::assess::service::ServiceWatch>(e))
            .and_then(|w| w.window.clone());
        let wear_end = forecast.map_or(x1, |f| x1.max(f.forked_at_s + f.answer.horizon_s));
        let wear_end = window.as_ref().map_or(wear_end, |w| wear_end.max(w.window_latest_s * 1.02));
        chart(
            ui,
            "Bearing wear",
            &Frame { x1: wear_end, ..ctx },
            Some(health::policy_thresholds(policy, Index::BearingWear, health::BEARING_WEAR)),
            |pu| {
                if let Some(w) = &window {
                    pu.vline(
                        VLine::new("service by", w.window_latest_s).color(Color32::from_rgb(240, 160, 40)).width(1.5),
                    );
                    if let Some(at) = w.planned_shutdown_s {
                        pu.vline(
                            VLine::new("planned shutdown", at)
                                .color(Color32::from_rgb(120, 180, 255))
                                .style(LineStyle::dashed_loose()),
                        );
                    }
                }
                pu.line(line("wear", &get(p, Trace::Index(Index::BearingWear)), 1.0, Color32::LIGHT_BLUE));
                if let Some(f) = forecast {
                    let xs: Vec<f64> = f.answer.baseline.wear.t_s.iter().map(|t| f.forked_at_s + t).collect();
                    for (name, o, c) in [
                        ("baseline", &f.answer.baseline, Color32::from_rgb(170, 170, 170)),
                        ("change", &f.answer.change, Color32::from_rgb(80, 160, 255)),
                    ] {
                        let b = &o.wear;
                        if b.p10.len() == xs.len() && b.p90.len() == xs.len() && b.p50.len() == xs.len() {
                            pu.add(
                                FilledArea::new(format!("{name} p10–p90"), &xs, &b.p10, &b.p90)
                                    .fill_color(c.gamma_multiply(0.25)),
                            );
                            let pts: Vec<[f64; 2]> = xs.iter().zip(&b.p50).map(|(x, y)| [*x, *y]).collect();
                            pu.line(
                                Line::new(format!("{name} median"), PlotPoints::new(pts))
                                    .color(c)
                                    .style(LineStyle::dashed_loose()),
                            );
                        }
                    }
                }
            },
        );
        chart(
            ui,
            "Remaining life, d",
            &ctx,
            Some({
                let t = health::policy_thresholds(policy, Index::RemainingLifeHours, health::RUL_H);
                Thresholds { alert: t.alert / 24.0, alarm: t.alarm / 24.0, ..t }
            }),
            |pu| {
                // The p10-p90 band (the fatigue life's, or a growing defect's once one is tracked).
                let (lo, hi) = (
                    get(p, Trace::Index(Index::RemainingLifeP10Hours)),
                    get(p, Trace::Index(Index::RemainingLifeP90Hours)),
                );
                if !lo.is_empty() && lo.len() == hi.len() {
                    let xs: Vec<f64> = lo.iter().map(|q| q[0]).collect();
                    let day = |v: &[f64; 2]| (v[1] / 24.0).min(RUL_CAP_D);
                    let (l, h): (Vec<f64>, Vec<f64>) = (lo.iter().map(day).collect(), hi.iter().map(day).collect());
                    pu.add(
                        FilledArea::new("p10–p90", &xs, &l, &h).fill_color(Color32::LIGHT_GREEN.gamma_multiply(0.25)),
                    );
                }
                let pts: Vec<[f64; 2]> = get(p, Trace::Index(Index::RemainingLifeHours))
                    .iter()
                    .map(|q| [q[0], (q[1] / 24.0).min(RUL_CAP_D)])
                    .collect();
                pu.line(Line::new("RUL (capped at 10 y)", PlotPoints::new(pts)).color(Color32::LIGHT_GREEN));
            },
        );
        chart(
            ui,
            "Cavitation risk",
            &ctx,
            Some(health::policy_thresholds(policy, Index::CavitationRisk, health::CAVITATION)),
            |pu| {
                pu.line(line(
                    "now",
                    &get(p, Trace::Index(Index::CavitationRisk)),
                    1.0,
                    Color32::from_rgb(255, 150, 60),
                ));
                pu.line(line(
                    "1 h ahead",
                    &get(p, Trace::Index(Index::CavitationRiskAhead)),
                    1.0,
                    Color32::from_rgb(230, 90, 200),
                ));
            },
        );
        chart(
            ui,
            "Insulation health",
            &ctx,
            Some(health::policy_thresholds(policy, Index::InsulationHealth, health::INSULATION)),
            |pu| {
                pu.line(line(
                    "insulation",
                    &get(m, Trace::Index(Index::InsulationHealth)),
                    1.0,
                    Color32::from_rgb(250, 210, 80),
                ));
            },
        );
        let temp_limits =
            class_c.map(|c| Thresholds { alert: c - health::WINDING_MARGIN_K, alarm: c, higher_is_worse: true });
        let q = Quantity::WindingTemperature;
        chart(ui, "Winding temperature, °C", &ctx, temp_limits, |pu| {
            let measured = get(m, Trace::Measured(q));
            pu.line(line("measured", &measured, 1.0, Color32::from_rgb(255, 120, 90)));
            pu.line(line("predicted", &get(m, Trace::Predicted(q)), 1.0, Color32::from_rgb(120, 200, 255)));
            if measured.is_empty() {
                pu.line(line(
                    "twin",
                    &get(m, Trace::Index(Index::WindingTemperature)),
                    1.0,
                    Color32::from_rgb(120, 200, 255),
                ));
            }
        });
        chart(ui, "Temperature residual, K", &ctx, None, |pu| {
            let pts: Vec<[f64; 2]> = history
                .get(m, Trace::Measured(q))
                .iter()
                .zip(history.get(m, Trace::Predicted(q)))
                .filter(|(a, b)| a[0] == b[0])
                .map(|(a, b)| [a[0], a[1] - b[1]])
                .collect();
            pu.hline(HLine::new("", 0.0).color(Color32::GRAY));
            pu.line(Line::new("measured − predicted", PlotPoints::new(pts)).color(Color32::from_rgb(200, 160, 255)));
        });
    });
}

/// What every chart of the row shares.
#[derive(Clone, Copy)]
struct Frame<'a> {
    x0: f64,
    x1: f64,
    w: f32,
    h: f32,
    revisions: &'a [(f64, f64)],
}

/// A line of recorded points, values scaled by `k`.
fn line(name: &str, pts: &[[f64; 2]], k: f64, color: Color32) -> Line<'static> {
    let pts: Vec<[f64; 2]> = pts.iter().map(|p| [p[0], p[1] * k]).collect();
    Line::new(name.to_owned(), PlotPoints::new(pts)).color(color)
}

/// One chart: title, thresholds, revised spans, the x window in hours of simulated time.
fn chart(
    ui: &mut Ui,
    title: &str,
    f: &Frame<'_>,
    limits: Option<Thresholds>,
    body: impl FnOnce(&mut egui_plot::PlotUi<'_>),
) {
    ui.vertical(|ui| {
        ui.set_width(f.w);
        ui.small(title);
        let (x0, x1) = (f.x0, f.x1);
        Plot::new(title)
            .width(f.w)
            .height(f.h - 18.0)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop).background_alpha(0.5))
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .x_axis_formatter(|m, _| format!("{:.1} h", m.value / 3600.0))
            .show(ui, |pu| {
                pu.set_plot_bounds_x(x0..=x1);
                for &(a, b) in f.revisions {
                    pu.span(Span::new("", a..=b.max(a + 1.0)).fill(Color32::from_rgba_unmultiplied(255, 200, 80, 40)));
                }
                if let Some(t) = limits {
                    pu.hline(
                        HLine::new("", t.alert).color(Color32::from_rgb(240, 170, 40)).style(LineStyle::dashed_dense()),
                    );
                    pu.hline(HLine::new("", t.alarm).color(Color32::from_rgb(230, 60, 50)).width(1.5));
                }
                body(pu);
            });
    });
}
