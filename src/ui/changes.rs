//! The change panel (right panel, "Change" and "Audit log" pages): draft set-point changes, each validation
//! layer's verdict with its reason, the what-if, approvals, the push with its read-back or rollback, and the
//! audit log with its hash-chain status. The logic is the [`ChangeDesk`]'s; this only draws it.

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Ui};

use super::desk::ChangeDesk;
use super::panel::Action;
use super::plots::train_of;
use crate::change::approval::Policy;
use crate::change::draft::DraftState;
use crate::sync::Setpoints;
use crate::twin::LoadedScenario;

/// Draws the change page.
pub(super) fn change_ui(
    ui: &mut Ui,
    world: &World,
    desk: &mut ChangeDesk,
    selected: Option<&str>,
    actions: &mut Vec<Action>,
) {
    let scenario = &world.resource::<LoadedScenario>().0;
    let setpoints = world.resource::<Setpoints>();
    if scenario.setpoints.is_empty() {
        ui.label("This scenario has no set-points.");
        return;
    }
    if desk.setpoint.is_empty() {
        desk.setpoint = scenario.setpoints[0].id.clone();
    }
    ui.strong("Draft a change");
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("draft_setpoint").selected_text(&desk.setpoint).show_ui(ui, |ui| {
            for sp in &scenario.setpoints {
                ui.selectable_value(&mut desk.setpoint, sp.id.clone(), &sp.id);
            }
        });
        let unit = scenario.setpoints.iter().find(|s| s.id == desk.setpoint).map_or("", |s| s.unit.as_str());
        ui.add(egui::TextEdit::singleline(&mut desk.value_text).desired_width(70.0).hint_text("value"));
        ui.label(unit);
        if ui.button("Draft").clicked() {
            actions.push(Action::AddDraft);
        }
    });
    if let Some(sp) = scenario.setpoints.iter().find(|s| s.id == desk.setpoint) {
        let live = setpoints.live.get(&sp.id).map(|l| l.value);
        let conv = sp.target.quantity().converter(&sp.unit);
        let live = live.zip(conv).map(|(v, c)| c.from_canonical(v));
        ui.small(format!(
            "live {} {} · envelope [{}, {}] · max rate {}/s",
            live.map_or("?".into(), |v| format!("{v:.1}")),
            sp.unit,
            sp.min,
            sp.max,
            sp.max_rate_per_s
        ));
    }
    if let Err(e) = (!desk.value_text.trim().is_empty()).then(|| desk.parse_value(scenario)).transpose() {
        ui.colored_label(Color32::from_rgb(240, 110, 90), e);
    }
    ui.separator();

    ui.strong(format!("Drafts ({})", desk.session.drafts().len()));
    for d in desk.session.drafts() {
        let id = d.id;
        let sp = scenario.setpoints.iter().find(|s| s.id == d.setpoint);
        let conv = sp.and_then(|s| s.target.quantity().converter(&s.unit));
        let show = |v: f64| conv.map_or(v, |c| c.from_canonical(v));
        ui.horizontal(|ui| {
            ui.monospace(format!(
                "#{id} {}: {:.1} → {:.1} {}",
                d.setpoint,
                show(d.based_on_value),
                show(d.value),
                sp.map_or("", |s| s.unit.as_str())
            ));
            if let DraftState::Conflicted { live_value, .. } = d.state(setpoints) {
                ui.colored_label(Color32::YELLOW, format!("CONFLICT: live is now {:.1}", show(live_value)));
                if ui.small_button("rebase").on_hover_text("keep this value, based on the live one").clicked() {
                    actions.push(Action::Rebase(id));
                }
            }
            if ui.small_button("✖").on_hover_text("discard").clicked() {
                actions.push(Action::Discard(id));
            }
        });
        match desk.session.validation(id) {
            None if desk.session.validating() => {
                ui.weak("   validating…");
            }
            None => {
                ui.weak("   not validated");
            }
            Some(v) => {
                egui::Grid::new(("verdicts", id)).num_columns(3).striped(true).show(ui, |ui| {
                    for verdict in &v.verdicts {
                        let (mark, c) = if verdict.passed {
                            ("✔", Color32::from_rgb(90, 200, 110))
                        } else {
                            ("✖", Color32::from_rgb(240, 80, 70))
                        };
                        ui.colored_label(c, mark);
                        ui.label(format!("{:?}", verdict.layer));
                        ui.add(egui::Label::new(egui::RichText::new(&verdict.reason).small()).wrap());
                        ui.end_row();
                    }
                });
                if v.ramp.len() > 1 {
                    ui.small(format!("ramp: {} writes", v.ramp.len()));
                }
            }
        }
    }
    ui.horizontal(|ui| {
        let can = !desk.session.drafts().is_empty() && !desk.session.validating();
        if ui.add_enabled(can, egui::Button::new("Validate")).clicked() {
            actions.push(Action::Validate);
        }
        let (pump, _) = train_of(world, selected);
        let label = if desk.session.asking() { "What-if running…" } else { "Run what-if" };
        if let Some(p) = pump
            && ui
                .add_enabled(!desk.session.asking(), egui::Button::new(label))
                .on_hover_text(format!("on {p}"))
                .clicked()
        {
            actions.push(Action::WhatIf(p));
        }
    });
    if let Some(w) = desk.session.whatif() {
        let (b, c) = (&w.answer.baseline, &w.answer.change);
        egui::Grid::new("whatif").num_columns(3).striped(true).show(ui, |ui| {
            ui.label(format!("what-if {}", w.pump));
            ui.strong("baseline");
            ui.strong("change");
            ui.end_row();
            ui.label("failure probability");
            ui.monospace(format!("{:.2} %", b.p_failure * 100.0));
            ui.monospace(format!("{:.2} %", c.p_failure * 100.0));
            ui.end_row();
            ui.label("RUL p50, h");
            ui.monospace(format!("{:.0}", b.rul_h.p50));
            ui.monospace(format!("{:.0}", c.rul_h.p50));
            ui.end_row();
            ui.label("P(leave limits)");
            ui.monospace(format!("{:.2} %", b.p_leave_limits * 100.0));
            ui.monospace(format!("{:.2} %", c.p_leave_limits * 100.0));
            ui.end_row();
            ui.label("throughput, m³");
            ui.monospace(format!("{:.0}", b.throughput_m3));
            ui.monospace(format!("{:.0}", c.throughput_m3));
            ui.end_row();
        });
        ui.small("The wear plot shows both as median lines with p10–p90 bands.");
    }
    ui.separator();

    ui.strong(format!("Approvals ({} of {})", desk.session.approvals().len(), scenario.change.approvals));
    let ready = desk.session.all_passed();
    match desk.session.policy(scenario) {
        Policy::Signed(trust) => {
            ui.small(format!(
                "signed approvals: keys with the engineer role in {}; an admin's key enables writes",
                trust.path().display()
            ));
            ui.horizontal(|ui| {
                ui.label("key");
                ui.add(egui::TextEdit::singleline(&mut desk.key_path).hint_text("alice.key").desired_width(150.0));
            });
            ui.horizontal(|ui| {
                ui.label("passphrase");
                let field = egui::TextEdit::singleline(&mut desk.passphrase).password(true).desired_width(110.0);
                let entered = ui.add(field).lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.add_enabled(ready, egui::Button::new("Sign")).clicked() || (entered && ready) {
                    actions.push(Action::Sign);
                }
            });
            ui.horizontal(|ui| {
                ui.label("signature file");
                ui.add(
                    egui::TextEdit::singleline(&mut desk.signature_path)
                        .hint_text("CHANGE.bob.sig")
                        .desired_width(120.0),
                );
                if ui.add_enabled(ready, egui::Button::new("Add")).clicked() {
                    actions.push(Action::AddSignature);
                }
            });
            if let Some(doc) = desk.session.change_set(scenario) {
                ui.small(format!("change set hash {}…", &doc.hash()[..16]));
            }
            for a in desk.session.approvals() {
                ui.small(format!("✔ signed by {a}"));
            }
            match desk.session.write_enablers().as_slice() {
                [] => ui.small("writes: no admin has signed"),
                admins => ui.small(format!("✔ writes enabled by {} (admin)", admins.join(", "))),
            };
        }
        Policy::Names => {
            ui.horizontal(|ui| {
                ui.label("as");
                ui.add(egui::TextEdit::singleline(&mut desk.user).desired_width(90.0));
                if ui.add_enabled(ready, egui::Button::new("Approve")).clicked() {
                    actions.push(Action::Approve(desk.user.clone()));
                }
            });
            if scenario.change.approvals > 1 {
                ui.horizontal(|ui| {
                    ui.label("second");
                    ui.add(egui::TextEdit::singleline(&mut desk.second_approver).desired_width(90.0));
                    if ui.add_enabled(ready, egui::Button::new("Approve")).clicked() {
                        actions.push(Action::Approve(desk.second_approver.clone()));
                    }
                });
            }
            ui.small("named approvals: the virtual plant's PLC only");
            for a in desk.session.approvals() {
                ui.small(format!("✔ {a}"));
            }
        }
        Policy::Refused(why) => {
            ui.colored_label(Color32::from_rgb(220, 120, 40), why.as_str());
        }
    }
    ui.separator();

    let blocker = desk.push_blocker(scenario);
    let target = desk.session.target().map_or("no PLC".into(), |t| t.to_string());
    ui.horizontal(|ui| {
        let button = egui::Button::new(egui::RichText::new(format!("Push to {target}")).strong());
        if ui.add_enabled(blocker.is_none(), button).clicked() {
            actions.push(Action::Push);
        }
        if desk.session.pushing() {
            ui.spinner();
        }
    });
    if let Some(why) = blocker {
        ui.small(format!("not now: {why}"));
    }
    if let Some(r) = desk.session.last_push() {
        ui.label(if r.rolled_back { "Last push: ROLLED BACK" } else { "Last push: verified" });
        egui::Grid::new("readback").num_columns(3).striped(true).show(ui, |ui| {
            ui.small("set-point");
            ui.small("wrote");
            ui.small("read back");
            ui.end_row();
            for (sp, wrote, read) in r.writes.iter().rev().take(12) {
                ui.monospace(sp);
                ui.monospace(format!("{wrote:.1}"));
                let ok = *read == Some(*wrote);
                ui.colored_label(
                    if ok { Color32::from_rgb(90, 200, 110) } else { Color32::from_rgb(240, 80, 70) },
                    read.map_or("no answer".into(), |v| format!("{v:.1}")),
                );
                ui.end_row();
            }
        });
        if let Some(a) = &r.alarm {
            ui.colored_label(Color32::from_rgb(240, 80, 70), a);
        }
    }
    ui.separator();
    ui.strong("Log");
    for line in desk.session.log().iter().rev().take(8) {
        ui.small(line);
    }
}

/// Draws the audit page: the newest records and whether the hash chain holds.
pub(super) fn audit_ui(ui: &mut Ui, desk: &mut ChangeDesk) {
    ui.label(format!("{}", desk.session.audit_path().display()));
    let (rows, status) = desk.audit_view();
    let color = if status.starts_with("BROKEN") { Color32::from_rgb(240, 80, 70) } else { ui.visuals().text_color() };
    ui.colored_label(color, status);
    egui::Grid::new("audit_rows").num_columns(4).striped(true).show(ui, |ui| {
        for r in rows {
            ui.monospace(r.line.to_string());
            ui.label(&r.actor);
            ui.strong(&r.event);
            let mut data = r.data.clone();
            if data.len() > 120 {
                data.truncate(data.char_indices().nth(117).map_or(data.len(), |(i, _)| i));
                data.push('…');
            }
            ui.small(data);
            ui.end_row();
        }
    });
}
