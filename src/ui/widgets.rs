//! Small drawing helpers the workbench's panels share: the simulated clock and speed as text, health badges,
//! colours, and the asset labels over the 3D view.

use bevy::prelude::*;
use bevy_egui::egui::{self, Ui};

use super::health::{self, Grade};

/// Formats simulated seconds as "0d 01:23:45".
/// The clock counts whole seconds passed, so the time is floored first.
pub(super) fn format_sim_time(secs: f64) -> String {
    crate::headless::fmt_t(secs.max(0.0).floor())
}

/// "60x" for 60 simulated seconds per second.
pub(super) fn speed_label(s: f64) -> String {
    match s {
        1.0 => "realtime".into(),
        86_400.0 => "1 d/s".into(),
        s => format!("{s}x"),
    }
}

/// An asset's id in a small dark box centred above `at` (window logical coordinates).
pub(super) fn label(painter: &egui::Painter, at: egui::Pos2, id: &str, color: Color, flagged: bool) {
    let galley = painter.layout_no_wrap(id.to_owned(), egui::FontId::monospace(12.0), egui::Color32::WHITE);
    let size = galley.size();
    let min = at - egui::vec2(size.x / 2.0, size.y);
    let rect = egui::Rect::from_min_size(min, size).expand2(egui::vec2(4.0, 2.0));
    painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(170));
    painter.line_segment([rect.left_bottom(), rect.right_bottom()], egui::Stroke::new(2.0, to_egui_color(color)));
    if flagged {
        painter.rect_stroke(rect, 3.0, egui::Stroke::new(1.5, egui::Color32::YELLOW), egui::StrokeKind::Outside);
    }
    painter.galley(min, galley, egui::Color32::WHITE);
}

/// A Bevy colour as an opaque egui colour.
pub(super) fn to_egui_color(c: Color) -> egui::Color32 {
    let s = c.to_srgba();
    egui::Color32::from_rgb((s.red * 255.0) as u8, (s.green * 255.0) as u8, (s.blue * 255.0) as u8)
}

/// The badge of a health score: the grade's word on its colour.
pub(super) fn badge(ui: &mut Ui, score: f64) {
    let grade = Grade::of_score(score);
    let text = egui::RichText::new(grade.word()).small().strong().color(egui::Color32::BLACK);
    ui.add(egui::Button::new(text).fill(to_egui_color(health::score_color(score))).sense(egui::Sense::hover()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_time_is_days_then_clock() {
        assert_eq!(format_sim_time(0.0), "0d 00:00:00");
        assert_eq!(format_sim_time(5025.9), "0d 01:23:45");
        assert_eq!(format_sim_time(86_400.0 * 3.0 + 59.0), "3d 00:00:59");
        assert_eq!(format_sim_time(-4.0), "0d 00:00:00");
    }

    #[test]
    fn speed_labels() {
        assert_eq!(speed_label(1.0), "realtime");
        assert_eq!(speed_label(60.0), "60x");
        assert_eq!(speed_label(86_400.0), "1 d/s");
    }
}
