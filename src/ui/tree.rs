//! The asset tree (left panel): assets grouped by kind, each with its health badge, a flag when a signal is stale
//! or a drift alarm is active, and the time left in a recommended service window; a filter by name or kind; a
//! click selects. Long lists are virtualised.

use bevy_egui::egui::{self, Ui};

use super::panel::Action;
use super::state::{TreeRow, Workbench, tree_groups};
use super::widgets::badge;

/// The colour of a recommended service window (the health scale's alert orange).
const SERVICE: egui::Color32 = egui::Color32::from_rgb(240, 150, 40);

/// Rows drawn per kind before the list scrolls on its own.
const ROW_H: f32 = 20.0;

/// Draws the tree.
pub(super) fn tree_ui(ui: &mut Ui, bench: &mut Workbench, rows: &[TreeRow], actions: &mut Vec<Action>) {
    ui.heading("Assets");
    ui.horizontal(|ui| {
        ui.label("Filter");
        ui.add(egui::TextEdit::singleline(&mut bench.filter).hint_text("id or kind").desired_width(f32::INFINITY));
    });
    let groups = tree_groups(rows, &bench.filter);
    let shown: usize = groups.iter().map(|(_, v)| v.len()).sum();
    ui.small(format!("{shown} of {} assets", rows.len()));
    ui.separator();
    egui::ScrollArea::vertical().id_salt("tree_scroll").auto_shrink([false, false]).show(ui, |ui| {
        for (kind, members) in groups {
            let worst = members.iter().map(|r| r.score).fold(0.0, f64::max);
            let header = format!("{kind} ({})", members.len());
            egui::CollapsingHeader::new(header).id_salt(kind).default_open(true).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.small("worst:");
                    badge(ui, worst);
                });
                // Only the rows in view are laid out: a thousand assets cost a screenful.
                let mut list = egui::ScrollArea::vertical().id_salt(("tree_kind", kind)).max_height(ROW_H * 24.0);
                if members.len() <= 24 {
                    list = list.max_height(f32::INFINITY);
                }
                list.show_rows(ui, ROW_H, members.len(), |ui, range| {
                    for r in &members[range] {
                        ui.horizontal(|ui| {
                            badge(ui, r.score);
                            let selected = bench.selected.as_deref() == Some(r.id.as_str());
                            let text = if r.flagged {
                                egui::RichText::new(format!("{} ⚠", r.id)).monospace().color(egui::Color32::YELLOW)
                            } else {
                                egui::RichText::new(&r.id).monospace()
                            };
                            if ui.selectable_label(selected, text).clicked() {
                                actions.push(Action::Select(r.id.clone()));
                            }
                            if let Some(h) = r.service_within_h {
                                let left = if h >= 48.0 { format!("{:.1} d", h / 24.0) } else { format!("{h:.0} h") };
                                let why = "a service window is recommended: service the bearing before it closes";
                                ui.small(egui::RichText::new(format!("service ≤ {left}")).color(SERVICE))
                                    .on_hover_text(why);
                            }
                        });
                    }
                });
            });
        }
    });
}
