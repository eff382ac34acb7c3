//! The inspector (right panel): everything the twin knows of the selected asset: graded health, live values with
//! units and quality flags, estimated unmeasured values with their uncertainty, configuration and firmware
//! status, drift alarms, recalibration proposals, and the risks its upstream assets put on it.

use bevy::prelude::*;
use bevy_egui::egui::{self, Ui};

use super::health::{self, Grade};
use super::widgets::{badge, format_sim_time, to_egui_color};
use crate::assess::config::{ConfigStatus, Configuration};
use crate::assess::dependency::UpstreamRisk;
use crate::ingest::Measurements;
use crate::sync::Assimilation;
use crate::twin::pump::PumpReadings;
use crate::twin::tank::TankLevel;
use crate::twin::{Asset, AssetIndex, SimClock};

/// Draws the inspector of `selected` (or a hint when nothing is selected).
pub(super) fn inspector_ui(ui: &mut Ui, world: &World, selected: Option<&str>) {
    let Some(id) = selected else {
        ui.label("Select an asset in the tree or click it in the 3D view.");
        return;
    };
    let Some(e) = world.resource::<AssetIndex>().0.get(id).and_then(|&e| world.get_entity(e).ok()) else {
        ui.label(format!("{id}: no such asset"));
        return;
    };
    let kind = e.get::<Asset>().map_or("?", |a| a.kind);
    let metrics = health::metrics(&e, &world.resource::<crate::twin::LoadedScenario>().0.maintenance_policy);
    let worst = health::worst_score(&metrics);
    ui.horizontal(|ui| {
        ui.heading(id);
        ui.label(kind);
        badge(ui, worst);
    });
    let now = world.resource::<SimClock>().now_s;
    let assimilation = world.get_resource::<Assimilation>();

    section(ui, "Health", |ui| {
        egui::Grid::new("insp_health").num_columns(3).striped(true).show(ui, |ui| {
            for m in &metrics {
                ui.label(m.name);
                ui.monospace(format!("{} {}", fmt(m.value), m.unit));
                let g = Grade::of_score(m.score);
                ui.colored_label(to_egui_color(health::score_color(m.score)), g.word());
                ui.end_row();
            }
        });
    });

    if let Some(d) = e.get::<crate::assess::defect::DefectTracker>().and_then(|t| t.defect.as_ref()) {
        section(ui, "Bearing defect", |ui| {
            ui.label(format!(
                "detected at {} (wear then {:.2}); severity now {:.2} of the failure threshold",
                super::widgets::format_sim_time(d.detected_at_s),
                d.wear_at_detection,
                d.severity
            ));
            ui.label(format!(
                "growth rate {:.4} ± {:.4} /h at the rated point; remaining life p10 {:.0} h · p50 {:.0} h · p90 {:.0} h",
                d.growth_rate_per_h.0, d.growth_rate_per_h.1, d.rul_h.p10, d.rul_h.p50, d.rul_h.p90
            ));
            match &d.prior {
                Some(p) => ui.label(format!(
                    "prior from the pace model {}: {:.4} /h (×/÷ {:.2}){}",
                    p.model,
                    p.median_per_h,
                    p.sigma_ln.exp(),
                    if p.clamped {
                        format!(", clamped from {:.4} /h to the physical bounds", p.predicted_per_h)
                    } else {
                        String::new()
                    }
                )),
                None => {
                    ui.label("prior: the fleet's growth rate (no pace model, or too little running before detection)")
                }
            };
        });
    }
    if e.get::<crate::twin::pump::PumpReadings>().is_some()
        && let Some(m) = world.get_resource::<crate::assess::pace::PaceLayer>().and_then(|l| l.model.as_ref())
    {
        section(ui, "Pace model", |ui| {
            let i = &m.info;
            ui.label(format!("{} · sha256 {}", i.version, m.short_digest()));
            ui.label(format!(
                "held-out error: mean |ln pace error| {:.3} (×/÷ {:.2}); residual σ {:.3}",
                i.heldout_mae_ln,
                i.heldout_mae_ln.exp(),
                i.residual_sd_ln
            ));
            ui.small(format!("trained on {}", i.training_fleet));
        });
    }
    if let Some(w) = e.get::<crate::assess::service::ServiceWatch>().and_then(|s| s.window.as_ref()) {
        section(ui, "Service window", |ui| {
            let fmt_t = super::widgets::format_sim_time;
            ui.colored_label(
                egui::Color32::from_rgb(240, 160, 40),
                format!(
                    "service before {} (P(failure before then) {:.0} %)",
                    fmt_t(w.window_latest_s),
                    100.0 * w.max_failure_probability
                ),
            );
            ui.label(match w.planned_shutdown_s {
                Some(s) => format!("at the planned shutdown at {}", fmt_t(s)),
                None => "no planned shutdown in the window: it needs one of its own".to_owned(),
            });
            ui.small(format!(
                "recommended at {}: {} {:.2} crossed its alert {}",
                fmt_t(w.raised_at_s),
                w.index,
                w.value,
                w.alert
            ));
        });
    }

    section(ui, "Live values", |ui| {
        let telemetry = world.resource::<crate::ingest::Telemetry>();
        let counters = telemetry.signal_counters();
        let signals: Vec<_> = telemetry.ingestor.signals().iter().filter(|s| s.asset == id).collect();
        if signals.is_empty() {
            ui.small("No signals: everything shown is the model's.");
        }
        let measured = e.get::<Measurements>();
        egui::Grid::new("insp_live").num_columns(3).striped(true).show(ui, |ui| {
            for s in signals {
                ui.monospace(&s.id);
                let m = measured.and_then(|m| m.0.get(&s.quantity));
                match m {
                    Some(m) => {
                        ui.monospace(format!("{} {}", fmt(m.value), s.quantity.canonical_unit()));
                    }
                    None => {
                        ui.weak("no sample yet");
                    }
                }
                let mut flags = Vec::new();
                if let Some(m) = m {
                    if m.stale {
                        flags.push("STALE".to_owned());
                    }
                    if m.reordered {
                        flags.push("late".to_owned());
                    }
                    if m.skewed_clock {
                        flags.push("skewed clock".to_owned());
                    }
                    flags.push(format!("{:.0} s old", (now - m.event_s).max(0.0)));
                }
                if let Some(c) = counters.get(&s.id) {
                    for key in ["out_of_range", "late", "too_late", "bad_payload", "duplicate"] {
                        if let Some(n) = c.get(key).filter(|n| **n > 0) {
                            flags.push(format!("{key} ×{n}"));
                        }
                    }
                }
                let suspect = m.is_some_and(|m| m.stale || m.skewed_clock);
                let text = flags.join(" · ");
                if suspect {
                    ui.colored_label(egui::Color32::YELLOW, text)
                } else {
                    ui.small(text)
                };
                ui.end_row();
            }
        });
    });

    section(ui, "Estimated (not measured)", |ui| {
        egui::Grid::new("insp_est").num_columns(2).striped(true).show(ui, |ui| {
            if let Some(r) = e.get::<PumpReadings>() {
                let o = &r.0;
                let life = &o.health.bearing_life;
                let row = |ui: &mut Ui, k: &str, v: String| {
                    ui.label(k);
                    ui.monospace(v);
                    ui.end_row();
                };
                row(ui, "head", format!("{:.1} m", o.head_m));
                row(ui, "efficiency", format!("{:.1} %", o.efficiency * 100.0));
                row(ui, "shaft power", format!("{:.1} kW", o.shaft_power_kw));
                row(ui, "NPSH available / required", format!("{:.2} / {:.2} m", o.npsha_m, o.npshr_m));
                row(ui, "bearing load", format!("{:.2} kN", o.bearing_load_kn));
                // The fatigue (stage 1) life; once a defect grows, its own life (the section above) is the life.
                let defect = e.get::<crate::assess::defect::DefectTracker>().is_some_and(|t| t.defect.is_some());
                if defect {
                    row(ui, "fatigue life (stage 1)", "superseded: a defect grows (Bearing defect)".into());
                } else {
                    row(
                        ui,
                        "fatigue life left (p10–p90)",
                        format!("{}–{} h", fmt(life.rul_percentile_hours(0.1)), fmt(life.rul_percentile_hours(0.9))),
                    );
                    let p = life.prob_failure_within(168.0) * 100.0;
                    row(ui, "fatigue failure probability, 7 d", format!("{p:.3} %"));
                }
            }
            if let (Some(l), Some(a)) = (e.get::<TankLevel>(), assimilation) {
                let sd = a.level_std_m(e.id()).map_or("—".into(), |s| format!("± {:.3}", s));
                ui.label("level estimate");
                ui.monospace(format!("{:.3} {sd} m", l.0.level_m));
                ui.end_row();
            }
            if let Some((version, applied, est)) = assimilation.and_then(|a| a.calibration(e.id())) {
                ui.label("model version");
                ui.monospace(format!("v{version}"));
                ui.end_row();
                for (name, a, x) in [
                    ("head factor", applied.head, est.head),
                    ("unbalance factor", applied.unbalance, est.unbalance),
                    ("frame–ambient factor", applied.frame_ambient, est.frame_ambient),
                ] {
                    ui.label(name);
                    ui.monospace(format!("{a:.3} (est. {:.3} ± {:.3}, n={})", x.value, x.std, x.samples));
                    ui.end_row();
                }
                let conf = assimilation.map_or(1.0, |a| a.confidence(e.id()));
                ui.label("confidence");
                ui.monospace(format!("{:.0} %", conf * 100.0));
                ui.end_row();
            }
        });
    });

    section(ui, "Configuration", |ui| match e.get::<Configuration>().map(Configuration::status) {
        Some(ConfigStatus::Match) => {
            ui.colored_label(egui::Color32::from_rgb(90, 200, 110), "matches the scenario");
        }
        Some(ConfigStatus::Mismatch(why)) => {
            ui.colored_label(egui::Color32::from_rgb(240, 90, 70), format!("MISMATCH: {why}"));
        }
        Some(ConfigStatus::Awaiting) => {
            ui.label("awaiting the asset's identity report");
        }
        Some(ConfigStatus::NotReported) | None => {
            ui.weak("not reported (no identity topic)");
        }
    });

    if let Some(a) = assimilation {
        let alarms: Vec<_> = a.alarms.iter().filter(|x| x.asset == id).collect();
        section(ui, &format!("Drift alarms ({})", alarms.len()), |ui| {
            if alarms.is_empty() {
                ui.weak("none");
            }
            for x in alarms.iter().rev().take(10) {
                let active = x.cleared_s.is_none();
                let head = format!(
                    "{} {:?} {:?} at {}{}",
                    if active { "ACTIVE" } else { "cleared" },
                    x.quantity,
                    x.kind,
                    format_sim_time(x.raised_s),
                    x.cleared_s.map_or(String::new(), |c| format!(" – {}", format_sim_time(c)))
                );
                if active {
                    ui.colored_label(egui::Color32::from_rgb(240, 160, 40), head)
                } else {
                    ui.label(head)
                };
                ui.small(format!("cause: {:?} — {}", x.cause, x.reason));
            }
        });
        let recals: Vec<_> = a.recalibrations.iter().filter(|r| r.asset == id).collect();
        section(ui, &format!("Recalibration ({})", recals.len()), |ui| {
            if recals.is_empty() {
                ui.weak("no proposal");
            }
            for r in recals.iter().rev().take(5) {
                ui.label(format!(
                    "v{} {} at {}",
                    r.version,
                    if r.applied { "applied" } else { "proposed" },
                    format_sim_time(r.t_s)
                ));
                for (name, before, after, sd, n) in &r.changes {
                    ui.small(format!("{name}: {before:.3} → {after:.3} ± {sd:.3} (n={n})"));
                }
            }
        });
    }

    if let Some(u) = e.get::<UpstreamRisk>() {
        section(ui, "Upstream risk", |ui| {
            ui.label(format!("cavitation risk ahead {:.2}", u.cavitation_risk));
            if let Some(r) = u.level_rate_m_per_h {
                ui.small(format!("feed level trend {r:+.2} m/h"));
            }
            if let Some(t) = u.cavitation_in_s {
                ui.small(format!("NPSH margin at threshold in {:.0} min", t / 60.0));
            }
            for c in &u.causes {
                ui.colored_label(egui::Color32::from_rgb(240, 160, 40), c);
            }
            if u.causes.is_empty() {
                ui.weak("no upstream problem");
            }
        });
    }
}

/// A collapsible section, open by default.
fn section(ui: &mut Ui, title: &str, body: impl FnOnce(&mut Ui)) {
    egui::CollapsingHeader::new(egui::RichText::new(title).strong()).id_salt(title).default_open(true).show(ui, body);
}

/// A value with sensible precision.
pub(super) fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 1.0e6 {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::fmt;

    #[test]
    fn values_get_sensible_precision() {
        assert_eq!(fmt(1480.4), "1480");
        assert_eq!(fmt(12.345), "12.35");
        assert_eq!(fmt(0.12345), "0.123");
        assert_eq!(fmt(1.0e7), "1.00e7");
        assert_eq!(fmt(f64::NAN), "—");
    }
}
